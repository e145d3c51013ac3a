"""Per-CVE clocks: a fix exists from the date of the changelog entry that made it.

Two clocks, as `fipsforge evidence` uses for scanner input (`fipsforge.evidence.poam`): the vendor SLA
(7 days for Critical, 14 for the rest) and FedRAMP's remediation times (30 days High/Critical,
90 Moderate, 180 Low). The archive gives no CVSS score; Debian's upload urgency stands in for the
severity only as a fallback, marked as such, and a scanner report (Grype or Trivy JSON) overrides it
per CVE.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from fipsforge.evidence.poam import (
    DEFAULT_VENDOR_SLA,
    FEDRAMP_DAYS,
    SEVERITIES,
    Severity,
    read_scan,
)
from fipsforge.outdated.model import ChangelogEntry, CveClock

# Fallback only: Debian's urgency says how soon to upload, not how severe the flaw is (Debian Policy
# §5.6.17, https://www.debian.org/doc/debian-policy/ch-controlfields.html#urgency).
URGENCY_SEVERITY: dict[str, Severity] = {
    "emergency": "Critical",
    "critical": "Critical",
    "high": "High",
    "medium": "Moderate",
    "low": "Low",
}


def scan_severities(scans: list[Path], discovered: date) -> dict[str, tuple[Severity, str]]:
    """CVE → (severity, where from) out of scanner reports; the most severe rating wins."""
    found: dict[str, tuple[Severity, str]] = {}
    for scan in scans:
        for finding in read_scan(scan, discovered):
            if finding.cve is None:
                continue
            label = f"scanner: {finding.scanner} {finding.scanner_severity} ({scan.name})"
            known = found.get(finding.cve)
            if known is None or SEVERITIES.index(finding.severity) < SEVERITIES.index(known[0]):
                found[finding.cve] = (finding.severity, label)
    return found


def clock(
    cve: str,
    entry: ChangelogEntry,
    source: str,
    packages: list[str],
    today: date,
    overrides: dict[str, tuple[Severity, str]],
    actionable: bool,
) -> CveClock:
    """The clocks of `cve`, fixed by `entry` of `source`, on `today`."""
    severity, severity_source = overrides.get(
        cve,
        (
            URGENCY_SEVERITY.get(entry.urgency, "Moderate"),
            f"Debian urgency={entry.urgency} (fallback: no CVSS in the archive)",
        ),
    )
    vendor_days, fedramp_days = DEFAULT_VENDOR_SLA[severity], FEDRAMP_DAYS[severity]
    vendor_due = entry.date + timedelta(days=vendor_days)
    fedramp_due = entry.date + timedelta(days=fedramp_days)
    return CveClock(
        cve=cve, packages=sorted(packages), fixed_in=f"{source} {entry.version}", fix_date=entry.date,
        severity=severity, severity_source=severity_source, days_open=(today - entry.date).days,
        vendor_days=vendor_days, vendor_due=vendor_due, fedramp_days=fedramp_days, fedramp_due=fedramp_due,
        overdue_vendor=today > vendor_due, overdue_fedramp=today > fedramp_due, actionable=actionable,
    )  # fmt: skip
