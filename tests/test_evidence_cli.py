"""The `fipsforge evidence` command group: the default `run` command, `probe`, --json and errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fipsforge.errors import FipsforgeError
from fipsforge.evidence.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "deployment"
runner = CliRunner()


def _args(out: Path) -> list[str]:
    verify = [arg for path in sorted((EXAMPLE / "verify").glob("*.json")) for arg in ("--verify", str(path))]
    return [str(EXAMPLE / "k8s"), "--overlay", str(EXAMPLE / "overlay.yaml"), *verify,
            "--scan", str(EXAMPLE / "scans" / "grype-api.json"), "--out", str(out), "--today", "2026-11-27",
            "--no-run-verify"]  # fmt: skip


def test_manifest_first_runs_the_default_command(tmp_path: Path) -> None:
    out = tmp_path / "ev"
    result = runner.invoke(app, [*_args(out), "--json"])
    assert result.exit_code == 0, result.output
    evidence = json.loads(result.stdout)
    assert len(evidence["flows"]) == 7 and (out / "report.html").exists()
    # the explicit form is the same command
    explicit = runner.invoke(app, ["run", *_args(tmp_path / "ev2"), "--json"])
    assert explicit.exit_code == 0 and len(json.loads(explicit.stdout)["flows"]) == 7
    # options before the manifest still reach `run`
    leading = runner.invoke(app, ["--today", "2026-11-27", *_args(tmp_path / "ev3")])
    assert leading.exit_code == 0, leading.output


def test_help_and_probe_are_not_swallowed() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "probe" in result.stdout and "run" in result.stdout
    result = runner.invoke(app, ["probe", "not-a-target"])
    assert isinstance(result.exception, FipsforgeError)
    assert "not-a-target: want HOST:PORT" in str(result.exception)


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nmetadata: {name: x\n")
    result = runner.invoke(app, [str(bad), "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, FipsforgeError)
    assert str(result.exception).startswith(f"{bad}:3: malformed YAML")
    assert not (tmp_path / "out").exists()  # nothing half-written
    result = runner.invoke(app, [str(EXAMPLE / "k8s"), "--out", str(tmp_path / "o"), "--today", "27/11/2026"])
    assert "--today: '27/11/2026' is not a date" in str(result.exception)
