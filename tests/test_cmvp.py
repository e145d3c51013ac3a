"""The shipped CMVP dataset and the status/warning logic built on it."""

from __future__ import annotations

from datetime import date

import pytest

from fipsforge import cmvp
from fipsforge.errors import FipsforgeError

TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def certs() -> list[cmvp.CmvpCertificate]:
    return cmvp.load_certificates()


def test_dataset_holds_the_required_certificates(certs: list[cmvp.CmvpCertificate]) -> None:
    numbers = {c.certificate for c in certs}
    assert {"#4282", "#4856", "#4985", "#4616", "#4743", "#5247", "E191", "E318"} <= numbers
    by_number = {c.certificate: c for c in certs}
    assert by_number["#4985"].standard == "FIPS 140-3"
    assert by_number["#4985"].sunset_date == date(2030, 3, 10)
    assert by_number["#4282"].sunset_date == date(2026, 9, 21)
    assert by_number["#4743"].sunset_date == date(2029, 7, 28)
    assert by_number["E191"].kind == "entropy"


def test_every_fact_names_its_source(certs: list[cmvp.CmvpCertificate]) -> None:
    fields = set(cmvp.CmvpCertificate.model_fields)
    for cert in certs:
        covered: set[str] = set()
        for source in cert.sources:
            assert source.retrieved <= TODAY
            assert set(source.facts) <= fields, (cert.certificate, source.facts)
            covered |= set(source.facts)
        # every non-null fact other than bookkeeping is attributed to some source
        for name in ("vendor", "module", "module_versions", "standard", "level", "sunset_date", "status"):
            value = getattr(cert, name)
            if value not in (None, []):
                assert name in covered, (cert.certificate, name)


def test_find_certificate_is_exact(certs: list[cmvp.CmvpCertificate]) -> None:
    found = cmvp.find_certificate("OpenSSL FIPS Provider", "3.1.2", certs)
    assert found is not None and found.certificate == "#4985"
    assert cmvp.find_certificate("openssl  fips provider", "3.0.9", certs).certificate == "#4282"  # type: ignore[union-attr]
    assert cmvp.find_certificate("Go Cryptographic Module", "1.0.0", certs).certificate == "#5247"  # type: ignore[union-attr]
    # negative controls: near versions and other names do not match
    assert cmvp.find_certificate("OpenSSL FIPS Provider", "3.5.7", certs) is None
    assert cmvp.find_certificate("OpenSSL FIPS Provider", "3.1", certs) is None
    assert cmvp.find_certificate("OpenSSL Default Provider", "3.1.2", certs) is None


def test_module_status(certs: list[cmvp.CmvpCertificate]) -> None:
    assert cmvp.module_status("OpenSSL FIPS Provider", "3.1.2", TODAY, certs) == "validated (#4985, active)"
    historical = cmvp.module_status("OpenSSL FIPS Provider", "3.0.8", TODAY, certs)
    assert historical == "validated (#4282, historical)"
    assert cmvp.module_status("OpenSSL FIPS Provider", "3.5.7", TODAY, certs) == cmvp.NOT_VALIDATED


def test_warnings_fire_and_stay_quiet(certs: list[cmvp.CmvpCertificate]) -> None:
    by_number = {c.certificate: c for c in certs}
    active = by_number["#4985"]
    assert cmvp.certificate_warnings(active, TODAY) == []  # negative control
    soon = cmvp.certificate_warnings(active, date(2029, 6, 1))
    assert len(soon) == 1 and "sunset date 2030-03-10 is within 282 days" in soon[0]
    assert cmvp.certificate_warnings(active, date(2029, 6, 1), sunset_within_days=100) == []
    passed = cmvp.certificate_warnings(active, date(2030, 3, 11))
    assert any("historical" in w for w in passed) and any("has passed" in w for w in passed)

    fips2 = cmvp.certificate_warnings(by_number["#4616"], TODAY)
    assert any("historical" in w for w in fips2)
    assert any("FIPS 140-2 certificate" in w for w in fips2)


def test_status_is_recomputed_for_the_day(certs: list[cmvp.CmvpCertificate]) -> None:
    recorded_active = {c.certificate: c for c in certs}["#4282"].model_copy(
        update={"status": "active", "sunset_date": None}
    )
    assert recorded_active.status_on(date(2026, 9, 21)) == "active"
    assert recorded_active.status_on(date(2026, 9, 22)) == "historical"


def test_get_certificate(certs: list[cmvp.CmvpCertificate]) -> None:
    assert cmvp.get_certificate("4985", certs).certificate == "#4985"  # type: ignore[union-attr]
    assert cmvp.get_certificate("e191", certs).certificate == "E191"  # type: ignore[union-attr]
    assert cmvp.get_certificate("#1", certs) is None


def test_broken_dataset_is_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmvp, "DATA_NAME", "data/does-not-exist.json")
    with pytest.raises(FipsforgeError, match=r"data/does-not-exist.json: unreadable CMVP dataset"):
        cmvp.load_certificates()
