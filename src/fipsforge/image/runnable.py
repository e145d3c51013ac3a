"""Refuse an image that cannot run: its entrypoint and service commands, their ELF interpreter and every
`DT_NEEDED` library must resolve inside the rootfs.

The search follows ld.so(8): `DT_RPATH` (when there is no `DT_RUNPATH`), `LD_LIBRARY_PATH` from the
image's environment, `DT_RUNPATH`, the directories of `/etc/ld.so.conf` (with its `include`s), then the
trusted directories. Paths resolve as the image would see them (symlinks followed inside the root, so
merged-usr `/lib64` → `usr/lib64` counts). A script is followed to its `#!` interpreter. pyelftools
reads the ELF headers; only the search itself is written here, as no library implements ld.so's rules.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.segments import InterpSegment

from fipsforge.errors import FipsforgeError
from fipsforge.image.rootfs import resolve_in_root

TRUSTED_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
)
MAX_SHEBANG = 256


def _file_in_root(root: Path, path: str) -> Path | None:
    """The on-disk file for in-image `path`, or None when it is missing or resolves outside the root."""
    place = resolve_in_root(root, path, follow_last=True)
    if not place.is_file():
        return None
    return place if place.resolve().is_relative_to(root.resolve()) else None


def find_program(root: Path, program: str, path_dirs: Iterable[str]) -> str | None:
    """The in-image path of `program` (absolute, or looked up on the image's PATH)."""
    if "/" in program:
        return program if _file_in_root(root, program) else None
    for directory in path_dirs:
        candidate = f"{directory.rstrip('/')}/{program}"
        if _file_in_root(root, candidate):
            return candidate
    return None


def ld_so_conf_dirs(root: Path, conf: str = "/etc/ld.so.conf", depth: int = 0) -> list[str]:
    """The library directories `/etc/ld.so.conf` names, following `include` globs (inside the root)."""
    place = _file_in_root(root, conf)
    if place is None or depth > 8:
        return []
    dirs: list[str] = []
    for raw in place.read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include"):
            pattern = line.split(None, 1)[1] if " " in line or "\t" in line else ""
            if not pattern.startswith("/"):
                pattern = f"{PurePosixPath(conf).parent}/{pattern}"
            base = resolve_in_root(root, str(PurePosixPath(pattern).parent), follow_last=True)
            for match in sorted(glob.glob(str(base / PurePosixPath(pattern).name))):
                included = f"{PurePosixPath(pattern).parent}/{Path(match).name}"
                dirs += ld_so_conf_dirs(root, included, depth + 1)
        else:
            dirs.append(line)
    return dirs


# Each dynamic tag's string, as pyelftools names the attribute it sets on the tag.
_STRING_TAGS = {"DT_NEEDED": "needed", "DT_RPATH": "rpath", "DT_RUNPATH": "runpath"}


class _Elf:
    def __init__(self, place: Path) -> None:
        self.interpreter: str | None = None
        strings: dict[str, list[str]] = {tag: [] for tag in _STRING_TAGS}
        with place.open("rb") as stream:
            elf = ELFFile(stream)
            for segment in elf.iter_segments():
                if isinstance(segment, InterpSegment):
                    self.interpreter = segment.get_interp_name()
            for section in elf.iter_sections():
                if not isinstance(section, DynamicSection):
                    continue
                for tag in section.iter_tags():
                    if (attribute := _STRING_TAGS.get(tag.entry.d_tag)) is not None:
                        strings[tag.entry.d_tag].append(str(getattr(tag, attribute)))
        self.needed = strings["DT_NEEDED"]
        self.rpath = [d for entry in strings["DT_RPATH"] for d in entry.split(":")]
        self.runpath = [d for entry in strings["DT_RUNPATH"] for d in entry.split(":")]


def _is_elf(place: Path) -> bool:
    with place.open("rb") as stream:
        return stream.read(4) == b"\x7fELF"


def _origin(dirs: list[str], binary: str) -> list[str]:
    origin = str(PurePosixPath(binary).parent)
    return [d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin) for d in dirs if d]


def check_runnable(root: Path, argv: list[str], path_dirs: list[str], env: dict[str, str], what: str) -> None:
    """Raise a one-line FipsforgeError naming `what`, the binary and the file that does not resolve."""
    if not argv:
        return
    program = find_program(root, argv[0], path_dirs)
    if program is None:
        raise FipsforgeError(f"{what}: {argv[0]}: not in the image")
    library_path = [d for d in env.get("LD_LIBRARY_PATH", "").split(":") if d]
    system_dirs = [*ld_so_conf_dirs(root), *TRUSTED_DIRS]
    pending, seen = [program], set()
    while pending:
        binary = pending.pop()
        if binary in seen:
            continue
        seen.add(binary)
        place = _file_in_root(root, binary)
        if place is None:
            raise FipsforgeError(f"{what}: {binary}: not in the image")
        if not _is_elf(place):
            shebang = place.read_bytes()[:MAX_SHEBANG]
            if shebang.startswith(b"#!"):
                interpreter = shebang[2:].split(b"\n", 1)[0].split()
                if not interpreter or _file_in_root(root, interpreter[0].decode()) is None:
                    name = interpreter[0].decode() if interpreter else "(empty #! line)"
                    raise FipsforgeError(f"{what}: {binary}: its interpreter {name} is not in the image")
                pending.append(interpreter[0].decode())
            continue
        try:
            elf = _Elf(place)
        except ELFError as error:
            raise FipsforgeError(f"{what}: {binary}: not a readable ELF file ({error})") from error
        if elf.interpreter is not None:
            if _file_in_root(root, elf.interpreter) is None:
                raise FipsforgeError(
                    f"{what}: {binary}: its ELF interpreter {elf.interpreter} is not in the image"
                )
            pending.append(elf.interpreter)
        search = [*(_origin(elf.rpath, binary) if not elf.runpath else []), *library_path,
                  *_origin(elf.runpath, binary), *system_dirs]  # fmt: skip
        for needed in elf.needed:
            candidates = [needed] if "/" in needed else [f"{d.rstrip('/')}/{needed}" for d in search]
            found = next((c for c in candidates if _file_in_root(root, c) is not None), None)
            if found is None:
                raise FipsforgeError(
                    f"{what}: {binary}: needs {needed}, which is not in the image's library path"
                )
            pending.append(os.path.normpath(found))
