"""`fipsforge entropy assess`: JSON fields, text wording, and one-line errors for bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fipsforge.cli import app, main
from fipsforge.entropy import noniid, samples
from fipsforge.errors import FipsforgeError

runner = CliRunner()


@pytest.fixture
def nibbles(tmp_path: Path) -> Path:
    path = tmp_path / "nibbles.bin"
    path.write_bytes(np.random.default_rng(7).integers(0, 16, 20_000, dtype=np.uint8).tobytes())
    return path


def test_json_has_one_field_per_estimator_and_the_closing_three(nibbles: Path) -> None:
    result = runner.invoke(app, ["entropy", "assess", str(nibbles), "--bits", "4", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    for form in ("literal", "bitstring"):
        for key in ("mcv", "t_tuple", "lrs", "multi_mcw", "lag", "multi_mmc", "lz78y"):
            assert isinstance(document[f"{form}_{key}"], float)
    for key in ("collision", "markov", "compression"):
        assert isinstance(document[f"bitstring_{key}"], float)
    expected = min(4.0, document["h_original"], 4 * document["h_bitstring"])
    assert document["assessed_min_entropy"] == pytest.approx(expected)


def test_text_uses_the_reference_wording(nibbles: Path) -> None:
    result = runner.invoke(app, ["entropy", "assess", str(nibbles), "--bits", "4"])
    assert result.exit_code == 0
    assert "Literal MultiMMC Prediction Estimate: P_global' = " in result.stdout
    assert "Bitstring Collision Estimate: X-bar = " in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("Assessed min entropy: ")


def test_symbols_wider_than_bits_is_an_error(nibbles: Path) -> None:
    with pytest.raises(FipsforgeError, match=r"wider than --bits 3"):
        samples.load(nibbles, 3)
    assert samples.load(nibbles, 4).bits == 4  # negative control: the right width loads


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(FipsforgeError, match=r"empty\.bin: empty"):
        samples.load(empty, 8)


def test_single_symbol_is_an_error() -> None:
    with pytest.raises(FipsforgeError, match="same symbol"):
        samples.from_array(np.zeros(1000, dtype=np.uint8), 8)


def test_too_few_samples_names_the_estimator_and_its_need() -> None:
    short = samples.from_array(np.random.default_rng(8).integers(0, 16, 3000, dtype=np.uint8), 4)
    with pytest.raises(
        FipsforgeError, match=r"MultiMCW Prediction Estimate \(SP 800-90B §6\.3\.7\) needs at least 4096"
    ):
        noniid.assess(short)
    enough = samples.from_array(np.random.default_rng(8).integers(0, 16, 4096, dtype=np.uint8), 4)
    assert noniid.assess(enough).assessed_min_entropy > 0  # negative control


def test_too_few_bits_for_compression_names_it() -> None:
    short = samples.from_array(np.random.default_rng(9).integers(0, 2, 5000, dtype=np.uint8), 1)
    with pytest.raises(FipsforgeError, match=r"Compression Estimate .*needs at least 6006 samples"):
        noniid.assess(short)


def test_cli_prints_one_line_error_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    monkeypatch.setattr(sys, "argv", ["fipsforge", "entropy", "assess", str(empty)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "empty.bin: empty" in capsys.readouterr().err


def test_iid_json_and_restart_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(31)
    main_file = tmp_path / "main.bin"
    main_file.write_bytes(rng.integers(0, 16, 20_000, dtype=np.uint8).tobytes())
    restart_file = tmp_path / "restart.bin"
    restart_file.write_bytes(rng.integers(0, 16, 1_000_000, dtype=np.uint8).tobytes())
    args = [
        "entropy",
        "assess",
        str(main_file),
        "--bits",
        "4",
        "--iid",
        "--restart",
        str(restart_file),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["track"] == "iid" and isinstance(document["literal_mcv"], float)
    assert len(document["permutation"]) == 19 and document["iid"] is True
    assert document["restart"]["h_i"] == document["assessed_min_entropy"]
    assert document["restart"]["sanity_passed"] and document["restart"]["validation_passed"]


def test_health_json(tmp_path: Path) -> None:
    recording = tmp_path / "samples.bin"
    recording.write_bytes(np.random.default_rng(32).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    result = runner.invoke(app, ["entropy", "health", str(recording), "--h", "4", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["rct"]["cutoff"] == 1 + 30 // 4 + 1  # 1 + ceil(30 / 4)
    assert document["rct"]["failures"] == 0 and document["apt"]["failures"] == 0
    text = runner.invoke(app, ["entropy", "health", str(recording), "--h", "4", "--osr", "5"]).stdout
    assert "RCT cutoff 150" in text and "APT cutoff 488 of 512" in text  # the library's own, beside ours


def test_collect_cli_reduced(tmp_path: Path) -> None:
    out = tmp_path / "noise"
    result = runner.invoke(
        app, ["entropy", "collect", str(out), "--samples", "5000", "--restarts", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["samples"] == 5000 and document["restarts"] == 0
    assert (out / "samples-8bit.bin").stat().st_size == 5000
    bad = runner.invoke(app, ["entropy", "collect", str(tmp_path / "x"), "--flag", "no-such-flag"])
    assert bad.exit_code != 0
