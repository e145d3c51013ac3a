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

import contextlib
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
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
        elif (runtime := _runtime_purpose(self.frames)) is not None:
            purpose, relevant = runtime, False
        elif any("python" in frame for frame in self.frames):
            purpose, relevant = "CPython runtime (hash seed, os.urandom)", False
        else:
            purpose, relevant = "unknown", True
        self.purpose, self.crypto_relevant = purpose, relevant
        return self


# A runtime's own requests for kernel randomness that feed no cryptography, by a symbol in their frames.
RUNTIME_PURPOSES = (
    (("_mi_prim_random_buf", "mi_random_init"), "CPython mimalloc heap-randomisation key"),
    (("_Py_HashRandomization_Init",), "CPython hash-randomisation seed"),
    (("os_urandom", "_PyEval_EvalFrame"), "CPython os.urandom (kernel randomness outside the FIPS boundary)"),
    # PHP 8.4's memory manager keys its free-list pointer shadows (heap hardening, not crypto); refused, it
    # falls back to a seed of its own (php_random_generate_fallback_seed).
    (
        ("php_random_bytes_insecure_for_zend",),
        "PHP memory-manager heap key (php_random_bytes_insecure_for_zend)",
    ),
)


def _runtime_purpose(frames: list[str]) -> str | None:
    """Which known non-cryptographic runtime path asked, by the symbols in its frames (None if none)."""
    for symbols, purpose in RUNTIME_PURPOSES:
        if any(symbol in frame for frame in frames for symbol in symbols):
            return purpose
    return None


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


class SandboxSetup(BaseModel):
    """What a sandboxed command sees besides the root: environment, extra mounts, directory, user."""

    env: dict[str, str] = {}
    binds: dict[Path, str] = {}
    """Host path -> sandbox path, read-only."""
    writable: dict[Path, str] = {}
    """Host path -> sandbox path, read-write."""
    cwd: str = "/"
    user: tuple[int, int] | None = None
    """(uid, gid) to run as, in a user namespace; None: root."""


def _bwrap_command(
    root: Path, argv: Sequence[str], mode: EntropyMode, setup: SandboxSetup, seccomp_fd: int | None,
    info_fd: int | None = None,
) -> list[str]:  # fmt: skip
    env, binds, writable, cwd, user = setup.env, setup.binds, setup.writable, setup.cwd, setup.user
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
    if info_fd is not None:
        command += ["--info-fd", str(info_fd)]
    if user is not None:
        # a user namespace maps the image's user to ours: files the host's root owns are its own inside
        command += ["--unshare-user", "--uid", str(user[0]), "--gid", str(user[1])]
    return [*command, "--", *argv]


def _check_tools(root: Path) -> None:
    if shutil.which("bwrap") is None or shutil.which("strace") is None:
        raise FipsforgeError("bwrap and strace are required: apt-get install bubblewrap strace")
    if not root.is_dir():
        raise FipsforgeError(f"{root}: sandbox root is not a directory")


@contextlib.contextmanager
def _traced_command(
    root: Path,
    argv: Sequence[str],
    mode: EntropyMode,
    setup: SandboxSetup,
    scratch: Path,
    info_fd: int | None = None,
    traced: bool = True,
) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """The strace + bwrap command line, and the file descriptors it needs passed (the seccomp filter)."""
    pass_fds: tuple[int, ...] = ()
    seccomp_fd = None
    with contextlib.ExitStack() as stack:
        if mode is EntropyMode.KERNEL_CUT_OFF:
            filter_stream = stack.enter_context(seccomp_filter_path().open("rb"))
            seccomp_fd = filter_stream.fileno()
            os.set_inheritable(seccomp_fd, True)
            pass_fds = (seccomp_fd,)
        inner = _bwrap_command(root, argv, mode, setup, seccomp_fd, info_fd)
        command = ["strace", "-f", "-qq", "-k", "-e", f"trace={_TRACED}", "-e", "signal=none",
                   "-o", str(scratch / "strace.log"), *inner]  # fmt: skip
        yield command if traced else inner, pass_fds


