"""`fipsforge build` and `fipsforge push`."""

from __future__ import annotations

from pathlib import Path

import typer

from fipsforge.console import print_json, progress, stderr_console


def build(
    spec: str = typer.Argument(
        ...,
        help="A built-in spec (openssl, python, nginx, haproxy, valkey, postgresql; docs/catalog.md) or a spec YAML file.",
    ),
    out: Path = typer.Option(..., "--out", help="Directory for the OCI image layout (replaced atomically)."),
    docker_archive: Path | None = typer.Option(
        None, "--docker-archive", help="Also write a docker-archive tar."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Build a reproducible OCI image (with SBOM referrers) from Debian packages and the FIPS stack."""
    from fipsforge.image.build import build_image, check_out_dir
    from fipsforge.image.spec import load_spec

    image_spec, text = load_spec(spec)
    check_out_dir(out)
    with progress() as bar:
        task = bar.add_task("build", total=None)
        result = build_image(
            image_spec, text, out, docker_archive=docker_archive,
            report=lambda step: bar.update(task, description=step),
        )  # fmt: skip
    if as_json:
        print_json(result)
        return
    stderr_console.print(f"{result.reference}: {result.manifest_digest}", highlight=False)
    print(f"layout: {result.layout}")
    print(f"manifest: {result.manifest_digest}")
    print(f"packages: {result.packages} Debian, {len(result.components)} fipsforge components")
    print(f"size: {result.layer_size} bytes compressed, {result.uncompressed_size} uncompressed")
    for media_type, digest in result.referrers.items():
        print(f"referrer: {media_type} {digest}")
    if result.docker_archive:
        print(f"docker-archive: {result.docker_archive}")


def push(
    layout: Path = typer.Argument(..., help="An OCI image layout written by `fipsforge build`."),
    ref: str = typer.Argument(..., help="HOST[:PORT]/REPOSITORY[:TAG] (plain HTTP for loopback hosts only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Push the image and its SBOM referrers to an OCI registry."""
    from fipsforge.oci.push import push_layout

    result = push_layout(layout, ref)
    if as_json:
        print_json(result)
        return
    print(f"pushed: {result.reference}@{result.manifest_digest}")
    for digest in result.referrers:
        print(f"referrer: {digest}")
