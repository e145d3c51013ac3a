"""Process start to the first random bytes: stock OpenSSL vs the fipsforge stack, and where the time goes.

Setups, each a fresh process (median of --runs):
  stock           Debian's /usr/bin/openssl rand -hex 32: default provider, kernel seeding
  ours-start      our openssl version, empty config: process start and library load, no provider
  ours-fips-load  our openssl list -providers: loads fips.so, which runs its self-tests (KATs use
                  fixed inputs, so no seeding)
  ours-kernel     our stack with a fips.so built without enable-fips-jitter: rand, seeded by getrandom
  ours-jitter     our stack as shipped: rand, FIPS provider seeded by jitter

Differences isolate the costs: fips-load - start = module load + self-tests; jitter - fips-load = jitter
seeding; kernel - fips-load = kernel seeding. A small C program then times jent_entropy_init and the
per-seed collector cost for several oversampling rates. Figures print as ratios against stock.

Run: .venv/bin/python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from fipsforge.stack.build import StackBuild, build_jitterentropy, build_stack, staged_environment
from fipsforge.stack.check import kernel_seeded_variant
from fipsforge.stack.sources import jitterentropy_source_dir

COMMAND = ["openssl", "rand", "-hex", "32"]


def median_seconds(argv: list[str], env: dict[str, str] | None, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def jitter_costs(scratch: Path) -> list[dict[str, float]]:
    tree = shutil.copytree(jitterentropy_source_dir(), scratch / "jitter")
    build_jitterentropy(tree, scratch / "jitter.log")
    program = scratch / "jent_timing"
    subprocess.run(
        ["cc", "-O0", "-I", str(tree), str(Path(__file__).with_name("jent_timing.c")),
         str(tree / "libjitterentropy.a"), "-lpthread", "-o", str(program)],
        check=True,
    )  # fmt: skip
    results = []
    for osr in (1, 2, 3):
        done = subprocess.run(
            [str(program), str(osr), "48", "21"], capture_output=True, text=True, check=True
        )
        results.append(json.loads(done.stdout))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    build: StackBuild = build_stack()
    variant = kernel_seeded_variant(build)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "k").mkdir()
        (scratch / "j").mkdir()
        ours = str(build.staging / "usr/bin/openssl")
        ours_env = staged_environment(build.staging, scratch / "j")
        setups = {
            "stock": (["/usr/bin/openssl", *COMMAND[1:]], None),
            "ours-start": ([ours, "version"], {**ours_env, "OPENSSL_CONF": "/dev/null"}),
            "ours-fips-load": ([ours, "list", "-providers"], ours_env),
            "ours-kernel": ([str(variant / "usr/bin/openssl"), *COMMAND[1:]],
                            staged_environment(variant, scratch / "k")),
            "ours-jitter": ([ours, *COMMAND[1:]], ours_env),
        }  # fmt: skip
        for argv, env in setups.values():  # warm the page cache before timing
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times = {name: median_seconds(argv, env, runs) for name, (argv, env) in setups.items()}
        jitter = jitter_costs(scratch)
    stock = times["stock"]
    print(f"process start to first random bytes (`openssl rand -hex 32`), median of {runs} runs")
    print(f"{'setup':14} {'seconds':>8} {'x stock':>8}")
    for name, seconds in times.items():
        print(f"{name:14} {seconds:8.4f} {seconds / stock:8.2f}")
    print(
        f"FIPS module load + self-tests (fips-load - start): {times['ours-fips-load'] - times['ours-start']:+.4f} s"
    )
    print(f"jitter seeding (jitter - fips-load): {times['ours-jitter'] - times['ours-fips-load']:+.4f} s")
    print(f"kernel seeding (kernel - fips-load): {times['ours-kernel'] - times['ours-fips-load']:+.4f} s")
    print("libjitterentropy 3.4 (JENT_FORCE_FIPS), medians of 21: init once; per seed: alloc + read 48 bytes")
    for row in jitter:
        per_seed = row["alloc_s"] + row["read_s"]
        print(
            f"  osr {row['osr']:.0f}: jent_entropy_init {row['init_s']:.4f} s, collector alloc {row['alloc_s']:.4f} s, "
            f"read {row['read_s']:.4f} s, per seed {per_seed:.4f} s ({per_seed / stock:.2f} x stock start-up)"
        )


if __name__ == "__main__":
    main()
