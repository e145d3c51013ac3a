"""The sandbox itself: read-only root, private /dev, loopback only, and the two entropy modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.sandbox import EntropyMode, parse_randomness_trace, run_sandboxed

HOST = Path("/")
PYTHON = "/usr/bin/python3"


def python(code: str, mode: EntropyMode) -> tuple[int, str, str, list[str]]:
    result = run_sandboxed(HOST, [PYTHON, "-c", code], mode=mode, env={"PYTHONHASHSEED": "0"})
    return result.returncode, result.stdout, result.stderr, [c.syscall for c in result.denied_syscalls]


def test_dev_holds_only_the_allowed_nodes() -> None:
    normal = run_sandboxed(HOST, ["ls", "/dev"])
    cut_off = run_sandboxed(HOST, ["ls", "/dev"], mode=EntropyMode.KERNEL_CUT_OFF)
    assert set(normal.stdout.split()) <= {"null", "zero", "full", "tty", "urandom"}
    assert "urandom" in normal.stdout.split()
    assert not {"urandom", "random"} & set(cut_off.stdout.split())
    assert {"null", "zero", "full"} <= set(cut_off.stdout.split())


def test_root_is_read_only_and_exit_status_is_returned() -> None:
    result = run_sandboxed(HOST, ["touch", "/usr/fipsforge-should-not-exist"])
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr
    assert not Path("/usr/fipsforge-should-not-exist").exists()


def test_network_is_loopback_only() -> None:
    result = run_sandboxed(HOST, ["cat", "/proc/net/dev"])
    interfaces = [line.split(":")[0].strip() for line in result.stdout.splitlines()[2:]]
    assert interfaces == ["lo"]


def test_kernel_cut_off_denies_getrandom_and_reports_it() -> None:
    code = "import os\ntry:\n    os.getrandom(16)\nexcept OSError as e:\n    print('errno', e.errno)\n"
    status, out, _err, denied = python(code, EntropyMode.KERNEL_CUT_OFF)
    assert status == 0
    assert out.strip() == "errno 38"  # ENOSYS
    assert "getrandom" in denied


def test_normal_mode_allows_getrandom() -> None:
    status, out, _err, denied = python("import os; print(len(os.getrandom(16)))", EntropyMode.NORMAL)
    assert (status, out.strip(), denied) == (0, "16", [])


def test_calls_are_attributed_to_the_library_that_made_them() -> None:
    result = run_sandboxed(HOST, [PYTHON, "-c", "import os; os.getrandom(4)"], env={"PYTHONHASHSEED": "0"})
    callers = {call.library for call in result.randomness_calls if call.syscall == "getrandom"}
    assert any(library and "python3" in library for library in callers), callers


def test_trace_parser_skips_bwrap_and_follows_forks() -> None:
    log = "\n".join([
        '10 getrandom("x", 8, GRND_NONBLOCK) = 8',
        ' > /usr/lib/x86_64-linux-gnu/libc.so.6(getrandom+0x10) [0x1]',
        '10 clone(child_stack=NULL) = 11',
        '11 execve("/usr/bin/openssl", ["openssl"], 0x0 /* 3 vars */) = 0',
        '11 clone(child_stack=NULL) = 12',
        '12 getrandom(0x7f, 48, 0) = -1 ENOSYS (Function not implemented)',
        ' > /usr/lib/x86_64-linux-gnu/libc.so.6(getrandom+0x10) [0x1]',
        ' > /usr/lib/x86_64-linux-gnu/libcrypto.so.3(RAND_bytes+0x10) [0x2]',
        '11 openat(AT_FDCWD, "/dev/urandom", O_RDONLY) = -1 ENOENT (No such file or directory)',
        '11 openat(AT_FDCWD, "/etc/ssl/openssl.cnf", O_RDONLY) = 3',
    ])  # fmt: skip
    calls = parse_randomness_trace(log)
    assert [(c.pid, c.syscall, c.denied, c.library) for c in calls] == [
        (12, "getrandom", True, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"),
        (11, "openat", True, None),
    ]


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError, match="not a directory"):
        run_sandboxed(tmp_path / "absent", ["true"])
