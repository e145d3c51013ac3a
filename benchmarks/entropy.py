"""Benchmark: fipsforge's SP 800-90B tracks against the NIST reference code, whole processes, one run.

For 1,000,000-sample 8-, 4- and 1-bit files (the oracle's truerand_*bit.bin) and both tracks:
  - fipsforge: `fipsforge entropy assess FILE --non-iid|--iid --json`, a fresh process each time
    (start-up, numba's cached kernels and the assessment all counted);
  - baseline: PyPI's `sp800-90b` (the reference C++ code wrapped with pybind11, single-threaded),
    also a fresh process: `h_initial()` for non-IID, chi-square + LRS + permutation tests for IID;
  - the NIST tool's own wall times on this machine kind, from the oracle README, printed beside.
Runs alternate (ours, baseline, ours, ...) so machine load falls on both alike; the ratio is the
median of ours against the median of the baseline from this run. Also prints the IID track's floor:
the compressed sizes its compression statistic needs, timed alone, by libbzip2 and by fipsforge.

With --profile, also each non-IID estimator's CPU time in this process (kernels loaded, one thread),
on the 8-bit file unless --bits says otherwise: which estimator dominates.

Run: .venv/bin/python benchmarks/entropy.py [--repeat N] [--bits 8 4 1] [--tracks non-iid iid] [--profile]
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ORACLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "entropy-oracle"
# `ea_non_iid -v` / `ea_iid -v` wall seconds on this machine kind (oracle README); IID only for 8 bits.
NIST_NON_IID = {8: 26.65, 4: 22.97, 1: 1.15}
NIST_IID = {8: 19.4}
GOAL_NON_IID = {8: 10.0, 4: 10.0, 1: 3.0}
GOAL_IID = 5.0

BASELINE = """
import sys, sp800_90b
path, bits, track = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = sp800_90b.Data(open(path, "rb").read(), bits, False)
if track == "non-iid":
    print(repr(data.h_initial()))
else:
    print(all([data.chi_square_tests(), data.lrs_tests(), data.permutation_tests()]))
"""


# Children keep their bytecode as a user's installation does: with PYTHONDONTWRITEBYTECODE set, each
# one would compile fipsforge's modules again and time that too.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the child (all threads) and its stdout."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=CHILD_ENV)
    wall = time.perf_counter() - start
    after = os.times()
    return (
        wall,
        (after.children_user - before.children_user) + (after.children_system - before.children_system),
        done.stdout,
    )


class Compared(NamedTuple):
    """One file and track: our JSON document and wall time from each run, the baseline's median wall."""

    documents: list[dict[str, Any]]
    walls: list[float]
    baseline_wall: float | None


def compare(path: Path, bits: int, track: str, repeat: int, baseline: bool) -> Compared:
    fipsforge = str(Path(sys.executable).with_name("fipsforge"))
    ours_argv = [fipsforge, "entropy", "assess", str(path), "--bits", str(bits), f"--{track}", "--json"]
    ref_argv = [sys.executable, "-c", BASELINE, str(path), str(bits), track]
    ours: list[tuple[float, float]] = []
    refs: list[tuple[float, float]] = []
    documents: list[dict[str, Any]] = []
    ref_out = ""
    for _ in range(repeat):
        wall, cpu, ours_out = run(ours_argv)
        ours.append((wall, cpu))
        documents.append(json.loads(ours_out))
        if baseline:
            wall, cpu, ref_out = run(ref_argv)
            refs.append((wall, cpu))
    document = documents[-1]
    ours_wall = statistics.median(w for w, _ in ours)
    ours_cpu = statistics.median(c for _, c in ours)
    verdict = f"H = {document['assessed_min_entropy']:.12g}"
    if track == "iid":
        counts = ", ".join(str(d["permutations_run"]) for d in documents)
        verdict += f", IID {document['iid']}, permutations run {counts}"
    print(f"{track:>8} {bits}-bit  fipsforge {ours_wall:7.2f} s wall {ours_cpu:7.2f} s CPU   {verdict}")
    nist = (NIST_NON_IID if track == "non-iid" else NIST_IID).get(bits)
    goal = GOAL_NON_IID[bits] if track == "non-iid" else GOAL_IID
    if refs:
        ref_wall = statistics.median(w for w, _ in refs)
        ref_cpu = statistics.median(c for _, c in refs)
        answer = ref_out.strip().splitlines()[-1]  # the IID tests print progress lines first
        if track == "non-iid":
            answer = f"H = {float(answer):.12g}, |difference| {abs(float(answer) - document['assessed_min_entropy']):.1e}"
        else:
            agree = all(str(d["iid"]) == answer for d in documents)
            answer = f"IID {answer} (verdicts of every run {'agree' if agree else 'DIFFER'})"
        ratio = ref_wall / ours_wall
        print(
            f"{'':>15}sp800-90b {ref_wall:7.2f} s wall {ref_cpu:7.2f} s CPU   {answer}\n"
            f"{'':>15}ratio     {ratio:7.1f}x wall (same run; goal {goal:g}x: {'met' if ratio >= goal else 'MISSED'}), "
            f"{ref_cpu / ours_cpu:.1f}x CPU (ours kept {ours_cpu / ours_wall:.1f} cores busy)"
        )
    if nist is not None:
        print(f"{'':>15}NIST tool {nist:7.2f} s wall (README)   {nist / ours_wall:5.1f}x against it")
    if track == "non-iid" and refs:
        startup_floor(path, bits, ours_argv, repeat, statistics.median(w for w, _ in refs))
    return Compared(documents, [w for w, _ in ours], statistics.median(w for w, _ in refs) if refs else None)


