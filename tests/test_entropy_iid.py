"""The IID track: permutation statistics, chi-square and LRS tests, and their verdicts."""

from __future__ import annotations

import bz2
import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fipsforge.entropy import _iid_kernels as ik
from fipsforge.entropy import iid, samples
from fipsforge.errors import FipsforgeError


def uniform(n: int, bits: int, seed: int) -> samples.Samples:
    data = np.random.default_rng(seed).integers(0, 1 << bits, n, dtype=np.uint8)
    return samples.from_array(data, bits)


def test_compression_statistic_is_bzip2_of_decimal_text() -> None:
    raw = np.array([0, 7, 10, 99, 100, 255], dtype=np.uint8)
    assert ik.decimal_text(raw).tobytes() == b"0 7 10 99 100 255"
    assert iid.compressed_length(raw) == len(bz2.compress(b"0 7 10 99 100 255", 5))


def test_statistics_on_a_known_sequence() -> None:
    symbols = np.array([1, 3, 2, 2, 0, 1, 3, 0], dtype=np.uint8)
    out = np.zeros(ik.STATISTICS)
    ik.statistics(symbols, symbols, 4, 1.5, 1.5, np.ones(ik.STATISTICS, dtype=np.bool_), out)
    # steps (-1 where x[i] > x[i+1], else +1): + - + - + + -, so 6 runs, the longest 2, 4 of 7 up
    assert out[1] == 6 and out[2] == 2 and out[3] == 4
    assert out[8] == 1  # periodicity(1): one equal neighbour (2, 2)
    assert out[13] == 1 * 3 + 3 * 2 + 2 * 2 + 2 * 0 + 0 * 1 + 1 * 3 + 3 * 0  # covariance(1)
    assert out[0] == pytest.approx(2.0)  # excursion: running sums 1,4,6,8,8,9,12,12 vs 1.5 (i+1)


def test_chi_square_p_value_matches_known_values() -> None:
    assert iid.chi_square_p_value(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-9)
    assert iid.chi_square_p_value(18.307038053275146, 10) == pytest.approx(0.05, rel=1e-9)
    assert iid.chi_square_p_value(1e-9, 5) == pytest.approx(1.0)


def test_iid_data_passes_every_test() -> None:
    result = iid.assess(uniform(50_000, 4, 11), seed=1)
    assert result.chi_square_passed and result.lrs_passed and result.permutation_passed
    assert result.iid
    assert 0 < result.permutations_run < iid.PERMUTATIONS  # stopped early once every verdict was settled


def test_negative_control_correlated_data_fails() -> None:
    rng = np.random.default_rng(12)
    walk = np.cumsum(rng.integers(-1, 2, 50_000)) % 16  # a random walk: strongly dependent
    result = iid.assess(samples.from_array(walk.astype(np.uint8), 4), permutations=200, seed=2)
    assert not result.permutation_passed
    assert not result.iid
    failed = {p.name for p in result.permutation if not p.passed}
    assert "periodicity(1)" in failed or "numDirectionalRuns" in failed


def test_binary_data_uses_the_byte_conversions() -> None:
    result = iid.assess(uniform(40_000, 1, 13), seed=3)
    assert result.binary and result.h_bitstring is None
    assert result.iid


def test_agrees_with_reference_verdicts() -> None:
    import sp800_90b as sp  # the reference C++ code, installed by scripts/bootstrap.sh

    data = uniform(30_000, 8, 14)
    reference = sp.Data(data.raw.tobytes(), 8, False)
    ours = iid.assess(data, seed=4)
    assert ours.chi_square_passed == reference.chi_square_tests()
    assert ours.lrs_passed == reference.lrs_tests()


def test_too_few_samples_for_the_iid_track() -> None:
    with pytest.raises(FipsforgeError, match=r"needs at least 20 samples"):
        iid.assess(samples.from_array(np.arange(10, dtype=np.uint8), 4))


def _runs(flags: np.ndarray) -> tuple[int, int]:
    """Number of runs of equal flags and the longest, by numpy: the kernels' branch-free loops' reference."""
    boundaries = np.flatnonzero(flags[1:] != flags[:-1]) + 1
    lengths = np.diff(np.concatenate(([0], boundaries, [flags.shape[0]])))
    return int(boundaries.shape[0]) + 1, int(lengths.max())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=3, max_size=400))
def test_run_statistics_match_a_plain_count(values: list[int]) -> None:
    assume(len(set(values)) > 2)  # one symbol is refused; binary data goes through the byte conversions
    data = samples.from_array(np.array(values, dtype=np.uint8), 4)
    _, median = iid.baseline(data)
    out = np.zeros(ik.STATISTICS)
    ik.statistics(data.symbols, data.raw, data.alphabet, 0.0, median, np.ones(ik.STATISTICS, np.bool_), out)
    x = data.symbols.astype(np.int64)
    ups = x[1:] >= x[:-1]
    assert (out[1], out[2]) == _runs(ups)
    assert out[3] == max(int(ups.sum()), ups.shape[0] - int(ups.sum()))
    assert (out[4], out[5]) == _runs(x < median)


def test_run_reference_counts_runs() -> None:
    # Negative control for the reference itself: a known sequence of flags.
    assert _runs(np.array([1, 1, 0, 1, 1, 1, 0, 0])) == (4, 3)


