"""The python image: size against the same Debian packages untrimmed, package count, cold and warm builds.

Baseline, measured in the same run: an image of the python image's Debian packages plus Debian's own
python3.13 and OpenSSL packages, nothing trimmed and nothing replaced (`trim: false`, no stack, no
CPython build). Sizes print as ratios against it. Build times: "warm" reuses the cache (apt indexes
refreshed, .debs, stack and CPython builds cached); "cold" (with --cold) starts from an empty cache
directory and so includes downloading the sources and building OpenSSL and CPython.

Run: .venv/bin/python benchmarks/image.py [--cold]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from fipsforge.image.build import ImageResult, build_image
from fipsforge.image.spec import load_spec, parse_spec

BASELINE = """
name: bench/debian-python
tag: untrimmed
packages: [base-files, python3.13, ca-certificates, netbase, tzdata]
exclude: [debconf]
fips_stack: false
trim: false
"""


def _timed_python_build(out: Path) -> tuple[ImageResult, float]:
    spec, text = load_spec("python")
    start = time.monotonic()
    result = build_image(spec, text, out)
    return result, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a build from an empty cache")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="fipsforge-bench-") as tmp:
        work = Path(tmp)
        if args.cold:
            os.environ["FIPSFORGE_CACHE"] = str(work / "cold-cache")
            _result, cold = _timed_python_build(work / "cold")
            figures["cold_build_s"] = round(cold, 1)
        result, warm = _timed_python_build(work / "warm")
        figures["warm_build_s"] = round(warm, 1)
        if args.cold:
            figures["warm_over_cold"] = round(warm / float(figures["cold_build_s"]), 3)  # type: ignore[arg-type]
        baseline = build_image(parse_spec(BASELINE, "baseline"), BASELINE, work / "baseline")
        figures.update(
            {
                "python_image_compressed_bytes": result.layer_size,
                "python_image_uncompressed_bytes": result.uncompressed_size,
                "baseline_compressed_bytes": baseline.layer_size,
                "baseline_uncompressed_bytes": baseline.uncompressed_size,
                "compressed_ratio": round(result.layer_size / baseline.layer_size, 3),
                "uncompressed_ratio": round(result.uncompressed_size / baseline.uncompressed_size, 3),
                "debian_packages": result.packages,
                "baseline_debian_packages": baseline.packages,
                "fipsforge_components": len(result.components),
                "manifest_digest": result.manifest_digest,
            }
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
