"""Atomic outputs: nothing half-written survives an interruption.

Every writer creates its result under a temporary sibling name and renames it into place at the end,
so a reader (or the cache) sees either the old result or the complete new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
        if target.exists():
            retired = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(target: Path, mode: str = "wb") -> Iterator[Path]:
    """Yield a temporary path beside `target`; it is renamed over `target` when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    os.close(fd)
    staging = Path(name)
    try:
        yield staging
        staging.replace(target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_file(target) as staging:
        staging.write_bytes(data)


def write_text_atomic(target: Path, text: str) -> None:
    write_bytes_atomic(target, text.encode())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    """`$FIPSFORGE_CACHE`, else `$XDG_CACHE_HOME/fipsforge`, else `~/.cache/fipsforge`."""
    explicit = os.environ.get("FIPSFORGE_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fipsforge"
