"""fipsforge verify on the images fipsforge builds (session fixtures from tests/image_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.verify.analyze import verify_image
from fipsforge.verify.model import VerifyReport
from image_fixtures import BuiltImage
from oci_fixtures import Entry, extend_layout, layer

FIPS_SO = "usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"
pytestmark = pytest.mark.slow


def _rules(report: VerifyReport) -> set[str]:
    return {f.rule_id for f in report.findings}


@pytest.mark.parametrize("name", ["openssl_image", "python_image"])
def test_fipsforge_images_pass(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    image: BuiltImage = request.getfixturevalue(name)
    report = verify_image(f"oci:{image.layout}", tmp_path)
    blocking = [f for f in report.findings if f.severity in ("critical", "high")]
    assert (report.verdict, blocking) == ("pass", [])
    assert report.kernel_independent == "yes"
    [module] = report.fips_modules
    assert (module.name, module.integrity_ok, module.jitter_inside) == ("OpenSSL FIPS Provider", True, True)
    assert module.version and module.version.startswith("3.5.")
    assert module.cmvp_certificate is None and module.cmvp_status == "FIPS-capable, not validated"
    assert report.digest == image.result.manifest_digest
    assert any(
        s.startswith("oci-subject:") for s in report.sboms
    )  # the builder attaches its SBOMs as referrers


def test_plain_debian_python_image_fails(plain_python_image: BuiltImage, tmp_path: Path) -> None:
    report = verify_image(f"oci:{plain_python_image.layout}", tmp_path)
    assert report.verdict == "fail" and report.kernel_independent == "no"
    assert {"FIPS001", "KI001", "CONF001", "CONF002", "PY002"} <= _rules(report)


def test_flipped_byte_in_the_openssl_image_fips_so(openssl_image: BuiltImage, tmp_path: Path) -> None:
    tampered = bytearray((openssl_image.rootfs / FIPS_SO).read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    top = layer([Entry(FIPS_SO, data=bytes(tampered), mode=0o644)])
    extend_layout(openssl_image.layout, tmp_path / "tampered", top)
    report = verify_image(f"oci:{tmp_path / 'tampered'}:tampered", tmp_path)
    assert report.verdict == "fail" and report.fips_modules[0].integrity_ok is False
    assert [f.path for f in report.findings if f.rule_id == "FIPS002"] == [f"/{FIPS_SO}"]
