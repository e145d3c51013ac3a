"""`fipsforge test IMAGE`: prove an image at run time, in the sandbox, with and without the kernel's entropy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from fipsforge.sandbox.suite import RuntimeReport


def test(
    image: str = typer.Argument(
        ..., help="An OCI layout directory, a docker-archive tar, or docker://HOST/NAME:TAG."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write a JUnit XML report to this file."),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Scratch directory (default: a temporary one)."
    ),
) -> None:
    """Run the FIPS conformance suite in the sandbox (kernel entropy present and cut off); exit 1 on a failure."""
    import tempfile

    from fipsforge.console import print_json, progress, stderr_console
    from fipsforge.oci.unpack import unpack_image
    from fipsforge.sandbox.junit import write_junit
    from fipsforge.sandbox.suite import run_suite

    with tempfile.TemporaryDirectory(prefix="fipsforge-test-", dir=work_dir) as scratch:
        with stderr_console.status(f"unpacking {image}"):
            unpacked = unpack_image(image, Path(scratch))
        with progress() as bar:
            task = bar.add_task("test", total=None)
            report = run_suite(unpacked, progress=lambda step: bar.update(task, description=step))
    if junit is not None:
        write_junit(report, junit)
    if as_json:
        print_json({**report.model_dump(mode="json"), "passed": report.passed,
                    "risks": [f"{case.id} [{case.mode.value if case.mode else ''}]" for case in report.risks]})  # fmt: skip
    else:
        print_table(report)
    if not report.passed:
        raise typer.Exit(1)


def print_table(report: RuntimeReport) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from fipsforge.sandbox.suite import Status

    console = Console(width=max(Console().width, 150))
    table = Table(title=f"fipsforge test {report.image} ({report.manifest_digest or report.kind})")
    for column in ("check", "mode", "expect", "result", "detail"):
        table.add_column(column)
    verdicts = {
        Status.PASSED: "[green]PASS[/]",
        Status.FAILED: "[bold red]FAIL[/]",
        Status.SKIPPED: "[yellow]SKIP[/]",
        Status.RISK: "[bold magenta]RISK[/]",
        Status.NOT_PROBED: "[bold yellow]NOT PROBED[/]",
    }
    group = None
    for case in report.cases:
        if case.group != group:
            group = case.group
            table.add_section()
            table.add_row(f"[bold]{group}[/]")
        table.add_row(
            f"{case.id}: {case.description}", case.mode.value if case.mode else "",
            case.expect.value if case.expect else "", verdicts[case.status], case.detail,
        )  # fmt: skip
    console.print(table)
    if report.kernel_dependent_paths:
        paths = Table(title="kernel-dependent randomness outside the FIPS boundary")
        for column in ("path", "kernel present", "kernel cut off"):
            paths.add_column(column)
        for path in report.kernel_dependent_paths:
            paths.add_row(path.name, "works" if path.works_normal else "fails",
                          "works" if path.works_cut_off else f"fails: {path.detail}")  # fmt: skip
        console.print(paths)
    if report.non_validated_paths:
        console.print(
            "[bold red]non-validated paths[/] (answer outside the FIPS module): "
            + ", ".join(report.non_validated_paths)
        )
    calls = Table(title="kernel randomness requests (getrandom, /dev/*random), by purpose and caller")
    for column in ("mode", "group", "purpose", "caller", "calls", "denied"):
        calls.add_column(column)
    for kind in report.randomness_summary:
        calls.add_row(
            kind.mode.value, "[bold]crypto-relevant[/]" if kind.crypto_relevant else "not crypto-relevant",
            kind.purpose, kind.library or "?", str(kind.calls), str(kind.denied),
        )  # fmt: skip
    console.print(calls)
    relevant = [call for call in report.randomness_calls if call.crypto_relevant]
    console.print(
        f"{len(report.randomness_calls)} kernel randomness requests recorded, {len(relevant)} crypto-relevant "
        f"(--json lists each with its caller); {len(report.failed)} failed of {len(report.cases)} cases"
    )
    for case in report.risks:
        mode = f" ({case.mode.value})" if case.mode else ""
        console.print(f"[bold magenta]risk:[/] {escape(f'{case.id}{mode}: {case.detail}')}", soft_wrap=True)
