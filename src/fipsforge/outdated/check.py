"""One `outdated` run: every image's package list against one pass over the suite's indexes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from debian.deb822 import Deb822
from debian.debian_support import Version

from fipsforge.apt import AptRoot, DebianMirrors
from fipsforge.evidence.poam import Severity
from fipsforge.fsutil import cache_root
from fipsforge.image.resolve import DebPackage, apt_root, fetch
from fipsforge.outdated import changelog, index
from fipsforge.outdated.clocks import clock, scan_severities
from fipsforge.outdated.inventory import read_inventory
from fipsforge.outdated.model import (
    ChangelogEntry,
    ComponentBehind,
    CveClock,
    ImageInventory,
    ImageReport,
    InstalledPackage,
    MissingPackage,
    OutdatedResult,
    PackageBehind,
)

Report = Callable[[str], None]
_MAX_LINKS = 3  # doc-dir links to follow before giving up (they are one hop in practice)


class ChangelogReader:
    """Changelogs of candidate packages, one `.deb` per source version for the whole run."""

    def __init__(self, root: AptRoot, cache: Path) -> None:
        self.root = root
        self.cache = cache
        self.debs = cache_root() / "debs"
        self.debs_fetched = 0
        self.changelogs_read = 0
        self._by_source: dict[tuple[str, str], tuple[list[ChangelogEntry], str]] = {}
        self._sources: dict[tuple[str, str], tuple[bool, list[ChangelogEntry]]] = {}

    def for_source(self, packages: list[DebPackage]) -> tuple[list[ChangelogEntry], str]:
        """Entries of the changelog of these binaries' (one) source, from the smallest that has one."""
        key = (packages[0].source, packages[0].source_version)
        if key not in self._by_source:
            found: tuple[list[ChangelogEntry], str] = ([], "")
            for package in sorted(packages, key=lambda p: (p.size, p.name)):
                found = self._follow(package, _MAX_LINKS)
                if found[0]:
                    break
            self._by_source[key] = found
        return self._by_source[key]

    def for_newer_source(self, stanza: Deb822) -> tuple[bool, list[ChangelogEntry]]:
        """Whether the mirror serves this source version, and its changelog (from one of its binaries)."""
        key = (stanza["Package"], stanza["Version"])
        if key not in self._sources:
            binaries = [name.strip() for name in stanza.get("Binary", "").split(",") if name.strip()]
            built = [
                p
                for p in index.candidates(self.root, binaries).values()
                if (p.source, p.source_version) == key
            ]
            entries = self.for_source(built)[0] if built else []
            self._sources[key] = (index.source_served(self.root, stanza), entries)
        return self._sources[key]

    def _follow(self, package: DebPackage, hops: int) -> tuple[list[ChangelogEntry], str]:
        result = changelog.cached(self.cache, package.sha256) or self._read(package)
        if result.points_to and hops > 0:
            sibling = index.candidates(self.root, [result.points_to]).get(result.points_to)
            if sibling is not None and sibling.source == package.source:
                return self._follow(sibling, hops - 1)
        return result.entries or [], package.name

    def _read(self, package: DebPackage) -> changelog.DebChangelog:
        if not (self.debs / package.deb_name).is_file():
            self.debs_fetched += 1
        deb = fetch([package], self.root, self.debs)[package.name]
        self.changelogs_read += 1
        return changelog.read_deb(deb, package.name, package.sha256, self.cache)


def _newer(entries: list[ChangelogEntry], installed: str, candidate: str) -> list[ChangelogEntry]:
    low, high = Version(installed), Version(candidate)
    return [e for e in entries if low < Version(e.version) <= high]


def _packages_behind(
    inventory: ImageInventory, candidates: dict[str, DebPackage], reader: ChangelogReader
) -> tuple[list[PackageBehind], list[MissingPackage]]:
    behind: list[PackageBehind] = []
    missing: list[MissingPackage] = []
    by_source: dict[tuple[str, str], list[tuple[InstalledPackage, DebPackage]]] = {}
    for package in inventory.packages:
        candidate = candidates.get(package.name)
        if candidate is None:
            missing.append(
                MissingPackage(
                    name=package.name, version=package.version,
                    reason=f"not in Debian {inventory.suite} any more: the indexes have no candidate",
                )
            )  # fmt: skip
        elif Version(candidate.version) > Version(package.version):
            by_source.setdefault((candidate.source, candidate.source_version), []).append(
                (package, candidate)
            )
    for (source, source_version), pairs in sorted(by_source.items()):
        entries, holder = reader.for_source([c for _p, c in pairs])
        for package, candidate in pairs:
            behind.append(
                PackageBehind(
                    name=package.name, installed=package.version, candidate=candidate.version, source=source,
                    candidate_source_version=source_version, changelog_from=holder,
                    entries=_newer(entries, package.source_version, source_version),
                )
            )  # fmt: skip
    return behind, missing


