"""`fipsforge outdated` over a catalog, cold cache and warm: wall time and `.deb` files fetched.

The catalog is the built-in specs' images plus one image pinned to older krb5 packages (so that some
changelogs must be fetched). The images are built with the shared cache; `outdated` then runs twice
against a fresh, empty cache directory (FIPSFORGE_CACHE): cold (indexes, `.deb`s and changelogs all
fetched) and warm (nothing refetched: the same run again). The figure of merit is the warm/cold time
ratio and the warm run's `.deb` count, which must be 0.

Run: .venv/bin/python benchmarks/outdated.py [--specs openssl,python]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from fipsforge.image.build import build_image
from fipsforge.image.spec import load_spec, parse_spec
from fipsforge.outdated.check import check_images

PINNED = """name: bench/krb5
tag: behind
fips_stack: false
packages: [libk5crypto3=1.21.3-5+deb13u1, libkrb5support0=1.21.3-5+deb13u1]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default="openssl,python")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fipsforge-bench-outdated-") as tmp:
        work = Path(tmp)
        catalog = []
        for name in args.specs.split(","):
            spec, text = load_spec(name)
            catalog.append(str(build_image(spec, text, work / name).layout))
        catalog.append(str(build_image(parse_spec(PINNED, "pinned"), PINNED, work / "pinned").layout))
        os.environ["FIPSFORGE_CACHE"] = str(work / "cache")  # empty: the cold run fetches everything
        runs = {}
        for phase in ("cold", "warm"):
            start = time.perf_counter()
            result = check_images(catalog, today=date.today())
            runs[phase] = {
                "seconds": round(time.perf_counter() - start, 2),
                "debs_fetched": result.debs_fetched,
                "changelogs_read": result.changelogs_read,
                "images_behind": sum(image.status == "behind" for image in result.images),
                "cves": sum(len(image.clocks) for image in result.images),
            }
    runs["warm_over_cold"] = {"time_ratio": round(runs["warm"]["seconds"] / runs["cold"]["seconds"], 3)}
    print(json.dumps({"images": len(catalog), **runs}, indent=2))


if __name__ == "__main__":
    main()
