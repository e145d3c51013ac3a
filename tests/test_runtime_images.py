"""`fipsforge test` on the built-in images, in both entropy modes, against the plain-Debian control."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fipsforge.oci.push import push_layout
from fipsforge.oci.unpack import unpack_image
from fipsforge.oci.writer import write_docker_archive
from fipsforge.sandbox import EntropyMode, run_sandboxed
from fipsforge.sandbox.probes import KERNEL_PATHS, node_probe, openssl_image_probes, python_probes
from fipsforge.sandbox.shims import GETRANDOM_TRACE, preload
from fipsforge.sandbox.suite import CaseResult, RuntimeReport, Status, find_runtimes, run_suite
from fipsforge.stack.check import openssl_probes, run_probe
from image_fixtures import BuiltImage
from oci_fixtures import loopback_registry

pytestmark = pytest.mark.slow

FIPSFORGE = str(Path(sys.executable).parent / "fipsforge")
NORMAL, CUT = EntropyMode.NORMAL, EntropyMode.KERNEL_CUT_OFF


def _case(report: RuntimeReport, case_id: str, mode: EntropyMode | None) -> CaseResult:
    return next(case for case in report.cases if case.id == case_id and case.mode == mode)


@pytest.fixture(scope="module")
def openssl_cli(
    openssl_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, RuntimeReport, Path]:
    """`fipsforge test LAYOUT --json --junit FILE` on the openssl image, run once."""
    junit = tmp_path_factory.mktemp("runtime") / "openssl.junit.xml"
    done = subprocess.run(
        [FIPSFORGE, "test", str(openssl_image.layout), "--json", "--junit", str(junit)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr
    return done.returncode, RuntimeReport.model_validate(json.loads(done.stdout)), junit


@pytest.fixture(scope="module")
def python_report(python_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> RuntimeReport:
    return run_suite(unpack_image(str(python_image.layout), tmp_path_factory.mktemp("python-test")))


@pytest.fixture(scope="module")
def plain_report(plain_python_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> RuntimeReport:
    """Debian's own python3.13 and openssl (the CLI comes with ca-certificates): the negative control."""
    return run_suite(unpack_image(str(plain_python_image.layout), tmp_path_factory.mktemp("plain-test")))


def test_openssl_image_passes_in_both_modes(openssl_cli: tuple[int, RuntimeReport, Path]) -> None:
    returncode, report, _ = openssl_cli
    assert returncode == 0, [f"{c.id} [{c.mode}]: {c.detail}" for c in report.failed]
    assert report.passed and report.runtimes.openssl == "/usr/bin/openssl"
    for probe in openssl_image_probes():
        for mode in EntropyMode:
            assert _case(report, probe.id, mode).status is Status.PASSED
    assert _case(report, "fips-self-test", CUT).status is Status.PASSED
    skipped = {case.id: case.detail for case in report.cases if case.status is Status.SKIPPED}
    assert skipped == {
        "python": "no python3 executable on the image's PATH",
        "node-fips": "no node executable on the image's PATH",
    }


def test_fail_closed_with_the_jitter_timer_frozen(openssl_cli: tuple[int, RuntimeReport, Path]) -> None:
    """Frozen rdtsc: jitterentropy's health tests trip and the FIPS module refuses; no kernel fallback,
    even with the kernel's entropy right there (normal mode)."""
    _, report, _ = openssl_cli
    for mode in EntropyMode:
        for case_id in ("fail-closed-rand", "fail-closed-ec-keygen"):
            case = _case(report, case_id, mode)
            assert case.status is Status.PASSED, case.detail
            frozen = re.search(r"(\d+) timer reads frozen", case.detail)
            assert frozen and int(frozen.group(1)) > 0 and case.kernel_seeding_calls == 0
            assert re.search(r"error state|drbg", case.detail)
    assert _case(report, "fail-closed-control-digest", CUT).status is Status.PASSED


