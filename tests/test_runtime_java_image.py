"""The Java probes on a real JVM: Debian trixie's OpenJDK 21 (headless JRE) over the fipsforge stack.

The image has no /usr/bin/java (built without maintainer scripts, so no update-alternatives link): the
JVM is found under /usr/lib/jvm. Its stock java.security lists the JDK's own providers, so MD5 answers
from SUN; the control binds a java.security listing only SunJCE, which offers no MessageDigest at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fipsforge.oci.unpack import UnpackedImage, unpack_image
from fipsforge.sandbox import EntropyMode, run_sandboxed
from fipsforge.sandbox.runtimes import Context, Plan, java
from fipsforge.sandbox.runtimes.java_class import CLASS_NAME, probe_class
from fipsforge.sandbox.shims import GETRANDOM_TRACE, preload
from fipsforge.stack.check import CheckResult, run_probe
from image_fixtures import _build

pytestmark = pytest.mark.slow

JAVA_SPEC = """
name: test/java
tag: fips
packages: [base-files, openjdk-21-jre-headless]
exclude: [debconf, mawk]
fips_stack: true
entrypoint: ["/usr/lib/jvm/java-21-openjdk-amd64/bin/java"]
"""
JVM = "/usr/lib/jvm/java-21-openjdk-amd64"
JAVA_SECURITY = "/etc/java-21-openjdk/security/java.security"  # what conf/security/java.security links to
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> UnpackedImage:
    work = tmp_path_factory.mktemp("java-image")
    built = _build(work, "java", JAVA_SPEC)
    return unpack_image(str(built.layout), work / "unpacked")


def _plan(image: UnpackedImage, scratch: Path) -> Plan:
    def find(names: tuple[str, ...]) -> str | None:
        return next((f"/usr/bin/{n}" for n in names if (image.rootfs / "usr/bin" / n).is_file()), None)

    plan = java.plan(image, Context(find=find, openssl_cli=None, scratch=scratch))
    assert plan is not None
    return plan


def _results(
    image: UnpackedImage, plan: Plan, binds: dict[Path, str] | None = None
) -> dict[tuple[str, EntropyMode], CheckResult]:
    """Every Java probe in both modes, with the getrandom trace preloaded as `fipsforge test` does."""
    trace_binds, trace_env = preload([GETRANDOM_TRACE])
    return {
        (check.probe.id, mode): run_probe(
            image.rootfs,
            {**trace_binds, **plan.binds, **(binds or {})},
            check.probe.model_copy(update={"mode": mode, "env": trace_env}),
        )
        for check in plan.checks
        for mode in EntropyMode
    }


def test_the_jvm_answers_md5_from_sun_in_both_modes(image: UnpackedImage, tmp_path: Path) -> None:
    """Stock OpenJDK: MD5 answers (java-md5 fails, naming the function), SHA-256 answers, the JVM reports
    the file's provider order; with the kernel's entropy cut off too, and no crypto-relevant randomness."""
    plan = _plan(image, tmp_path)
    assert plan.checks[0].probe.commands[0][0] == f"{JVM}/bin/java"
    (order,) = plan.findings
    assert order.outcome == "failed" and order.detail.startswith(
        f"{JVM}/conf/security/java.security: 1. SUN, "
    )
    results = _results(image, plan)
    for mode in EntropyMode:
        md5 = results[("java-md5", mode)]
        assert not md5.passed and md5.detail == "exit 0", md5.detail
        assert results[("java-sha256", mode)].passed, results[("java-sha256", mode)].detail
        assert results[("java-provider-order-jvm", mode)].passed, results[
            ("java-provider-order-jvm", mode)
        ].detail
        calls = [
            call for result in results.values() if result.mode is mode for call in result.randomness_calls
        ]
        assert not [call for call in calls if call.crypto_relevant], calls
    assert {check.probe.id: check.non_validated for check in plan.checks}["java-md5"] == java.MD5

    # what the JVM printed: the provider list, then who answered MD5 and its known answer
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / f"{CLASS_NAME}.class").write_bytes(probe_class())
    argv = [f"{JVM}/bin/java", *java.JVM_FLAGS, "-cp", "/tmp/.fipsforge/java", CLASS_NAME, "MD5"]
    run = run_sandboxed(
        image.rootfs,
        argv,
        mode=EntropyMode.KERNEL_CUT_OFF,
        binds={tmp_path / "class": "/tmp/.fipsforge/java"},
    )
    assert run.ok, run.stderr
    providers, answer = run.stdout.splitlines()
    assert providers.startswith("[SUN version 21") and "SunJCE version 21" in providers
    assert answer == "SUN 900150983cd24fb0d6963f7d28e17f72"


def test_a_java_security_without_md5_providers_refuses_md5_and_sha256(
    image: UnpackedImage, tmp_path: Path
) -> None:
    """Control: only SunJCE listed. MD5 is refused (java-md5 passes), and so is SHA-256: SunJCE offers no
    MessageDigest, so the SHA-256 control is what tells this from a runtime with working digests."""
    security = tmp_path / "java.security"
    security.write_text("security.provider.1=SunJCE\n")
    stock = image.rootfs / JAVA_SECURITY.lstrip("/")
    assert re.search(r"^security\.provider\.1=SUN$", stock.read_text(), re.MULTILINE)
    results = _results(image, _plan(image, tmp_path), binds={security: JAVA_SECURITY})
    for mode in EntropyMode:
        assert results[("java-md5", mode)].passed, results[("java-md5", mode)].detail
        assert "NoSuchAlgorithmException: MD5" in results[("java-md5", mode)].detail
        sha256 = results[("java-sha256", mode)]
        assert not sha256.passed and "SHA-256 MessageDigest not available" in sha256.detail
        # the JVM does not report the stock file's order (SUN first): the bound file is what it read
        assert not results[("java-provider-order-jvm", mode)].passed
