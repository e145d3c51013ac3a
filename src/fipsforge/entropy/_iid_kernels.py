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

from fipsforge.entropy._iid_layout import LAGS, STATISTICS

_jit = njit(cache=True, nogil=True)

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
def _ordered_statistics(x: np.ndarray, products: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
    """Directional runs (1-3) and periodicity (8-12) on x, covariance (13-17) on `products`."""
    m = x.shape[0]
    if active[1] or active[2] or active[3]:
        # Written without branches on the data (random signs defeat branch prediction): where the
        # current run started is a select, and its length is folded into `longest` at every step.
        # Each step's dependencies are one-cycle operations, not a multiply.
        count = 1 if m > 1 else 0
        longest = 1 if m > 1 else 0
        start = 0
        ups = 0
        previous = m > 1 and x[0] <= x[1]
        ups += previous
        for i in range(1, m - 1):
            up = x[i] <= x[i + 1]
            ups += up
            change = up != previous
            count += change
            start = i if change else start
            longest = max(longest, i - start + 1)
            previous = up
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
        running = 0.0
        best = 0.0
        for i in range(n):
            running += raw[i]
            d = abs(running - (i + 1) * raw_mean)
            if d > best:
                best = d
        out[0] = best
    if active[4] or active[5]:
        cut = 0.5 if binary else median
        count = 1 if n > 0 else 0
        longest = 1 if n > 0 else 0
        start = 0
        below = n > 0 and symbols[0] < cut
        for i in range(1, n):  # branch-free, as for the directional runs
            now = symbols[i] < cut
            change = now != below
            count += change
            start = i if change else start
            longest = max(longest, i - start + 1)
            below = now
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


@_jit
def shuffle(values: np.ndarray, seed: np.uint64) -> None:
    """Fisher-Yates shuffle in place (splitmix64 + Lemire bounds); one seed, one permutation."""
    state = seed
    for i in range(values.shape[0] - 1, 0, -1):
        state += np.uint64(0x9E3779B97F4A7C15)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        bound = np.uint64(i + 1)
        # multiply-shift: the high 64 bits of z * bound, via 32-bit halves
        hi_z = z >> np.uint64(32)
        lo_z = z & np.uint64(0xFFFFFFFF)
        j = np.int64((hi_z * bound + ((lo_z * bound) >> np.uint64(32))) >> np.uint64(32))
        a = values[i]
        values[i] = values[j]
        values[j] = a
