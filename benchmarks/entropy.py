"""Benchmark: fipsforge's SP 800-90B tracks against the NIST reference code, side by side.

On 1,000,000 8-bit samples (the oracle's truerand_8bit.bin, or random bytes if the oracle is absent):
  - the non-IID track (all ten estimators, literal and bitstring, initial entropy estimate);
  - the IID track (chi-square, LRS, and the permutation tests with a 10,000-permutation budget,
    stopping each statistic once its verdict is settled, as the reference tool does).
The baseline is PyPI's `sp800-90b` (the reference C++ code wrapped with pybind11), timed in the
same run on the same machine; the NIST tool's own times from the oracle README are printed beside.

Run: .venv/bin/python benchmarks/entropy.py [--repeat N] [--skip-iid]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fipsforge.entropy import iid, noniid, samples

ORACLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "entropy-oracle"
NIST_README_NONIID_8BIT = 26.65  # ea_non_iid -v truerand_8bit.bin, oracle README (another run: 18.8 s)
NIST_README_IID_8BIT = 19.4  # ea_iid -v truerand_8bit.bin, oracle README


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Median wall seconds, median CPU seconds (all threads), and the last result."""
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-iid", action="store_true")
    args = parser.parse_args()

    path = ORACLE / "truerand_8bit.bin"
    if path.is_file():
        raw = path.read_bytes()
    else:
        raw = np.random.default_rng(0).integers(0, 256, 1_000_000, dtype=np.uint8).tobytes()
    data = samples.from_array(np.frombuffer(raw, dtype=np.uint8), 8, name=path.name)
    try:
        import sp800_90b
    except ImportError:
        sp800_90b = None
        print(
            "baseline: sp800-90b not installed; only the NIST README figures are available", file=sys.stderr
        )

    start = time.perf_counter()
    noniid.assess(data)  # loads the compiled kernels from numba's cache (or compiles them once)
    first = time.perf_counter() - start
    ours, ours_cpu, result = timed(lambda: noniid.assess(data), args.repeat)
    print(f"non-IID track, {data.symbols.size} x {data.bits}-bit samples ({data.name})")
    print(
        f"  fipsforge            {ours:8.2f} s wall {ours_cpu:8.2f} s CPU   (first call in process: {first:.2f} s)"
    )
    print(f"  assessed min-entropy {result.assessed_min_entropy:.17g}")
    if sp800_90b is not None:
        reference = sp800_90b.Data(raw, 8, False)
        base, base_cpu, h = timed(reference.h_initial, 1)
        print(
            f"  sp800-90b baseline   {base:8.2f} s wall {base_cpu:8.2f} s CPU   "
            f"ratio {base / ours:5.1f}x wall, {base_cpu / ours_cpu:5.1f}x CPU (same run)"
        )
        print(f"  baseline min-entropy {h:.17g}   |difference| = {abs(h - result.assessed_min_entropy):.1e}")
    readme_ratio = NIST_README_NONIID_8BIT / ours
    print(
        f"  NIST ea_non_iid      {NIST_README_NONIID_8BIT:8.2f} s wall   ratio {readme_ratio:5.1f}x (README)"
    )

    if args.skip_iid:
        return 0
    ours_iid, ours_iid_cpu, iid_result = timed(lambda: iid.assess(data), 1)
    bzip2_runs = sum(p.greater + p.equal + p.less for p in iid_result.permutation if p.name == "compression")
    print(
        f"IID track ({iid.PERMUTATIONS} permutation budget; ran {iid_result.permutations_run}, bzip2 on {bzip2_runs})"
    )
    print(f"  fipsforge            {ours_iid:8.2f} s wall {ours_iid_cpu:8.2f} s CPU   IID: {iid_result.iid}")
    one_bzip2, _, _ = timed(lambda: iid.compressed_length(data.raw), 3)
    cores = os.cpu_count() or 1
    floor = bzip2_runs * one_bzip2 / cores
    print(
        f"  bzip2 alone          {floor:8.2f} s wall   ({bzip2_runs} x {one_bzip2:.2f} s on {cores} cores: any exact tool's floor)"
    )
    if sp800_90b is not None:
        reference = sp800_90b.Data(raw, 8, False)
        base_iid, base_iid_cpu, verdict = timed(
            lambda: (reference.chi_square_tests(), reference.lrs_tests(), reference.permutation_tests()), 1
        )
        print(
            f"  sp800-90b baseline   {base_iid:8.2f} s wall {base_iid_cpu:8.2f} s CPU   "
            f"ratio {base_iid / ours_iid:5.1f}x wall, {base_iid_cpu / ours_iid_cpu:5.1f}x CPU   IID: {all(verdict)}"
        )
    readme_ratio = NIST_README_IID_8BIT / ours_iid
    print(f"  NIST ea_iid          {NIST_README_IID_8BIT:8.2f} s wall   ratio {readme_ratio:5.1f}x (README)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
