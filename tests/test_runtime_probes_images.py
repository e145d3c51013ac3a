"""Runtime probes on the catalog images (curl, php, node) and on a slim image without the openssl CLI.

Each passing image has a control that fails on named checks: the same packages over Debian's stock
OpenSSL (curl, libcrypto), the php image without its hardened php.ini, node without `nodejs_conf`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from fipsforge.image.spec import builtin_spec_text, stock_control_text
from fipsforge.oci.unpack import UnpackedImage, unpack_image
from fipsforge.oci.writer import LayoutWriter
from fipsforge.sandbox import EntropyMode, run_sandboxed
from fipsforge.sandbox.cli import print_table
from fipsforge.sandbox.junit import junit_xml
from fipsforge.sandbox.probes import node_probe
from fipsforge.sandbox.runtimes import Context, curl, go, libcrypto, node_tls, php
from fipsforge.sandbox.suite import RuntimeReport, Status, run_suite
from fipsforge.stack.check import CheckResult, run_probe
from fipsforge.stack.sources import apt_root
from image_fixtures import BuiltImage, _build

pytestmark = pytest.mark.slow

FIPSFORGE = str(Path(sys.executable).parent / "fipsforge")
NORMAL, CUT = EntropyMode.NORMAL, EntropyMode.KERNEL_CUT_OFF
STOCK_CURL_SPEC = """
name: test/stock-curl
tag: control
packages: [base-files, curl, ca-certificates]
exclude: [debconf]
fips_stack: false
env: {GNUTLS_NO_IMPLICIT_INIT: "1"}
entrypoint: ["/usr/bin/curl"]
"""
PHP_NON_VALIDATED = set(php.NON_VALIDATED_CODE)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runtime-probe-images")


@pytest.fixture(scope="module")
def curl_image(images: Path) -> BuiltImage:
    return _build(images, "curl")


@pytest.fixture(scope="module")
def php_image(images: Path) -> BuiltImage:
    return _build(images, "php")


@pytest.fixture(scope="module")
def node_image(images: Path) -> BuiltImage:
    return _build(images, "node")


def _without(image: BuiltImage, work: Path, *paths: str) -> UnpackedImage:
    """The image unpacked as `fipsforge test` does, with `paths` taken out of the copy."""
    unpacked = unpack_image(str(image.layout), work)
    for path in paths:
        (unpacked.rootfs / path.lstrip("/")).unlink()
    return unpacked


def _runtime_results(
    image: UnpackedImage, module: ModuleType, scratch: Path, binds: dict[Path, str] | None = None
) -> dict[tuple[str, EntropyMode], CheckResult]:
    """One runtime module's probes in both modes, without the rest of the suite."""

    def find(names: tuple[str, ...]) -> str | None:
        return next((f"/usr/bin/{n}" for n in names if (image.rootfs / "usr/bin" / n).is_file()), None)

    plan = module.plan(image, Context(find=find, openssl_cli=None, scratch=scratch))
    assert plan is not None and plan.checks
    return {
        (check.probe.id, mode): run_probe(
            image.rootfs, {**plan.binds, **(binds or {})}, check.probe.model_copy(update={"mode": mode})
        )
        for check in plan.checks
        for mode in EntropyMode
    }


def _slim_layout(image: BuiltImage, out: Path) -> Path:
    """The image re-layered without /usr/bin/openssl: a slim app image that still links libcrypto.so.3."""
    rootfs = out / "rootfs"
    shutil.copytree(image.rootfs, rootfs, symlinks=True)
    (rootfs / "usr/bin/openssl").unlink()
    config = json.loads(
        (image.layout / "blobs/sha256" / image.result.config_digest.split(":")[1]).read_text()
    )
    writer = LayoutWriter(out / "oci")
    layer = writer.add_layer(rootfs, image.result.source_date_epoch)
    config["rootfs"]["diff_ids"] = [layer.diff_id]
    writer.add_image(config, [layer], {}, "slim")
    writer.finish()
    return out / "oci"


