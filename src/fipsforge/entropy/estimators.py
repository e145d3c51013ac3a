"""The ten SP 800-90B §6.3 min-entropy estimators.

Each function takes a 1-D uint8 array of symbols (0..k-1) and returns an `Estimate`. The counting
is done by the compiled kernels in `_kernels` (called through `native.kernels()`); this module holds
the statistics: upper confidence bounds at alpha = 0.005 (z = 2.5758293035489008), the searches for
p in §6.3.2, §6.3.4 and the local-run bound of §6.3.7-§6.3.10.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from pydivsufsort import divsufsort, kasai

from fipsforge.entropy.native import kernels
from fipsforge.errors import FipsforgeError

Z_ALPHA = 2.5758293035489008
LOG_99 = math.log(0.99)

Form = Literal["Literal", "Bitstring"]

TITLES = {
    "mcv": "Most Common Value Estimate",
    "collision": "Collision Estimate",
    "markov": "Markov Estimate",
    "compression": "Compression Estimate",
    "t_tuple": "t-Tuple Estimate",
    "lrs": "LRS Estimate",
    "multi_mcw": "MultiMCW Prediction Estimate",
    "lag": "Lag Prediction Estimate",
    "multi_mmc": "MultiMMC Prediction Estimate",
    "lz78y": "LZ78Y Prediction Estimate",
}

SECTIONS = {
    "mcv": "6.3.1",
    "collision": "6.3.2",
    "markov": "6.3.3",
    "compression": "6.3.4",
    "t_tuple": "6.3.5",
    "lrs": "6.3.6",
    "multi_mcw": "6.3.7",
    "lag": "6.3.8",
    "multi_mmc": "6.3.9",
    "lz78y": "6.3.10",
}

# The fewest samples each estimator can run on (the reference tool's limits).
MINIMUM_SAMPLES = {
    "mcv": 2,
    "collision": 4,
    "markov": 2,
    "compression": 6 * 1001,
    "t_tuple": 2,
    "lrs": 2,
    "multi_mcw": 4096,
    "lag": 3,
    "multi_mmc": 18,
    "lz78y": 18,
}


class Estimate(BaseModel):
    """One estimator's result on one form of the data, with the intermediate quantities it printed."""

    key: str
    form: Form
    min_entropy: float | None = Field(description="None when the estimator could not produce an estimate")
    values: dict[str, float | int] = {}
    lines: list[str] = []

    @property
    def title(self) -> str:
        return TITLES[self.key]

    @property
    def field(self) -> str:
        return f"{self.form.lower()}_{self.key}"


def _fmt(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.17g}"


def _estimate(key: str, form: Form, h: float | None, items: list[tuple[str, float | int] | str]) -> Estimate:
    values: dict[str, float | int] = {}
    lines: list[str] = []
    for item in items:
        if isinstance(item, str):
            lines.append(item)
        else:
            name, value = item
            values[name] = value
            lines.append(f"{name} = {_fmt(value)}")
    if h is not None:
        lines.append(f"min entropy = {_fmt(h)}")
    return Estimate(key=key, form=form, min_entropy=h, values=values, lines=lines)


def report_lines(
    estimates: list[Estimate], h_original: float, h_bitstring: float | None, bits: int, assessed: float
) -> list[str]:
    """Each estimate's quantities, then the closing lines, in the reference tool's `-vv` wording."""
    lines = [f"{e.form} {e.title}: {line}" for e in estimates for line in e.lines]
    if h_bitstring is not None:
        lines.append(f"H_bitstring = {h_bitstring:.17g}")
        lines.append(f"H_bitstring Per Symbol = {h_bitstring * bits:.17g}")
    lines.append(f"H_original = {h_original:.17g}")
    lines.append(f"Assessed min entropy: {assessed:.17g}")
    return lines


def require(key: str, form: Form, available: int) -> None:
    """Raise the one-line error for an estimator that cannot run on `available` samples."""
    needed = MINIMUM_SAMPLES[key]
    if available < needed:
        unit = "bits" if form == "Bitstring" else "samples"
        raise FipsforgeError(
            f"{form.lower()} data: the {TITLES[key]} (SP 800-90B §{SECTIONS[key]}) needs at least "
            f"{needed} {unit}, the data has {available}"
        )


