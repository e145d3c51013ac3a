"""The crypto-implementation detector on real images: Debian's php over our stack, and fipsforge's own images."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.image.build import build_image
from fipsforge.image.spec import parse_spec
from fipsforge.verify.analyze import verify_image
from fipsforge.verify.model import CryptoImplementation, VerifyReport
from image_fixtures import BuiltImage
from oci_fixtures import Entry, extend_layout, layer

pytestmark = pytest.mark.slow

PHP_SPEC = """
name: test/php
tag: unhardened
packages: [base-files, libc6, php8.4-cli]
exclude: [debconf, mawk]
fips_stack: true
entrypoint: ["/usr/bin/php8.4"]
"""
PHP = "/usr/bin/php8.4"
PHP_INI = "etc/php/8.4/cli/conf.d/99-fips.ini"
# Every PHP function that reaches the php binary's own digests (ext/standard, ext/hash).
HARDENED = ("md5,md5_file,sha1,sha1_file,crypt,password_hash,password_verify,hash,hash_file,hash_hmac,"
            "hash_hmac_file,hash_init,hash_pbkdf2,hash_hkdf")  # fmt: skip
FIPS_SO = "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"


@pytest.fixture(scope="module")
def php_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = parse_spec(PHP_SPEC, "php")
    return build_image(spec, PHP_SPEC, tmp_path_factory.mktemp("php") / "oci").layout


def _with_ini(php_layout: Path, tmp_path: Path, functions: str) -> VerifyReport:
    ini = f"; test\n[PHP]\ndisable_functions = {functions}\n".encode()
    extend_layout(php_layout, tmp_path / "hardened", layer([Entry(PHP_INI, data=ini)]))
    return verify_image(f"oci:{tmp_path / 'hardened'}", tmp_path)


def _implementation(report: VerifyReport, path: str) -> CryptoImplementation:
    return next(i for i in report.crypto_implementations if i.path == path)


def test_php_without_hardened_ini_fails(php_layout: Path, tmp_path: Path) -> None:
    report = verify_image(f"oci:{php_layout}", tmp_path)
    assert report.verdict == "fail"
    [finding] = [f for f in report.findings if f.rule_id == "IMPL001" and f.path == PHP]
    assert all(name in finding.message for name in ("MD5", "SHA-1", "SHA-256", "SHA-512"))
    severities = {a.algorithm: a.severity for a in _implementation(report, PHP).algorithms if a.security}
    assert {severities[name] for name in ("MD5", "SHA-1", "SHA-256", "SHA-512")} == {"high"}
    assert _implementation(report, FIPS_SO).module == "OpenSSL FIPS Provider"


def test_php_with_disable_functions_is_downgraded(php_layout: Path, tmp_path: Path) -> None:
    report = _with_ini(php_layout, tmp_path, HARDENED)
    assert [f.rule_id for f in report.findings if f.path == PHP and f.rule_id.startswith("IMPL")] == [
        "IMPL003"
    ]
    assert {a.severity for a in _implementation(report, PHP).algorithms if a.security} == {"low"}
    assert report.verdict == "pass", [f for f in report.findings if f.severity in ("critical", "high")]


def test_php_with_md5_alone_disabled_still_fails(php_layout: Path, tmp_path: Path) -> None:
    """Negative control: md5() disabled, hash('md5', ...) is not."""
    report = _with_ini(php_layout, tmp_path, "md5,md5_file")
    assert report.verdict == "fail"
    severities = {a.algorithm: a.severity for a in _implementation(report, PHP).algorithms if a.security}
    assert severities["MD5"] == "high" and severities["SHA-1"] == "high"


@pytest.mark.parametrize("name", ["openssl_image", "python_image"])
def test_fipsforge_images_pass_with_the_detector(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    image: BuiltImage = request.getfixturevalue(name)
    report = verify_image(f"oci:{image.layout}", tmp_path)
    assert report.verdict == "pass", [f for f in report.findings if f.severity in ("critical", "high")]
    inside = [i for i in report.crypto_implementations if any(a.boundary == "inside" for a in i.algorithms)]
    assert [i.path for i in inside] == [FIPS_SO]
    assert {a.boundary for a in inside[0].algorithms} == {"inside"}
    assert {"AES", "SHA-256", "SHA-512", "SHA-3", "ECC P-256"} <= {a.algorithm for a in inside[0].algorithms}
    # libcrypto carries the default provider: outside, medium while openssl.cnf forbids it
    libcrypto = _implementation(report, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3")
    assert {a.severity for a in libcrypto.algorithms if a.security} == {"medium"}
    assert not [f for f in report.findings if f.rule_id == "IMPL001"]
    libcrypt = [i for i in report.crypto_implementations if "/libcrypt.so" in i.path]
    for found in libcrypt:  # glibc's crypt(3), if the image has it, is reported as what it is
        assert "SHA-512" in {a.algorithm for a in found.algorithms}
