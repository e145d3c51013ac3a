"""Unpack an image to a root directory on disk, safely, for running it (`fipsforge test`).

The layers are merged by `VirtualTree` (whiteouts applied, hostile entries refused) and written out by
`VirtualTree.materialize`, which never follows a name from a tar outside the target. An image with any
refused entry is not unpacked at all: a test of half an image would prove nothing. Setuid/setgid bits
and device nodes never reach the disk.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.oci.reader import SourceKind, open_image

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUNTIME_MOUNT_POINTS = ("proc", "dev", "tmp")
"""Directories a container runtime mounts over; created in the unpacked copy when the image lacks them."""


class RuntimeConfig(BaseModel):
    """What the image config says about running it."""

    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    user: str
    workdir: str

    @property
    def argv(self) -> list[str]:
        return [*self.entrypoint, *self.cmd]

    @property
    def path_dirs(self) -> list[str]:
        return self.env.get("PATH", DEFAULT_PATH).split(":")


class UnpackedImage(BaseModel):
    ref: str
    kind: SourceKind
    manifest_digest: str | None
    rootfs: Path
    config: RuntimeConfig


def runtime_config(config: dict[str, object], where: str) -> RuntimeConfig:
    """The `config` section of an image config blob, with its types checked."""
    section = config.get("config") or {}
    if not isinstance(section, dict):
        raise FipsforgeError(f"{where}: config: expected an object")

    def strings(field: str) -> list[str]:
        value = section.get(field) or []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise FipsforgeError(f"{where}: config.{field}: expected a list of strings")
        return value

    env = dict(entry.split("=", 1) for entry in strings("Env") if "=" in entry)
    return RuntimeConfig(
        entrypoint=strings("Entrypoint"),
        cmd=strings("Cmd"),
        env=env,
        user=str(section.get("User") or ""),
        workdir=str(section.get("WorkingDir") or "/"),
    )


def unpack_image(ref: str, work_dir: Path) -> UnpackedImage:
    """Open `ref` (layout dir, docker-archive, docker://) and write its root to `work_dir/rootfs`."""
    rootfs = work_dir / "rootfs"
    work_dir.mkdir(parents=True, exist_ok=True)
    with open_image(ref, work_dir) as image:
        config = runtime_config(image.config, ref)
        tree = image.tree(work_dir=work_dir)
        try:
            if tree.findings:
                first = tree.findings[0]
                more = f" (and {len(tree.findings) - 1} more)" if len(tree.findings) > 1 else ""
                where = f"{first.path}: " if first.path else ""
                raise FipsforgeError(f"{ref}: refused to unpack: {where}{first.message}{more}")
            if not tree.root.children:
                raise FipsforgeError(f"{ref}: the image has no files")
            tree.materialize(rootfs)  # skips only fifos and files over the read limit
        finally:
            tree.close()
        kind, digest = image.kind, image.manifest_digest
    for name in RUNTIME_MOUNT_POINTS:
        if not (rootfs / name).is_symlink():
            (rootfs / name).mkdir(exist_ok=True)
    return UnpackedImage(ref=ref, kind=kind, manifest_digest=digest, rootfs=rootfs, config=config)
