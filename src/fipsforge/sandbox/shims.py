"""LD_PRELOAD shims for runs in the sandbox, compiled once with the host's cc and cached by source hash.

- `getrandom_trace.c` turns glibc's vDSO-served getrandom()/getentropy() back into system calls, so the
  sandbox's tracer records every call with the stack of its caller;
- `fail_closed.c` freezes the CPU time-stamp counter that libjitterentropy reads, so its health tests trip.

Built with the host's (older) glibc, so they load against any newer glibc in an image; they are bound
read-only into the sandbox under `/tmp/.fipsforge/` (the sandbox's /tmp is a fresh tmpfs).
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_file, cache_root

GETRANDOM_TRACE = "getrandom_trace"
FAIL_CLOSED = "fail_closed"
SANDBOX_DIR = "/tmp/.fipsforge"


def shim_path(name: str) -> Path:
    """The shared object for `<name>.c` (from this package), compiled on first use."""
    return compiled("fipsforge.sandbox", name, shared=True)


def compiled(package: str, name: str, shared: bool) -> Path:
    """`<name>.c` of `package` compiled with the host's cc (a shared object or a program), cached by hash."""
    source = resources.files(package).joinpath(f"{name}.c").read_bytes()
    key = hashlib.sha256(source).hexdigest()[:16]
    suffix = ".so" if shared else ""
    target = cache_root() / "tools" / f"{name}-{key}" / f"fipsforge-{name.replace('_', '-')}{suffix}"
    if target.is_file():
        return target
    kind = ["-shared", "-fPIC"] if shared else []
    with tempfile.TemporaryDirectory() as scratch, atomic_file(target) as staged:
        c_file = Path(scratch) / f"{name}.c"
        c_file.write_bytes(source)
        done = subprocess.run(
            ["cc", "-O2", *kind, "-Wall", "-Werror", "-o", str(staged), str(c_file)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise FipsforgeError(f"{name}.c: cannot compile: {last[0]}")
        staged.chmod(0o755)
    return target


def preload(names: list[str]) -> tuple[dict[Path, str], dict[str, str]]:
    """Binds and environment that preload the named shims in a sandboxed run."""
    binds = {shim_path(name): f"{SANDBOX_DIR}/{shim_path(name).name}" for name in names}
    return binds, {"LD_PRELOAD": " ".join(binds.values())} if binds else {}