def upper_bound(p: float, n: int) -> float:
    return min(1.0, p + Z_ALPHA * math.sqrt(p * (1.0 - p) / (n - 1.0)))


# --- §6.3.1 -------------------------------------------------------------------------------------


def most_common_value(data: np.ndarray, k: int, form: Form) -> Estimate:
    n = int(data.shape[0])
    if k == 2:  # a bitstring: counting the ones avoids widening 8M bytes for np.bincount
        ones = int(np.count_nonzero(data))
        mode = max(ones, n - ones)
    else:
        mode = int(np.bincount(data, minlength=k).max())
    p_hat = mode / n
    p_u = upper_bound(p_hat, n)
    h = -math.log2(p_u)
    return _estimate("mcv", form, h, [("Mode count", mode), ("p-hat", p_hat), ("p_u", p_u)])


# --- §6.3.2 -------------------------------------------------------------------------------------


def collision(bits: np.ndarray, form: Form) -> Estimate:
    v, total, squares = kernels().collision_counts(bits)
    x_bar = total / v
    sigma = math.sqrt((squares - total * x_bar) / (v - 1))
    x_prime = max(2.0, x_bar - Z_ALPHA * sigma / math.sqrt(v))
    items: list[tuple[str, float | int] | str] = [
        ("v", int(v)),
        ("Sum t_i", int(total)),
        ("X-bar", x_bar),
        ("sigma-hat", sigma),
        ("X-bar'", x_prime),
    ]
    # For binary symbols E[t] = 2 + 2p(1-p): solve for the larger root p >= 1/2.
    if x_prime < 2.5:
        p = 0.5 + math.sqrt(1.25 - 0.5 * x_prime)
        h = -math.log2(p)
        items.append("Found p.")
    else:
        p = 0.5
        h = 1.0
        items.append("Could Not Find p. Proceeding with the lower bound for p.")
    items.append(("p", p))
    return _estimate("collision", form, h, items)


# --- §6.3.3 -------------------------------------------------------------------------------------


def markov(bits: np.ndarray, form: Form) -> Estimate:
    n = int(bits.shape[0])
    head = bits[:-1]
    after = bits[1:]
    c0 = int(np.count_nonzero(head == 0))
    c1 = n - 1 - c0
    c00 = int(np.count_nonzero((head == 0) & (after == 0)))
    c10 = int(np.count_nonzero((head == 1) & (after == 0)))
    p00 = c00 / c0 if c0 else 0.0
    p01 = 1.0 - p00 if c0 else 0.0
    p10 = c10 / c1 if c1 else 0.0
    p11 = 1.0 - p10 if c1 else 0.0
    p0 = (c0 + (1 if bits[-1] == 0 else 0)) / n
    p1 = 1.0 - p0
    # The most likely 128-bit sequences are among these six; work in -log2 to avoid underflow.
    candidates = [
        (p00 > 0, [(p0, 1), (p00, 127)]),
        (p01 > 0 and p10 > 0, [(p0, 1), (p01, 64), (p10, 63)]),
        (p01 > 0 and p11 > 0, [(p0, 1), (p01, 1), (p11, 126)]),
        (p10 > 0 and p00 > 0, [(p1, 1), (p10, 1), (p00, 126)]),
        (p10 > 0 and p01 > 0, [(p1, 1), (p10, 64), (p01, 63)]),
        (p11 > 0, [(p1, 1), (p11, 127)]),
    ]
    h_min = 128.0
    for usable, factors in candidates:
        if usable:
            h_min = min(h_min, sum(-power * math.log2(p) for p, power in factors))
    h = min(h_min / 128.0, 1.0)
    return _estimate(
        "markov",
        form,
        h,
        [
            ("P_0", p0),
            ("P_1", p1),
            ("P_{0,0}", p00),
            ("P_{0,1}", p01),
            ("P_{1,0}", p10),
            ("P_{1,1}", p11),
            ("p-hat_max", 2.0**-h_min),
        ],
    )


# --- §6.3.4 -------------------------------------------------------------------------------------

_COMPRESSION_B = 6
_COMPRESSION_D = 1000


