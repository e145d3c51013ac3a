"""CMVP and ESV certificates shipped with fipsforge, and the status of a module version on a given day.

NIST publishes no machine-readable export of the CMVP lists, so `data/cmvp.json` is curated by hand:
every record names the sources of its facts and the day they were retrieved, and a fact no source
confirmed is null. Status is recomputed for the day asked about, because it changes with time: a
certificate goes historical when its sunset date passes, and every FIPS 140-2 certificate went
historical after 2026-09-21.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fipsforge.errors import FipsforgeError

DATA_NAME = "data/cmvp.json"
FIPS_140_2_HISTORICAL_AFTER = date(2026, 9, 21)
NOT_VALIDATED = "FIPS-capable, not validated"

Status = Literal["active", "historical", "revoked", "unknown"]


class CmvpSource(BaseModel):
    """Where some facts of a record came from: a URL, or a description of the document."""

    model_config = ConfigDict(extra="forbid")

    source: str
    description: str
    retrieved: date
    facts: list[str]


class CmvpCertificate(BaseModel):
    """One CMVP module certificate (`#4985`) or ESV entropy certificate (`E191`)."""

    model_config = ConfigDict(extra="forbid")

    certificate: str
    kind: Literal["module", "entropy"]
    vendor: str | None
    module: str
    aliases: list[str] = Field(default_factory=list)
    module_versions: list[str]
    standard: str
    level: int | None
    status: Status
    validation_dates: list[date]
    sunset_date: date | None
    caveat: str | None
    notes: str | None
    sources: list[CmvpSource] = Field(min_length=1)

    def status_on(self, today: date) -> Status:
        """The status on `today`: the recorded one, made historical by a passed sunset or the 140-2 end."""
        if self.status in ("historical", "revoked"):
            return self.status
        if self.sunset_date is not None and today > self.sunset_date:
            return "historical"
        if self.standard == "FIPS 140-2" and today > FIPS_140_2_HISTORICAL_AFTER:
            return "historical"
        return self.status


class CmvpDataset(BaseModel):
    model_config = ConfigDict(extra="ignore")

    certificates: list[CmvpCertificate]


def load_certificates() -> list[CmvpCertificate]:
    """Read the packaged dataset; a broken file is a FipsforgeError naming it."""
    resource = resources.files("fipsforge").joinpath(DATA_NAME)
    try:
        raw = json.loads(resource.read_text(encoding="utf-8"))
        return CmvpDataset.model_validate(raw).certificates
    except (OSError, json.JSONDecodeError, ValidationError) as error:
        first = str(error).splitlines()[0]
        raise FipsforgeError(f"fipsforge/{DATA_NAME}: unreadable CMVP dataset: {first}") from error


def _norm_name(name: str) -> str:
    return " ".join(name.casefold().split())


def _norm_version(version: str) -> str:
    version = version.strip()
    return version[1:] if version[:1] in ("v", "V") else version


def find_certificate(
    module: str, version: str, certificates: list[CmvpCertificate] | None = None
) -> CmvpCertificate | None:
    """The certificate naming `module` (or an alias) with exactly `version`; None when none does."""
    pool = load_certificates() if certificates is None else certificates
    name = _norm_name(module)
    wanted = _norm_version(version)
    for cert in pool:
        names = {_norm_name(cert.module), *(_norm_name(alias) for alias in cert.aliases)}
        if name in names and wanted in {_norm_version(v) for v in cert.module_versions}:
            return cert
    return None


def get_certificate(number: str, certificates: list[CmvpCertificate] | None = None) -> CmvpCertificate | None:
    """Look a certificate up by number: `#4985`, `4985` or `E191`."""
    pool = load_certificates() if certificates is None else certificates
    key = number.strip().lstrip("#").upper()
    for cert in pool:
        if cert.certificate.lstrip("#").upper() == key:
            return cert
    return None


def certificate_warnings(cert: CmvpCertificate, today: date, sunset_within_days: int = 365) -> list[str]:
    """Warnings an assessor should see: historical or revoked, sunset soon or passed, FIPS 140-2."""
    warnings: list[str] = []
    label = f"{cert.certificate} ({cert.module})"
    status = cert.status_on(today)
    if status in ("historical", "revoked"):
        warnings.append(f"{label}: certificate is {status} on {today.isoformat()}")
    if cert.sunset_date is not None:
        days_left = (cert.sunset_date - today).days
        if days_left < 0:
            warnings.append(f"{label}: sunset date {cert.sunset_date.isoformat()} has passed")
        elif days_left <= sunset_within_days:
            warnings.append(
                f"{label}: sunset date {cert.sunset_date.isoformat()} is within {days_left} days "
                f"(threshold {sunset_within_days})"
            )
    if cert.standard == "FIPS 140-2":
        warnings.append(
            f"{label}: FIPS 140-2 certificate; all FIPS 140-2 certificates are historical after "
            f"{FIPS_140_2_HISTORICAL_AFTER.isoformat()}"
        )
    return warnings


def module_status(
    module: str, version: str, today: date, certificates: list[CmvpCertificate] | None = None
) -> str:
    """`validated (#4985, active)`, `validated (#4282, historical)` or `FIPS-capable, not validated`."""
    cert = find_certificate(module, version, certificates)
    if cert is None:
        return NOT_VALIDATED
    return f"validated ({cert.certificate}, {cert.status_on(today)})"
