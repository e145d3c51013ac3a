"""`fipsforge test` without images: safe unpack, bad input, JUnit output, call attribution, the shims."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.oci.unpack import unpack_image
from fipsforge.sandbox import EntropyMode, RandomnessCall, run_sandboxed
from fipsforge.sandbox.junit import junit_xml
from fipsforge.sandbox.shims import FAIL_CLOSED, preload
from fipsforge.sandbox.suite import CaseResult, RuntimeReport, Runtimes, Status, run_suite
from fipsforge.stack.check import Expectation, failure_reason
from oci_fixtures import Entry, layer, snapshot, write_layout

FIPSFORGE = str(Path(sys.executable).parent / "fipsforge")
BENIGN = [
    Entry("usr/bin/", kind="dir"),
    Entry("usr/bin/tool", data=b"#!/bin/true\n", mode=0o4755),
    Entry("bin", kind="symlink", linkname="/usr/bin"),
]


def _layout(root: Path, entries: list[Entry], config: dict[str, list[str]] | None = None) -> Path:
    layout, _ = write_layout(root, [layer(entries)])
    if config is not None:  # rewrite the config blob with Entrypoint/Cmd, and the manifest that names it
        index = json.loads((root / "index.json").read_text())
        manifest_path = root / "blobs/sha256" / index["manifests"][0]["digest"][7:]
        manifest = json.loads(manifest_path.read_text())
        blob = json.loads((root / "blobs/sha256" / manifest["config"]["digest"][7:]).read_text())
        blob["config"].update(config)
        manifest["config"]["digest"] = layout.blob(json.dumps(blob).encode())
        manifest["config"]["size"] = len(json.dumps(blob).encode())
        index["manifests"][0]["digest"] = layout.blob(json.dumps(manifest).encode())
        index["manifests"][0]["size"] = len(json.dumps(manifest).encode())
        (root / "index.json").write_text(json.dumps(index))
    return root


def test_unpack_writes_the_tree_without_setuid_and_adds_mount_points(tmp_path: Path) -> None:
    image = _layout(tmp_path / "img", BENIGN, {"Entrypoint": ["/usr/bin/tool"]})
    unpacked = unpack_image(str(image), tmp_path / "work")
    tool = unpacked.rootfs / "usr/bin/tool"
    assert tool.read_bytes() == b"#!/bin/true\n"
    assert tool.stat().st_mode & 0o7777 == 0o755  # setuid dropped
    assert (unpacked.rootfs / "bin").readlink() == Path("usr/bin")  # absolute link made relative
    assert all((unpacked.rootfs / name).is_dir() for name in ("proc", "dev", "tmp"))
    assert unpacked.config.argv == ["/usr/bin/tool"]


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([Entry("../escape", data=b"x")], "parent-directory component"),
        ([Entry("/etc/passwd", data=b"x")], "absolute path"),
        (
            [Entry("link", kind="symlink", linkname="/"), Entry("link/etc/shadow", data=b"x")],
            "through a symlink",
        ),
        ([Entry("dev/sda", kind="blk")], "device node refused"),
    ],
)
def test_unpack_refuses_a_hostile_image_and_writes_nothing_outside(
    tmp_path: Path, entries: list[Entry], problem: str
) -> None:
    image = _layout(tmp_path / "img", [*BENIGN, *entries])
    before = snapshot(tmp_path)
    with pytest.raises(FipsforgeError, match=problem) as raised:
        unpack_image(str(image), tmp_path / "work")
    assert "\n" not in str(raised.value) and str(image) in str(raised.value)
    assert snapshot(tmp_path) - before <= {str(tmp_path / "work")}  # no rootfs, nothing beside it
    # control: the same image without the hostile entries unpacks
    unpack_image(str(_layout(tmp_path / "clean", BENIGN)), tmp_path / "work-clean")


def _runtime_report(statuses: list[Status]) -> RuntimeReport:
    cases = [
        CaseResult(id=f"case-{n}", group="g1" if n % 2 else "g2", description="d", mode=EntropyMode.NORMAL,
                 expect=Expectation.SUCCEEDS, status=status, detail=f"detail <{n}> & more")
        for n, status in enumerate(statuses)
    ]  # fmt: skip
    runtimes = Runtimes(openssl=None, python=None, node=None, fips_module=None, fips_module_config=None)
    return RuntimeReport(image="img", kind="oci-layout", manifest_digest=None, entrypoint=["x"], runtimes=runtimes,
                         cases=cases, randomness_calls=[], randomness_summary=[], kernel_dependent_paths=[])  # fmt: skip


def test_junit_parses_with_counts_per_suite() -> None:
    report = _runtime_report([Status.PASSED, Status.FAILED, Status.SKIPPED, Status.FAILED])
    root = ET.fromstring(junit_xml(report))
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "2"
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert suites["g1"].get("failures") == "2" and suites["g2"].get("skipped") == "1"
    failure = root.find(".//testcase[@name='case-1 [normal]']/failure")
    assert failure is not None and failure.get("message") == "detail <1> & more"
    assert not report.passed and _runtime_report([Status.PASSED, Status.SKIPPED]).passed


def test_missing_entrypoint_is_a_one_line_error(tmp_path: Path) -> None:
    unpacked = unpack_image(str(_layout(tmp_path / "img", BENIGN)), tmp_path / "work")
    with pytest.raises(FipsforgeError, match="neither Entrypoint nor Cmd"):
        run_suite(unpacked)
    named = unpack_image(str(_layout(tmp_path / "img2", BENIGN, {"Entrypoint": ["/usr/bin/python3"]})),
                         tmp_path / "work2")  # fmt: skip
    with pytest.raises(FipsforgeError, match="entrypoint '/usr/bin/python3' is not in the image"):
        run_suite(named)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("notimage.txt", "not a docker-archive tar"),
        ("emptydir", "not an OCI image layout"),
        ("docker://127.0.0.1:9/none/image:1", "cannot copy from the registry"),
        ("noentrypoint", "neither Entrypoint nor Cmd"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, ref: str, message: str) -> None:
    (tmp_path / "notimage.txt").write_text("hello\n")
    (tmp_path / "emptydir").mkdir()
    _layout(tmp_path / "noentrypoint", BENIGN)
    target = ref if ref.startswith("docker://") else str(tmp_path / ref)
    done = subprocess.run(
        [FIPSFORGE, "test", target], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert done.stdout == ""


def _call(frames: list[str], detail: str = '"", 24, 0') -> RandomnessCall:
    return RandomnessCall(pid=1, syscall="getrandom", detail=detail, result="24", denied=False, frames=frames,
                          library=next((f.split("(")[0] for f in frames if "libc.so" not in f), None)).classify()  # fmt: skip


def test_cpython_calls_are_told_apart_by_their_frames() -> None:
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6(syscall+0x19)"
    urandom = _call(
        [libc, "/usr/bin/python3.13(os_urandom+0x20)", "/usr/bin/python3.13(_PyEval_EvalFrameDefault+0x25dc)"]
    )
    assert "os.urandom" in urandom.purpose and not urandom.crypto_relevant
    seed = _call(
        [
            libc,
            "/usr/bin/python3.13(_Py_HashRandomization_Init+0x40)",
            "/usr/bin/python3.13(Py_InitializeFromConfig+0x9)",
        ]
    )
    assert "hash-randomisation seed" in seed.purpose and not seed.crypto_relevant
    # control: OpenSSL's seeding through the same libc wrapper stays crypto-relevant
    drbg = _call([libc, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3(EVP_RAND_instantiate+0x59)"])
    assert drbg.crypto_relevant and drbg.purpose == "OpenSSL libcrypto seeding"


def test_fail_closed_shim_freezes_rdtsc_only() -> None:
    """The shim emulates rdtsc with a frozen counter; a program that never reads it is untouched."""
    binds, env = preload([FAIL_CLOSED])
    run = run_sandboxed(Path("/"), ["/bin/true"], binds=binds, env=env)
    assert run.ok and "fipsforge-fail-closed: 0 time-stamp counter reads frozen" in run.stderr
    # control: without the shim nothing reports
    assert "fipsforge-fail-closed" not in run_sandboxed(Path("/"), ["/bin/true"]).stderr


def test_failure_reason_names_cpythons_fatal_error_not_its_state_dump() -> None:
    stderr = (
        "Fatal Python error: _Py_HashRandomization_Init: failed to get random numbers to initialize Python\n"
        "Python runtime state: preinitialized\n"
    )
    assert failure_reason(stderr).startswith("Fatal Python error: _Py_HashRandomization_Init")
    # control: OpenSSL's error line still wins, and plain output still gives its last line
    openssl = (
        "80D5:error:1C8000E1:Provider routines:ossl_prov_is_running:fips module in error state:f.c:460:\n"
    )
    assert failure_reason(stderr + openssl) == "ossl_prov_is_running: fips module in error state"
    assert failure_reason("one\ntwo\n") == "two"


def _php_call(*frames: str) -> RandomnessCall:
    return RandomnessCall(pid=1, syscall="getrandom", detail="", result="-1 ENOSYS", denied=True,
                          frames=["/usr/lib/x86_64-linux-gnu/libc.so.6(syscall+0x19)", *frames],
                          library="/usr/bin/php8.4").classify()  # fmt: skip


def test_php_heap_key_is_not_crypto_but_php_random_bytes_is() -> None:
    """PHP's memory-manager key (frames through php_random_bytes_insecure_for_zend) is heap hardening; the
    same php_random_bytes reached from random_bytes() feeds the script's own crypto and stays relevant."""
    heap = _php_call("/usr/bin/php8.4(php_random_bytes_ex+0x65)",
                     "/usr/bin/php8.4(php_random_bytes_insecure_for_zend+0x16a)",
                     "/usr/bin/php8.4(start_memory_manager+0x71)")  # fmt: skip
    assert not heap.crypto_relevant and "heap key" in heap.purpose
    script = _php_call("/usr/bin/php8.4(php_random_bytes_ex+0x65)", "/usr/bin/php8.4(zif_random_bytes+0x40)")
    assert script.crypto_relevant and script.purpose == "unknown"
