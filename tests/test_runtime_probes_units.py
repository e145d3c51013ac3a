"""Runtime probes without images: Go build info, Java providers, runtimes without a probe, the reports."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fipsforge.oci.unpack import RuntimeConfig, UnpackedImage
from fipsforge.sandbox.junit import junit_xml
from fipsforge.sandbox.runtimes import Context, go, java, not_probed
from fipsforge.sandbox.suite import CaseResult, RuntimeReport, Runtimes, Status

HOST_GO = [Path(p) for p in ("/usr/bin/skopeo", "/usr/bin/umoci") if Path(p).is_file()]


def _image(rootfs: Path, env: dict[str, str] | None = None) -> UnpackedImage:
    config = RuntimeConfig(entrypoint=["/usr/bin/true"], cmd=[], env=env or {}, user="", workdir="/")
    return UnpackedImage(
        ref=str(rootfs), kind="oci-layout", manifest_digest=None, rootfs=rootfs, config=config
    )


def _context(rootfs: Path, tmp: Path) -> Context:
    def find(names: tuple[str, ...]) -> str | None:
        return next((f"/usr/bin/{n}" for n in names if (rootfs / "usr/bin" / n).is_file()), None)

    return Context(find=find, openssl_cli=None, scratch=tmp)


@pytest.mark.skipif(not HOST_GO, reason="no Go binary (skopeo, umoci) on the host")
def test_go_build_info_of_a_real_binary_and_a_c_binary(tmp_path: Path) -> None:
    """skopeo/umoci (Debian's Go builds) carry build info; a C program does not."""
    info = go.build_info(HOST_GO[0])
    assert info is not None and info.version.startswith("go1.")
    assert go.build_info(Path(shutil.which("cc") or "/usr/bin/cc").resolve()) is None
    (tmp_path / "usr/bin").mkdir(parents=True)
    shutil.copy(HOST_GO[0], tmp_path / "usr/bin" / HOST_GO[0].name)
    shutil.copy("/bin/true", tmp_path / "usr/bin/true")
    plan = go.plan(_image(tmp_path), _context(tmp_path, tmp_path))
    assert plan is not None and [f.id for f in plan.findings] == [f"go-fips140-{HOST_GO[0].name}"]
    finding = plan.findings[0]
    assert (
        finding.outcome == "failed" and finding.non_validated == f"Go crypto/* (/usr/bin/{HOST_GO[0].name})"
    )
    assert info.version in finding.detail


def test_go_fips140_is_derived_like_the_go_runtime_does() -> None:
    """DefaultGODEBUG (from GOFIPS140) sets it; the image's GODEBUG overrides it; module v1.0.0 needs the kernel."""
    built = go.BuildInfo("go1.24.4", {"GOFIPS140": "v1.0.0", "DefaultGODEBUG": "fips140=on,x509sha1=1"})
    fips_mode, independent, detail = go.judge(built, "")
    assert (fips_mode, independent) == (True, False)
    assert "Enabled() is true" in detail and "seeds its DRBG from the kernel" in detail
    assert go.judge(built, "fips140=off")[:2] == (False, False)
    plain = go.BuildInfo("go1.24.4", {})
    assert go.judge(plain, "")[:2] == (False, False) and "Enabled() is false" in go.judge(plain, "")[2]
    assert go.judge(plain, "fips140=only")[0]
    newer = go.BuildInfo("go1.26.1", {"GOFIPS140": "v1.26.0", "DefaultGODEBUG": "fips140=on"})
    assert go.judge(newer, "")[:2] == (True, True) and go.judge(newer, "fips140=off")[:2] == (False, False)
    assert "predates crypto/fips140" in go.judge(go.BuildInfo("go1.19.8", {}), "fips140=on")[2]


JAVA_SECURITY = """
security.provider.2=SunRsaSign
security.provider.1=SUN
security.provider.10=SunPKCS11
security.provider.3=SunEC
"""


@pytest.mark.parametrize(
    ("java_security", "order_ok", "md5_ok"),
    [
        (JAVA_SECURITY, False, False),
        ("security.provider.1=com.safelogic.cryptocomply.fips.core.CryptoComplyFipsProvider\n", True, True),
        ("security.provider.1=BCFIPS\nsecurity.provider.2=SUN\n", True, False),
    ],
)
def test_java_provider_order_and_md5(
    tmp_path: Path, java_security: str, order_ok: bool, md5_ok: bool
) -> None:
    jvm = tmp_path / "usr/lib/jvm/java-21/bin"
    jvm.mkdir(parents=True)
    (jvm / "java").write_bytes(b"")
    (jvm.parent / "conf/security").mkdir(parents=True)
    (jvm.parent / "conf/security/java.security").write_text(java_security)
    (tmp_path / "usr/bin").mkdir()
    (tmp_path / "usr/bin/java").symlink_to("../lib/jvm/java-21/bin/java")
    plan = java.plan(_image(tmp_path), _context(tmp_path, tmp_path))
    assert plan is not None
    order, md5 = plan.findings
    assert (order.outcome == "passed") is order_ok and (md5.outcome == "passed") is md5_ok
    if java_security == JAVA_SECURITY:
        assert order.detail.endswith("1. SUN, 2. SunRsaSign, 3. SunEC, 4. SunPKCS11")
        assert md5.non_validated == 'MessageDigest.getInstance("MD5")' and "offered by SUN" in md5.detail


def test_a_runtime_without_a_probe_is_not_probed_never_passed(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/ruby").write_bytes(b"")
    findings = not_probed(_context(tmp_path, tmp_path)).findings
    assert [(f.id, f.outcome) for f in findings] == [("ruby-not-probed", "not probed")]
    (tmp_path / "usr/bin/ruby").unlink()
    assert not not_probed(_context(tmp_path, tmp_path)).findings  # control: nothing there, nothing reported
    case = CaseResult(id="ruby-not-probed", group="runtimes not probed", description="Ruby", mode=None,
                      expect=None, status=Status(findings[0].outcome), detail=findings[0].detail)  # fmt: skip
    failed = case.model_copy(update={"id": "php-md5", "status": Status.FAILED, "non_validated_path": "md5()",
                                     "detail": "non-validated path: md5() answers (exit 0)"})  # fmt: skip
    report = RuntimeReport(
        image="x", kind="oci-layout", manifest_digest=None, entrypoint=[], cases=[case, failed],
        runtimes=Runtimes(openssl=None, python=None, node=None, fips_module=None, fips_module_config=None),
        randomness_calls=[], randomness_summary=[], kernel_dependent_paths=[],
    )  # fmt: skip
    assert report.model_dump(mode="json")["non_validated_paths"] == ["md5()"]
    root = ET.fromstring(junit_xml(report))
    skipped = root.find(".//testcase[@name='ruby-not-probed']/skipped")
    assert skipped is not None and skipped.get("message", "").startswith("not probed: /usr/bin/ruby")
    failure = root.find(".//testcase[@name='php-md5']/failure")
    assert failure is not None and failure.get("type") == "non-validated-path"
