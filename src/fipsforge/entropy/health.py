"""Continuous health tests (SP 800-90B §4.4): cutoffs for a claimed entropy, and a run over a recording.

Ours follow §4.4 literally: the Repetition Count Test fails on C = 1 + ceil(-log2(alpha) / H)
identical samples in a row; the Adaptive Proportion Test counts, in non-overlapping windows of W
samples (1024, or 512 for binary data), how often the window's first sample occurs, and fails at
C = 2 + CRITBINOM(W - 1, 2^-H, 1 - alpha): the first sample is always counted, so this corrects the
1 + CRITBINOM(W, ...) printed in §4.4.2, as libjitterentropy does.

libjitterentropy runs its own variants on the raw deltas, configured from its osr (H = 1/osr,
alpha = 2^-30): an RCT on its "stuck" indicator (a delta, or its first or second difference, of
zero) with cutoff 30 x osr, and an APT on the deltas with W = 512 and a cutoff from a table.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from fipsforge.errors import FipsforgeError

# libjitterentropy 3.4.x: jent_apt_cutoff_lookup (lib/jitterentropy-health.c), indexed by osr - 1.
JENT_APT_CUTOFFS = (325, 422, 459, 477, 488, 494, 499, 502, 505, 507, 508, 509, 510, 511, 512)
JENT_APT_WINDOW = 512


class TestRun(BaseModel):
    cutoff: int
    window: int | None = None
    failures: int
    worst: int  # longest run (RCT) or largest window count (APT)


class HealthReport(BaseModel):
    file: str
    samples: int
    claimed_h: float
    alpha_log2: int
    rct: TestRun
    apt: TestRun
    library_osr: int
    library_rct: TestRun | None
    library_apt: TestRun | None


def rct_cutoff(h: float, alpha_log2: int) -> int:
    return 1 + math.ceil(alpha_log2 / h)


def critbinom(n: int, p: float, quantile: float) -> int:
    """Smallest k with P(Binomial(n, p) <= k) >= quantile (exact summation in log space)."""
    if p >= 1.0:
        return n
    cdf = 0.0
    for k in range(n + 1):
        log_pmf = (
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * math.log(p)
            + (n - k) * math.log1p(-p)
        )
        cdf += math.exp(log_pmf)
        if cdf >= quantile:
            return k
    return n


def apt_cutoff(h: float, alpha_log2: int, window: int) -> int:
    """The window's first sample is always counted, so the count is 1 + Binomial(W - 1, p): the cutoff
    is 2 + CRITBINOM(W - 1, p, 1 - alpha) (the published correction of §4.4.2's 1 + CRITBINOM(W, ...))."""
    return 2 + critbinom(window - 1, 2.0**-h, 1.0 - 2.0**-alpha_log2)


def longest_runs(flags_or_values: np.ndarray, cutoff: int, *, equal_runs: bool) -> tuple[int, int]:
    """(number of failures, longest run): runs of identical values, or runs of True flags."""
    x = flags_or_values
    if x.size == 0:
        return 0, 0
    if equal_runs:
        breaks = np.flatnonzero(x[1:] != x[:-1]) + 1
        starts = np.concatenate(([0], breaks))
        lengths = np.diff(np.concatenate((starts, [x.size])))
    else:
        padded = np.concatenate(([False], x.astype(bool), [False]))
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        lengths = edges[1::2] - edges[0::2]
        if lengths.size == 0:
            return 0, 0
    return int(np.count_nonzero(lengths >= cutoff)), int(lengths.max())


def apt(values: np.ndarray, window: int, cutoff: int) -> tuple[int, int]:
    """(failing windows, largest count of a window's first value) over complete windows."""
    whole = values.shape[0] // window
    if whole == 0:
        return 0, 0
    blocks = values[: whole * window].reshape(whole, window)
    counts = np.count_nonzero(blocks == blocks[:, :1], axis=1)
    return int(np.count_nonzero(counts >= cutoff)), int(counts.max())


def stuck(deltas: np.ndarray) -> np.ndarray:
    """libjitterentropy's stuck test: the delta or its first or second difference is zero."""
    d = deltas.astype(np.int64)
    d2 = np.diff(d, prepend=0)
    d3 = np.diff(d2, prepend=0)
    flags: np.ndarray = (d == 0) | (d2 == 0) | (d3 == 0)
    return flags


def load_values(path: Path) -> np.ndarray:
    """Raw deltas (`*.u64`, little-endian uint64) or samples (one per byte)."""
    if not path.is_file():
        raise FipsforgeError(f"{path}: no such file")
    values = np.fromfile(path, dtype="<u8" if path.suffix == ".u64" else np.uint8)
    if values.size == 0:
        raise FipsforgeError(f"{path}: empty, no samples to test")
    return values


def run(path: Path, h: float, alpha_log2: int = 30, osr: int = 3, window: int | None = None) -> HealthReport:
    if not 0 < h <= 64:
        raise FipsforgeError(f"--h: {h} must be a positive min-entropy per sample")
    if not 1 <= alpha_log2 <= 60:
        raise FipsforgeError(f"--alpha-log2: {alpha_log2} must be from 1 to 60 (alpha = 2^-N)")
    if osr < 1:
        raise FipsforgeError(f"--osr: {osr} must be at least 1")
    values = load_values(path)
    binary = np.unique(values[: min(values.size, 1 << 16)]).size <= 2
    w = window or (512 if binary else 1024)
    rct_c = rct_cutoff(h, alpha_log2)
    apt_c = apt_cutoff(h, alpha_log2, w)
    rct_fail, rct_worst = longest_runs(values, rct_c, equal_runs=True)
    apt_fail, apt_worst = apt(values, w, apt_c)
    library_rct = library_apt = None
    if path.suffix == ".u64":
        lib_rct_c = 30 * osr
        lib_apt_c = JENT_APT_CUTOFFS[min(osr, len(JENT_APT_CUTOFFS)) - 1]
        f, worst = longest_runs(stuck(values), lib_rct_c, equal_runs=False)
        library_rct = TestRun(cutoff=lib_rct_c, failures=f, worst=worst)
        f, worst = apt(values, JENT_APT_WINDOW, lib_apt_c)
        library_apt = TestRun(cutoff=lib_apt_c, window=JENT_APT_WINDOW, failures=f, worst=worst)
    return HealthReport(
        file=str(path),
        samples=int(values.size),
        claimed_h=h,
        alpha_log2=alpha_log2,
        rct=TestRun(cutoff=rct_c, failures=rct_fail, worst=rct_worst),
        apt=TestRun(cutoff=apt_c, window=w, failures=apt_fail, worst=apt_worst),
        library_osr=osr,
        library_rct=library_rct,
        library_apt=library_apt,
    )


def library_cutoffs(osr: int) -> tuple[int, int]:
    """libjitterentropy's (RCT, APT) cutoffs for an osr."""
    return 30 * osr, JENT_APT_CUTOFFS[min(osr, len(JENT_APT_CUTOFFS)) - 1]