def _compression_expectation(p: float, nblocks: int) -> float:
    k = 1 << _COMPRESSION_B
    q = (1.0 - p) / (k - 1.0)
    d = _COMPRESSION_D
    return float(kernels().compression_g(p, d, nblocks) + (k - 1.0) * kernels().compression_g(q, d, nblocks))


def compression(bits: np.ndarray, form: Form) -> Estimate:
    b, d = _COMPRESSION_B, _COMPRESSION_D
    nblocks = int(bits.shape[0]) // b
    weights = (1 << np.arange(b - 1, -1, -1)).astype(np.int64)
    blocks = (bits[: nblocks * b].reshape(nblocks, b).astype(np.int64) @ weights).astype(np.int64)
    v = nblocks - d
    total, squares = kernels().compression_log_distances(blocks, d)
    x_bar = total / v
    sigma = 0.5907 * math.sqrt(squares / (v - 1.0) - x_bar * x_bar)
    x_prime = x_bar - Z_ALPHA * sigma / math.sqrt(v)
    items: list[tuple[str, float | int] | str] = [("X-bar", x_bar), ("sigma-hat", sigma), ("X-bar'", x_prime)]
    lowest = 1.0 / (1 << b)
    p = -1.0
    if _compression_expectation(lowest, nblocks) > x_prime:
        # The expected statistic falls as p rises: bisect on [1/2^b, 1] down to adjacent doubles.
        lo, hi = lowest, 1.0
        while True:
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            if _compression_expectation(mid, nblocks) > x_prime:
                lo = mid
            else:
                hi = mid
        p = hi
    if p > lowest:
        h = -math.log2(p) / b
        items.append("Found p.")
    else:
        p = lowest
        h = 1.0
        items.append("Could Not Find p. Proceeding with the lower bound for p.")
    items.append(("p", p))
    return _estimate("compression", form, h, items)


# --- §6.3.5 and §6.3.6 --------------------------------------------------------------------------


def _adjacent_lcp_by_windows(data: np.ndarray) -> np.ndarray | None:
    """LCPs of neighbouring suffixes in sorted order, from sorting 64-bit windows of the data.

    Grouping by any prefix of at most one window only needs the windows sorted, not the suffixes;
    the last windows are short (zero-padded) and go before equal full windows, so a group is never
    split. Returns None when some repeat is as long as a window: then a suffix array is needed.
    """
    n = int(data.shape[0])
    width = max(1, int(data.max()).bit_length())
    per_key = 64 // width
    if n <= per_key:
        return None
    keys = kernels().window_keys(data, width)
    full = kernels().radix_sorted(keys[: n - per_key + 1])
    short = keys[n - per_key + 1 :]
    short_lengths = np.arange(per_key - 1, 0, -1, dtype=np.int64)
    where = np.searchsorted(full, short, side="left")
    order = np.lexsort((short_lengths, short, where))
    adjacent, complete = kernels().adjacent_lcp_of_windows(
        full, short[order], where[order].astype(np.int64), short_lengths[order], width
    )
    return adjacent if complete else None


def _adjacent_lcp_by_suffix_array(data: np.ndarray) -> np.ndarray:
    text = np.array(data, dtype=np.uint8, copy=True)
    lcp = kasai(text, divsufsort(text))
    return np.ascontiguousarray(lcp[:-1], dtype=np.int64)


