"""The data `fipsforge outdated` produces; `OutdatedResult` is its `--json` output and a file format."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from fipsforge.evidence.poam import Severity


class InstalledPackage(BaseModel):
    """A Debian binary package in the image, with the source it was built from."""

    name: str
    version: str
    source: str
    source_version: str


class BuiltComponent(BaseModel):
    """A component fipsforge built from a Debian source package (the stack, CPython)."""

    name: str
    version: str
    debian_source: str
    debian_version: str


class ImageInventory(BaseModel):
    """What an image contains, and where that was read from."""

    image: str
    digest: str | None
    suite: str
    package_list: str
    """Where the list came from: the CycloneDX or SPDX referrer, or the dpkg status."""
    packages: list[InstalledPackage]
    components: list[BuiltComponent] = Field(default_factory=list)


class ChangelogEntry(BaseModel):
    """One `debian/changelog` entry: a Debian upload of the source package."""

    version: str
    date: date
    urgency: str
    distributions: str
    cves: list[str]


class PackageBehind(BaseModel):
    """A Debian package whose candidate in the suite is newer than the image's."""

    name: str
    installed: str
    candidate: str
    source: str
    candidate_source_version: str
    changelog_from: str
    """The binary package whose `.deb` carried the changelog (another one when the doc dir is a link)."""
    entries: list[ChangelogEntry]


class ComponentBehind(BaseModel):
    """A fipsforge-built component whose Debian source has a newer version in the suite."""

    name: str
    debian_source: str
    installed: str
    candidate: str
    served: bool
    """Whether the mirror serves the newer source; if not, a rebuild cannot pick it up."""
    reason: str
    entries: list[ChangelogEntry]


class MissingPackage(BaseModel):
    """A package of the image that the suite's indexes no longer list."""

    name: str
    version: str
    reason: str


class CveClock(BaseModel):
    """One CVE that an available update fixes, with its clocks from the date the fix appeared."""

    cve: str
    packages: list[str]
    """The image's packages or components that carry it."""
    fixed_in: str
    """The Debian source and version of the changelog entry that fixed it."""
    fix_date: date
    severity: Severity
    severity_source: str
    """`scanner: ...`, or `Debian urgency=... (fallback)`: the archive gives no CVSS."""
    days_open: int
    vendor_days: int
    vendor_due: date
    fedramp_days: int
    fedramp_due: date
    overdue_vendor: bool
    overdue_fedramp: bool
    actionable: bool
    """A rebuild picks the fix up (false when it is in a component whose newer source is not served)."""


class ImageReport(BaseModel):
    """One image: what is behind, the CVEs the updates fix, and which of them are overdue."""

    image: str
    digest: str | None
    package_list: str
    packages_checked: int
    behind: list[PackageBehind] = Field(default_factory=list)
    components: list[ComponentBehind] = Field(default_factory=list)
    missing: list[MissingPackage] = Field(default_factory=list)
    clocks: list[CveClock] = Field(default_factory=list)
    status: Literal["up-to-date", "behind", "blocked"] = "up-to-date"
    """`behind`: a rebuild picks up newer packages; `blocked`: only components whose source is not served."""

    @property
    def rebuild_helps(self) -> bool:
        return bool(self.behind) or any(c.served for c in self.components)

    @property
    def oldest_open_fix(self) -> CveClock | None:
        return min(self.clocks, key=lambda c: (c.fix_date, c.cve), default=None)

    @property
    def overdue(self) -> list[CveClock]:
        return [c for c in self.clocks if c.overdue_vendor or c.overdue_fedramp]


class OutdatedResult(BaseModel):
    """Every image checked on one day against one pass over the suite's indexes."""

    today: date
    suite: str
    images: list[ImageReport]
    debs_fetched: int
    changelogs_read: int
    """Changelogs parsed from a `.deb` in this run; the rest came from the cache (keyed by SHA-256)."""
    scans: list[str] = Field(default_factory=list)
