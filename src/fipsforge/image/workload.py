"""The workload a spec carries: `files:` copied into the rootfs, and `services:` recorded for `fipsforge test`.

Files are read once into `SpecFile` entries (path, kind, mode, content hash); the same entries feed the
image's input digest, the copy into the rootfs and the SBOM component, so what is hashed is what is laid.
Services are written to `SERVICES_FILE` beside the components record, with their command resolved (an
empty command means the image's entrypoint + cmd), so `fipsforge test` finds them in any copy of the image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import sha256_file
from fipsforge.image.rootfs import resolve_in_root
from fipsforge.image.sbom import Component
from fipsforge.image.spec import ImageSpec, ServiceSpec

SERVICES_FILE = "/usr/share/fipsforge/services.json"


class SpecFile(BaseModel):
    """One entry of a `files:` tree as it will be in the image."""

    path: str
    kind: Literal["file", "dir", "symlink"]
    mode: int
    sha256: str | None = None
    link: str | None = None
    source: Path


def _entry(path: str, source: Path) -> SpecFile:
    info = source.lstat()
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return SpecFile(path=path, kind="symlink", mode=0o777, link=os.readlink(source), source=source)
    if stat.S_ISDIR(info.st_mode):
        return SpecFile(path=path, kind="dir", mode=mode, source=source)
    if stat.S_ISREG(info.st_mode):
        return SpecFile(path=path, kind="file", mode=mode, sha256=sha256_file(source), source=source)
    raise FipsforgeError(f"files.{path}: {source} is neither a file, a directory nor a symlink")


def spec_files(spec: ImageSpec) -> list[SpecFile]:
    """Every file, directory and symlink the spec's `files:` lays, parents before children."""
    entries: list[SpecFile] = []
    for target, source in spec.file_sources().items():
        target = "/" + target.strip("/")
        # a top-level source is followed (a symlinked config is copied as the file it names)
        if source.is_dir():
            entries.append(SpecFile(path=target, kind="dir", mode=stat.S_IMODE(source.stat().st_mode),
                                    source=source))  # fmt: skip
            for directory, dirnames, filenames in os.walk(source):
                dirnames.sort()
                rel = Path(directory).relative_to(source).as_posix()
                base = target if rel == "." else f"{target}/{rel}"
                for name in sorted([*dirnames, *filenames]):
                    entries.append(_entry(f"{base}/{name}", Path(directory) / name))
        else:
            entries.append(SpecFile(path=target, kind="file", mode=stat.S_IMODE(source.stat().st_mode),
                                    sha256=sha256_file(source), source=source))  # fmt: skip
    return entries


def files_digest(entries: list[SpecFile]) -> str:
    """A digest of what the entries lay (paths, kinds, modes, contents), not of where they came from."""
    listing = [(e.path, e.kind, e.mode, e.sha256, e.link) for e in entries]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def lay_files(root: Path, entries: list[SpecFile]) -> None:
    """Copy the entries into `root` (owned by root, modes kept), replacing what packages put there."""
    for entry in entries:
        place = resolve_in_root(root, entry.path)
        place.parent.mkdir(parents=True, exist_ok=True)
        if entry.kind == "dir":
            if place.is_symlink() or (place.exists() and not place.is_dir()):
                place.unlink()
            place.mkdir(exist_ok=True)
        else:
            if place.is_dir() and not place.is_symlink():
                shutil.rmtree(place)
            elif place.is_symlink() or place.exists():
                place.unlink()
            if entry.kind == "symlink":
                assert entry.link is not None
                os.symlink(entry.link, place)
                os.lchown(place, 0, 0)
                continue
            shutil.copyfile(entry.source, place)
        os.chown(place, 0, 0)
        os.chmod(place, entry.mode)


def files_component(entries: list[SpecFile]) -> Component:
    """The spec's files as one SBOM component: each file's image path with its SHA-256."""
    files = {e.path: e.sha256 for e in entries if e.sha256 is not None}
    return Component(
        name="spec-files",
        version=files_digest(entries)[:16],
        role="files",
        description=f"{len(files)} files copied into the image from the spec's files: "
        + ", ".join(sorted({e.path for e in entries if e.path.count("/") <= 3})),
        sources=files,
    )


def service_commands(spec: ImageSpec) -> list[ServiceSpec]:
    """The services with their commands resolved: an empty command is the entrypoint + cmd."""
    resolved = []
    for service in spec.services:
        command = service.command or [*spec.entrypoint, *spec.cmd]
        if not command:
            raise FipsforgeError(
                f"services.{service.name}: no command, and the spec has no entrypoint or cmd to run"
            )
        resolved.append(service.model_copy(update={"command": command}))
    return resolved


def write_services(root: Path, services: list[ServiceSpec]) -> None:
    record = {"services": [service.model_dump() for service in services]}
    path = resolve_in_root(root, SERVICES_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_services(root: Path) -> list[ServiceSpec]:
    """The services recorded in an image rootfs (none when the image has no record)."""
    path = resolve_in_root(root, SERVICES_FILE, follow_last=True)
    if not path.is_file() or not path.resolve().is_relative_to(root.resolve()):
        return []
    try:
        raw = json.loads(path.read_text())
        return [ServiceSpec.model_validate(entry) for entry in raw["services"]]
    except (ValueError, KeyError, TypeError) as error:
        raise FipsforgeError(f"{SERVICES_FILE}: not a fipsforge services record ({error})") from error
