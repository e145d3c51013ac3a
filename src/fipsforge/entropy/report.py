"""`fipsforge entropy report`: collect, assess, and judge the noise source against its osr.

libjitterentropy assumes each time delta carries more than 1/osr bits of min-entropy (its health
tests are configured from H = 1/osr). The report assesses the 8-bit samples (the low byte of each
delta; masking cannot add entropy, so this is a lower bound for the delta), runs the restart tests,
and recommends the smallest osr whose 1/osr stays below the assessed value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from fipsforge.entropy import collect as collecting
from fipsforge.entropy import jent_flags, noniid, restart, samples
from fipsforge.fsutil import atomic_dir, write_text_atomic

JENT_MIN_OSR = 3


class Verdict(BaseModel):
    osr: int
    required: float  # 1/osr
    assessed_min_entropy: float
    passed: bool
    recommended_osr: int


class Report(BaseModel):
    collect: collecting.CollectInfo
    h_original: float
    h_bitstring: float | None
    assessed_min_entropy: float
    restart: restart.RestartResult | None
    verdict: Verdict
    plots: list[str]


def recommend_osr(h: float) -> int:
    """The smallest osr (at least the library's minimum) with 1/osr < h."""
    if h <= 0:
        return 0
    return max(JENT_MIN_OSR, math.floor(1.0 / h) + 1)


def judge(h: float, osr: int) -> Verdict:
    required = 1.0 / osr
    return Verdict(
        osr=osr,
        required=required,
        assessed_min_entropy=h,
        passed=h > required,
        recommended_osr=recommend_osr(h),
    )


def autocorrelation(x: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelation at lags 1..`lags` (FFT, zero-padded)."""
    y = x.astype(np.float64) - float(np.mean(x))
    n = y.shape[0]
    size = 1 << math.ceil(math.log2(2 * n))
    spectrum = np.fft.rfft(y, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: lags + 1]
    return acf[1:] / acf[0] if acf[0] > 0 else np.zeros(lags)


def plot(deltas: np.ndarray, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    high = float(np.percentile(deltas, 99.5))
    shown = deltas[deltas <= high]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(shown, bins=min(200, max(10, int(high - shown.min()) + 1)), color="#336699")
    ax.set_title(
        f"Time deltas ({deltas.size} samples; {deltas.size - shown.size} above the 99.5th percentile not shown)"
    )
    ax.set_xlabel("delta (timer ticks / GCD)")
    ax.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(out / "deltas-histogram.png", dpi=100)
    plt.close(fig)
    acf = autocorrelation(np.minimum(deltas, np.uint64(high)), 100)
    bound = 2.576 / math.sqrt(deltas.size)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(np.arange(1, acf.size + 1), acf, color="#336699")
    ax.axhline(bound, color="red", linestyle="--", linewidth=0.8)
    ax.axhline(-bound, color="red", linestyle="--", linewidth=0.8)
    ax.set_title(
        "Autocorrelation of the deltas, clipped at the 99.5th percentile (dashed: 99% band if independent)"
    )
    ax.set_xlabel("lag")
    fig.tight_layout()
    fig.savefig(out / "deltas-autocorrelation.png", dpi=100)
    plt.close(fig)
    return ["deltas-histogram.png", "deltas-autocorrelation.png"]


def report(
    out: Path,
    osr: int = jent_flags.DEFAULT_OSR,
    flags: int = jent_flags.DEFAULT_FLAGS,
    samples_count: int = 1_000_000,
    restarts: int = 1000,
    source: Path | None = None,
) -> Report:
    with atomic_dir(out) as staging:
        info = collecting.collect(
            staging / "collect", osr=osr, flags=flags, samples=samples_count, restarts=restarts, source=source
        )
        data = samples.load(staging / "collect" / "samples-8bit.bin", 8)
        result = noniid.assess(data)
        write_text_atomic(staging / "assessment.txt", noniid.render(result) + "\n")
        rresult = None
        if restarts == restart.ROWS and info.restart_samples == restart.COLUMNS:
            rdata = samples.load(staging / "collect" / "restart-8bit.bin", 8)
            rresult = restart.restart_tests(rdata, result.assessed_min_entropy, iid=False)
        deltas = np.fromfile(staging / "collect" / "raw-deltas.u64", dtype="<u8")
        plots = plot(deltas, staging)
        final = Report(
            collect=info,
            h_original=result.h_original,
            h_bitstring=result.h_bitstring,
            assessed_min_entropy=result.assessed_min_entropy,
            restart=rresult,
            verdict=judge(result.assessed_min_entropy, osr),
            plots=plots,
        )
        write_text_atomic(staging / "report.json", final.model_dump_json(indent=2) + "\n")
    return final


def render(r: Report) -> str:
    v = r.verdict
    lines = [
        f"Host: {r.collect.host.cpu} ({r.collect.host.machine}), kernel {r.collect.host.kernel}",
        f"Clock source: {r.collect.host.clocksource}; hypervisor: {'yes' if r.collect.host.cpu_flags_hypervisor else 'no'}",
        f"libjitterentropy {r.collect.library_version}, osr {r.collect.osr}, flags 0x{r.collect.flags:x}",
        f"Samples: {r.collect.samples} deltas (low 8 bits assessed), restarts: {r.collect.restarts}",
        f"H_original: {r.h_original:.6f}",
    ]
    if r.h_bitstring is not None:
        lines.append(f"H_bitstring: {r.h_bitstring:.6f}")
    lines.append(f"Assessed min entropy per delta: {r.assessed_min_entropy:.6f} bits")
    if r.restart is not None:
        lines.append(
            f"Restart tests: sanity {'passed' if r.restart.sanity_passed else 'FAILED'}, "
            f"validation {'passed' if r.restart.validation_passed else 'FAILED'}"
        )
    lines.append(
        f"Verdict: {'PASS' if v.passed else 'FAIL'}: the library needs more than 1/osr = {v.required:.6f} bits per delta"
    )
    lines.append(f"Recommended osr: {v.recommended_osr}")
    return "\n".join(lines)
