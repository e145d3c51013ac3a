"""The IID track (SP 800-90B §5): permutation tests, chi-square tests, the LRS test, and the MCV estimate.

The permutation tests compute 19 statistics (11 tests, periodicity and covariance at five lags) on
the data and on up to 10,000 random permutations of it. As in the reference tool, a statistic stops
being computed once at least six permutations rank at or above it and six at or below it (its
verdict can no longer change); a statistic fails if, after all permutations, fewer than six sit on
either side. The compression statistic (libbzip2's compressed size at block size 5 of the samples as
decimal text, computed by `bzip2_size` over a suffix array) costs the most; it runs on worker threads
(the kernels and divsufsort release the GIL) while the other statistics are computed.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np
from pydantic import BaseModel

from fipsforge.entropy import _iid_layout as layout
from fipsforge.entropy import bzip2_size
from fipsforge.entropy import estimators as est
from fipsforge.entropy.native import kernels
from fipsforge.entropy.samples import Samples, Summary, summary
from fipsforge.errors import FipsforgeError

PERMUTATIONS = 10_000
MINIMUM_SAMPLES = 20
NAMES = [
    "excursion",
    "numDirectionalRuns",
    "lenDirectionalRuns",
    "numIncreasesDecreases",
    "numRunsMedian",
    "lenRunsMedian",
    "avgCollision",
    "maxCollision",
    *(f"periodicity({lag})" for lag in layout.LAGS),
    *(f"covariance({lag})" for lag in layout.LAGS),
    "compression",
]


class PermutationStatistic(BaseModel):
    name: str
    value: float
    greater: int  # C[i][0]: permutations whose statistic is larger
    equal: int  # C[i][1]
    less: int  # C[i][2]
    passed: bool


class ChiSquare(BaseModel):
    name: str
    score: float
    degrees_of_freedom: int
    p_value: float
    passed: bool


class IidResult(Summary):
    raw_mean: float
    median: float
    estimates: list[est.Estimate]
    h_original: float
    h_bitstring: float | None
    assessed_min_entropy: float
    chi_square: list[ChiSquare]
    chi_square_passed: bool
    lrs_collision_probability: float
    lrs_length: int
    lrs_passed: bool
    permutations_run: int
    permutation: list[PermutationStatistic]
    permutation_passed: bool
    iid: bool


# --- chi-square (§5.2) --------------------------------------------------------------------------


def _upper_gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x), by series below a+1 and continued fraction above."""
    if x <= 0 or a <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = 1.0 / a
        total = term
        ap = a
        for _ in range(100_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return math.exp(log_front) * h


def chi_square_p_value(score: float, df: int) -> float:
    return _upper_gamma_q(df / 2.0, score / 2.0)


def _bins(expectations: list[tuple[float, int]]) -> tuple[list[float], dict[int, int]]:
    """Group categories, in increasing expectation, into bins expecting at least 5 each."""
    ordered = sorted(expectations)
    bins: list[float] = []
    where: dict[int, int] = {}
    current = 0.0
    members: list[int] = []
    for expectation, key in ordered:
        if current >= 5.0:
            bins.append(current)
            current = 0.0
            members = []
        where[key] = len(bins)
        members.append(key)
        current += expectation
    if bins and current < 5.0:
        bins[-1] += current
        for key in members:
            where[key] = len(bins) - 1
    else:
        bins.append(current)
    return bins, where


def _statistic(observed: np.ndarray, expected: list[float]) -> float:
    return float(sum((float(o) - e) ** 2 / e for o, e in zip(observed, expected, strict=True)))


def chi_square_tests(symbols: np.ndarray, k: int) -> list[ChiSquare]:
    n = int(symbols.shape[0])
    counts = np.bincount(symbols, minlength=k).astype(np.float64)
    p = counts / n
    results: list[ChiSquare] = []
    if k == 2:
        p1 = float(p[1])
        p0 = 1.0 - p1
        low = min(p0, p1)
        m = 11
        while m > 1 and low**m * (n // m) < 5:
            m -= 1
        if m < 2:
            score, df = 0.0, 0
        else:
            blocks = n // m
            weights = 1 << np.arange(m - 1, -1, -1)
            values = symbols[: blocks * m].reshape(blocks, m).astype(np.int64) @ weights
            occ = np.bincount(values, minlength=1 << m)
            ones = np.array([bin(i).count("1") for i in range(1 << m)])
            expect = p1**ones * p0 ** (m - ones) * blocks
            score = float(np.sum((occ - expect) ** 2 / expect))
            df = (1 << m) - 2
    else:
        half = math.floor(n * 0.5)
        pairs = [(float(p[i] * p[j] * half), i * k + j) for i in range(k) for j in range(k)]
        expected, where = _bins(pairs)
        keys = symbols[0 : n - 1 : 2].astype(np.int64) * k + symbols[1:n:2].astype(np.int64)
        table = np.array([where[i] for i in range(k * k)])
        observed = np.bincount(table[keys], minlength=len(expected))
        score = _statistic(observed, expected)
        df = len(expected) - k
    pv = chi_square_p_value(score, df)
    results.append(
        ChiSquare(name="independence", score=score, degrees_of_freedom=df, p_value=pv, passed=pv >= 0.001)
    )
    if k == 2:
        sub = n // 10
        ones_total = int(symbols.sum())
        pr = ones_total / n
        e0, e1 = (1.0 - pr) * sub, pr * sub
        score = 0.0
        for i in range(10):
            o1 = int(symbols[i * sub : (i + 1) * sub].sum())
            o0 = sub - o1
            score += (o0 - e0) ** 2 / e0 + (o1 - e1) ** 2 / e1
        df = 9
    else:
        tenth = math.floor(n / 10.0)
        expected, where = _bins([(float(p[j] * tenth), j) for j in range(k)])
        table = np.array([where[j] for j in range(k)])
        block = n // 10
        score = 0.0
        for j in range(10):
            observed = np.bincount(table[symbols[j * block : (j + 1) * block]], minlength=len(expected))
            score += _statistic(observed, expected)
        df = 9 * (len(expected) - 1)
    pv = chi_square_p_value(score, df)
    results.append(
        ChiSquare(name="goodness-of-fit", score=score, degrees_of_freedom=df, p_value=pv, passed=pv >= 0.001)
    )
    return results


# --- LRS (§5.2.5) -------------------------------------------------------------------------------


def lrs_test(symbols: np.ndarray, k: int) -> tuple[float, int, bool]:
    """(collision probability, length of the longest repeated substring, passed)."""
    n = int(symbols.shape[0])
    p = np.bincount(symbols, minlength=k) / n
    p_col = float(np.sum(p * p))
    if p_col > 1.0 - 2.0**-63:
        return p_col, n - 1, True
    most, _ = est.tuple_counts(symbols)
    w = int(most.shape[0]) - 1
    pairs = (n - w + 1) * (n - w) // 2
    log_no_collision = pairs * math.log1p(-(p_col**w))
    return p_col, w, math.log(0.999) >= log_no_collision


# --- permutation tests (§5.1) -------------------------------------------------------------------


def compressed_length(raw: np.ndarray) -> int:
    return bzip2_size.compressed_size(kernels().decimal_text(raw), 5)


def baseline(samples: Samples) -> tuple[float, float]:
    """(mean of the raw samples, median of the translated symbols; 0.5 for binary data)."""
    raw_mean = float(samples.raw.astype(np.int64).sum()) / samples.raw.shape[0]
    if samples.binary:
        return raw_mean, 0.5
    ordered = np.sort(samples.symbols)
    n = ordered.shape[0]
    half = n // 2
    median = float(ordered[half]) if n % 2 else (int(ordered[half]) + int(ordered[half - 1])) / 2.0
    return raw_mean, median


def permutation_tests(
    samples: Samples, permutations: int = PERMUTATIONS, seed: int | None = None, workers: int | None = None
) -> tuple[list[PermutationStatistic], int]:
    """Run the permutation tests; returns the per-statistic counts and how many permutations ran."""
    k = samples.alphabet
    raw_mean, median = baseline(samples)
    active = np.ones(layout.STATISTICS, dtype=np.bool_)
    original = np.zeros(layout.STATISTICS, dtype=np.float64)
    kernels().statistics(samples.symbols, samples.raw, k, raw_mean, median, active, original)
    original[18] = compressed_length(samples.raw)
    counts = np.zeros((layout.STATISTICS, 3), dtype=np.int64)
    rng = np.random.default_rng(seed)
    threads = workers or os.cpu_count() or 1

    # Symbols and raw samples move together: one array when nothing is translated, else both
    # packed into one 16-bit array, so one shuffle permutes them alike.
    untranslated = bool(np.array_equal(samples.symbols, samples.raw))
    paired = (samples.raw.astype(np.uint16) << 8) | samples.symbols

    def permuted(stream_seed: int, wanted: np.ndarray) -> np.ndarray:
        if untranslated:
            symbols = raw = samples.raw.copy()
            kernels().shuffle(raw, np.uint64(stream_seed))
        else:
            both = paired.copy()
            kernels().shuffle(both, np.uint64(stream_seed))
            symbols = (both & 0xFF).astype(np.uint8)
            raw = (both >> 8).astype(np.uint8)
        row = np.zeros(layout.STATISTICS, dtype=np.float64)
        kernels().statistics(symbols, raw, k, raw_mean, median, wanted, row)
        if wanted[18]:
            row[18] = compressed_length(raw)
        return row

    done = 0
    submitted = 0
    in_flight: set[Future[np.ndarray]] = set()
    submission: dict[Future[np.ndarray], int] = {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while done < permutations and active.any():
            # Keep every core busy: one permutation per thread while bzip2 (compression) is still
            # needed, more once only the cheap statistics are left. Results are counted as they
            # finish, like the reference; a statistic closed meanwhile simply ignores later rows.
            depth = threads if active[18] else 4 * threads
            while len(in_flight) < depth and submitted < permutations:
                stream = int(rng.integers(0, 2**63))
                future = pool.submit(permuted, stream, active.copy())
                in_flight.add(future)
                submission[future] = submitted
                submitted += 1
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            # Rows that finished together are counted in the order they were drawn (a set has no
            # order), so that one worker with a seed gives the same counts every time.
            for future in sorted(finished, key=submission.__getitem__):
                row = future.result()
                if done >= permutations or not active.any():
                    break
                done += 1
                for j in np.flatnonzero(active):
                    if row[j] > original[j]:
                        counts[j, 0] += 1
                    elif row[j] == original[j]:
                        counts[j, 1] += 1
                    else:
                        counts[j, 2] += 1
                    if counts[j, 0] + counts[j, 1] > 5 and counts[j, 1] + counts[j, 2] > 5:
                        active[j] = False
        for future in in_flight:
            future.cancel()
    results = [
        PermutationStatistic(
            name=NAMES[j],
            value=float(original[j]),
            greater=int(counts[j, 0]),
            equal=int(counts[j, 1]),
            less=int(counts[j, 2]),
            passed=bool(counts[j, 0] + counts[j, 1] > 5 and counts[j, 1] + counts[j, 2] > 5),
        )
        for j in range(layout.STATISTICS)
    ]
    return results, done


def assess(samples: Samples, permutations: int = PERMUTATIONS, seed: int | None = None) -> IidResult:
    n = int(samples.symbols.shape[0])
    if n < MINIMUM_SAMPLES:
        raise FipsforgeError(
            f"{samples.name}: the IID track's chi-square goodness-of-fit test (SP 800-90B §5.2.2) needs at "
            f"least {MINIMUM_SAMPLES} samples, the data has {n}"
        )
    estimates = [est.most_common_value(samples.symbols, samples.alphabet, "Literal")]
    h_original = min(float(samples.bits), estimates[0].min_entropy or 0.0)
    h_bitstring: float | None = None
    assessed = h_original
    if not samples.binary:
        bitwise = est.most_common_value(samples.bitstring, 2, "Bitstring")
        estimates.insert(0, bitwise)
        h_bitstring = min(1.0, bitwise.min_entropy or 0.0)
        assessed = min(assessed, samples.bits * h_bitstring)
    raw_mean, median = baseline(samples)
    chi = chi_square_tests(samples.symbols, samples.alphabet)
    p_col, w, lrs_ok = lrs_test(samples.symbols, samples.alphabet)
    perm, run = permutation_tests(samples, permutations, seed)
    chi_ok = all(c.passed for c in chi)
    perm_ok = all(p.passed for p in perm)
    return IidResult(
        **summary(samples),
        raw_mean=raw_mean,
        median=median,
        estimates=estimates,
        h_original=h_original,
        h_bitstring=h_bitstring,
        assessed_min_entropy=assessed,
        chi_square=chi,
        chi_square_passed=chi_ok,
        lrs_collision_probability=p_col,
        lrs_length=w,
        lrs_passed=lrs_ok,
        permutations_run=run,
        permutation=perm,
        permutation_passed=perm_ok,
        iid=chi_ok and lrs_ok and perm_ok,
    )


def render(result: IidResult) -> str:
    lines = [
        f"Loaded {result.samples} samples of {result.alphabet} distinct {result.bits}-bit-wide symbols",
        f"\tRaw Mean: {result.raw_mean:f}",
        f"\tMedian: {result.median:f}",
        f"\tBinary: {'true' if result.binary else 'false'}",
        "",
    ]
    lines += est.report_lines(
        result.estimates, result.h_original, result.h_bitstring, result.bits, result.assessed_min_entropy
    )
    lines.append("")
    for c in result.chi_square:
        lines.append(
            f"Chi square {c.name}: score = {c.score:.6g}, degrees of freedom = {c.degrees_of_freedom}, "
        )
        lines[-1] += f"p-value = {c.p_value:.6g}"
    lines.append(f"** {'Passed' if result.chi_square_passed else 'Failed'} chi square tests")
    lines.append("")
    lines.append("Longest Repeated Substring results")
    lines.append(f"\tP_col: {result.lrs_collision_probability:.6g}")
    lines.append(f"\tLength of LRS: {result.lrs_length}")
    lines.append(
        f"** {'Passed' if result.lrs_passed else 'Failed'} length of longest repeated substring test"
    )
    lines.append("")
    lines.append(f"Permutations run: {result.permutations_run}")
    lines.append("                statistic  C[i][0]  C[i][1]  C[i][2]")
    lines.append("----------------------------------------------------")
    for p in result.permutation:
        label = f"{p.name:>24}*" if not p.passed else f"{p.name:>25}"
        lines.append(f"{label}{p.greater:>8}{p.equal:>8}{p.less:>8}")
    lines.append("(* denotes failed test)")
    lines.append(f"** {'Passed' if result.permutation_passed else 'Failed'} IID permutation tests")
    return "\n".join(lines)
