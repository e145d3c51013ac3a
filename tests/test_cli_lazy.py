"""The top-level CLI imports no capability until its command runs, yet lists every command with its help."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fipsforge.cli import COMMANDS, app, load_command

HEAVY = ["numba", "fipsforge.entropy", "fipsforge.evidence", "fipsforge.image", "fipsforge.stack"]
runner = CliRunner()


def imported_after(statement: str, watched: list[str]) -> list[str]:
    """Which of `watched` a fresh interpreter has in sys.modules after running `statement`."""
    probe = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {watched!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_importing_the_cli_imports_no_capability() -> None:
    assert imported_after("import fipsforge.cli", HEAVY) == []


def test_the_check_sees_a_capability_once_its_command_loads() -> None:
    # Negative control: the same probe, once the entropy command is loaded and its estimators imported.
    loaded = imported_after("import fipsforge.cli", ["fipsforge.entropy.cli"])
    assert loaded == []
    statement = (
        "from fipsforge.cli import COMMANDS, load_command\nload_command('entropy', COMMANDS['entropy'])"
    )
    assert imported_after(statement, ["fipsforge.entropy.cli"]) == ["fipsforge.entropy.cli"]
    # (numba is not among them: the estimators run the kernels compiled ahead of time, see entropy.native)
    assert imported_after(f"{statement}\nimport fipsforge.entropy.noniid", HEAVY) == ["fipsforge.entropy"]


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        ("fipsforge.verify.cli", ["fipsforge.verify.analyze", "fipsforge.oci.reader"]),
        ("fipsforge.entropy.cli", ["numba", "fipsforge.entropy.estimators", "fipsforge.stack"]),
        ("fipsforge.stack.cli", ["fipsforge.stack.build", "fipsforge.sandbox"]),
        ("fipsforge.sandbox.cli", ["fipsforge.sandbox.suite", "fipsforge.stack"]),
        ("fipsforge.evidence.cli", ["fipsforge.evidence.poam", "fipsforge.evidence.build"]),
        ("fipsforge.image.cli", ["fipsforge.image.build", "fipsforge.oci"]),
    ],
)
def test_a_capability_cli_defers_its_work_modules(module: str, heavy: list[str]) -> None:
    """`fipsforge CMD --help` imports the command's cli module only, not the modules that do the work."""
    assert imported_after(f"import {module}", heavy) == []


def test_help_lists_every_command_with_its_one_line_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = "".join(result.output.split())  # click's test runner wraps help at 80 columns, also at hyphens
    for name, registered in COMMANDS.items():
        assert "".join(f"{name} {registered.help}".split()) in listed


@pytest.mark.parametrize("name", list(COMMANDS))
def test_registered_help_is_the_commands_own(name: str) -> None:
    """The listing's line (kept beside the name, so --help imports nothing) matches the command's docstring."""
    command = load_command(name, COMMANDS[name])
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name].help


def test_a_command_runs_through_the_lazy_group() -> None:
    result = runner.invoke(app, ["entropy", "--help"])
    assert result.exit_code == 0, result.output
    assert "assess" in result.output
    wrong = runner.invoke(app, ["entropi"])
    assert wrong.exit_code == 2
    assert "No such command" in wrong.output


RUN_CLI = (
    "import sys\nfrom fipsforge.cli import main\nsys.argv = ['fipsforge', *{argv!r}]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass"
)


def test_a_subcommands_help_imports_neither_its_work_nor_pydantic(tmp_path: Path) -> None:
    statement = RUN_CLI.format(argv=["entropy", "assess", "--help"])
    assert imported_after(statement, ["numba", "fipsforge.entropy.estimators", "pydantic"]) == []
    # Negative control: running the command for real imports the estimators of the track it runs.
    samples = tmp_path / "bits.bin"
    rng = random.Random(1)
    samples.write_bytes(bytes(rng.getrandbits(1) for _ in range(10_000)))
    track = ["fipsforge.entropy.estimators", "fipsforge.entropy.noniid", "fipsforge.entropy.iid"]
    statement = RUN_CLI.format(argv=["entropy", "assess", str(samples), "--json"])
    assert imported_after(statement, track) == track[:2]


def test_json_output_needs_no_rich() -> None:
    # `--json` commands print through fipsforge.console without drawing: rich stays unimported.
    assert imported_after("from fipsforge.console import print_json\nprint_json({'a': 1})", ["rich"]) == []
    # Negative control: the first use of the stderr console imports it, and progress bars draw on it.
    statement = (
        "from fipsforge.console import progress, stderr_console\nassert progress().console is stderr_console"
    )
    assert imported_after(statement, ["rich"]) == ["rich"]
