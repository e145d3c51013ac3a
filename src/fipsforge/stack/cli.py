"""`fipsforge stack`: build the FIPS stack and check it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from fipsforge.stack.build import StackBuild, StackOptions

app = typer.Typer(help="Build the OpenSSL FIPS + jitterentropy stack and prove it.", no_args_is_help=True)


def _build_with_progress(options: StackOptions, out: Path | None) -> StackBuild:
    from fipsforge.console import progress
    from fipsforge.stack.build import build_stack

    with progress() as bar:
        task = bar.add_task("stack", total=None)
        return build_stack(options, out, progress=lambda step: bar.update(task, description=f"stack: {step}"))


@app.command("build")
def build_command(
    out: Path | None = typer.Option(
        None, "--out", help="Copy the staged tree here (default: it stays in the cache)."
    ),
    fips_provider_source: Path | None = typer.Option(
        None,
        "--fips-provider-source",
        help="Build fips.so from this OpenSSL release tarball (e.g. a validated one).",
    ),
    fips_provider_sha256: str | None = typer.Option(
        None,
        "--fips-provider-sha256",
        help="Expected SHA-256 of --fips-provider-source; checked before anything.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Build OpenSSL 3.5 with enable-fips-jitter and a static libjitterentropy, from signed sources."""
    from fipsforge.console import print_json, stderr_console
    from fipsforge.stack.build import StackOptions, out_environment

    options = StackOptions(
        fips_provider_source=fips_provider_source, fips_provider_sha256=fips_provider_sha256
    )
    build = _build_with_progress(options, out)
    environment = out_environment(out) if out is not None else {}
    if as_json:
        print_json({"staging": str(build.staging), "manifest": build.manifest.model_dump(mode="json"),
                    "environment": environment})  # fmt: skip
        return
    manifest = build.manifest
    stderr_console.print(
        f"OpenSSL {manifest.openssl_version}, FIPS provider {manifest.fips_provider_version}, "
        f"jitterentropy {manifest.jitterentropy_version}; module-mac {manifest.module_mac[:16]}…"
    )
    if environment:
        stderr_console.print("run it in place with:", highlight=False)
        for name, value in environment.items():
            stderr_console.print(f"  export {name}={value}", highlight=False, soft_wrap=True)
    print(build.staging)


@app.command("check")
def check_command(
    directory: Path | None = typer.Argument(
        None, help="A `stack build --out` directory (default: the cached build)."
    ),
    controls: bool = typer.Option(True, "--controls/--no-controls", help="Also run the negative controls."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Run the acceptance checks in the sandbox; exit 1 if any fails."""
    from rich.console import Console
    from rich.table import Table

    from fipsforge.console import print_json, progress
    from fipsforge.stack.build import StackOptions, load_stack
    from fipsforge.stack.check import check_stack

    build = load_stack(directory) if directory else _build_with_progress(StackOptions(), None)
    with progress() as bar:
        task = bar.add_task("checks", total=None)
        report = check_stack(
            build=build, with_controls=controls, progress=lambda step: bar.update(task, description=step)
        )
    if as_json:
        print_json({**report.model_dump(mode="json"), "passed": report.passed})
    else:
        table = Table(title=f"fipsforge stack check: OpenSSL {report.openssl_version}, {report.stack}")
        for column in ("check", "mode", "expect", "result", "detail"):
            table.add_column(column)
        group = None
        for result in report.results:
            if result.group != group:
                group = result.group
                table.add_section()
                table.add_row(f"[bold]{group}[/]")
            verdict = "[green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
            table.add_row(result.description, result.mode.value, result.expect.value, verdict, result.detail)
        Console(width=max(Console().width, 140)).print(table)
    if not report.passed:
        raise typer.Exit(1)
