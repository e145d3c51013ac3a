"""fipsforge's non-IID track against the NIST reference tool's outputs in tests/data/entropy-oracle."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sp800_90b as sp  # the reference C++ code (PyPI sp800-90b), installed by scripts/bootstrap.sh

from fipsforge.entropy import estimators as est
from fipsforge.entropy import noniid, samples

ORACLE = Path(__file__).resolve().parent / "data" / "entropy-oracle"
FILES = sorted(p.stem for p in ORACLE.glob("*.bin"))
TOLERANCE = 1e-9


def test_oracle_is_present() -> None:
    """The oracle ships in the repository (tests/data/): its absence is a broken checkout, not a skip."""
    assert len(FILES) >= 10, f"expected the NIST reference files in {ORACLE}"


_LINE = re.compile(r"^(Literal|Bitstring) (.+?): (.+?) = (\S+)$")


def parse(text: str) -> dict[str, float]:
    """`<form> <estimator>: <quantity> = value` lines plus the three closing lines, by name."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            found[f"{match[1]} {match[2]}: {match[3]}"] = float(match[4])
            continue
        closing = re.match(r"^(H_bitstring|H_original|Assessed min entropy)\s*[:=]\s*(\S+)$", line)
        if closing:
            found[closing[1]] = float(closing[2])
    return found


def deviations(reference: dict[str, float], ours: dict[str, float]) -> dict[str, float]:
    """Absolute deviation of each reference quantity (inf when fipsforge does not report it)."""
    return {key: abs(ours[key] - value) if key in ours else float("inf") for key, value in reference.items()}


@pytest.mark.parametrize("name", FILES)
def test_matches_reference_tool(name: str) -> None:
    reference = parse((ORACLE / f"{name}.res").read_text())
    result = noniid.assess(samples.load(ORACLE / f"{name}.bin", None))
    ours = parse(noniid.render(result))
    entropies = [key for key in reference if key.endswith("min entropy") or key.startswith("H_")]
    assert len([k for k in reference if k.endswith("min entropy")]) >= 10
    dev = deviations(reference, ours)
    assert max(dev[key] for key in entropies) <= TOLERANCE, {
        k: dev[k] for k in entropies if dev[k] > TOLERANCE
    }
    # Counts (C, r, N, v, t, u, mode) agree exactly, so the estimators saw the same events.
    counts = [k for k in reference if k.endswith((": C", ": r", ": N", ": v", ": t", ": u", ": Mode count"))]
    assert counts and all(dev[k] == 0 for k in counts)


