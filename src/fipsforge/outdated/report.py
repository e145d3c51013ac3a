"""The human-readable `outdated` report: one table per image, then its CVE clocks."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fipsforge.outdated.model import ImageReport, OutdatedResult


def summary_line(image: ImageReport) -> str:
    """One line per image: how far behind, the oldest open fix, what is overdue."""
    if image.status == "up-to-date" and not image.missing:
        return f"{image.image}: up to date ({image.packages_checked} packages checked)"
    parts = [f"{len(image.behind)} of {image.packages_checked} packages behind"]
    if image.components:
        parts.append(f"{len(image.components)} fipsforge components behind")
    if image.missing:
        parts.append(f"{len(image.missing)} no longer in the archive")
    oldest = image.oldest_open_fix
    if oldest is not None:
        parts.append(f"oldest open fix {oldest.cve} since {oldest.fix_date} ({oldest.days_open} days)")
    overdue = image.overdue
    parts.append(f"{len(overdue)} CVEs overdue" if overdue else "nothing overdue")
    return f"{image.image}: {image.status}: " + ", ".join(parts)


def print_report(result: OutdatedResult, console: Console) -> None:
    for image in result.images:
        console.print(summary_line(image), highlight=False, soft_wrap=True)
        if image.behind or image.components or image.missing:
            table = Table(title=f"{image.image} ({image.digest or image.package_list})")
            for column in ("package", "installed", "candidate", "fixes", "note"):
                table.add_column(column)
            for package in image.behind:
                cves = sorted({c for e in package.entries for c in e.cves})
                table.add_row(package.name, package.installed, package.candidate, ", ".join(cves) or "-",
                              f"changelog of {package.changelog_from}")  # fmt: skip
            for component in image.components:
                cves = sorted({c for e in component.entries for c in e.cves})
                table.add_row(f"{component.name} (built by fipsforge)", component.installed,
                              component.candidate, ", ".join(cves) or "-", component.reason)  # fmt: skip
            for missing in image.missing:
                table.add_row(missing.name, missing.version, "-", "-", missing.reason)
            console.print(table)
        if image.clocks:
            clocks = Table(title=f"CVE clocks on {result.today}")
            for column in ("CVE", "fixed in", "since", "days", "severity", "vendor SLA due", "FedRAMP due"):
                clocks.add_column(column)
            for c in image.clocks:
                clocks.add_row(
                    c.cve, c.fixed_in, c.fix_date.isoformat(), str(c.days_open),
                    f"{c.severity}*" if c.severity_source.startswith("Debian urgency") else c.severity,
                    f"{c.vendor_due}" + (" [bold red]OVERDUE[/]" if c.overdue_vendor else ""),
                    f"{c.fedramp_due}" + (" [bold red]OVERDUE[/]" if c.overdue_fedramp else ""),
                )  # fmt: skip
            console.print(clocks)
    if any(c.severity_source.startswith("Debian urgency") for i in result.images for c in i.clocks):
        console.print("* severity from Debian's upload urgency (fallback; give --scan to override)")
    console.print(
        f"{result.debs_fetched} .deb fetched, {result.changelogs_read} changelogs read "
        "(the rest from the cache)", highlight=False,
    )  # fmt: skip
