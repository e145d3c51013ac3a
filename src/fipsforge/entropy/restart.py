"""Restart tests (SP 800-90B §3.1.4): 1,000 restarts of 1,000 samples, as a 1000 x 1000 matrix.

The sanity check (§3.1.4.3) bounds the most common value's count in every row and column at
alpha = 1 - 0.99^(1/(r+c)). As in the reference tool, the null distribution is the most common count
of 1,000 draws from the least favourable source with min-entropy H_I (as many symbols as fit at
p = 2^-H_I, the rest sharing what is left); the tool estimates its quantile from 5,000,000
simulated rows, fipsforge computes it exactly (a multinomial's maximum, by generating functions). Validation (§3.1.4.2)
then estimates the entropy of the row-wise and the column-wise data (the non-IID estimators on the
literal symbols, or the MCV estimate alone for IID sources) and requires min(H_r, H_c) >= H_I / 2.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from pydantic import BaseModel

from fipsforge.entropy import estimators as est
from fipsforge.entropy.samples import Samples
from fipsforge.errors import FipsforgeError

ROWS = 1000
COLUMNS = 1000
_LOG_FACTORIAL = np.array([math.lgamma(i + 1) for i in range(max(ROWS, COLUMNS) + 1)])


class RestartResult(BaseModel):
    file: str
    h_i: float
    alpha: float
    x_cutoff: int
    x_max: int
    sanity_passed: bool
    h_r: float | None
    h_c: float | None
    validation_passed: bool
    min_entropy: float | None


def binomial_upper_critical(n: int, p: float, alpha: float) -> int:
    """The smallest x with P(Binomial(n, p) > x) <= alpha."""
    if p >= 1.0:
        return n
    logs = [
        math.lgamma(n + 1)
        - math.lgamma(x + 1)
        - math.lgamma(n - x + 1)
        + x * math.log(p)
        + (n - x) * math.log1p(-p)
        for x in range(n + 1)
    ]
    tail = 0.0
    for x in range(n, -1, -1):
        # tail holds P(X > x) once x's own mass is excluded
        if tail > alpha:
            return x + 1
        tail += math.exp(logs[x])
    return 0


@functools.cache
def _log_choose(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log C(m, j) for 0 <= j <= m <= n (-inf above the diagonal), and the index m - j (clipped)."""
    m = np.arange(n + 1)[:, None]
    j = np.arange(n + 1)[None, :]
    rest = np.maximum(m - j, 0)
    log_choose = np.where(j <= m, _LOG_FACTORIAL[m] - _LOG_FACTORIAL[j] - _LOG_FACTORIAL[rest], -np.inf)
    return log_choose, np.broadcast_to(j, log_choose.shape), rest


