"""`fipsforge build`: spec → resolved packages → trimmed rootfs + stack → reproducible OCI layout + SBOMs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fipsforge import __version__
from fipsforge.apt import DebianMirrors
from fipsforge.attest.provenance import STATEMENT_MEDIA_TYPE, provenance_statement
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir
from fipsforge.image import rootfs as rf
from fipsforge.image import workload as wl
from fipsforge.image.resolve import Resolution, apt_root, fetch, resolve
from fipsforge.image.sbom import Component, ImageFacts, cyclonedx_document, spdx_document
from fipsforge.image.spec import ImageSpec
from fipsforge.oci.writer import LayoutWriter, canonical_json, rfc3339, write_docker_archive

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SPDX_TYPE = "application/spdx+json"
CYCLONEDX_TYPE = "application/vnd.cyclonedx+json"
COMPONENTS_FILE = "/usr/share/fipsforge/components.json"
Report = Callable[[str], None]


class Overlay(BaseModel):
    """A tree fipsforge built (the FIPS stack, CPython), laid over the rootfs, and what it is."""

    staging: Path
    components: list[Component]
    cache_key: str
    skip_trees: list[str] = []
    skip_suffixes: list[str] = [".a", ".la"]


class ImageResult(BaseModel):
    """What `fipsforge build` made (also its `--json` output)."""

    layout: Path
    reference: str
    manifest_digest: str
    config_digest: str
    layer_digest: str
    layer_size: int
    uncompressed_size: int
    source_date_epoch: int
    packages: int
    replaced: dict[str, str]
    components: list[Component]
    referrers: dict[str, str]
    docker_archive: Path | None = None
    inputs_digest: str


def _inputs_digest(
    spec_text: str, resolution: Resolution, overlays: list[Overlay], files: list[wl.SpecFile]
) -> str:
    recipe = {
        "fipsforge": __version__,
        "spec": spec_text,
        "packages": [(p.name, p.version, p.sha256) for p in resolution.packages],
        "overlays": [(o.cache_key, o.skip_trees, o.skip_suffixes) for o in overlays],
        "files": wl.files_digest(files),
    }
    return hashlib.sha256(canonical_json(recipe)).hexdigest()


def image_config(spec: ImageSpec, epoch: int, diff_id: str, inputs: str) -> dict[str, Any]:
    labels = {
        "org.opencontainers.image.created": rfc3339(epoch),
        "org.opencontainers.image.title": spec.name,
        "org.opencontainers.image.version": spec.tag,
        "org.opencontainers.image.vendor": "fipsforge",
        "org.opencontainers.image.base.name": f"debian:{spec.suite}",
        "org.opencontainers.image.revision": inputs,
        **spec.labels,
    }
    env = [DEFAULT_PATH, *(f"{key}={value}" for key, value in spec.env.items() if key != "PATH")]
    if "PATH" in spec.env:
        env[0] = f"PATH={spec.env['PATH']}"
    config: dict[str, Any] = {
        "User": f"{spec.user.uid}:{spec.user.gid}",
        "Env": env,
        "WorkingDir": spec.workdir,
        "Labels": labels,
    }
    if spec.entrypoint:
        config["Entrypoint"] = spec.entrypoint
    if spec.cmd:
        config["Cmd"] = spec.cmd
    return {
        "created": rfc3339(epoch),
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": rfc3339(epoch), "created_by": f"fipsforge {__version__} build {spec.name}"}],
    }


def assemble_rootfs(
    root: Path,
    spec: ImageSpec,
    resolution: Resolution,
    debs: dict[str, Path],
    overlays: list[Overlay],
    files: list[wl.SpecFile],
) -> int:
    """Unpack, trim, lay the overlays and the spec's files, write dpkg status, generated files and the
    services record; returns SOURCE_DATE_EPOCH.

    SOURCE_DATE_EPOCH is the newest file time inside the Debian packages: derived from the inputs only.
    """
    installed = []
    epoch = 0
    for package in resolution.packages:
        unpacked = rf.unpack_deb(debs[package.name], root, trim=spec.trim)
        installed.append(unpacked)
        epoch = max(epoch, unpacked.newest_mtime)
    rf.write_dpkg_status(root, installed)
    rf.write_users(root, spec.user)
    rf.write_ca_bundle(root)
    components: list[Component] = []
    for overlay in overlays:
        rf.overlay(overlay.staging, root, skip_trees=overlay.skip_trees, skip_suffixes=overlay.skip_suffixes)
        components.extend(overlay.components)
    if spec.fips_stack:
        # libcrypto's OPENSSLDIR is /usr/lib/ssl: our openssl.cnf is there; Debian's paths point to it.
        rf.replace_with_symlink(root, "/etc/ssl/openssl.cnf", "../../usr/lib/ssl/openssl.cnf")
        for name, target in (("certs", "/etc/ssl/certs"), ("private", "/etc/ssl/private"),
                             ("cert.pem", "/etc/ssl/certs/ca-certificates.crt")):  # fmt: skip
            rf.replace_with_symlink(root, f"/usr/lib/ssl/{name}", target)
        (root / "etc/ssl/private").mkdir(parents=True, exist_ok=True)
        os.chmod(root / "etc/ssl/private", 0o700)
    if files:
        wl.lay_files(root, files)  # last: a shipped config replaces what a package put there
        components.append(wl.files_component(files))
    if spec.services:
        wl.write_services(root, wl.service_commands(spec))
    if components:
        record = {
            "note": "Not from Debian binary packages: built by fipsforge, or copied in from the spec's "
            "files:. Debian packages left out: "
            + ", ".join(f"{name} ({why})" for name, why in resolution.replaced.items()),
            "components": [c.model_dump() for c in components],
        }
        record_path = rf.resolve_in_root(root, COMPONENTS_FILE)
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return epoch


def check_can_run(root: Path, spec: ImageSpec) -> None:
    """The entrypoint and every service command, with their loader and libraries, are in the rootfs."""
    from fipsforge.image.runnable import check_runnable

    path_dirs = spec.env.get("PATH", DEFAULT_PATH.split("=", 1)[1]).split(":")
    check_runnable(root, [*spec.entrypoint, *spec.cmd], path_dirs, spec.env, "entrypoint")
    for service in wl.service_commands(spec):
        check_runnable(root, service.command, path_dirs, spec.env, f"services.{service.name}")


def build_image(
    spec: ImageSpec,
    spec_text: str,
    out: Path,
    *,
    overlays: list[Overlay] | None = None,
    docker_archive: Path | None = None,
    mirrors: DebianMirrors | None = None,
    keep_rootfs: Path | None = None,
    report: Report | None = None,
) -> ImageResult:
    """Build the image described by `spec` into an OCI layout at `out` (atomically).

    `overlays` are the fipsforge-built trees; when None they are built (or taken from the cache)
    according to the spec. `keep_rootfs`, when given, receives a copy of the assembled rootfs.
    """
    say = report or (lambda _step: None)
    say("apt indexes")
    root = apt_root(mirrors, spec.suite)
    root.update()
    say("resolve")
    resolution = resolve(spec, root)
    say("download")
    debs = fetch(resolution.packages, root)
    if overlays is None:
        from fipsforge.image.overlays import spec_overlays

        overlays = spec_overlays(spec, root, say)
    files = wl.spec_files(spec)
    inputs = _inputs_digest(spec_text, resolution, overlays, files)
    reference = f"{spec.name}:{spec.tag}"
    with atomic_dir(out) as staging, tempfile.TemporaryDirectory(prefix=".rootfs-", dir=out.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        rootfs.mkdir()
        os.chmod(rootfs, 0o755)
        say("unpack")
        epoch = assemble_rootfs(rootfs, spec, resolution, debs, overlays, files)
        say("check")
        check_can_run(rootfs, spec)
        say("layer")
        writer = LayoutWriter(staging)
        layer = writer.add_layer(rootfs, epoch)
        config = image_config(spec, epoch, layer.diff_id, inputs)
        annotations = {
            "org.opencontainers.image.created": rfc3339(epoch),
            "org.opencontainers.image.ref.name": spec.tag,
            **spec.annotations,
        }
        manifest = writer.add_image(config, [layer], annotations, ref_name=spec.tag)
        say("sbom")
        components = [c for o in overlays for c in o.components] + (
            [wl.files_component(files)] if files else []
        )
        facts = ImageFacts(
            name=spec.name, tag=spec.tag, suite=spec.suite, manifest_digest=manifest.digest,
            created=epoch, packages=resolution.packages, components=components,
        )  # fmt: skip
        created = {"org.opencontainers.image.created": rfc3339(epoch)}
        spdx = writer.add_referrer(
            manifest, SPDX_TYPE, canonical_json(spdx_document(facts)), "sbom.spdx.json", created
        )
        cyclonedx = writer.add_referrer(
            manifest, CYCLONEDX_TYPE, canonical_json(cyclonedx_document(facts)), "sbom.cdx.json", created
        )
        internal = {"sourceDateEpoch": str(epoch), "overlays": [o.cache_key for o in overlays]}
        statement = provenance_statement(
            spec, spec_text, resolution.packages, components, manifest.digest, internal
        )
        provenance = writer.add_referrer(
            manifest, STATEMENT_MEDIA_TYPE, canonical_json(statement), "provenance.slsa.json", created
        )
        writer.finish()
        if keep_rootfs is not None:
            with atomic_dir(keep_rootfs) as kept:
                kept.rmdir()
                shutil.copytree(rootfs, kept, symlinks=True)
    if docker_archive is not None:
        say("docker-archive")
        write_docker_archive(out, spec.tag, reference, docker_archive)
    return ImageResult(
        layout=out,
        reference=reference,
        manifest_digest=manifest.digest,
        config_digest=json.loads((out / "blobs/sha256" / manifest.digest.split(":")[1]).read_bytes())[
            "config"
        ]["digest"],
        layer_digest=layer.descriptor.digest,
        layer_size=layer.descriptor.size,
        uncompressed_size=layer.uncompressed_size,
        source_date_epoch=epoch,
        packages=len(resolution.packages),
        replaced=resolution.replaced,
        components=components,
        referrers={
            SPDX_TYPE: spdx.digest,
            CYCLONEDX_TYPE: cyclonedx.digest,
            STATEMENT_MEDIA_TYPE: provenance.digest,
        },
        docker_archive=docker_archive,
        inputs_digest=inputs,
    )


def check_out_dir(out: Path) -> None:
    if out.exists() and not (out / "oci-layout").is_file() and any(out.iterdir()):
        raise FipsforgeError(f"{out}: exists and is not an OCI layout; refusing to replace it")
