"""Renderings of a `VerifyReport`: a rich table for people, SARIF 2.1.0 for code-scanning UIs."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from fipsforge import __version__
from fipsforge.oci.tree import Severity
from fipsforge.verify.model import SEVERITIES, VerifyReport, severity_rank

SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SARIF_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.0", "low": "3.0", "info": "0.0"}
STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def print_table(report: VerifyReport, console: Console) -> None:
    verdict = Text(report.verdict.upper(), style="bold green" if report.verdict == "pass" else "bold red")
    head = Text.assemble(
        "image ", (report.image, "bold"), f"  digest {report.digest or '-'}  verdict ", verdict
    )
    modules = Table(title="FIPS boundary", expand=False)
    for column in ("module", "version", "path", "CMVP", "integrity", "jitter inside"):
        modules.add_column(column)
    for module in report.fips_modules:
        integrity = {True: "ok", False: "FAILED", None: "unchecked"}[module.integrity_ok]
        modules.add_row(module.name, module.version or "?", module.path, module.cmvp_status, integrity,
                        "yes" if module.jitter_inside else "no")  # fmt: skip
    boundary: Table | Text = (
        modules if report.fips_modules else Text("FIPS boundary: no FIPS module found", style="red")
    )
    kernel = Text(f"kernel-independent: {report.kernel_independent}\n", style="bold")
    for reason in report.kernel_independent_reasons:
        kernel.append(f"  - {reason}\n")
    findings = Table(title=f"Findings ({len(report.findings)})", expand=False)
    for column in ("severity", "rule", "message", "path"):
        # a path cut short names no file: paths wrap instead
        findings.add_column(column, overflow="fold" if column == "path" else "ellipsis")
    for finding in report.findings:
        findings.add_row(Text(finding.severity, style=STYLE[finding.severity]), finding.rule_id, finding.message,
                         finding.path or "-")  # fmt: skip
    console.print(Group(head, boundary, kernel, findings, _implementations(report)))


def _implementations(report: VerifyReport) -> Table:
    """Files that implement algorithms, inside the boundary first, each with what it implements."""
    table = Table(title=f"Crypto implementations ({len(report.crypto_implementations)} files)", expand=False)
    for column in ("boundary", "file", "algorithms (severity)", "non-security"):
        table.add_column(column, overflow="fold" if column == "file" else "ellipsis")
    ordered = sorted(report.crypto_implementations, key=lambda i: (i.module is None, i.path))
    for implementation in ordered:
        security = [a for a in implementation.algorithms if a.security]
        other = ", ".join(a.algorithm for a in implementation.algorithms if not a.security)
        if not security and not other:
            continue
        inside = all(a.boundary == "inside" for a in security) and security
        names = Text(", ").join(
            Text(
                a.algorithm + (f" ({a.severity})" if a.severity else ""),
                style=STYLE.get(a.severity or "", ""),
            )
            for a in security
        )
        table.add_row("inside" if inside else "outside", implementation.path, names, other or "-")
    return table


def exceeds(report: VerifyReport, threshold: Severity) -> bool:
    """True when a finding is at `threshold` or more severe."""
    return any(severity_rank(f.severity) <= severity_rank(threshold) for f in report.findings)


def sarif(report: VerifyReport) -> dict[str, Any]:
    """SARIF 2.1.0: one run, one rule per rule id, one result per finding located at its image path."""
    rule_ids = sorted({f.rule_id for f in report.findings})
    rules = []
    for rule_id in rule_ids:
        worst = min((f.severity for f in report.findings if f.rule_id == rule_id), key=SEVERITIES.index)
        first = next(f for f in report.findings if f.rule_id == rule_id)
        rules.append({
            "id": rule_id,
            "shortDescription": {"text": first.message[:200]},
            "defaultConfiguration": {"level": SARIF_LEVEL[worst]},
            "properties": {"security-severity": SARIF_SCORE[worst], "tags": ["fips", "security"]},
        })  # fmt: skip
    results = []
    for finding in report.findings:
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "ruleIndex": rule_ids.index(finding.rule_id),
            "level": SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "properties": {"severity": finding.severity},
        }
        location = finding.path.lstrip("/") or "image"
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": location}}}]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "fipsforge verify", "version": __version__, "rules": rules}},
            "automationDetails": {"id": f"fipsforge-verify/{report.image}"},
            "properties": {"image": report.image, "digest": report.digest, "verdict": report.verdict,
                           "kernel_independent": report.kernel_independent},
            "results": results,
        }],
    }  # fmt: skip
