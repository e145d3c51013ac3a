"""The hardened openssl.cnf, read as OpenSSL reads it: sections and their settings."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.stack.config import hardened_openssl_cnf, read_module_mac, relocated_openssl_cnf


def _sections(text: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Top-level settings and sections (OpenSSL's format is INI-like once `.include` lines are dropped)."""
    top, _, rest = text.partition("\n[")
    settings = dict(re.findall(r"^(\w+)\s*=\s*(\S+)", top, re.MULTILINE))
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string("[" + rest)
    return settings, {name: dict(parser[name]) for name in parser.sections()}


def test_hardened_config_enforces_fips_for_every_application() -> None:
    text = hardened_openssl_cnf()
    top, sections = _sections(text)
    assert top == {"config_diagnostics": "1", "openssl_conf": "openssl_init", "nodejs_conf": "openssl_init"}
    assert ".include /usr/lib/ssl/fipsmodule.cnf" in text
    # base first: its activation turns off the default-provider fallback before fips can fail to load
    assert list(sections["provider_sect"].items()) == [("base", "base_sect"), ("fips", "fips_sect")]
    assert sections["base_sect"] == {"activate": "1"}
    assert sections["algorithm_sect"] == {"default_properties": "fips=yes"}
    assert sections["random_sect"] == {"seed": "JITTER"}
    assert sum(line.startswith("#") for line in text.splitlines()) >= 10, "an auditor reads the comments"


def test_relocated_config_includes_the_staged_module_config(tmp_path: Path) -> None:
    staged = relocated_openssl_cnf(tmp_path / "stage", tmp_path / "openssl.cnf").read_text()
    assert f".include {tmp_path / 'stage/usr/lib/ssl/fipsmodule.cnf'}" in staged
    assert staged.replace(str(tmp_path / "stage"), "") == hardened_openssl_cnf()


def test_module_mac_is_read_with_or_without_colons(tmp_path: Path) -> None:
    cnf = tmp_path / "fipsmodule.cnf"
    cnf.write_text("[fips_sect]\nactivate = 1\nmodule-mac = AB:CD:0F\n")
    assert read_module_mac(cnf) == "abcd0f"
    cnf.write_text("[fips_sect]\nactivate = 1\n")
    with pytest.raises(FipsforgeError, match="no module-mac line"):
        read_module_mac(cnf)