def _trace(scratch: Path) -> list[RandomnessCall]:
    log = scratch / "strace.log"
    return parse_randomness_trace(log.read_text(errors="replace")) if log.exists() else []


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
    user: tuple[int, int] | None = None,
    traced: bool = True,
) -> SandboxResult:
    """Run `argv` with `root` as a read-only `/`.

    `binds` maps extra host paths into the sandbox read-only, `writable` read-write (a scratch directory
    that several runs share, for multi-step checks in images that have no shell). `user` runs it as that
    (uid, gid) in a user namespace; `traced=False` leaves strace out (no randomness calls are recorded).
    """
    _check_tools(root)
    options = SandboxSetup(env=env or {}, binds=binds or {}, writable=writable or {}, cwd=cwd, user=user)
    with tempfile.TemporaryDirectory(prefix="fipsforge-sandbox-") as tmp:
        scratch = Path(tmp)
        timed_out = False
        with _traced_command(root, argv, mode, options, scratch, traced=traced) as (command, pass_fds):
            try:
                done = subprocess.run(
                    command, input=stdin, capture_output=True, timeout=timeout, pass_fds=pass_fds, check=False
                )
                returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
            except subprocess.TimeoutExpired as expired:
                timed_out, returncode = True, -9
                stdout, stderr = expired.stdout or b"", expired.stderr or b""
        calls = _trace(scratch)
    return SandboxResult(
        argv=list(argv),
        mode=mode,
        returncode=returncode,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
        timed_out=timed_out,
        randomness_calls=calls,
    )


_ERROR_LINE = re.compile(r"\[!\]|error|fatal|emerg|fail|invalid|unable|cannot|refus", re.IGNORECASE)


class BackgroundSandbox:
    """A command running in the sandbox in the background (a service under test).

    `netns` is the sandbox's network namespace (`/proc/PID/ns/net` of its first process), through which
    a client outside the image reaches what the command listens on at 127.0.0.1.
    """

    def __init__(self, process: subprocess.Popen[bytes], child_pid: int, scratch: Path) -> None:
        self.process = process
        self.child_pid = child_pid
        self.scratch = scratch

    @property
    def netns(self) -> Path:
        return Path(f"/proc/{self.child_pid}/ns/net")

    def running(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self, lines: int = 5) -> str:
        """The last error lines of its stderr (servers log clean-up after the error that stopped them)."""
        text = (self.scratch / "stderr").read_text(errors="replace").strip().splitlines()
        errors = [line for line in text if _ERROR_LINE.search(line)]
        return " | ".join((errors or text)[-lines:]) or "(no stderr)"


@contextlib.contextmanager
def start_sandboxed(
    root: Path, argv: Sequence[str], setup: SandboxSetup, mode: EntropyMode, start_timeout: float = 10
) -> Iterator[tuple[BackgroundSandbox, list[RandomnessCall]]]:
    """Start `argv` as `run_sandboxed` would, in the background; on exit the sandbox is killed and the
    list yielded with it is filled with the randomness calls of its whole run."""
    _check_tools(root)
    calls: list[RandomnessCall] = []
    with tempfile.TemporaryDirectory(prefix="fipsforge-service-") as tmp:
        scratch = Path(tmp)
        info_read, info_write = os.pipe()
        with (
            _traced_command(root, argv, mode, setup, scratch, info_write) as (command, pass_fds),
            (scratch / "stdout").open("wb") as out,
            (scratch / "stderr").open("wb") as err,
        ):
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                pass_fds=(*pass_fds, info_write), start_new_session=True,
            )  # fmt: skip
            os.close(info_write)
            try:
                child_pid = _read_child_pid(info_read, start_timeout)
                sandbox = BackgroundSandbox(process, child_pid, scratch)
                yield sandbox, calls
            finally:
                os.close(info_read)
                _stop(process)
        calls += _trace(scratch)


def _read_child_pid(info_fd: int, timeout: float) -> int:
    """bwrap writes `{"child-pid": N}` to its --info-fd once the sandbox exists."""
    ready, _, _ = select.select([info_fd], [], [], timeout)
    data = os.read(info_fd, 4096) if ready else b""
    match = re.search(rb'"child-pid"\s*:\s*(\d+)', data)
    if match is None:
        raise FipsforgeError("bwrap: the sandbox did not start (no child pid on --info-fd)")
    return int(match.group(1))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the whole sandbox: strace, bwrap and everything in the sandbox's pid namespace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
