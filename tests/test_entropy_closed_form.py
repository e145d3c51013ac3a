"""Estimators on sources whose min-entropy is known in closed form, within their statistical bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fipsforge.entropy import estimators as est
from fipsforge.entropy import noniid, samples

N = 200_000


def markov_bits(stay: float, n: int, seed: int) -> np.ndarray:
    """Symmetric binary Markov chain: keep the previous bit with probability `stay`."""
    rng = np.random.default_rng(seed)
    flips = (rng.random(n) >= stay).astype(np.uint8)
    flips[0] = rng.integers(0, 2)
    return (np.cumsum(flips) & 1).astype(np.uint8)


def test_uniform_bytes_assess_close_to_eight_bits() -> None:
    data = np.random.default_rng(1).integers(0, 256, N, dtype=np.uint8)
    result = noniid.assess(samples.from_array(data, 8))
    # Every estimator is an upper-confidence-bound estimate: at most the true 8 bits, and close to it.
    assert 7.0 < result.h_original <= 8.0
    assert 0.8 < (result.h_bitstring or 0) <= 1.0  # the compression estimate runs low (§6.3.4)
    mcv = next(e for e in result.estimates if e.key == "mcv" and e.form == "Literal")
    assert mcv.min_entropy is not None and 7.6 < mcv.min_entropy <= 8.0


def test_negative_control_half_alphabet_is_seven_bits() -> None:
    data = (np.random.default_rng(2).integers(0, 128, N, dtype=np.uint8) * 2).astype(np.uint8)
    result = noniid.assess(samples.from_array(data, 8))
    assert result.assessed_min_entropy <= 7.0 + 1e-9


@pytest.mark.parametrize("p", [0.8, 0.95])
def test_biased_bernoulli(p: float) -> None:
    truth = -math.log2(p)
    data = (np.random.default_rng(3).random(N) >= p).astype(np.uint8)  # 0 with probability p
    mcv = est.most_common_value(data, 2, "Literal")
    assert mcv.min_entropy is not None
    # p_u = p_hat + 2.576 sigma: the estimate sits below the truth by about that margin.
    sigma = math.sqrt(p * (1 - p) / N)
    assert -math.log2(p + 6 * sigma) <= mcv.min_entropy <= truth
    result = noniid.assess(samples.from_array(data, 1))
    assert 0.5 * truth < result.assessed_min_entropy <= truth + 1e-3


def test_markov_chain_estimate() -> None:
    stay = 0.9
    data = markov_bits(stay, N, 4)
    # The most likely 128-bit sequence is a constant run: p = 1/2 * stay^127.
    truth = (1 + 127 * -math.log2(stay)) / 128
    markov = est.markov(data, "Literal")
    assert markov.min_entropy is not None and abs(markov.min_entropy - truth) < 0.01
    result = noniid.assess(samples.from_array(data, 1))
    assert result.assessed_min_entropy <= truth + 0.01
    # Negative control: the marginal (MCV) view alone calls this near-perfect, so the check can fail.
    mcv = est.most_common_value(data, 2, "Literal")
    assert mcv.min_entropy is not None and mcv.min_entropy > 0.95


def test_negative_control_weaker_chain_is_distinguished() -> None:
    truth = (1 + 127 * -math.log2(0.9)) / 128
    other = est.markov(markov_bits(0.6, N, 5), "Literal")
    assert other.min_entropy is not None and abs(other.min_entropy - truth) > 0.2
