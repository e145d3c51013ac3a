"""Compiled test statistics of the SP 800-90B §5.1 permutation tests (all but compression).

Statistic indices follow the reference tool's order: 0 excursion, 1 number of directional runs,
2 length of directional runs, 3 number of increases/decreases, 4 number of runs based on the median,
5 length of runs based on the median, 6 average collision, 7 maximum collision, 8-12 periodicity
(lags 1, 2, 8, 16, 32), 13-17 covariance (same lags), 18 compression (`bzip2_size`).
"""

# Inside compiled kernels Python ints and numpy int64 scalars are the same machine type:
# mypy: disable-error-code="assignment,arg-type"

from __future__ import annotations

import numpy as np
from numba import njit

from fipsforge.entropy._bits import leading_zeros, popcount, trailing_zeros
from fipsforge.entropy._iid_layout import LAGS, STATISTICS

_jit = njit(cache=True, nogil=True)

U64 = np.uint64
ALL_ONES = U64(0xFFFFFFFFFFFFFFFF)
# Eight 0/1 bytes of a little-endian word times this, shifted down 56, are one byte, first flag highest.
GATHER_FLAGS = U64(0x8040201008040201)

__all__ = ["LAGS", "STATISTICS"]


@_jit
def group_sums(bits: np.ndarray) -> np.ndarray:
    """Binary data: the sum of each group of 8 bits (the last group may be short)."""
    n = bits.shape[0]
    out = np.zeros((n + 7) // 8, dtype=np.int64)
    for i in range(n):
        out[i // 8] += bits[i]
    return out


@_jit
def group_bytes(bits: np.ndarray) -> np.ndarray:
    """Binary data: each group of 8 bits as a byte, first bit most significant."""
    n = bits.shape[0]
    out = np.zeros((n + 7) // 8, dtype=np.int64)
    for i in range(n):
        out[i // 8] += np.int64(bits[i]) << (7 - i % 8)
    return out


@_jit
def _collisions(x: np.ndarray, k: int) -> tuple[float, int]:
    """Average and maximum of the distances to the first repeated value, scanning in segments."""
    if k <= 64:
        return _collisions_in_a_word(x)
    n = x.shape[0]
    seen = np.zeros(k, dtype=np.int64)  # the segment in which each value was last seen: no reset per segment
    segment = 0
    total = 0
    count = 0
    most = 0
    i = 0
    j = 0
    while i + j < n:
        segment += 1
        while i + j < n:
            if seen[x[i + j]] == segment:
                total += j
                count += 1
                if j > most:
                    most = j
                i += j
                j = 0
                break
            seen[x[i + j]] = segment
            j += 1
        i += 1
    average = total / count if count > 0 else np.nan
    return average, most


@_jit
def _collisions_in_a_word(x: np.ndarray) -> tuple[float, int]:
    """`_collisions` for values below 64: the segment's values as bits of one word, and every step
    a select, so that where a segment ends (random) costs no mispredicted branch."""
    seen = U64(0)
    start = 0
    total = 0
    count = 0
    most = 0
    for p in range(x.shape[0]):
        bit = U64(1) << U64(x[p])
        repeated = (seen & bit) != U64(0)
        distance = p - start if repeated else 0
        total += distance
        count += repeated
        most = max(most, distance)
        start = p + 1 if repeated else start
        seen = U64(0) if repeated else seen | bit
    average = total / count if count > 0 else np.nan
    return average, most


@_jit
def _flag_buffer(n: int) -> np.ndarray:
    """Room for n 0/1 flags, zero-filled up to whole 64-flag words."""
    return np.zeros(max((n + 63) // 64, 1) * 64, dtype=np.uint8)


@_jit
def _flag_runs(flags: np.ndarray, n: int) -> tuple[int, int, int]:
    """Runs of equal values in the first n 0/1 flags: (how many, the longest, how many flags are 1).

    Works a 64-flag word at a time: flags packed first-highest, each compared with its successor, so
    that a run is a streak of set bits in `same`; its count is a population count and the longest
    streak comes from each word's leading, inner and trailing streaks."""
    if n <= 0:
        return 0, 0, 0
    words = flags.shape[0] // 64
    groups = flags.view(np.uint64)
    packed = np.empty(words + 1, dtype=np.uint64)
    for w in range(words):
        word = U64(0)
        for g in range(8):
            word = (word << U64(8)) | ((groups[8 * w + g] * GATHER_FLAGS) >> U64(56))
        packed[w] = word
    packed[words] = U64(0)
    for w in range(n // 64, words):  # flags past the first n are not the caller's: cleared
        kept = n - 64 * w
        packed[w] &= ALL_ONES << U64(64 - kept) if kept > 0 else U64(0)
    ones = 0
    changes = 0
    longest_streak = 0
    streak = 0
    pairs = n - 1  # flag e and e + 1 are compared for e < n - 1; bit 63 - e % 64 of word e // 64
    for w in range(words):
        word = packed[w]
        ones += int(popcount(word))
        following = (word << U64(1)) | (packed[w + 1] >> U64(63))
        same = ~(word ^ following)
        left = pairs - 64 * w
        if left < 64:
            valid = U64(0) if left <= 0 else ALL_ONES << U64(64 - left)
            same &= valid
            changes += int(popcount(~same & valid))
        else:
            changes += int(popcount(~same))
        if same == ALL_ONES:
            streak += 64
            continue
        longest_streak = max(longest_streak, streak + int(leading_zeros(~same)))
        inner = 0
        rest = same
        while rest != U64(0):  # each pass shortens every streak by one
            rest &= rest << U64(1)
            inner += 1
        longest_streak = max(longest_streak, inner)
        streak = int(trailing_zeros(~same))
    longest_streak = max(longest_streak, streak)
    return changes + 1, longest_streak + 1, ones


@_jit
def _ordered_statistics(x: np.ndarray, products: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
    """Directional runs (1-3) and periodicity (8-12) on x, covariance (13-17) on `products`."""
    m = x.shape[0]
    if active[1] or active[2] or active[3]:
        flags = _flag_buffer(m - 1)
        for i in range(m - 1):
            flags[i] = x[i] <= x[i + 1]
        count, longest, ups = _flag_runs(flags, m - 1)
        out[1] = count
        out[2] = longest
        out[3] = max(ups, m - 1 - ups)
    for t in range(5):
        p = LAGS[t]
        if active[8 + t]:
            hits = 0
            for i in range(m - p):
                hits += x[i] == x[i + p]
            out[8 + t] = hits
        if active[13 + t]:
            total = 0
            for i in range(m - p):
                total += np.int64(products[i]) * np.int64(products[i + p])
            out[13 + t] = total


@_jit
def statistics(
    symbols: np.ndarray,
    raw: np.ndarray,
    k: int,
    raw_mean: float,
    median: float,
    active: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill out[0..17] with the statistics still `active` for one (possibly shuffled) sequence.

    Binary data goes through the reference's conversions: sums of 8-bit groups for the directional,
    periodicity and covariance statistics, 8-bit groups as bytes for the collision statistics."""
    n = symbols.shape[0]
    binary = k == 2
    if active[0]:
        # An integer running sum: the reference's sum of doubles is exact below 2**53 and equal to it,
        # and an integer add does not hold each step up for a floating add's latency.
        running = 0
        best = 0.0
        for i in range(n):
            running += raw[i]
            best = max(best, abs(np.float64(running) - (i + 1) * raw_mean))
        out[0] = best
    if active[4] or active[5]:
        # Symbols are integers: below the median exactly when below its ceiling.
        cut = np.uint8(np.ceil(0.5 if binary else median))
        flags = _flag_buffer(n)
        for i in range(n):
            flags[i] = symbols[i] < cut
        count, longest, _ = _flag_runs(flags, n)
        out[4] = count
        out[5] = longest
    if active[6] or active[7]:
        if binary:
            average, most = _collisions(group_bytes(symbols), 256)
        else:
            average, most = _collisions(symbols, k)
        out[6] = average
        out[7] = most
    if binary:
        sums = group_sums(symbols)
        _ordered_statistics(sums, sums, active, out)
    else:
        _ordered_statistics(symbols, raw, active, out)


@_jit
def decimal_text(raw: np.ndarray) -> np.ndarray:
    """The samples as space-separated decimal text (no trailing space), as bytes."""
    n = raw.shape[0]
    out = np.empty(4 * n, dtype=np.uint8)
    at = 0
    for i in range(n):
        v = raw[i]
        if v >= 100:
            out[at] = 48 + v // 100
            at += 1
        if v >= 10:
            out[at] = 48 + (v // 10) % 10
            at += 1
        out[at] = 48 + v % 10
        at += 1
        out[at] = 32
        at += 1
    return out[: max(at - 1, 0)]


@njit(inline="always")
def _splitmix64(state: np.uint64) -> np.uint64:
    z = state
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


@njit(inline="always")
def _below(draw: np.uint64, bound: np.uint64, state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """A uniform index below `bound` (at most 2**32) from a 32-bit draw, Lemire's multiply-shift with
    its rejection step, so that no index is favoured; returns it and the generator's state."""
    product = draw * bound
    if (product & U64(0xFFFFFFFF)) < bound:
        threshold = (U64(0x100000000) - bound) % bound
        while (product & U64(0xFFFFFFFF)) < threshold:
            state += U64(0x9E3779B97F4A7C15)
            product = (_splitmix64(state) >> U64(32)) * bound
    return product >> U64(32), state


@_jit
def shuffle(values: np.ndarray, seed: np.uint64) -> None:
    """Fisher-Yates shuffle in place; one seed, one permutation.

    splitmix64 gives 64 random bits per step, two 32-bit draws, each made an exact index by `_below`:
    half the generator's multiplies of one draw per index."""
    if values.shape[0] > 2**32:
        raise ValueError("shuffle: at most 2**32 values")
    state = seed
    i = values.shape[0] - 1
    while i >= 1:
        state += U64(0x9E3779B97F4A7C15)
        bits = _splitmix64(state)
        j, state = _below(bits >> U64(32), U64(i + 1), state)
        a = values[i]
        values[i] = values[j]
        values[j] = a
        i -= 1
        if i >= 1:
            j, state = _below(bits & U64(0xFFFFFFFF), U64(i + 1), state)
            a = values[i]
            values[i] = values[j]
            values[j] = a
            i -= 1
