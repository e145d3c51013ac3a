"""POA&M entries from a vulnerability scan (Grype or Trivy JSON) or a `fipsforge outdated` result, with
due dates under two clocks. For `outdated`, discovery is the date of the Debian changelog entry that
fixed the CVE: a fix exists from then on.

FedRAMP clock: from the date of discovery, Critical and High 30 days, Moderate 90, Low 180; a CISA
KEV due date in the scan overrides it. Vendor clock: a configurable SLA, by default 7 days for
Critical and 14 for the rest. An entry past a due date on `today` is flagged overdue on that clock.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from fipsforge.errors import FipsforgeError

if TYPE_CHECKING:
    from fipsforge.outdated.model import ImageReport

Severity = Literal["Critical", "High", "Moderate", "Low"]
SEVERITIES: tuple[Severity, ...] = ("Critical", "High", "Moderate", "Low")
FEDRAMP_DAYS: dict[Severity, int] = {"Critical": 30, "High": 30, "Moderate": 90, "Low": 180}
DEFAULT_VENDOR_SLA: dict[Severity, int] = {"Critical": 7, "High": 14, "Moderate": 14, "Low": 14}
SEVERITY_MAP: dict[str, Severity] = {
    "critical": "Critical",
    "high": "High",
    "medium": "Moderate",
    "moderate": "Moderate",
    "low": "Low",
}

# Column order of the FedRAMP POA&M template ("Open POA&M Items" sheet), then fipsforge's own columns.
TEMPLATE_COLUMNS = [
    "POAM ID",
    "Controls",
    "Weakness Name",
    "Weakness Description",
    "Weakness Detector Source",
    "Weakness Source Identifier",
    "Asset Identifier",
    "Point of Contact",
    "Resources Required",
    "Overall Remediation Plan",
    "Original Detection Date",
    "Scheduled Completion Date",
    "Planned Milestones",
    "Milestone Changes",
    "Status Date",
    "Vendor Dependency",
    "Last Vendor Check-in Date",
    "Vendor Dependent Product Name",
    "Original Risk Rating",
    "Adjusted Risk Rating",
    "Risk Adjustment",
    "False Positive",
    "Operational Requirement",
    "Deviation Rationale",
    "Supporting Documents",
    "Comments",
    "Auto-Approve",
    "Binding Operational Directive 22-01 tracking",
    "Binding Operational Directive 22-01 Due Date",
    "CVE",
    "Service Name",
]
EXTRA_COLUMNS = ["Vendor SLA Due Date", "Overdue (FedRAMP clock)", "Overdue (vendor SLA)"]


class ScanFinding(BaseModel):
    """One vulnerability in one package of one scanned artifact."""

    vulnerability_id: str
    cve: str | None
    package: str
    installed_version: str
    fixed_versions: list[str] = Field(default_factory=list)
    severity: Severity
    scanner_severity: str
    title: str
    description: str
    scanner: str
    asset: str
    discovered: date
    kev_due: date | None = None
    source: str


class PoamEntry(BaseModel):
    poam_id: str
    finding: ScanFinding
    fedramp_due: date
    fedramp_clock: str
    vendor_due: date
    vendor_days: int
    overdue_fedramp: bool
    overdue_vendor: bool


def parse_vendor_sla(text: str) -> dict[Severity, int]:
    """`critical=7,high=14` → days per severity; severities not named keep the default."""
    sla = dict(DEFAULT_VENDOR_SLA)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, days = part.partition("=")
        severity = SEVERITY_MAP.get(name.strip().lower())
        if severity is None or not days.strip().isdigit():
            raise FipsforgeError(f"--vendor-sla: cannot read {part!r} (want e.g. critical=7,high=14)")
        sla[severity] = int(days)
    return sla


def _severity(raw: str) -> Severity:
    return SEVERITY_MAP.get(raw.strip().lower(), "Low")


def _date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise FipsforgeError(f"{where}: cannot read date {value!r}") from None


def _grype(doc: dict[str, Any], where: str, discovered: date | None) -> list[ScanFinding]:
    descriptor = doc.get("descriptor") or {}
    scanner = f"Grype {descriptor.get('version', '')}".strip()
    if discovered is None:
        if not descriptor.get("timestamp"):
            raise FipsforgeError(
                f"{where}: descriptor.timestamp missing; give the scan date with --scan-date"
            )
        discovered = _date(descriptor["timestamp"], f"{where}: descriptor.timestamp")
    source = doc.get("source") or {}
    target = source.get("target")
    asset = str(target.get("userInput", "")) if isinstance(target, dict) else str(target or "")
    findings = []
    for index, match in enumerate(doc.get("matches") or []):
        vuln = match.get("vulnerability") or {}
        artifact = match.get("artifact") or {}
        if not vuln.get("id") or not artifact.get("name"):
            raise FipsforgeError(
                f"{where}: matches[{index}]: vulnerability.id and artifact.name are required"
            )
        related = [
            r for r in match.get("relatedVulnerabilities") or [] if str(r.get("id", "")).startswith("CVE-")
        ]
        cve = vuln["id"] if str(vuln["id"]).startswith("CVE-") else (related[0]["id"] if related else None)
        # grype's JSON writes camelCase (dueDate); its database records use due_date
        kev_dues = [
            _date(
                k.get("dueDate") or k["due_date"], f"{where}: matches[{index}].vulnerability.knownExploited"
            )
            for k in vuln.get("knownExploited") or []
            if isinstance(k, dict) and (k.get("dueDate") or k.get("due_date"))
        ]
        description = str(vuln.get("description") or (related[0].get("description") if related else "") or "")
        findings.append(
            ScanFinding(
                vulnerability_id=str(vuln["id"]),
                cve=cve,
                package=str(artifact["name"]),
                installed_version=str(artifact.get("version", "")),
                fixed_versions=[str(v) for v in (vuln.get("fix") or {}).get("versions") or []],
                severity=_severity(str(vuln.get("severity", "Unknown"))),
                scanner_severity=str(vuln.get("severity", "Unknown")),
                title=description.split(". ")[0][:200] or str(vuln["id"]),
                description=description,
                scanner=scanner,
                asset=asset,
                discovered=discovered,
                kev_due=min(kev_dues) if kev_dues else None,
                source=where,
            )
        )
    return findings


def _trivy(doc: dict[str, Any], where: str, discovered: date | None) -> list[ScanFinding]:
    if discovered is None:
        if not doc.get("CreatedAt"):
            raise FipsforgeError(f"{where}: CreatedAt missing; give the scan date with --scan-date")
        discovered = _date(doc["CreatedAt"], f"{where}: CreatedAt")
    findings = []
    for r_index, result in enumerate(doc.get("Results") or []):
        for v_index, vuln in enumerate(result.get("Vulnerabilities") or []):
            if not vuln.get("VulnerabilityID") or not vuln.get("PkgName"):
                raise FipsforgeError(
                    f"{where}: Results[{r_index}].Vulnerabilities[{v_index}]: VulnerabilityID and PkgName are required"
                )
            vuln_id = str(vuln["VulnerabilityID"])
            fixed = str(vuln.get("FixedVersion") or "")
            findings.append(
                ScanFinding(
                    vulnerability_id=vuln_id,
                    cve=vuln_id if vuln_id.startswith("CVE-") else None,
                    package=str(vuln["PkgName"]),
                    installed_version=str(vuln.get("InstalledVersion", "")),
                    fixed_versions=[v.strip() for v in fixed.split(",") if v.strip()],
                    severity=_severity(str(vuln.get("Severity", "UNKNOWN"))),
                    scanner_severity=str(vuln.get("Severity", "UNKNOWN")),
                    title=str(vuln.get("Title") or vuln_id)[:200],
                    description=str(vuln.get("Description") or ""),
                    scanner="Trivy",
                    asset=str(doc.get("ArtifactName") or result.get("Target") or ""),
                    discovered=discovered,
                    source=where,
                )
            )
    return findings


def read_scan(path: Path, discovered: date | None = None) -> list[ScanFinding]:
    """Findings of a Grype (`matches`) or Trivy (`Results`) JSON report."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FipsforgeError(f"{path}: cannot read scan: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise FipsforgeError(f"{path}:{error.lineno}: malformed scan JSON: {error.msg}") from None
    if isinstance(doc, dict) and "matches" in doc:
        return _grype(doc, str(path), discovered)
    if isinstance(doc, dict) and ("Results" in doc or "SchemaVersion" in doc):
        return _trivy(doc, str(path), discovered)
    raise FipsforgeError(f"{path}: not a Grype or Trivy JSON report (no 'matches' or 'Results')")