def test_json_lists_every_randomness_call_with_its_caller(
    openssl_cli: tuple[int, RuntimeReport, Path],
) -> None:
    _, report, _ = openssl_cli
    calls = report.randomness_calls
    assert calls and all(call.library and call.purpose != "unknown" and call.frames for call in calls)
    assert {call.case for call in calls} <= {case.id for case in report.cases}
    assert all(call.denied for call in calls if call.case_mode is CUT)
    assert not [call for call in calls if call.crypto_relevant]
    assert {call.purpose for call in calls} == {"glibc malloc tcache key"}
    for mode in EntropyMode:
        assert _case(report, "no-kernel-seeding", mode).status is Status.PASSED


def test_junit_file_parses(openssl_cli: tuple[int, RuntimeReport, Path]) -> None:
    _, report, junit = openssl_cli
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == len(report.cases) and root.get("failures") == "0"
    # skipped: python and node absent; the tamper matrix's risks (an operator's setting wins) are shown so too
    assert len(root.findall(".//testcase/skipped")) == 2 + len(report.risks) and report.risks
    assert len(root.findall(".//testcase/skipped[@type='risk']")) == len(report.risks)
    assert not root.findall(".//testcase/failure")
    assert {suite.get("name") for suite in root.iter("testsuite")} == {case.group for case in report.cases}


def test_python_image_passes_in_both_modes(python_report: RuntimeReport) -> None:
    report = python_report
    assert report.passed, [f"{c.id} [{c.mode}]: {c.detail}" for c in report.failed]
    assert report.runtimes.python == "/usr/bin/python3"
    for probe in python_probes("python3", with_openssl_cli=True):
        for mode in EntropyMode:
            assert _case(report, probe.id, mode).status is Status.PASSED
    assert "not offered by the OpenSSL FIPS provider" in _case(report, "python-md5-refused", CUT).detail


def test_python_kernel_dependent_paths_are_named_and_fail_without_the_kernel(
    python_report: RuntimeReport,
) -> None:
    paths = {path.name: path for path in python_report.kernel_dependent_paths}
    assert set(paths) == {"os.urandom", "secrets", "random.SystemRandom", "hash randomisation seed"}
    assert all(path.works_normal and not path.works_cut_off for path in paths.values())
    assert all(case.status is Status.PASSED for case in python_report.cases if case.group == KERNEL_PATHS)


def test_python_calls_are_attributed_and_none_seeds_crypto(python_report: RuntimeReport) -> None:
    purposes = {call.purpose for call in python_report.randomness_calls}
    assert {
        "glibc malloc tcache key",
        "CPython hash-randomisation seed",
        "CPython mimalloc heap-randomisation key",
        "CPython os.urandom (kernel randomness outside the FIPS boundary)",
    } <= purposes
    assert not [call for call in python_report.randomness_calls if call.crypto_relevant]
    assert python_report.randomness_summary and not [
        g for g in python_report.randomness_summary if g.crypto_relevant
    ]
    assert sum(g.calls for g in python_report.randomness_summary) == len(python_report.randomness_calls)


def test_plain_debian_control_fails_with_the_named_checks(plain_report: RuntimeReport) -> None:
    report = plain_report
    assert not report.passed
    failed = {(case.id, case.mode) for case in report.failed}
    assert ("fips-self-test", None) in failed and "no FIPS provider" in _case(
        report, "fips-self-test", None
    ).detail
    for mode in EntropyMode:
        assert {
            ("providers-active", mode),
            ("md5-refused", mode),
            ("python-no-builtin-hashes", mode),
        } <= failed
        assert ("no-kernel-seeding", mode) in failed
        assert "OpenSSL libcrypto seeding" in _case(report, "no-kernel-seeding", mode).detail
    assert ("python-md5-refused", NORMAL) in failed and ("python-tls-x25519", NORMAL) in failed
    assert {("chacha20-poly1305-refused", NORMAL), ("python-tls-chacha20", NORMAL)} <= failed
    # seeding: works with the kernel, fails without it (and so does everything that needs randomness)
    assert _case(report, "rand", NORMAL).status is Status.PASSED
    assert re.search(r"drbg|entropy", _case(report, "rand", CUT).detail)
    assert _case(report, "python-rand-bytes", CUT).status is Status.FAILED
    # fail-closed: with the kernel present, Debian's OpenSSL seeds from it whatever the timer does
    assert "NOT refused" in _case(report, "fail-closed-rand", NORMAL).detail
    crypto = [call for call in report.randomness_calls if call.crypto_relevant]
    assert crypto and {call.library for call in crypto} == {"/usr/lib/x86_64-linux-gnu/libcrypto.so.3"}
    seeding = {g.mode: g for g in report.randomness_summary if g.purpose == "OpenSSL libcrypto seeding"}
    assert seeding[NORMAL].crypto_relevant and seeding[NORMAL].denied == 0 < seeding[NORMAL].calls
    assert seeding[CUT].denied == seeding[CUT].calls > 0  # asked the kernel, was refused, failed