def _binomial_convolution(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """h_m = sum_j C(m, j) f_j g_(m-j): the product of exponential generating functions."""
    log_choose, j, rest = _log_choose(f.shape[0] - 1)
    with np.errstate(divide="ignore"):
        lf, lg = np.log(f), np.log(g)
    product: np.ndarray = np.exp(log_choose + lf[j] + lg[rest]).sum(axis=1)
    return product


def _power(f: np.ndarray, times: int) -> np.ndarray:
    result = np.zeros_like(f)
    result[0] = 1.0
    while times:
        if times & 1:
            result = _binomial_convolution(result, f)
        times >>= 1
        if times:
            f = _binomial_convolution(f, f)
    return result


def max_count_at_most(n: int, groups: list[tuple[float, int]], x: int) -> float:
    """P(no symbol occurs more than x times in n draws), symbols in groups of (probability, how many)."""
    total = np.zeros(n + 1)
    total[0] = 1.0
    for q, count in groups:
        f = np.where(np.arange(n + 1) <= x, q ** np.arange(n + 1, dtype=np.float64), 0.0)
        total = _binomial_convolution(total, _power(f, count))
    return float(total[n])


def max_count_cutoff(n: int, k: int, h_i: float, alpha: float) -> int:
    """The smallest x with P(max count > x) <= alpha for the least favourable source of min-entropy h_i."""
    p = 2.0**-h_i
    at_p = min(math.floor(1.0 / p), max(k, 1))
    rest = max(k, at_p) - at_p
    groups = [(p, at_p)]
    if rest and 1.0 - at_p * p > 0:
        groups.append(((1.0 - at_p * p) / rest, rest))
    x = max(0, binomial_upper_critical(n, p, alpha) - 1)  # the maximum is at least one symbol's count
    while x < n and 1.0 - max_count_at_most(n, groups, x) > alpha:
        x += 1
    return x


def most_common_count(matrix: np.ndarray, k: int) -> int:
    """Largest count of any symbol within one row of `matrix`."""
    best = 0
    for row in matrix:
        best = max(best, int(np.bincount(row, minlength=k).max()))
    return best


def _literal_min_entropy(data: np.ndarray, k: int, iid: bool) -> float:
    form: est.Form = "Literal"
    jobs = [lambda: [est.most_common_value(data, k, form)]]
    if not iid:
        jobs += [
            lambda: list(est.t_tuple_and_lrs(data, form)),
            lambda: [est.multi_mcw(data, k, form)],
            lambda: [est.lag(data, k, form)],
            lambda: [est.multi_mmc(data, k, form)],
            lambda: [est.lz78y(data, k, form)],
        ]
        if k == 2:
            jobs += [
                lambda: [est.collision(data, form)],
                lambda: [est.markov(data, form)],
                lambda: [est.compression(data, form)],
            ]
    with ThreadPoolExecutor() as pool:
        results = [e for future in [pool.submit(job) for job in jobs] for e in future.result()]
    return min(e.min_entropy for e in results if e.min_entropy is not None)


def restart_tests(samples: Samples, h_i: float, iid: bool) -> RestartResult:
    n = int(samples.symbols.shape[0])
    if n != ROWS * COLUMNS:
        raise FipsforgeError(
            f"{samples.name}: a restart file holds {ROWS} restarts x {COLUMNS} samples = {ROWS * COLUMNS} samples, "
            f"this one has {n}"
        )
    if not 0 <= h_i <= samples.bits:
        raise FipsforgeError(f"H_I: {h_i} is not between 0 and the symbol width {samples.bits}")
    rows = samples.symbols.reshape(ROWS, COLUMNS)
    columns = np.ascontiguousarray(rows.T)
    alpha = 1.0 - math.exp(math.log(0.99) / (ROWS + COLUMNS))
    cutoff = max_count_cutoff(COLUMNS, samples.alphabet, h_i, alpha)
    x_max = max(most_common_count(rows, samples.alphabet), most_common_count(columns, samples.alphabet))
    sane = x_max <= cutoff
    h_r = h_c = None
    valid = False
    if sane:
        h_r = min(float(samples.bits), _literal_min_entropy(rows.reshape(-1), samples.alphabet, iid))
        h_c = min(float(samples.bits), _literal_min_entropy(columns.reshape(-1), samples.alphabet, iid))
        valid = min(h_r, h_c) >= h_i / 2.0
    return RestartResult(
        file=samples.name,
        h_i=h_i,
        alpha=alpha,
        x_cutoff=cutoff,
        x_max=x_max,
        sanity_passed=sane,
        h_r=h_r,
        h_c=h_c,
        validation_passed=sane and valid,
        min_entropy=min(h_r, h_c, h_i) if valid and h_r is not None and h_c is not None else None,
    )


def render(result: RestartResult) -> str:
    lines = [
        f"H_I: {result.h_i:f}",
        f"ALPHA: {result.alpha:.17g}, X_cutoff: {result.x_cutoff}",
        f"X_max: {result.x_max}",
    ]
    if not result.sanity_passed:
        lines.append("*** Restart Sanity Check Failed ***")
        return "\n".join(lines)
    lines.append("Restart Sanity Check Passed...")
    lines.append(f"H_r: {result.h_r:f}")
    lines.append(f"H_c: {result.h_c:f}")
    if result.validation_passed:
        lines.append("Validation Test Passed...")
        lines.append(f"min(H_r, H_c, H_I): {result.min_entropy:f}")
    else:
        lines.append("*** min(H_r, H_c) < H_I/2, Validation Testing Failed ***")
    return "\n".join(lines)
