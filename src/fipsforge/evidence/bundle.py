"""Everything one evidence run gathered, in one model: the input of every output writer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from fipsforge.cmvp import CmvpCertificate
from fipsforge.evidence.models import FipsModuleRef, Flow
from fipsforge.evidence.overrides import ConfigOverride
from fipsforge.evidence.poam import PoamEntry
from fipsforge.evidence.tlsclass import ProbeResult
from fipsforge.outdated.model import ImageReport


class ImageEvidence(BaseModel):
    image: str
    digest: str | None = None
    verdict: str = "unknown"
    """verify's verdict: pass, fail, or unknown when no result exists."""
    kernel_independent: str = "unknown"
    module: FipsModuleRef
    verify_source: str | None = None
    used_by: list[str] = Field(default_factory=list)


class Finding(BaseModel):
    severity: str
    """high, medium, low, info."""
    subject: str
    message: str
    controls: list[str] = Field(default_factory=list)
    """OSCAL control ids the finding is evidence against, when it maps to specific ones."""


class Evidence(BaseModel):
    title: str
    today: date
    generated: datetime
    inputs: list[str]
    flows: list[Flow]
    images: list[ImageEvidence]
    certificates: list[CmvpCertificate] = Field(default_factory=list)
    """The CMVP records behind the module verdicts, with their sources."""
    cmvp_warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    poam: list[PoamEntry] = Field(default_factory=list)
    scans: list[str] = Field(default_factory=list)
    outdated: list[ImageReport] = Field(default_factory=list)
    """Per-image `fipsforge outdated` reports given with --outdated."""
    probes: list[ProbeResult] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    overrides: list[ConfigOverride] = Field(default_factory=list)
    """Workload settings that override the images' FIPS configuration (`evidence.overrides`)."""
    outputs: dict[str, str] = Field(default_factory=dict)
    """Output name → file name inside the output directory."""
