"""What of cold-build reproducibility can be checked warm: no file of the python image carries the
cache's path, and no ELF file a temporary build directory. The stack compiles in `/tmp/fipsforge-build/stack-<compile
key>`, a path fixed by its inputs, which libcrypto's `compiler:` flags may name; CPython's temporary
build directory is prefix-mapped. Two cold builds are compared by `benchmarks/reproducible.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fipsforge.fsutil import cache_root
from fipsforge.stack.build import build_stack
from image_fixtures import BuiltImage

# Build directories under /tmp: CPython's temporary one, tempfile's default names, and the stack's (only
# the one fixed by its compile key may appear). Plain /tmp paths are fine: CPython names /tmp/perf-%d.map.
BUILD_DIR = re.compile(rb"/tmp/(?:\.cpython-|tmp|fipsforge-build/)[\x21-\x7e]*")


def build_paths(root: Path, cache: Path, fixed: bytes) -> dict[str, set[bytes]]:
    """File → the cache path in it (any file), and build directories other than `fixed` (ELF files)."""
    found: dict[str, set[bytes]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        hits = {str(cache).encode()} if str(cache).encode() in data else set()
        if data.startswith(b"\x7fELF"):
            hits |= {m for m in BUILD_DIR.findall(data) if not m.startswith(fixed)}
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def _fixed_build_dir() -> bytes:
    return f"/tmp/fipsforge-build/stack-{build_stack().manifest.compile_key}/".encode()


@pytest.mark.slow
def test_no_cache_or_temporary_path_in_the_python_image(python_image: BuiltImage) -> None:
    fixed = _fixed_build_dir()
    assert build_paths(python_image.rootfs, cache_root(), fixed) == {}
    libcrypto = python_image.rootfs / "usr/lib/x86_64-linux-gnu/libcrypto.so.3"
    assert fixed in libcrypto.read_bytes()  # the fixed build directory is what the compiler flags name


def test_the_scan_finds_such_paths(tmp_path: Path) -> None:
    """Control: an ELF file with the cache path and a temporary build path is reported."""
    cache = Path("/srv/fipsforge-cache")
    fixed = b"/tmp/fipsforge-build/stack-0123/"
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib/bad.so").write_bytes(
        b"\x7fELF\0" + str(cache).encode() + b"/x.h\0/tmp/.cpython-ab12/Modules/x.c\0"
    )
    (tmp_path / "lib/good.so").write_bytes(b"\x7fELF\0-I" + fixed + b"jitter\0/tmp/perf-%d.map\0")
    (tmp_path / "lib/site.py").write_bytes(str(cache).encode() + b"\n'/tmp/x'\n")  # /tmp only counts in ELF
    assert build_paths(tmp_path, cache, fixed) == {
        "lib/bad.so": {str(cache).encode(), b"/tmp/.cpython-ab12/Modules/x.c"},
        "lib/site.py": {str(cache).encode()},
    }