def test_one_worker_with_a_seed_counts_the_same_every_time() -> None:
    # Several rows finish together once only the cheap statistics are open; they must be counted in
    # the order they were drawn, or a statistic that closes among them gets different counts.
    data = uniform(8000, 8, 21)
    runs = [iid.permutation_tests(data, 60, seed=5, workers=1) for _ in range(4)]
    assert all(run == runs[0] for run in runs)
    # Negative control: the counts do depend on the permutations drawn.
    assert iid.permutation_tests(data, 60, seed=6, workers=1) != runs[0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=40), st.integers(0, 1))
def test_word_at_a_time_runs_match_a_plain_count(lengths: list[int], first: int) -> None:
    # Runs of chosen lengths, so that streaks span words, fill whole words and end on word edges.
    flags = np.concatenate([np.full(length, (first + i) % 2, np.uint8) for i, length in enumerate(lengths)])
    n = flags.shape[0]
    buffer = ik._flag_buffer(n)
    buffer[:n] = flags
    count, longest, ones = ik._flag_runs(buffer, n)
    assert (count, longest) == _runs(flags)
    assert ones == int(flags.sum())


def test_word_at_a_time_runs_ignore_flags_past_the_end() -> None:
    buffer = ik._flag_buffer(64)
    buffer[:] = 1
    assert ik._flag_runs(buffer, 64) == (1, 64, 64)
    assert ik._flag_runs(buffer, 63) == (1, 63, 63)  # the 64th flag, set, is not counted
    assert ik._flag_runs(buffer, 1) == (1, 1, 1)
    buffer[63] = 0
    assert ik._flag_runs(buffer, 63) == (1, 63, 63)  # the 64th flag is not read
    assert ik._flag_runs(buffer, 64) == (2, 63, 63)  # negative control: read, it ends the run
    assert ik._flag_runs(buffer, 0) == (0, 0, 0)


def _permutation_counts(shuffle: Callable[[np.ndarray, int], None], seeds: int) -> np.ndarray:
    counts: dict[tuple[int, ...], int] = {}
    for seed in range(seeds):
        values = np.arange(4, dtype=np.uint8)
        shuffle(values, seed)
        counts[tuple(values.tolist())] = counts.get(tuple(values.tolist()), 0) + 1
    return np.array([counts.get(p, 0) for p in itertools.permutations(range(4))])


def _uniform_p_value(counts: np.ndarray) -> float:
    expected = counts.sum() / counts.shape[0]
    return iid.chi_square_p_value(float(((counts - expected) ** 2 / expected).sum()), counts.shape[0] - 1)


def test_shuffle_draws_every_permutation_alike() -> None:
    ours = _permutation_counts(lambda values, seed: ik.shuffle(values, np.uint64(seed)), 24_000)
    assert _uniform_p_value(ours) > 1e-4

    def naive(values: np.ndarray, seed: int) -> None:  # swaps with any position: a known bias
        rng = np.random.default_rng(seed)
        for i in range(values.shape[0] - 1, 0, -1):
            j = int(rng.integers(0, values.shape[0]))
            values[i], values[j] = values[j], values[i]

    assert _uniform_p_value(_permutation_counts(naive, 24_000)) < 1e-6  # negative control


def test_shuffle_indices_are_unbiased_for_large_bounds() -> None:
    # Below 3 * 2**30, multiply-shift alone maps two 32-bit draws to every index divisible by 3 and one
    # to the others (half the draws land on a third of the indices); the rejection step evens that out.
    bound = np.uint64(3 << 30)
    draws = np.random.default_rng(8).integers(0, 1 << 32, 30_000, dtype=np.uint64)
    indices = np.array([int(ik._below(d, bound, np.uint64(i))[0]) for i, d in enumerate(draws)])
    assert indices.max() < int(bound)
    assert abs(float(np.mean(indices % 3 == 0)) - 1 / 3) < 0.02
    plain = (draws * bound) >> np.uint64(32)  # negative control: no rejection
    assert abs(float(np.mean(plain % np.uint64(3) == 0)) - 1 / 2) < 0.02


def _segment_collisions(values: list[int]) -> tuple[float, int]:
    """The reference's collision scan, plainly: segments end at their first repeated value."""
    distances = []
    seen: set[int] = set()
    start = 0
    for p, value in enumerate(values):
        if value in seen:
            distances.append(p - start)
            seen = set()
            start = p + 1
        else:
            seen.add(value)
    return (sum(distances) / len(distances) if distances else float("nan")), max(distances, default=0)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 256).flatmap(
        lambda k: st.tuples(st.just(k), st.lists(st.integers(0, k - 1), max_size=600))
    )
)
def test_collision_statistics_match_a_plain_scan(case: tuple[int, list[int]]) -> None:
    k, values = case  # alphabets up to 64 take the one-word scan, larger ones the table
    average, most = ik._collisions(np.array(values, dtype=np.uint8), k)
    expected_average, expected_most = _segment_collisions(values)
    assert most == expected_most
    assert average == pytest.approx(expected_average, nan_ok=True)


def test_segment_collisions_reference() -> None:
    # Negative control for the reference: segments 0 1 0 | 2 2 | 1 give distances 2 and 1.
    assert _segment_collisions([0, 1, 0, 2, 2, 1]) == (1.5, 2)
