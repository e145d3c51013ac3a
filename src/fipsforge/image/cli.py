"""`fipsforge build` and `fipsforge push`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fipsforge.console import print_json, progress, stderr_console

if TYPE_CHECKING:
    from fipsforge.image.spec import ImageSpec


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
    if_outdated: str | None = typer.Option(
        None,
        "--if-outdated",
        help="Build only when `fipsforge outdated` finds this image behind; "
        "test the new image before it replaces --out.",
    ),
) -> None:
    """Build a reproducible OCI image (with SBOM referrers) from Debian packages and the FIPS stack."""
    from fipsforge.image.build import build_image, check_out_dir
    from fipsforge.image.spec import load_spec

    image_spec, text = load_spec(spec)
    check_out_dir(out)
    if if_outdated is not None:
        _rebuild(image_spec, text, out, if_outdated, docker_archive, as_json)
        return
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


def _rebuild(
    image_spec: ImageSpec, text: str, out: Path, image: str, docker_archive: Path | None, as_json: bool
) -> None:
    from datetime import date

    from fipsforge.errors import FipsforgeError
    from fipsforge.outdated.rebuild import rebuild_if_outdated

    if docker_archive is not None:
        raise FipsforgeError("--docker-archive: not with --if-outdated (export the published layout)")
    with progress() as bar:
        task = bar.add_task("outdated", total=None)
        result = rebuild_if_outdated(
            image_spec, text, out, image, today=date.today(),
            report=lambda step: bar.update(task, description=step),
        )  # fmt: skip
    if as_json:
        print_json(result)
        return
    print(result.reason)
    if result.rebuilt:
        print(f"digest: {result.old_digest} -> {result.new_digest}")
        for change in result.changed:
            print(f"changed: {change.name} {change.old or '(new)'} -> {change.new or '(removed)'}")
        print(f"CVEs closed: {', '.join(result.cves_closed) or 'none'}")
        print(f"fipsforge test: {result.tests_passed} cases passed")


def push(
    layout: Path = typer.Argument(..., help="An OCI image layout written by `fipsforge build`."),
    ref: str = typer.Argument(..., help="HOST[:PORT]/REPOSITORY[:TAG] (plain HTTP for loopback hosts only)."),
    sign_key: str | None = typer.Option(
        None, "--sign-key", help="Sign and attest with this cosign private key (password in COSIGN_PASSWORD)."
    ),
    keyless: bool = typer.Option(
        False, "--keyless", help="Sign keyless with Fulcio and Rekor instead (needs the network, OIDC login)."
    ),
    cosign_arg: list[str] = typer.Option(
        [], "--cosign-arg", help="Pass this flag on to `cosign sign` and `cosign attest` (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Push the image and its SBOM and provenance referrers; with --sign-key, sign and attest it.

    The signature is cosign's; the attestations are SPDX, CycloneDX and SLSA provenance v1.
    """
    from fipsforge.errors import FipsforgeError
    from fipsforge.oci.push import PushResult, push_layout

    if sign_key is not None and keyless:
        raise FipsforgeError("--sign-key and --keyless: choose one way to sign")
    if cosign_arg and sign_key is None and not keyless:
        raise FipsforgeError("--cosign-arg: only used when signing (--sign-key or --keyless)")
    result: PushResult
    if sign_key is not None or keyless:
        from fipsforge.attest.cosign import SigningOptions
        from fipsforge.attest.sign import push_signed

        result = push_signed(layout, ref, SigningOptions(key=sign_key, cosign_args=cosign_arg))
    else:
        result = push_layout(layout, ref)
    if as_json:
        print_json(result)
        return
    print(f"pushed: {result.reference}@{result.manifest_digest}")
    for digest in result.referrers:
        print(f"referrer: {digest}")
    if result.signed:
        print(f"signed: cosign signature and attestations {', '.join(result.attestations)}")
