"""Collecting raw jitter noise from the stack's libjitterentropy, on a reduced size; health tests; report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fipsforge.entropy import collect, health, jent_flags, report, restart, samples
from fipsforge.errors import FipsforgeError


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("collect") / "run"
    collect.collect(out, samples=20_000, restarts=10, restart_samples=100)
    return out


def test_collect_writes_deltas_masked_samples_and_sidecar(recording: Path) -> None:
    info = json.loads((recording / "collect.json").read_text())
    assert info["library_version"].startswith("3.4.")
    assert info["osr"] == 3 and info["flags"] == jent_flags.JENT_FORCE_FIPS
    assert info["host"]["kernel"] and info["host"]["cpu"]
    deltas = np.fromfile(recording / "raw-deltas.u64", dtype="<u8")
    assert deltas.shape == (20_000,)
    assert deltas.min() > 0 and np.unique(deltas).size > 10  # real, varying timer deltas
    low8 = np.fromfile(recording / "samples-8bit.bin", dtype=np.uint8)
    low4 = np.fromfile(recording / "samples-4bit.bin", dtype=np.uint8)
    assert np.array_equal(low8, (deltas & 0xFF).astype(np.uint8))
    assert np.array_equal(low4, (deltas & 0x0F).astype(np.uint8)) and low4.max() <= 0x0F
    assert np.fromfile(recording / "restart-deltas.u64", dtype="<u8").shape == (1000,)
    for name, digest in info["files"].items():
        assert len(digest) == 64 and (recording / name).is_file()
    assert samples.load(recording / "samples-4bit.bin", 4).bits == 4  # loads in the NIST tool's format


def test_collect_rejects_a_tree_that_is_not_jitterentropy(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError, match="not a jitterentropy source tree"):
        collect.collect(tmp_path / "out", samples=10, restarts=0, source=tmp_path)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_library_apt_table_is_reproduced_by_the_corrected_cutoff() -> None:
    for osr, table in enumerate(health.JENT_APT_CUTOFFS, start=1):
        assert health.apt_cutoff(1.0 / osr, 30, health.JENT_APT_WINDOW) == table
    # negative control: the uncorrected 1 + CRITBINOM(W, ...) of §4.4.2 differs for some osr
    uncorrected = [1 + health.critbinom(512, 2 ** (-1 / osr), 1 - 2**-30) for osr in range(1, 16)]
    assert uncorrected != list(health.JENT_APT_CUTOFFS)


def test_rct_cutoff_formula() -> None:
    assert health.rct_cutoff(1.0, 20) == 21
    assert health.rct_cutoff(1 / 3, 30) == 91
    assert health.rct_cutoff(0.5, 30) == 1 + math.ceil(30 / 0.5)


def test_health_passes_recording_and_fails_planted_faults(recording: Path, tmp_path: Path) -> None:
    ok = health.run(recording / "raw-deltas.u64", h=0.5, osr=3)
    assert ok.rct.failures == 0 and ok.library_rct is not None and ok.library_rct.failures == 0
    deltas = np.fromfile(recording / "raw-deltas.u64", dtype="<u8")
    bad = deltas.copy()
    bad[1000:1200] = bad[1000]  # stuck for 200 samples
    faulty = tmp_path / "faulty.u64"
    bad.astype("<u8").tofile(faulty)
    result = health.run(faulty, h=0.5, osr=3)
    assert result.rct.failures == 1 and result.rct.worst >= 200
    assert result.library_rct is not None and result.library_rct.failures == 1
    proportion = deltas.copy()
    proportion[4096 : 4096 + 1024 : 2] = proportion[4096]  # half of one window repeats its first value
    proportion.astype("<u8").tofile(faulty)
    result = health.run(faulty, h=2.0, osr=3)
    assert result.apt.failures == 1 and result.apt.worst >= 512 and result.rct.failures == 0
    assert health.run(recording / "raw-deltas.u64", h=2.0).apt.failures == 0  # negative control


def test_restart_sanity_and_validation() -> None:
    data = np.random.default_rng(21).integers(0, 16, 1_000_000, dtype=np.uint8)
    ok = restart.restart_tests(samples.from_array(data, 4), h_i=3.5, iid=True)
    assert ok.sanity_passed and ok.validation_passed and ok.min_entropy is not None
    # negative control: every restart starts the same way (first 300 samples of each row identical)
    stuck = data.reshape(1000, 1000).copy()
    stuck[:, :300] = 5
    bad = restart.restart_tests(samples.from_array(stuck.reshape(-1), 4), h_i=3.5, iid=True)
    assert not bad.sanity_passed and bad.x_max >= 1000 and not bad.validation_passed


def test_restart_needs_a_full_matrix() -> None:
    with pytest.raises(FipsforgeError, match=r"1000 restarts x 1000 samples"):
        restart.restart_tests(samples.from_array(np.arange(100, dtype=np.uint8) % 4, 2), 1.0, iid=True)


def test_osr_verdict_and_recommendation() -> None:
    assert report.judge(0.5, 3).passed and report.recommend_osr(0.5) == 3
    assert not report.judge(0.2, 3).passed and report.recommend_osr(0.2) == 6
    assert 1 / report.recommend_osr(0.2) < 0.2


def test_report_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = report.report(out, samples_count=8000, restarts=0)
    assert (out / "deltas-histogram.png").stat().st_size > 1000
    assert (out / "deltas-autocorrelation.png").stat().st_size > 1000
    stored = json.loads((out / "report.json").read_text())
    assert stored["verdict"]["osr"] == 3 and stored["assessed_min_entropy"] == result.assessed_min_entropy
    assert "Assessed min entropy:" in (out / "assessment.txt").read_text()


def test_restart_cutoff_is_the_maximum_over_the_alphabet() -> None:
    # P(max count <= x) computed exactly agrees with a simulation of the same multinomial
    counts = np.random.default_rng(22).multinomial(1000, [0.2] * 4 + [0.1] * 2, size=100_000).max(axis=1)
    for x in (215, 225, 235):
        exact = restart.max_count_at_most(1000, [(0.2, 4), (0.1, 2)], x)
        assert abs(exact - float(np.mean(counts <= x))) < 0.005
    alpha = 1 - math.exp(math.log(0.99) / 2000)
    # one symbol at p = 1/2 (and one at 1/2): the maximum of two counts needs a higher cutoff
    single = restart.binomial_upper_critical(1000, 0.5, alpha)
    assert restart.max_count_cutoff(1000, 2, 1.0, alpha) > single  # negative control: they differ
    assert restart.max_count_cutoff(1000, 2, 1.0, alpha) == 1000 - _lowest_passing_minimum(alpha)


def _lowest_passing_minimum(alpha: float) -> int:
    """For two symbols at 1/2, max <= x iff min >= 1000 - x: find the cutoff from the binomial lower tail."""
    logs = [
        math.lgamma(1001) - math.lgamma(i + 1) - math.lgamma(1001 - i) - 1000 * math.log(2)
        for i in range(1001)
    ]
    # P(max > x) = 2 P(Bin < 1000 - x) for x >= 500
    lower = 0.0
    for i in range(501):
        lower += math.exp(logs[i])
        if 2 * lower > alpha:
            return i
    return 500


def test_sampler_names_the_library_init_error() -> None:
    # The stack builds libjitterentropy without its internal (thread) timer, so forcing it must fail cleanly.
    helper = collect.build_helper(collect.source_dir(None))
    with pytest.raises(FipsforgeError, match=r"ENOTIME"):
        collect.record(helper, 3, jent_flags.FLAG_NAMES["force-internal-timer"], 10)
    assert collect.record(helper, 3, jent_flags.DEFAULT_FLAGS, 10).shape == (10,)  # negative control