def read_outdated(path: Path) -> tuple[list[ScanFinding], list[ImageReport]]:
    """Open CVEs of a `fipsforge outdated --json` result as findings, and its per-image reports."""
    from pydantic import ValidationError

    from fipsforge.outdated.model import OutdatedResult

    try:
        result = OutdatedResult.model_validate_json(path.read_bytes())
    except OSError as error:
        raise FipsforgeError(f"{path}: cannot read outdated result: {error.strerror}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(document)"
        raise FipsforgeError(f"{path}: not a fipsforge outdated result: {where}: {first['msg']}") from None
    findings = []
    for image in result.images:
        installed = {p.name: p.installed for p in image.behind} | {
            c.name: c.installed for c in image.components
        }
        for clock in image.clocks:
            carriers = ", ".join(f"{name} {installed.get(name, '?')}" for name in clock.packages)
            findings.append(
                ScanFinding(
                    vulnerability_id=clock.cve, cve=clock.cve, package=", ".join(clock.packages),
                    installed_version=installed.get(clock.packages[0], "") if clock.packages else "",
                    fixed_versions=[clock.fixed_in], severity=clock.severity,
                    scanner_severity=clock.severity_source,
                    title=f"{clock.cve}: fixed in Debian {clock.fixed_in} on {clock.fix_date}",
                    description=f"Debian's changelog for {clock.fixed_in} ({clock.fix_date}) names {clock.cve}; "
                    f"{image.image} still has {carriers}. Severity: {clock.severity_source}."
                    + ("" if clock.actionable else " A rebuild does not fix it: the newer source is not usable."),
                    scanner="fipsforge outdated (Debian changelogs)", asset=image.image,
                    discovered=clock.fix_date, source=str(path),
                )
            )  # fmt: skip
    return findings, result.images


def build_entries(
    findings: list[ScanFinding], today: date, vendor_sla: dict[Severity, int] | None = None
) -> list[PoamEntry]:
    sla = vendor_sla or DEFAULT_VENDOR_SLA
    ordered = sorted(
        findings, key=lambda f: (SEVERITIES.index(f.severity), f.asset, f.package, f.vulnerability_id)
    )
    entries: list[PoamEntry] = []
    seen: set[tuple[str, str, str, str]] = set()
    for finding in ordered:
        key = (finding.asset, finding.package, finding.installed_version, finding.vulnerability_id)
        if key in seen:
            continue
        seen.add(key)
        if finding.kev_due is not None:
            fedramp_due, clock = finding.kev_due, "CISA KEV due date"
        else:
            days = FEDRAMP_DAYS[finding.severity]
            fedramp_due, clock = (
                finding.discovered + timedelta(days=days),
                f"FedRAMP {finding.severity}: {days} days",
            )
        vendor_days = sla[finding.severity]
        vendor_due = finding.discovered + timedelta(days=vendor_days)
        entries.append(
            PoamEntry(
                poam_id=f"V-{len(entries) + 1:04d}",
                finding=finding,
                fedramp_due=fedramp_due,
                fedramp_clock=clock,
                vendor_due=vendor_due,
                vendor_days=vendor_days,
                overdue_fedramp=today > fedramp_due,
                overdue_vendor=today > vendor_due,
            )
        )
    return entries


def _row(entry: PoamEntry, today: date) -> list[str]:
    f = entry.finding
    fix = ", ".join(f.fixed_versions)
    plan = (
        f"Upgrade {f.package} to {fix}." if fix else f"No fixed version of {f.package} yet; track the vendor."
    )
    overdue = [
        name
        for name, flag in (("FedRAMP clock", entry.overdue_fedramp), ("vendor SLA", entry.overdue_vendor))
        if flag
    ]
    return [
        entry.poam_id,
        "RA-5, SI-2",
        f"{f.vulnerability_id} in {f.package} {f.installed_version}",
        f.description[:1000] or f.title,
        f.scanner,
        f.vulnerability_id,
        f.asset,
        "",
        "",
        plan,
        f.discovered.isoformat(),
        entry.fedramp_due.isoformat(),
        f"(1) {entry.vendor_due.isoformat()}: remediate within the vendor SLA ({entry.vendor_days} days)",
        "",
        today.isoformat(),
        "No" if fix else "Yes",
        "",
        "" if fix else f.package,
        f.severity,
        "",
        "No",
        "No",
        "No",
        "",
        Path(f.source).name,
        ("OVERDUE: " + ", ".join(overdue)) if overdue else f"Due under {entry.fedramp_clock}",
        "No",
        "Yes" if f.kev_due else "No",
        f.kev_due.isoformat() if f.kev_due else "",
        f.cve or "",
        f.asset,
        entry.vendor_due.isoformat(),
        "yes" if entry.overdue_fedramp else "no",
        "yes" if entry.overdue_vendor else "no",
    ]


def to_csv(entries: list[PoamEntry], today: date) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*TEMPLATE_COLUMNS, *EXTRA_COLUMNS])
    writer.writerows(_row(e, today) for e in entries)
    return buffer.getvalue()
