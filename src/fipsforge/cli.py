"""The `fipsforge` command: a thin layer over the capability packages.

Commands are registered by name and import path; a capability's module is imported only when its
command runs (or its own `--help` is asked for), so `fipsforge --help` pays for none of them.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, NamedTuple

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup, TyperOption

from fipsforge.errors import FipsforgeError

if TYPE_CHECKING:  # typer's own (vendored) click types
    from typer._click import Command, Context


class Registered(NamedTuple):
    """A command known by name: `module:attribute` (a typer app or a command function) and its one-line help."""

    target: str
    help: str


# One line per command; the help is what `fipsforge --help` lists without importing anything.
COMMANDS: dict[str, Registered] = {
    "stack": Registered("fipsforge.stack.cli:app", "Build the OpenSSL FIPS + jitterentropy stack and prove it."),
    "entropy": Registered("fipsforge.entropy.cli:app", "Record this host's CPU-jitter noise and assess it per NIST SP 800-90B."),
    "evidence": Registered("fipsforge.evidence.cli:app", "FedRAMP Rev 5 evidence: flows, FIPS modules, boundary diagram, OSCAL, POA&M, observed TLS."),
    "build": Registered("fipsforge.image.cli:build", "Build a reproducible OCI image (with SBOM referrers) from Debian packages and the FIPS stack."),
    "verify": Registered("fipsforge.verify.cli:verify", "Is all the image's cryptography inside a FIPS module, and is that module seeded without the kernel?"),
    "push": Registered("fipsforge.image.cli:push", "Push the image and its SBOM and provenance referrers; with --sign-key, sign and attest it."),
    "test": Registered("fipsforge.sandbox.cli:test", "Run the FIPS conformance suite in the sandbox (kernel entropy present and cut off); exit 1 on a failure."),
    "outdated": Registered("fipsforge.outdated.cli:outdated", "Compare each image's packages with the suite's current candidates; report the CVEs and their clocks."),
}  # fmt: skip


def load_command(name: str, registered: Registered) -> Command:
    """Import the command's module and turn its typer app or function into a click command."""
    module_name, attribute = registered.target.split(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command: Command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return plain_help(command)


def plain_help(command: Command) -> Command:
    """Format a command's help (and its subcommands') with click's plain formatter.

    typer's rich formatter imports rich.markdown and markdown-it: about 0.2 s before any help shows.
    """
    if isinstance(command, (TyperCommand, TyperGroup)):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


class LazyGroup(TyperGroup):
    """Lists registered commands from their one-line help; imports one only to run it."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        registered = COMMANDS.get(cmd_name)
        if registered is None:
            return super().get_command(ctx, cmd_name)
        # A placeholder for listings; `resolve_command` swaps in the real command to run it.
        return TyperCommand(cmd_name, help=registered.help, short_help=registered.help)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return plain_help_flag(super().get_help_option(ctx))

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name in COMMANDS:
            command = load_command(name, COMMANDS[name])
            plain_help_flag(command.get_help_option(ctx))
        return name, command, rest


def plain_help_flag(option: TyperOption | None) -> TyperOption | None:
    """Give a --help flag the default False. Unset, typer coerces the absent flag through pydantic
    (a 0.2-0.3 s import) whenever a subcommand runs, `fipsforge CMD --help` included."""
    if option is not None:
        option.default = False
    return option


app = typer.Typer(
    cls=LazyGroup,
    name="fipsforge",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: see `plain_help`
    context_settings={"max_content_width": 160},  # click wraps at 80 columns, even on a wide terminal
    add_completion=False,  # its two options cost every subcommand a pydantic import (typer coerces them)
)


@app.callback()
def _root() -> None:
    """Kernel-independent FIPS 140-3 container images: build, test, verify, entropy, evidence."""


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into an exception so temporary outputs are cleaned up on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except FipsforgeError as error:
        from fipsforge.console import stderr_console

        stderr_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
