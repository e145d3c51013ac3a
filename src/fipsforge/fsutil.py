"""Atomic outputs: nothing half-written survives an interruption.

Every writer creates its result under a temporary sibling name and renames it into place at the end,
so a reader (or the cache) sees either the old result or the complete new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_abandoned(parent: Path) -> None:
    """Remove temporary outputs left in `parent` by processes that were killed before cleaning up.

    Temporary names carry their owner's pid (`.NAME.tmp-PID-XXXX`), so a live build is never touched.
    """
    if not parent.is_dir():
        return
    for leftover in parent.glob(".*.tmp-*"):
        owner = leftover.name.rsplit(".tmp-", 1)[1].split("-", 1)[0]
        if owner.isdigit() and not _pid_alive(int(owner)):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def temporary_name(target: Path) -> str:
    return f".{target.name}.tmp-{os.getpid()}-"


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=temporary_name(target), dir=target.parent))
    try:
        yield staging
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=temporary_name(target), dir=target.parent))
            retired.rmdir()
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
    sweep_abandoned(target.parent)
    fd, name = tempfile.mkstemp(prefix=temporary_name(target), dir=target.parent)
    os.close(fd)
    staging = Path(name)
    try:
        yield staging
        staging.replace(target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def exclusive_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock, so concurrent builds of one cache entry wait instead of racing."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


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
