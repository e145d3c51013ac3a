"""The non-IID track (SP 800-90B §6.3): all ten estimators and the initial entropy estimate.

The estimators run on the literal symbols and, for non-binary data, on the bitstring; the results
are combined as the reference tool combines them:
H_original = min over literal estimates (at most `bits`), H_bitstring = min over bitstring estimates
(at most 1), assessed = min(bits, H_original, bits x H_bitstring).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fipsforge.entropy import estimators as est
from fipsforge.entropy.samples import Samples, Summary, summary


class NonIidResult(Summary):
    estimates: list[est.Estimate]
    h_original: float
    h_bitstring: float | None
    assessed_min_entropy: float


# Order in which the reference tool reports (and the order of the text output).
_ORDER = [
    "mcv",
    "collision",
    "markov",
    "compression",
    "t_tuple",
    "lrs",
    "multi_mcw",
    "lag",
    "multi_mmc",
    "lz78y",
]
# Jobs by decreasing cost (measured on 8-bit data: benchmarks/entropy.py --profile), so the two
# threads finish together.
_COST = ["multi_mmc", "lz78y", "t_tuple", "multi_mcw", "lag", "compression", "collision", "markov", "mcv"]


def _jobs(
    data: np.ndarray, k: int, form: est.Form, full: bool
) -> dict[str, Callable[[], list[est.Estimate]]]:
    def wrap(fn: Callable[[], est.Estimate]) -> Callable[[], list[est.Estimate]]:
        return lambda: [fn()]

    jobs: dict[str, Callable[[], list[est.Estimate]]] = {
        "mcv": wrap(lambda: est.most_common_value(data, k, form)),
        "t_tuple": lambda: list(est.t_tuple_and_lrs(data, form)),
        "multi_mcw": wrap(lambda: est.multi_mcw(data, k, form)),
        "lag": wrap(lambda: est.lag(data, k, form)),
        "multi_mmc": wrap(lambda: est.multi_mmc(data, k, form)),
        "lz78y": wrap(lambda: est.lz78y(data, k, form)),
    }
    if full:
        jobs["collision"] = wrap(lambda: est.collision(data, form))
        jobs["markov"] = wrap(lambda: est.markov(data, form))
        jobs["compression"] = wrap(lambda: est.compression(data, form))
    return jobs


def check_sizes(samples: Samples) -> None:
    """Fail early, naming the estimator and the size it needs, when the data is too short."""
    literal_keys = list(est.MINIMUM_SAMPLES) if samples.binary else ["mcv", "t_tuple", "multi_mcw", "lag"]
    for key in [*literal_keys, "multi_mmc", "lz78y"]:
        est.require(key, "Literal", int(samples.symbols.shape[0]))
    if not samples.binary:
        for key in est.MINIMUM_SAMPLES:
            est.require(key, "Bitstring", int(samples.symbols.shape[0]) * samples.bits)


def estimator_tasks(samples: Samples) -> list[tuple[str, est.Form, Callable[[], list[est.Estimate]]]]:
    """Every estimator run the track needs, as (key, form, job), the costliest first."""
    found: list[tuple[str, est.Form, Callable[[], list[est.Estimate]]]] = []
    for key, job in _jobs(samples.symbols, samples.alphabet, "Literal", samples.binary).items():
        found.append((key, "Literal", job))
    if not samples.binary:
        for key, job in _jobs(samples.bitstring, 2, "Bitstring", True).items():
            found.append((key, "Bitstring", job))
    found.sort(key=lambda task: (_COST.index(task[0]), task[1]))
    return found


def assess(samples: Samples, workers: int | None = None) -> NonIidResult:
    check_sizes(samples)
    tasks = estimator_tasks(samples)
    threads = workers or min(len(tasks), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(job) for _, _, job in tasks]
        found = [estimate for future in futures for estimate in future.result()]

    def rank(e: est.Estimate) -> tuple[int, int]:
        # t-tuple and LRS of one form stay together: bitstring pair first, then literal pair.
        position = _ORDER.index(e.key)
        if e.key in ("t_tuple", "lrs"):
            return (_ORDER.index("t_tuple") * 4 + (0 if e.form == "Bitstring" else 2), position)
        return (position * 4 + (0 if e.form == "Bitstring" else 1), 0)

    found.sort(key=rank)
    h_original = float(samples.bits)
    h_bitstring: float | None = None if samples.binary else 1.0
    for e in found:
        if e.min_entropy is None:
            continue
        if e.form == "Literal":
            h_original = min(h_original, e.min_entropy)
        elif h_bitstring is not None:
            h_bitstring = min(h_bitstring, e.min_entropy)
    assessed = min(float(samples.bits), h_original)
    if h_bitstring is not None:
        assessed = min(assessed, samples.bits * h_bitstring)
    return NonIidResult(
        **summary(samples),
        estimates=found,
        h_original=h_original,
        h_bitstring=h_bitstring,
        assessed_min_entropy=assessed,
    )


def render(result: NonIidResult) -> str:
    """The result in the reference tool's wording (its `-vv` lines)."""
    lines = [f"Loaded {result.samples} samples of {result.alphabet} distinct {result.bits}-bit-wide symbols"]
    if not result.binary:
        lines.append(f"Number of Binary Symbols: {result.samples * result.bits}")
    lines += est.report_lines(
        result.estimates, result.h_original, result.h_bitstring, result.bits, result.assessed_min_entropy
    )
    return "\n".join(lines)