def test_negative_control_detects_a_changed_sample_file() -> None:
    """The comparison fails when the data differs from what the reference tool saw."""
    name = "rand4_short"
    reference = parse((ORACLE / f"{name}.res").read_text())
    data = np.fromfile(ORACLE / f"{name}.bin", dtype=np.uint8)
    data[: data.size // 4] = data[: data.size // 4] & 0x3  # less entropy in the first quarter
    ours = parse(noniid.render(noniid.assess(samples.from_array(data, 4))))
    dev = deviations(reference, ours)
    assert max(dev[k] for k in reference if k.endswith("min entropy")) > TOLERANCE


def test_negative_control_missing_quantity_is_a_deviation() -> None:
    assert deviations({"H_original": 1.0}, {}) == {"H_original": float("inf")}


CROSS_CHECKS = {
    "three symbols, translated": (lambda rng: rng.integers(0, 3, 30_000).astype(np.uint8) * 5, None),
    "4-bit data read as 8-bit": (lambda rng: rng.integers(0, 16, 20_000).astype(np.uint8), 8),
    "two wide values (binary)": (
        lambda rng: np.where(rng.random(40_000) < 0.7, 0x10, 0x20).astype(np.uint8),
        None,
    ),
    "random walk mod 7": (lambda rng: (np.cumsum(rng.integers(0, 2, 30_000)) % 7).astype(np.uint8), 3),
}


@pytest.mark.parametrize("case", list(CROSS_CHECKS))
def test_cross_check_with_reference_code(case: str) -> None:
    """Edge paths the oracle files do not cover, against PyPI's sp800-90b (the reference C++ code)."""
    make, bits = CROSS_CHECKS[case]
    data = make(np.random.default_rng(5))
    prepared = samples.from_array(data, bits)
    reference = sp.Data(data.tobytes(), prepared.bits, False).h_initial()
    assert noniid.assess(prepared).assessed_min_entropy == pytest.approx(reference, abs=TOLERANCE)


def _fuzz_case(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, int]:
    bits = int(rng.integers(1, 9))
    n = int(rng.integers(6100, 12000))
    if kind == 0:
        data = rng.integers(0, 1 << bits, n)
    elif kind == 1:
        data = np.minimum(rng.geometric(0.3, n) - 1, (1 << bits) - 1)
    elif kind == 2:
        data = np.repeat(rng.integers(0, 1 << bits, n // 7 + 1), 7)[:n]
    else:
        base = np.tile(rng.integers(0, 1 << bits, 37), n // 37 + 1)[:n]
        data = np.where(rng.random(n) < 0.05, rng.integers(0, 1 << bits, n), base)
    return data.astype(np.uint8), bits


@pytest.mark.parametrize("seed", range(8))
def test_random_inputs_against_reference_code(seed: int) -> None:
    """Random widths (1-8 bits), skewed, run-length and periodic data, against sp800-90b."""
    data, bits = _fuzz_case(np.random.default_rng(100 + seed), seed % 4)
    if np.unique(data).size < 2:  # a one-symbol file is bad input, tested elsewhere; make it two symbols
        data[0] ^= 1
    reference = sp.Data(data.tobytes(), bits, False).h_initial()
    assert noniid.assess(samples.from_array(data, bits)).assessed_min_entropy == pytest.approx(
        reference, abs=TOLERANCE
    )


BITSTRING_ESTIMATORS = {
    "multi_mmc": lambda s: [est.multi_mmc(s.bitstring, 2, "Bitstring").min_entropy],
    "lag": lambda s: [est.lag(s.bitstring, 2, "Bitstring").min_entropy],
    "lz78y": lambda s: [est.lz78y(s.bitstring, 2, "Bitstring").min_entropy],
    "t_tuple_and_lrs": lambda s: [e.min_entropy for e in est.t_tuple_and_lrs(s.bitstring, "Bitstring")],
}
REFERENCE_BITSTRING = {
    "multi_mmc": lambda d: [d.h_bitstring_multi_markov()],
    "lag": lambda d: [d.h_bitstring_lag_prediction()],
    "lz78y": lambda d: [d.h_bitstring_lz78y()],
    "t_tuple_and_lrs": lambda d: list(d.h_bitstring_t_tuple_and_lrs()),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", list(BITSTRING_ESTIMATORS))
def test_each_bitstring_estimator_against_reference_code(name: str, seed: int) -> None:
    """The binary kernels one by one (the assessed minimum above can hide one estimator's error),
    on the fuzz cases' bitstrings, against sp800-90b's own function for that estimator."""
    data, bits = _fuzz_case(np.random.default_rng(200 + seed), seed % 4)
    data[0] ^= 1 if np.unique(data).size < 2 else 0
    prepared = samples.from_array(data, max(bits, 2))
    ours = BITSTRING_ESTIMATORS[name](prepared)
    reference = REFERENCE_BITSTRING[name](sp.Data(data.tobytes(), prepared.bits, False))
    assert ours == pytest.approx(reference, abs=TOLERANCE)
    # Negative control: the same estimator on other data (its second half one repeated symbol) differs.
    other = data.copy()
    other[len(other) // 2 :] = data[0]
    assert BITSTRING_ESTIMATORS[name](samples.from_array(other, prepared.bits)) != pytest.approx(
        ours, abs=1e-3
    )