def test_vdso_getrandom_is_made_visible_by_the_trace_shim(plain_python_image: BuiltImage) -> None:
    """glibc 2.41 answers getrandom() from the vDSO, out of the tracer's sight; the shim makes each call a
    system call. Control: the same run without the shim shows none of the five calls."""
    code = "import os\nfor _ in range(5): os.urandom(16)"
    python = "/usr/bin/python3.13"

    def sixteen_byte_calls(names: list[str]) -> int:
        binds, env = preload(names)
        run = run_sandboxed(plain_python_image.rootfs, [python, "-c", code], binds=binds, env=env)
        assert run.ok, run.stderr
        return sum(1 for call in run.randomness_calls if ", 16, " in call.detail)

    assert sixteen_byte_calls([GETRANDOM_TRACE]) == 5
    assert sixteen_byte_calls([]) < 5


def test_registry_and_docker_archive_inputs(openssl_image: BuiltImage, tmp_path: Path) -> None:
    """A registry reference (docker-registry on loopback) and a docker-archive unpack to the same tree."""
    archive = tmp_path / "openssl.tar"
    write_docker_archive(openssl_image.layout, "3.5", "fipsforge/openssl:3.5", archive)
    from_layout = unpack_image(str(openssl_image.layout), tmp_path / "layout")
    from_archive = unpack_image(str(archive), tmp_path / "archive")
    with loopback_registry(tmp_path) as host:
        push_layout(openssl_image.layout, f"{host}/fipsforge/openssl:3.5")
        from_registry = unpack_image(f"docker://{host}/fipsforge/openssl:3.5", tmp_path / "registry")
    assert from_registry.kind == "registry" and from_archive.kind == "docker-archive"
    files = {
        image.kind: sorted(str(p.relative_to(image.rootfs)) for p in image.rootfs.rglob("*"))
        for image in (from_layout, from_archive, from_registry)
    }
    assert files["registry"] == files["oci-layout"] == files["docker-archive"]
    assert from_registry.config.argv == ["/usr/bin/openssl", "version", "-a"]
    assert find_runtimes(from_registry).fips_module == "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"
    rand = next(probe for probe in openssl_probes() if probe.id == "rand")
    assert run_probe(from_registry.rootfs, {}, rand).passed  # the pulled image seeds without the kernel


def test_node_is_fips_through_nodejs_conf(node_image: BuiltImage, tmp_path: Path) -> None:
    """Debian's node over the fipsforge stack: node reads the `nodejs_conf` section of openssl.cnf, which our
    openssl.cnf points at the FIPS initialisation, so the node probe passes in both modes. Control: the same
    image with that one line removed loads OpenSSL's default provider (MD5 and X25519 work)."""
    image = unpack_image(str(node_image.layout), tmp_path / "node")
    node = find_runtimes(image).node
    assert node == "/usr/bin/node"
    probe = node_probe(node)
    for mode in EntropyMode:
        assert run_probe(image.rootfs, {}, probe.model_copy(update={"mode": mode})).passed
    config = image.rootfs / "usr/lib/ssl/openssl.cnf"
    without = tmp_path / "openssl-without-nodejs_conf.cnf"
    without.write_text(
        "".join(line for line in config.read_text().splitlines(True) if not line.startswith("nodejs_conf"))
    )
    control = run_probe(image.rootfs, {without: "/usr/lib/ssl/openssl.cnf"}, probe)
    assert not control.passed and "not FIPS-conformant: fips=0, md5_refused=false" in control.detail
