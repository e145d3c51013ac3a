"""The `fipsforge` command: a thin layer over the capability packages."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer

from fipsforge.console import stderr_console
from fipsforge.entropy.cli import app as entropy_app
from fipsforge.errors import FipsforgeError
from fipsforge.evidence.cli import app as evidence_app
from fipsforge.image import cli as image_cli
from fipsforge.outdated.cli import outdated
from fipsforge.sandbox import cli as sandbox_cli
from fipsforge.stack.cli import app as stack_app
from fipsforge.verify.cli import verify

app = typer.Typer(
    name="fipsforge",
    help="Kernel-independent FIPS 140-3 container images: build, test, verify, entropy, evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(entropy_app, name="entropy")
app.add_typer(evidence_app, name="evidence")
app.command("build")(image_cli.build)
app.command("verify")(verify)
app.command("push")(image_cli.push)
app.command("test")(sandbox_cli.test)
app.command("outdated")(outdated)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into an exception so temporary outputs are cleaned up on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except FipsforgeError as error:
        stderr_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
