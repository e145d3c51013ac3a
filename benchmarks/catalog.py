"""Benchmark: each catalog image against the same packages over Debian's stock OpenSSL.

Per catalog spec, in one run on the same machine: the warm build time (inputs cached, the second of two
builds), the `fipsforge test` time of the built image, and the uncompressed image size, for the FIPS
image and for its stock control (`fips_stack: false`), printed as ratios FIPS / stock. The stock
control's test is expected to fail (that is its purpose); its time is still what a run costs.

Run: .venv/bin/python benchmarks/catalog.py [SPEC ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from fipsforge.image.build import ImageResult, build_image
from fipsforge.image.spec import (
    BUILTIN_SPECS,
    builtin_spec_dir,
    builtin_spec_text,
    parse_spec,
    stock_control_text,
)
from fipsforge.oci.unpack import unpack_image
from fipsforge.sandbox.suite import run_suite

CATALOG = tuple(name for name in BUILTIN_SPECS if name not in ("openssl", "python"))
"""The application and runtime images (openssl and python are the stack's own, see benchmarks/image.py)."""


def measure(text: str, name: str, tmp: Path) -> tuple[float, float, ImageResult, bool]:
    """Warm build seconds, test seconds, the build result, and whether the test passed."""
    spec = parse_spec(text, name, builtin_spec_dir())
    build_image(spec, text, tmp / f"{name}-warmup")  # fills the caches: the next build is warm
    start = time.perf_counter()
    result = build_image(spec, text, tmp / name)
    built = time.perf_counter() - start
    start = time.perf_counter()
    report = run_suite(unpack_image(str(result.layout), tmp / f"{name}-work"))
    return built, time.perf_counter() - start, result, report.passed


def main() -> int:
    names = sys.argv[1:] or list(CATALOG)
    print(
        "| image | build s (fips / stock = ratio) | test s (fips / stock = ratio) | size MB (fips / stock = ratio) | test passed (fips, stock) |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="fipsforge-bench-") as scratch:
        for name in names:
            text = builtin_spec_text(name)
            fips = measure(text, name, Path(scratch))
            stock = measure(stock_control_text(text), f"{name}-stock", Path(scratch))
            size = (fips[2].uncompressed_size / 1e6, stock[2].uncompressed_size / 1e6)
            print(
                f"| {name} | {fips[0]:.1f} / {stock[0]:.1f} = {fips[0] / stock[0]:.2f} "
                f"| {fips[1]:.1f} / {stock[1]:.1f} = {fips[1] / stock[1]:.2f} "
                f"| {size[0]:.1f} / {size[1]:.1f} = {size[0] / size[1]:.2f} | {fips[3]}, {stock[3]} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
