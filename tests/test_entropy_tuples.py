"""Tuple counts behind the t-tuple (§6.3.5) and LRS (§6.3.6) estimates: window sort vs suffix array vs brute force."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fipsforge.entropy import _kernels
from fipsforge.entropy import estimators as est


def brute_force(data: np.ndarray) -> tuple[list[int], list[int]]:
    """Most occurrences and sum of C(count, 2) for every length 1..v, by counting every tuple."""
    text = bytes(data.tolist())
    most, pairs = [0], [0]
    w = 1
    while True:
        counts = Counter(text[i : i + w] for i in range(len(text) - w + 1))
        if max(counts.values()) < 2:
            return most, pairs
        most.append(max(counts.values()))
        pairs.append(sum(c * (c - 1) // 2 for c in counts.values()))
        w += 1


WIDTHS = [(2, 300, 1), (2, 2000, 2), (3, 500, 3), (5, 800, 4), (16, 3000, 5), (20, 2000, 6), (40, 3000, 7)]


@pytest.mark.parametrize(("k", "n", "seed"), [*WIDTHS, (100, 3000, 8), (200, 4000, 9)])  # widths 1 to 8 bits
def test_window_sort_equals_suffix_array_and_brute_force(k: int, n: int, seed: int) -> None:
    data = np.random.default_rng(seed).integers(0, k, n, dtype=np.uint8)
    planted = 64 // (k - 1).bit_length() - 2  # a repeat shorter than one 64-bit window
    data[n // 2 : n // 2 + planted] = data[:planted]
    fast = est._adjacent_lcp_by_windows(data)
    assert fast is not None
    slow = est._adjacent_lcp_by_suffix_array(data)
    most_fast, pairs_fast = _kernels.tuple_statistics(fast)
    most_slow, pairs_slow = _kernels.tuple_statistics(slow)
    assert np.array_equal(most_fast, most_slow) and np.array_equal(pairs_fast, pairs_slow)
    most_bf, pairs_bf = brute_force(data)
    assert most_fast[1:].tolist() == most_bf[1:] and pairs_fast[1:].tolist() == pairs_bf[1:]


def test_long_repeats_fall_back_to_the_suffix_array() -> None:
    data = np.tile(np.array([0, 1, 1], dtype=np.uint8), 200)  # periodic: repeats longer than a window
    assert est._adjacent_lcp_by_windows(data) is None
    most, pairs = est.tuple_counts(data)
    assert most.shape[0] - 1 == data.size - 3  # the longest repeat is the whole string minus a period
    expected_most, expected_pairs = brute_force(data)
    assert most[1:].tolist() == expected_most[1:] and pairs[1:].tolist() == expected_pairs[1:]


def test_negative_control_brute_force_sees_a_changed_symbol() -> None:
    data = np.random.default_rng(6).integers(0, 2, 500, dtype=np.uint8)
    changed = data.copy()
    changed[250] ^= 1
    assert brute_force(data) != brute_force(changed)


@pytest.mark.parametrize("top_bits", [64, 63, 40, 8, 0])
def test_radix_sort_orders_windows_as_numpy_does(top_bits: int) -> None:
    # Keys with zero top bits (narrow windows) leave whole byte passes out; the order must not change.
    rng = np.random.default_rng(top_bits)
    keys = rng.integers(0, 2**63, 20_000, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    keys |= rng.integers(0, 2, 20_000).astype(np.uint64)
    keys = keys >> np.uint64(64 - top_bits) if top_bits else np.zeros_like(keys)
    keys[::7] = keys[0]  # repeated keys
    assert np.array_equal(_kernels.radix_sorted(keys), np.sort(keys))
    # Negative control: the comparison sees a single swapped pair.
    wrong = np.sort(keys)
    if wrong[0] != wrong[-1]:
        wrong[[0, -1]] = wrong[[-1, 0]]
        assert not np.array_equal(_kernels.radix_sorted(keys), wrong)