def test_image_without_the_openssl_cli_is_probed_through_libcrypto(
    curl_image: BuiltImage, tmp_path: Path
) -> None:
    """`fipsforge test` on the curl image without its openssl CLI: the libcrypto probes run and pass in both
    modes, and so do the curl probes (the whole suite, as a user runs it)."""
    layout = _slim_layout(curl_image, tmp_path / "slim")
    done = subprocess.run([FIPSFORGE, "test", str(layout), "--json"], capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip
    assert done.stdout, done.stderr
    report = RuntimeReport.model_validate(json.loads(done.stdout))
    assert done.returncode == 0, [f"{c.id} [{c.mode}]: {c.detail}" for c in report.failed]
    assert report.runtimes.openssl is None
    ran = {(case.id, case.mode): case for case in report.cases}
    for check in [*libcrypto.CHECKS, *curl.CASES]:
        case_id = check if check.startswith("curl-") else f"libcrypto-{check}"
        for mode in EntropyMode:
            assert ran[(case_id, mode)].status is Status.PASSED, ran[(case_id, mode)].detail
    assert "unsupported" in ran[("libcrypto-md5", CUT)].detail
    assert "no ciphers available" in ran[("curl-chacha20-refused", NORMAL)].detail
    assert "failed setting curves list" in ran[("curl-x25519-refused", CUT)].detail
    for mode in EntropyMode:
        assert ran[("no-kernel-seeding", mode)].status is Status.PASSED
        for case_id in ("fail-closed-rand", "fail-closed-ec-keygen"):  # frozen jitter timer, via libcrypto
            assert ran[(case_id, mode)].status is Status.PASSED, ran[(case_id, mode)].detail
            assert "(libcrypto-" in ran[(case_id, mode)].detail
    assert ran[("fail-closed-control-digest", CUT)].status is Status.PASSED


def test_stock_openssl_control_fails_the_libcrypto_and_curl_checks(images: Path, tmp_path: Path) -> None:
    """The same curl over Debian's stock OpenSSL, its CLI taken out: the same probes fail, by name."""
    stock = _without(_build(images, "stock-curl", STOCK_CURL_SPEC), tmp_path / "unpacked", "/usr/bin/openssl")
    results = {**_runtime_results(stock, libcrypto, tmp_path), **_runtime_results(stock, curl, tmp_path)}
    failed = {key for key, result in results.items() if not result.passed}
    for check in ("providers", "md5", "chacha20", "x25519-keygen"):
        assert (f"libcrypto-{check}", NORMAL) in failed
    assert {("curl-chacha20-refused", NORMAL), ("curl-x25519-refused", NORMAL)} <= failed
    assert results[("libcrypto-sha256", NORMAL)].passed and results[("curl-tls13-aes-gcm", NORMAL)].passed
    assert ("libcrypto-rand", CUT) in failed  # stock OpenSSL seeds from the kernel only


@pytest.fixture(scope="module")
def php_control(php_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> RuntimeReport:
    """The php image without its hardened php.ini, through the whole suite. Its openssl CLI is taken out too,
    so the OpenSSL cases run through libcrypto.so.3 (a third of the time; the CLI cases are the openssl
    image's tests)."""
    work = tmp_path_factory.mktemp("php-control")
    return run_suite(_without(php_image, work, "/etc/php/8.4/cli/php.ini", "/usr/bin/openssl"))


def test_php_without_the_hardened_ini_names_its_non_validated_functions(
    php_control: RuntimeReport, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every PHP-internal primitive answers: each is a failed case naming the function, in the table, the
    JSON and the JUnit report."""
    report = php_control
    assert not report.passed
    # PHP's start-up requests (its heap key) are attributed as not crypto; what still counts comes only from
    # the kernel-reading primitives that answer here (random_bytes() and its kin)
    assert any(call.purpose.startswith("PHP memory-manager heap key") for call in report.randomness_calls)
    relevant = {call.case for call in report.randomness_calls if call.crypto_relevant}
    assert relevant and relevant <= {php.probe_id(f) for f in ("random_bytes()", "random_int()",
                                     "Random\\Randomizer::getBytes()", "password_hash()")}, relevant  # fmt: skip
    assert set(report.non_validated_paths) == PHP_NON_VALIDATED
    md5 = next(case for case in report.cases if case.id == "php-md5" and case.mode is NORMAL)
    assert md5.status is Status.FAILED and md5.detail.startswith("non-validated path: md5() answers")
    as_json = json.loads(report.model_dump_json())
    assert set(as_json["non_validated_paths"]) == PHP_NON_VALIDATED
    assert {c["non_validated_path"] for c in as_json["cases"] if c["non_validated_path"]} == PHP_NON_VALIDATED
    junit = ET.fromstring(junit_xml(report))
    named = {
        re.sub(r"^non-validated path: (\S+) .*$", r"\1", failure.get("message", ""))
        for failure in junit.iter("failure")
        if failure.get("type") == "non-validated-path"
    }
    assert named == PHP_NON_VALIDATED
    print_table(report)
    table = capsys.readouterr().out
    assert "non-validated paths" in table and all(function in table for function in PHP_NON_VALIDATED)
    # ext/openssl is the validated path and works, with the kernel's entropy present and cut off
    ok = {(case.id, case.mode) for case in report.cases if case.status is Status.PASSED}
    through_openssl = (
        "php-openssl-digest",
        "php-openssl-random",
        "php-openssl-md5-refused",
        "php-tls-stream",
    )
    assert {(probe_id, mode) for probe_id in through_openssl for mode in EntropyMode} <= ok


def _assert_passes(report: RuntimeReport, prefix: str) -> None:
    """The whole suite passes, and every case of the runtime's own probes ran and passed in both modes."""
    assert report.passed, [f"{c.id} [{c.mode}]: {c.detail}" for c in report.failed]
    own = {(case.id, case.mode) for case in report.cases if case.id.startswith(prefix)}
    assert own and {mode for _id, mode in own} == set(EntropyMode)
    assert all(case.status is Status.PASSED for case in report.cases if case.id.startswith(prefix))


@pytest.fixture(scope="module")
def php_report(php_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> RuntimeReport:
    """The catalog php image through the whole suite, as `fipsforge test` runs it."""
    return run_suite(unpack_image(str(php_image.layout), tmp_path_factory.mktemp("php-suite")))


def test_php_hardened_ini_refuses_them_in_both_modes_and_debian_libsodium_is_the_control(
    php_image: BuiltImage, php_report: RuntimeReport, tmp_path: Path
) -> None:
    """With the shipped php.ini every PHP-internal primitive is undefined and ext/openssl works, with the
    kernel's entropy present and cut off: PHP's start-up sodium_init() draws from the FIPS DRBG through
    fipsforge's libsodium. Control: Debian's own libsodium23 mounted over it, PHP aborts in sodium_init()
    (exit 134) in the cut-off mode, its kernel requests denied, and still works with the kernel."""
    _assert_passes(php_report, "php-")
    assert not php_report.non_validated_paths
    image = unpack_image(str(php_image.layout), tmp_path / "unpacked")
    library = (image.rootfs / "usr/lib/x86_64-linux-gnu/libsodium.so.23").resolve()
    debs = apt_root().download(["libsodium23"], tmp_path / "debs")
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path / "debian")], check=True)
    debian = tmp_path / "debian/usr/lib/x86_64-linux-gnu" / library.name
    control = _runtime_results(image, php, tmp_path, {debian: f"/usr/lib/x86_64-linux-gnu/{library.name}"})
    for (probe_id, mode), result in control.items():
        if mode is CUT:
            assert not result.passed and result.detail.startswith("exit 134"), (probe_id, result.detail)
        else:
            assert result.passed, (probe_id, result.detail)
    sodium = [
        call for call in control[("php-openssl-digest", CUT)].randomness_calls
        if any("sodium_init" in frame for frame in call.frames)
    ]  # fmt: skip
    assert sodium and all(call.denied for call in sodium)


def test_node_https_on_loopback_in_both_modes_dns_needs_the_kernel_and_its_control(
    node_image: BuiltImage, tmp_path: Path
) -> None:
    """Node's HTTPS server and client negotiate AES-GCM; ChaCha20-only and X25519-only clients are refused,
    with the kernel's entropy present and cut off. Loading `dns` starts c-ares, which calls glibc's
    arc4random, and glibc aborts when getrandom fails: that kernel path works only with the kernel. Control:
    without `nodejs_conf` node runs on OpenSSL's default provider and both restricted clients connect."""
    report = run_suite(unpack_image(str(node_image.layout), tmp_path / "suite"))
    _assert_passes(report, "node-")
    [dns] = report.kernel_dependent_paths
    assert dns.name.startswith("Node.js dns") and dns.works_normal and not dns.works_cut_off
    assert dns.detail == "exit 134: Fatal glibc error: cannot get entropy for arc4random"
    image = unpack_image(str(node_image.layout), tmp_path / "unpacked")
    x25519 = next(c for c in report.cases if c.id == "node-https-x25519-refused" and c.mode is NORMAL)
    assert x25519.detail.startswith("exit 1: refused: ")
    config = image.rootfs / "usr/lib/ssl/openssl.cnf"
    without = tmp_path / "openssl-without-nodejs_conf.cnf"
    without.write_text(
        "".join(line for line in config.read_text().splitlines(True) if not line.startswith("nodejs_conf"))
    )
    control = _runtime_results(image, node_tls, tmp_path, {without: "/usr/lib/ssl/openssl.cnf"})
    failed = {
        probe_id for (probe_id, mode), result in control.items() if mode is NORMAL and not result.passed
    }
    assert failed == {"node-https-chacha20-refused", "node-https-x25519-refused"}
    assert control[("node-https-x25519-refused", NORMAL)].detail == "exit 0"


def test_node_stock_control_fails_on_named_checks(images: Path, tmp_path: Path) -> None:
    """The node spec over Debian's own OpenSSL (its stock control): getFips() is 0 and MD5 answers, both
    restricted HTTPS clients connect, and with the kernel's entropy cut off node aborts (Debian's OpenSSL has no seed)."""
    stock = _build(images, "node-stock", stock_control_text(builtin_spec_text("node")))
    image = unpack_image(str(stock.layout), tmp_path / "unpacked")
    results = _runtime_results(image, node_tls, tmp_path)
    fips = {mode: run_probe(image.rootfs, {}, node_probe("/usr/bin/node").model_copy(update={"mode": mode}))
            for mode in EntropyMode}  # fmt: skip
    assert fips[NORMAL].detail == (
        "exit 1: not FIPS-conformant: fips=0, md5_refused=false, x25519_refused=false, chacha20_refused=false"
    )
    assert fips[CUT].detail.startswith("exit 134")  # Debian's OpenSSL has no seed without the kernel
    failed = {
        probe_id for (probe_id, mode), result in results.items() if mode is NORMAL and not result.passed
    }
    assert failed == {"node-https-chacha20-refused", "node-https-x25519-refused"}
    assert results[("node-https-tls13", NORMAL)].passed  # control: the stock image does serve HTTPS


def test_a_trixie_go_binary_is_reported_and_cannot_run_without_the_kernel(
    curl_image: BuiltImage, tmp_path: Path
) -> None:
    """Debian's age (Go 1.24): build info says fips140 is off; run in the curl image's rootfs, age-keygen
    works with the kernel and crashes in crypto/rand without it, in FIPS mode too (module v1.0.0 seeds its
    DRBG from getrandom), as the Go probe's account says."""
    debs = apt_root().download(["age"], tmp_path)
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path / "age")], check=True)
    info = go.build_info(tmp_path / "age/usr/bin/age-keygen")
    assert info is not None and info.version.startswith("go1.24")
    fips_mode, independent, detail = go.judge(info, "")
    assert (fips_mode, independent) == (False, False) and "Enabled() is false" in detail
    assert go.judge(info, "fips140=on")[:2] == (True, False)
    image = _without(curl_image, tmp_path / "unpacked")
    binds = {tmp_path / "age/usr/bin/age-keygen": "/tmp/.fipsforge/age-keygen"}
    for godebug in ("fips140=off", "fips140=on"):
        for mode in EntropyMode:
            run = run_sandboxed(image.rootfs, ["/tmp/.fipsforge/age-keygen"], mode=mode, binds=binds,
                                env={"GODEBUG": godebug})  # fmt: skip
            if mode is NORMAL:
                assert run.ok and "AGE-SECRET-KEY-1" in run.stdout, run.stderr
            else:
                assert not run.ok and "fatal error: crypto/rand: failed to read random data" in run.stderr
