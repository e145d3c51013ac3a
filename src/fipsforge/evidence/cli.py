"""`fipsforge evidence MANIFEST... --out DIR` and `fipsforge evidence probe HOST:PORT...`.

`evidence` is a group whose default command is `run`: a first word that names no subcommand is
taken as the first MANIFEST, so `fipsforge evidence k8s/ --out ev` means `fipsforge evidence run k8s/ --out ev`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from typer.core import TyperGroup

from fipsforge.errors import FipsforgeError


class DefaultRunGroup(TyperGroup):
    """A group that treats an unknown first word (or a leading option) as arguments of `run`."""

    default_command = "run"

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DefaultRunGroup,
    help="FedRAMP Rev 5 evidence: flows, FIPS modules, boundary diagram, OSCAL, POA&M, observed TLS.",
    no_args_is_help=True,
)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FipsforgeError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


@app.command("run")
def run_command(
    manifests: list[Path] = typer.Argument(
        ..., help="Kubernetes manifests (files or directories) or compose files."
    ),
    out: Path = typer.Option(..., "--out", help="Output directory (replaced as a whole)."),
    overlay: Path | None = typer.Option(
        None, "--overlay", help="Overlay YAML: external services, TLS, flows."
    ),
    scan: list[Path] = typer.Option([], "--scan", help="Grype or Trivy JSON report (repeatable)."),
    outdated: list[Path] = typer.Option(
        [],
        "--outdated",
        help="`fipsforge outdated --json` result: open CVEs become POA&M items (repeatable).",
    ),
    verify: list[Path] = typer.Option([], "--verify", help="`fipsforge verify --json` output (repeatable)."),
    observed: list[Path] = typer.Option([], "--observed", help="`fipsforge evidence probe --json` output."),
    run_verify: bool = typer.Option(
        True, "--run-verify/--no-run-verify", help="Run fipsforge verify for images without a result."
    ),
    today: str | None = typer.Option(None, "--today", help="Evaluate dates as of this day (YYYY-MM-DD)."),
    scan_date: str | None = typer.Option(None, "--scan-date", help="Discovery date when the scan has none."),
    sunset_within: int = typer.Option(365, "--sunset-within-days", help="Warn when a sunset is this close."),
    vendor_sla: str = typer.Option(
        "critical=7,high=14,moderate=14,low=14", "--vendor-sla", help="Vendor SLA days per severity."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the gathered evidence as JSON."),
) -> None:
    """Derive every flow and its FIPS modules; write the inventory, diagram, OSCAL, POA&M and report."""
    from rich.console import Console
    from rich.table import Table

    from fipsforge.console import print_json, stderr_console
    from fipsforge.evidence.build import EvidenceOptions, run
    from fipsforge.evidence.poam import parse_vendor_sla

    options = EvidenceOptions(
        manifests=manifests,
        overlay=overlay,
        scans=scan,
        outdated=outdated,
        verify=verify,
        observed=observed,
        run_verify=run_verify,
        today=_date(today, "--today") or date.today(),
        sunset_within_days=sunset_within,
        vendor_sla=parse_vendor_sla(vendor_sla),
        scan_date=_date(scan_date, "--scan-date"),
    )
    evidence = run(options, out, generated=datetime.now().astimezone().replace(microsecond=0))
    if as_json:
        print_json(evidence)
        return
    for note in evidence.notes:
        stderr_console.print(f"[dim]note:[/] {note}", highlight=False, soft_wrap=True)
    table = Table(title=f"{len(evidence.flows)} flows")
    for column in ("client", "server", "port", "encrypted by", "status"):
        table.add_column(column)
    for flow in evidence.flows:
        style = "red" if flow.status in ("plaintext", "non-fips") else None
        table.add_row(
            flow.client.label,
            flow.server.label,
            str(flow.port or ""),
            flow.encryption,
            flow.status,
            style=style,
        )
    Console(stderr=True).print(table)
    for warning in evidence.cmvp_warnings:
        stderr_console.print(f"[yellow]cmvp:[/] {warning}", highlight=False, soft_wrap=True)
    print(out)


@app.command("probe")
def probe_command(
    targets: list[str] = typer.Argument(
        ..., help="[LABEL=]HOST:PORT; LABEL names the flow's server endpoint."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the results as JSON to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Observe live TLS endpoints with sslyze and classify them against SP 800-52r2."""
    from rich.console import Console
    from rich.table import Table

    from fipsforge.console import print_json
    from fipsforge.evidence.probe import probe
    from fipsforge.fsutil import write_text_atomic

    results = probe(targets)
    payload = [r.model_dump(mode="json") for r in results]
    if out is not None:
        import json

        write_text_atomic(out, json.dumps(payload, indent=2) + "\n")
    if as_json:
        print_json(payload)
        return
    table = Table(title="observed TLS")
    for column in ("endpoint", "verdict", "versions", "groups", "reasons"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.label or r.target,
            r.verdict,
            ", ".join(r.tls_versions),
            ", ".join(g.name for g in r.groups),
            "; ".join(r.reasons[:3]),
            style="red" if r.verdict == "observed-non-fips" else None,
        )
    Console().print(table)
