"""`fipsforge verify` flags an openssl.cnf that activates fips but does not fail closed (CONF006)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fipsforge.stack.config import hardened_openssl_cnf
from fipsforge.verify.analyze import verify_image
from image_fixtures import BuiltImage
from oci_fixtures import Entry, extend_layout, layer, write_layout

FIPS_FIRST = "fips = fips_sect\nbase = base_sect"
BASE_FIRST = "base = base_sect\nfips = fips_sect"
DIAGNOSTICS = "config_diagnostics = 1\n"


@pytest.fixture(scope="module")
def libcrypto(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    work = tmp_path_factory.mktemp("libcrypto")
    (work / "c.c").write_text('__attribute__((used)) static const char v[] = "OpenSSL 3.5.7 1 Dec 2026";\n')
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libcrypto.so.3", "-o", str(work / "l.so"),
                    str(work / "c.c")], check=True)  # fmt: skip
    return (work / "l.so").read_bytes()


FIPSMODULE = "[fips_sect]\nactivate = 1\nmodule-mac = 01:02\n"


def _findings(
    tmp_path: Path, libcrypto: bytes, config: str, rule: str, fipsmodule: str = FIPSMODULE
) -> list[str]:
    entries = [
        Entry("usr/lib/x86_64-linux-gnu/libcrypto.so.3", data=libcrypto),
        Entry("usr/lib/ssl/openssl.cnf", data=config.encode()),
        Entry("usr/lib/ssl/fipsmodule.cnf", data=fipsmodule.encode()),
    ]
    image = tmp_path / f"img{len(list(tmp_path.iterdir()))}"
    write_layout(image, [layer(entries)])
    return [
        f"{f.severity}: {f.message}" for f in verify_image(str(image), tmp_path).findings if f.rule_id == rule
    ]


def _conf006(tmp_path: Path, libcrypto: bytes, config: str) -> list[str]:
    return _findings(tmp_path, libcrypto, config, "CONF006")


def test_conf006_names_what_keeps_the_config_from_failing_closed(tmp_path: Path, libcrypto: bytes) -> None:
    hardened = hardened_openssl_cnf()
    assert BASE_FIRST in hardened and DIAGNOSTICS in hardened
    assert _conf006(tmp_path, libcrypto, hardened) == []
    # the configuration fipsforge shipped before: fips listed first, no diagnostics
    old = hardened.replace(BASE_FIRST, FIPS_FIRST).replace(DIAGNOSTICS, "")
    [message] = _conf006(tmp_path, libcrypto, old)
    assert "no config_diagnostics = 1" in message and "no provider is activated before fips" in message
    [message] = _conf006(tmp_path, libcrypto, hardened.replace(BASE_FIRST, FIPS_FIRST))
    assert "config_diagnostics" not in message and "before fips" in message
    [message] = _conf006(tmp_path, libcrypto, hardened.replace(DIAGNOSTICS, "config_diagnostics = 0\n"))
    assert "no config_diagnostics = 1" in message and "before fips" not in message
    # not a FIPS configuration at all: CONF001 says so, CONF006 has nothing to add
    debian = "openssl_conf = init\n[init]\nproviders = p\n[p]\ndefault = d\n[d]\n# activate = 1\n"
    assert _conf006(tmp_path, libcrypto, debian) == []


def test_conf007_an_unparsable_fipsmodule_cnf_is_the_default_provider(
    tmp_path: Path, libcrypto: bytes
) -> None:
    """OpenSSL drops a configuration it cannot parse as a whole, base activation included: nothing in the
    configuration can refuse that at run time (the tamper matrix reports it as a risk), so verify must."""
    broken = FIPSMODULE + "this line has no equals sign\n"
    [message] = _findings(tmp_path, libcrypto, hardened_openssl_cnf(), "CONF007", fipsmodule=broken)
    assert message.startswith("high: ") and "/usr/lib/ssl/fipsmodule.cnf:4" in message
    assert _findings(tmp_path, libcrypto, hardened_openssl_cnf(), "CONF007") == []


@pytest.mark.slow
def test_verify_flags_the_openssl_image_with_a_config_that_does_not_fail_closed(
    openssl_image: BuiltImage, tmp_path: Path
) -> None:
    assert not {"CONF006", "CONF007"} & {
        f.rule_id for f in verify_image(f"oci:{openssl_image.layout}", tmp_path).findings
    }
    old = hardened_openssl_cnf().replace(BASE_FIRST, FIPS_FIRST).replace(DIAGNOSTICS, "")
    extend_layout(
        openssl_image.layout, tmp_path / "old", layer([Entry("usr/lib/ssl/openssl.cnf", data=old.encode())])
    )
    report = verify_image(f"oci:{tmp_path / 'old'}:tampered", tmp_path)
    assert [(f.rule_id, f.severity, f.path) for f in report.findings if f.rule_id == "CONF006"] == [
        ("CONF006", "medium", "/usr/lib/ssl/openssl.cnf")
    ]
    fipsmodule = (openssl_image.rootfs / "usr/lib/ssl/fipsmodule.cnf").read_text() + "no equals sign\n"
    top = layer([Entry("usr/lib/ssl/fipsmodule.cnf", data=fipsmodule.encode())])
    extend_layout(openssl_image.layout, tmp_path / "broken", top)
    report = verify_image(f"oci:{tmp_path / 'broken'}:tampered", tmp_path)
    assert report.verdict == "fail" and "CONF007" in {f.rule_id for f in report.findings}
