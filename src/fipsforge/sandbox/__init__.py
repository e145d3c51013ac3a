"""Run a command in a bubblewrap sandbox, with or without the kernel's entropy.

Every runtime check in fipsforge goes through `run_sandboxed`: a read-only root (a staged stack laid over
the host, or an image rootfs), loopback-only networking, and a private `/dev` holding only null, zero,
full and tty. Two modes:

- `EntropyMode.NORMAL` adds `/dev/urandom`, as any container runtime would;
- `EntropyMode.KERNEL_CUT_OFF` adds no `/dev/*random` and a libseccomp filter (independent of the
  libcrypto under test) that makes `getrandom` fail with ENOSYS. Only a stack that seeds itself, from
  jitter, can produce random bytes there.

The command runs under `strace`, which records every `getrandom` call and every open of a
`/dev/*random` node with the stack of the code that made it, so callers can attribute each one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from enum import StrEnum
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_file, cache_root

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LIBC_OBJECTS = ("libc.so", "ld-linux", "libpthread.so", "fipsforge-getrandom-trace.so")
"""Objects passed over when naming the caller (the getrandom trace shim only forwards to the kernel)."""
FIPS_PROVIDER_SEEDING = "OpenSSL FIPS provider seeding (fips.so, through libcrypto)"


class EntropyMode(StrEnum):
    NORMAL = "normal"
    KERNEL_CUT_OFF = "kernel-entropy-cut-off"


class RandomnessCall(BaseModel):
    """One request for kernel randomness made inside the sandbox."""

    pid: int
    syscall: str
    detail: str
    result: str
    denied: bool
    frames: list[str]
    library: str | None
    """The first object in the call stack that is not libc or the dynamic loader: who asked."""
    purpose: str = "unknown"
    crypto_relevant: bool = True
    """False only for calls recognised as not feeding cryptography (e.g. glibc's malloc tcache key)."""

    def classify(self) -> RandomnessCall:
        """Name what the randomness was for, from the call stack."""
        libc_frames = []
        for frame in self.frames:
            if not any(name in frame for name in LIBC_OBJECTS):
                break
            libc_frames.append(frame)
        if any("(malloc" in frame or "(calloc" in frame for frame in libc_frames):
            purpose, relevant = "glibc malloc tcache key", False
        elif any("fips.so" in frame for frame in self.frames):
            purpose, relevant = FIPS_PROVIDER_SEEDING, True
        elif any("libcrypto" in frame or "libssl" in frame for frame in self.frames):
            purpose, relevant = "OpenSSL libcrypto seeding", True
        elif any("python" in frame for frame in self.frames):
            purpose, relevant = _cpython_purpose(self.frames), False
        else:
            purpose, relevant = "unknown", True
        self.purpose, self.crypto_relevant = purpose, relevant
        return self


CPYTHON_PURPOSES = (
    (("_mi_prim_random_buf", "mi_random_init"), "CPython mimalloc heap-randomisation key"),
    (("_Py_HashRandomization_Init",), "CPython hash-randomisation seed"),
    (("os_urandom", "_PyEval_EvalFrame"), "CPython os.urandom (kernel randomness outside the FIPS boundary)"),
)


def _cpython_purpose(frames: list[str]) -> str:
    """Which CPython path asked, by the symbols in its frames (a stripped interpreter gives no answer)."""
    for symbols, purpose in CPYTHON_PURPOSES:
        if any(symbol in frame for frame in frames for symbol in symbols):
            return purpose
    return "CPython runtime (hash seed, os.urandom)"


class SandboxResult(BaseModel):
    argv: list[str]
    mode: EntropyMode
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    randomness_calls: list[RandomnessCall]

    @property
    def denied_syscalls(self) -> list[RandomnessCall]:
        return [call for call in self.randomness_calls if call.denied]

    @property
    def crypto_relevant_calls(self) -> list[RandomnessCall]:
        return [call for call in self.randomness_calls if call.crypto_relevant]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def seccomp_filter_path() -> Path:
    """Compile (once, cached by source hash) the libseccomp helper and return the BPF file it writes."""
    source = resources.files("fipsforge.sandbox").joinpath("seccomp_filter.c").read_bytes()
    key = hashlib.sha256(source).hexdigest()[:16]
    tools = cache_root() / "tools" / f"seccomp-{key}"
    program = tools / "seccomp-filter"
    bpf = tools / "getrandom-enosys.bpf"
    if bpf.is_file():
        return bpf
    tools.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        c_file = Path(scratch) / "seccomp_filter.c"
        c_file.write_bytes(source)
        with atomic_file(program) as staged:
            compiled = subprocess.run(
                ["cc", "-O2", "-o", str(staged), str(c_file), "-lseccomp"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if compiled.returncode != 0:
                raise FipsforgeError(
                    f"seccomp_filter.c: cannot compile against libseccomp (install libseccomp-dev): "
                    f"{compiled.stderr.strip().splitlines()[-1] if compiled.stderr.strip() else ''}"
                )
            staged.chmod(0o755)
    with atomic_file(bpf) as staged:
        subprocess.run([str(program), str(staged)], check=True)
    return bpf


def _bwrap_command(
    root: Path,
    argv: Sequence[str],
    mode: EntropyMode,
    env: Mapping[str, str],
    binds: Mapping[Path, str],
    writable: Mapping[Path, str],
    cwd: str,
    seccomp_fd: int | None,
) -> list[str]:
    command = [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
        "--ro-bind", str(root), "/",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--tmpfs", "/dev",
    ]  # fmt: skip
    devices = ["null", "zero", "full", "tty"]
    if mode is EntropyMode.NORMAL:
        devices.append("urandom")
    for device in devices:
        if Path("/dev", device).exists():
            command += ["--dev-bind", f"/dev/{device}", f"/dev/{device}"]
    for source, target in binds.items():
        command += ["--ro-bind", str(source), target]
    for source, target in writable.items():
        command += ["--bind", str(source), target]
    command.append("--clearenv")
    for name, value in {"PATH": DEFAULT_PATH, "HOME": "/tmp", **env}.items():
        command += ["--setenv", name, value]
    command += ["--chdir", cwd]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    return [*command, "--", *argv]


def run_sandboxed(
    root: Path,
    argv: Sequence[str],
    *,
    mode: EntropyMode = EntropyMode.NORMAL,
    env: Mapping[str, str] | None = None,
    binds: Mapping[Path, str] | None = None,
    writable: Mapping[Path, str] | None = None,
    cwd: str = "/",
    stdin: bytes | None = None,
    timeout: float = 120,
) -> SandboxResult:
    """Run `argv` with `root` as a read-only `/`.

    `binds` maps extra host paths into the sandbox read-only, `writable` read-write (a scratch directory
    that several runs share, for multi-step checks in images that have no shell).
    """
    if shutil.which("bwrap") is None or shutil.which("strace") is None:
        raise FipsforgeError("bwrap and strace are required: apt-get install bubblewrap strace")
    if not root.is_dir():
        raise FipsforgeError(f"{root}: sandbox root is not a directory")
    with tempfile.TemporaryDirectory(prefix="fipsforge-sandbox-") as scratch:
        trace_log = Path(scratch) / "strace.log"
        pass_fds: tuple[int, ...] = ()
        seccomp_fd = None
        filter_stream = None
        if mode is EntropyMode.KERNEL_CUT_OFF:
            filter_stream = seccomp_filter_path().open("rb")
            seccomp_fd = filter_stream.fileno()
            os.set_inheritable(seccomp_fd, True)
            pass_fds = (seccomp_fd,)
        inner = _bwrap_command(root, argv, mode, env or {}, binds or {}, writable or {}, cwd, seccomp_fd)
        command = ["strace", "-f", "-qq", "-k", "-e", f"trace={_TRACED}", "-e", "signal=none",
                   "-o", str(trace_log), *inner]  # fmt: skip
        timed_out = False
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, timeout=timeout, pass_fds=pass_fds, check=False
            )
            returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as expired:
            timed_out, returncode = True, -9
            stdout, stderr = expired.stdout or b"", expired.stderr or b""
        finally:
            if filter_stream is not None:
                filter_stream.close()
        calls = parse_randomness_trace(trace_log.read_text(errors="replace")) if trace_log.exists() else []
    return SandboxResult(
        argv=list(argv),
        mode=mode,
        returncode=returncode,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
        timed_out=timed_out,
        randomness_calls=calls,
    )


_TRACED = "getrandom,open,openat,execve,clone,clone3,fork,vfork"
_CALL = re.compile(r"^(?P<pid>\d+)\s+(?P<syscall>\w+)\((?P<args>.*)\)\s+=\s+(?P<result>.*)$")
_FRAME = re.compile(r"^ > (?P<object>\S+?)(?:\((?P<symbol>[^)]*)\))? \[")
_RANDOM_NODE = re.compile(r'"(/dev/u?random)"')


def parse_randomness_trace(log: str) -> list[RandomnessCall]:
    """Turn `strace -k` output into calls for kernel randomness.

    Each process is tracked to the program it runs (from `execve`, inherited across `clone`), so
    the sandbox's own set-up calls, made while a process is still bwrap, are left out.
    """
    program: dict[int, str] = {}
    calls: list[RandomnessCall] = []
    current: RandomnessCall | None = None
    for line in log.splitlines():
        frame = _FRAME.match(line)
        if frame:
            if current is not None:
                symbol = f"({frame['symbol']})" if frame["symbol"] else ""
                current.frames.append(f"{frame['object']}{symbol}")
                if current.library is None and not any(name in frame["object"] for name in LIBC_OBJECTS):
                    current.library = frame["object"]
            continue
        current = None
        match = _CALL.match(line)
        if match is None:
            continue
        pid, syscall, args, result = int(match["pid"]), match["syscall"], match["args"], match["result"]
        if syscall == "execve":
            if result.startswith("0"):
                program[pid] = args.split('"')[1] if '"' in args else args
            continue
        if syscall in ("clone", "clone3", "fork", "vfork"):
            child = result.split()[0]
            if child.isdigit():
                program[int(child)] = program.get(pid, "")
            continue
        if program.get(pid, "bwrap").endswith("bwrap"):
            continue
        if syscall != "getrandom":
            node = _RANDOM_NODE.search(args)
            if node is None:
                continue
            args = node.group(1)
        current = RandomnessCall(
            pid=pid,
            syscall=syscall,
            detail=args,
            result=result.strip(),
            denied="ENOSYS" in result or "ENOENT" in result,
            frames=[],
            library=None,
        )
        calls.append(current)
    return [call.classify() for call in calls]