def startup_floor(path: Path, bits: int, argv: list[str], repeat: int, ref_wall: float) -> None:
    """What a whole process costs before the estimators matter: the same command on the file's first
    10,000 samples (about the fewest the track accepts). No estimator speed-up gets the ratio past
    the baseline's time over this one."""
    with tempfile.TemporaryDirectory() as scratch:
        small = Path(scratch) / path.name
        small.write_bytes(path.read_bytes()[:10_000])
        small_argv = [small if a == str(path) else a for a in argv]
        wall = statistics.median(run([str(a) for a in small_argv])[0] for _ in range(repeat))
    print(
        f"{'':>15}start-up  {wall:7.2f} s wall on its first 10,000 samples: "
        f"at most {ref_wall / wall:.1f}x the baseline on this file, however fast the estimators"
    )


def estimator_profile(path: Path, bits: int) -> None:
    """CPU seconds of each non-IID estimator run alone (after one warm-up run of all of them)."""
    from fipsforge.entropy import noniid, samples

    data = samples.load(path, bits)
    for _, _, job in noniid.estimator_tasks(data):
        job()
    timed = []
    for key, form, job in noniid.estimator_tasks(data):
        start = time.thread_time()
        job()
        timed.append((time.thread_time() - start, f"{form.lower()} {key}"))
    total = sum(t for t, _ in timed)
    print(f"{'':>15}estimators on {path.name}, CPU seconds (one thread), {total:.2f} s in all:")
    for seconds, name in sorted(timed, reverse=True):
        print(f"{'':>17}{name:<22}{seconds:6.3f} s {100 * seconds / total:5.1f}%")


def compression_floor(path: Path, bits: int, compared: Compared) -> None:
    """The IID track's floor: its compression statistic needs libbzip2's exact compressed size of
    the samples as decimal text (block size 5) once per permutation until its verdict settles. Timed
    with every core calling, as in the track: libbzip2 itself, fipsforge's exact count, and its sort (the
    blocks' suffixes in order, from divsufsort over the numbers), which no exact replacement skips.
    How many calls a run needs is random, for the reference as for us: the bounds are for the median."""
    from fipsforge.entropy import bzip2_size
    from fipsforge.entropy.native import kernels

    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8) & np.uint8((1 << bits) - 1)
    text = kernels().decimal_text(raw)
    bzip2_size.compressed_size(text)  # first-call costs out of the timing

    cores = os.cpu_count() or 1

    def per_call(job: Any) -> float:
        """Seconds of a core per call with every core calling, as in the track (divsufsort's OpenMP
        threads would otherwise count their spinning as CPU time of a lone call)."""
        with ThreadPoolExecutor(max_workers=cores) as pool:
            start = time.perf_counter()
            list(pool.map(lambda _: job(), range(2 * cores)))
            return (time.perf_counter() - start) / 2

    block = bzip2_size.block_bytes(5)
    blocks = [text[at : at + block].copy() for at in range(0, text.shape[0], block)]
    libbzip2 = per_call(lambda: bz2.compress(text.tobytes(), 5))
    exact = per_call(lambda: bzip2_size.compressed_size(text))
    sort = per_call(lambda: [bzip2_size.block_suffixes(b) for b in blocks])
    calls = [
        1
        + next(p["greater"] + p["equal"] + p["less"] for p in d["permutation"] if p["name"] == "compression")
        for d in compared.documents
    ]
    share = statistics.median(c * exact / cores / w for c, w in zip(calls, compared.walls, strict=True))
    print(
        f"{'':>15}floor     compressed size of {text.shape[0] / 1e6:.1f} MB of text, a core's seconds a call with all cores calling: libbzip2 "
        f"{libbzip2:.2f} s, fipsforge {exact:.2f} s ({libbzip2 / exact:.1f}x), its sort alone "
        f"{sort:.2f} s; {', '.join(map(str, calls))} calls in the runs, on {cores} cores {100 * share:.0f}% of "
        f"our wall time"
    )
    if compared.baseline_wall is not None:
        bound = {
            name: compared.baseline_wall * cores / (statistics.median(calls) * seconds)
            for name, seconds in (("libbzip2", libbzip2), ("ours", exact), ("sort", sort))
        }
        print(
            f"{'':>15}          with nothing else to do: at most {bound['libbzip2']:.1f}x the baseline "
            f"with libbzip2's calls, {bound['ours']:.1f}x with ours, {bound['sort']:.1f}x if only the "
            f"sort cost"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 4, 1])
    parser.add_argument("--tracks", nargs="+", choices=["non-iid", "iid"], default=["non-iid", "iid"])
    parser.add_argument("--profile", action="store_true", help="time each non-IID estimator in-process")
    args = parser.parse_args()
    try:
        import sp800_90b  # noqa: F401
    except ImportError:
        baseline = False
        print("baseline: sp800-90b not installed; only the NIST README figures are shown", file=sys.stderr)
    else:
        baseline = True
    print(f"1,000,000-sample files, whole processes, median of {args.repeat}; {os.cpu_count()} cores")
    for track in args.tracks:
        for bits in args.bits:
            path = ORACLE / f"truerand_{bits}bit.bin"
            compared = compare(path, bits, track, args.repeat, baseline)
            if track == "iid":
                compression_floor(path, bits, compared)
            elif args.profile and bits == max(args.bits):
                estimator_profile(path, bits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