def tuple_counts(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per length W = 1..v: the most occurrences of a W-tuple and the sum of C(count, 2) over W-tuples."""
    adjacent = _adjacent_lcp_by_windows(data)
    if adjacent is None:
        adjacent = _adjacent_lcp_by_suffix_array(data)
    most, pairs = kernels().tuple_statistics(adjacent)
    return most, pairs


def t_tuple_and_lrs(data: np.ndarray, form: Form) -> tuple[Estimate, Estimate]:
    n = int(data.shape[0])
    most, pairs = tuple_counts(data)
    v = int(most.shape[0]) - 1
    u = 1
    while u <= v and most[u] >= 35:
        u += 1
    p_max = -1.0
    for i in range(1, u):
        p_max = max(p_max, (int(most[i]) / (n - i + 1)) ** (1.0 / i))
    if p_max > 0:
        p_u = upper_bound(p_max, n)
        tt = _estimate("t_tuple", form, -math.log2(p_u), [("t", u - 1), ("p-hat_max", p_max), ("p_u", p_u)])
    else:
        tt = _estimate("t_tuple", form, None, ["No strings are repeated 35 times. t-Tuple estimate failed."])
    if v >= u:
        p_hat = 0.0
        for w in range(u, v + 1):
            total_pairs = (n - w) * (n - w + 1) // 2
            p_hat = max(p_hat, (int(pairs[w]) / total_pairs) ** (1.0 / w))
        p_u = upper_bound(p_hat, n)
        lrs = _estimate("lrs", form, -math.log2(p_u), [("u", u), ("v", v), ("p-hat", p_hat), ("p_u", p_u)])
    else:
        lrs = _estimate("lrs", form, None, ["v<u. Can't Run LRS Test."])
    return tt, lrs


# --- §6.3.7 - §6.3.10 ---------------------------------------------------------------------------


def _run_log_probability(p: float, r: int, n: int) -> float:
    """log of the probability that no run of r or more correct predictions occurs in n trials."""
    q = 1.0 - p
    x = 1.0
    last = 0.0
    i = 0
    while i <= 65 and (x - last) > (2.0**-63) * x:
        last = x
        x = 1.0 + q * p**r * x ** (r + 1.0)
        i += 1
    return math.log(1.0 - p * x) - math.log((r + 1.0 - r * x) * q) - (n + 1.0) * math.log(x)


def _local_bound(longest: int, n: int, low: float) -> float:
    """The p at which a longest run of `longest` correct predictions has probability 0.99."""
    r = longest + 1
    lo, hi = low, 1.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            return hi
        value = _run_log_probability(mid, r, n)
        if value == LOG_99:
            return mid
        if value > LOG_99:
            lo = mid
        else:
            hi = mid


def prediction(key: str, form: Form, correct: int, n: int, longest: int, k: int) -> Estimate:
    p_global = correct / n
    p_global_prime = upper_bound(p_global, n) if p_global > 0 else 1.0 - 0.01 ** (1.0 / n)
    current = max(1.0 / k, p_global_prime)
    items: list[tuple[str, float | int] | str] = [
        ("C", int(correct)),
        ("r", int(longest) + 1),
        ("N", int(n)),
        ("P_global", p_global),
        ("P_global'", p_global_prime),
    ]
    if current < 1.0 and _run_log_probability(current, longest + 1, n) > LOG_99:
        p_local = _local_bound(longest, n, current)
        current = max(current, p_local)
        items.append(("P_local", p_local))
    else:
        items.append("P_local can't change the result.")
    return _estimate(key, form, -math.log2(current), items)


def multi_mcw(data: np.ndarray, k: int, form: Form) -> Estimate:
    correct, longest = kernels().multi_mcw_binary(data) if k == 2 else kernels().multi_mcw(data, k)
    return prediction("multi_mcw", form, correct, int(data.shape[0]) - 63, longest, k)


def lag(data: np.ndarray, k: int, form: Form) -> Estimate:
    correct, longest = kernels().lag_predictor_binary(data) if k == 2 else kernels().lag_predictor(data)
    return prediction("lag", form, correct, int(data.shape[0]) - 1, longest, k)


MMC_MAX_ENTRIES = 100_000
LZ78Y_MAX_DICTIONARY = 65_536


def multi_mmc(data: np.ndarray, k: int, form: Form) -> Estimate:
    if k == 2:
        correct, longest = kernels().multi_mmc_binary(data, MMC_MAX_ENTRIES)
    else:
        correct, longest = kernels().multi_mmc_literal(data, k, MMC_MAX_ENTRIES)
    return prediction("multi_mmc", form, correct, int(data.shape[0]) - 2, longest, k)


def lz78y(data: np.ndarray, k: int, form: Form) -> Estimate:
    if k == 2:
        correct, longest = kernels().lz78y_binary(data, LZ78Y_MAX_DICTIONARY)
    else:
        correct, longest = kernels().lz78y_literal(data, k, LZ78Y_MAX_DICTIONARY)
    return prediction("lz78y", form, correct, int(data.shape[0]) - 17, longest, k)
