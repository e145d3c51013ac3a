"""Benchmark: how fast the CLI answers, against `python -m pip --version` timed in the same run.

Each command is a fresh process; the runs are interleaved (pip, help, verify help, pip, ...) so the
machine's load falls on all alike, and the median of --runs is compared. Goal: `fipsforge --help`
and `fipsforge verify --help` each at most 1.5x the pip baseline.

Run: .venv/bin/python benchmarks/cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL = 1.5


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    fipsforge = str(Path(sys.executable).with_name("fipsforge"))
    commands = {
        "python -m pip --version": [sys.executable, "-m", "pip", "--version"],
        "fipsforge --help": [fipsforge, "--help"],
        "fipsforge verify --help": [fipsforge, "verify", "--help"],
        "fipsforge entropy assess --help": [fipsforge, "entropy", "assess", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    baseline = statistics.median(times["python -m pip --version"])
    print(f"median of {args.runs} interleaved runs, each a fresh process")
    failed = False
    for name, runs in times.items():
        seconds = statistics.median(runs)
        ratio = seconds / baseline
        goal = (
            "" if name.startswith("python") else f"  goal <= {GOAL}x: {'met' if ratio <= GOAL else 'MISSED'}"
        )
        failed |= name in ("fipsforge --help", "fipsforge verify --help") and ratio > GOAL
        print(f"  {name:<34}{seconds:7.3f} s  {ratio:5.2f}x pip{goal}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
