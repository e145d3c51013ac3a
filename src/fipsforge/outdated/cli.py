"""`fipsforge outdated IMAGE...`: which images are behind Debian, which CVEs that leaves open, since when."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from fipsforge.console import print_json, progress
from fipsforge.errors import FipsforgeError


def parse_day(value: str | None, option: str) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FipsforgeError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def outdated(
    images: list[str] = typer.Argument(
        ..., help="OCI layouts, docker-archives or registry references (docker://HOST/NAME:TAG)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
    today: str | None = typer.Option(None, "--today", help="Evaluate the clocks on this day (YYYY-MM-DD)."),
    scan: list[Path] = typer.Option(
        [], "--scan", help="Grype or Trivy JSON report whose severities override the fallback (repeatable)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON result to this file."),
    fail_on_overdue: bool = typer.Option(
        False, "--fail-on-overdue", help="Exit 1 when a CVE is past either clock."
    ),
) -> None:
    """Compare each image's packages with the suite's current candidates; report the CVEs and their clocks."""
    from rich.console import Console

    from fipsforge.fsutil import write_text_atomic
    from fipsforge.outdated.check import check_images
    from fipsforge.outdated.report import print_report

    day = parse_day(today, "--today")
    with progress() as bar:
        task = bar.add_task("outdated", total=None)
        result = check_images(
            images, today=day, scans=scan, report=lambda step: bar.update(task, description=step)
        )
    if out is not None:
        write_text_atomic(out, result.model_dump_json(indent=2) + "\n")
    if as_json:
        print_json(result)
    else:
        print_report(result, Console(width=max(Console().width, 150)))
    if fail_on_overdue and any(image.overdue for image in result.images):
        raise typer.Exit(1)