def _components_behind(
    inventory: ImageInventory, sources: dict[str, Deb822], reader: ChangelogReader
) -> list[ComponentBehind]:
    found = []
    for component in inventory.components:
        newest = sources.get(component.debian_source)
        if newest is None or Version(newest["Version"]) <= Version(component.debian_version):
            continue
        served, entries = reader.for_newer_source(newest)
        source, version = component.debian_source, newest["Version"]
        reason = (
            f"fipsforge builds Debian source {source} {component.debian_version}; {version} needs a "
            "fipsforge release that moves the pin"
            if served
            else f"the mirror lists source {source} {version} but does not serve its files; fipsforge "
            f"stays on {component.debian_version} until it does"
        )
        found.append(
            ComponentBehind(
                name=component.name, debian_source=source, installed=component.debian_version,
                candidate=version, served=served, reason=reason,
                entries=_newer(entries, component.debian_version, version),
            )
        )  # fmt: skip
    return found


def _clocks(
    behind: list[PackageBehind], components: list[ComponentBehind], today: date,
    overrides: dict[str, tuple[Severity, str]],
) -> list[CveClock]:  # fmt: skip
    """One clock per CVE, from the oldest newer entry that names it; a rebuild fixes packages only."""
    carriers = [(p.name, p.source, p.entries, True) for p in behind]
    carriers += [(c.name, c.debian_source, c.entries, False) for c in components]
    first: dict[str, tuple[ChangelogEntry, str, bool]] = {}
    names: dict[str, set[str]] = {}
    for name, source, entries, actionable in carriers:
        for entry in entries:
            for cve in entry.cves:
                names.setdefault(cve, set()).add(name)
                if cve not in first or entry.date < first[cve][0].date:
                    first[cve] = (entry, source, actionable)
    clocks = [
        clock(cve, entry, source, sorted(names[cve]), today, overrides, actionable)
        for cve, (entry, source, actionable) in first.items()
    ]
    return sorted(clocks, key=lambda c: (c.fix_date, c.cve))


def check_images(
    refs: list[str],
    *,
    today: date,
    scans: list[Path] | None = None,
    mirrors: DebianMirrors | None = None,
    report: Report | None = None,
) -> OutdatedResult:
    """Check each image against the current candidates of its suite (security updates included)."""
    say = report or (lambda _step: None)
    say("package lists")
    with tempfile.TemporaryDirectory(prefix="fipsforge-outdated-") as scratch:
        inventories = [read_inventory(ref, Path(scratch)) for ref in refs]
    overrides = scan_severities(scans or [], today)
    say("apt indexes")
    root = apt_root(mirrors, "trixie")
    root.update()
    say("candidates")
    candidates = index.candidates(root, [p.name for i in inventories for p in i.packages])
    sources = index.newest_sources(root, [c.debian_source for i in inventories for c in i.components])
    reader = ChangelogReader(root, cache_root() / "outdated" / "changelogs")
    reports = []
    for inventory in inventories:
        say(f"changelogs: {inventory.image}")
        behind, missing = _packages_behind(inventory, candidates, reader)
        components = _components_behind(inventory, sources, reader)
        status = "behind" if behind else "blocked" if components else "up-to-date"
        reports.append(
            ImageReport(
                image=inventory.image, digest=inventory.digest, package_list=inventory.package_list,
                packages_checked=len(inventory.packages), behind=behind, components=components,
                missing=missing, clocks=_clocks(behind, components, today, overrides), status=status,
            )
        )  # fmt: skip
    return OutdatedResult(
        today=today, suite=root.suite, images=reports, debs_fetched=reader.debs_fetched,
        changelogs_read=reader.changelogs_read, scans=[str(s) for s in scans or []],
    )  # fmt: skip
