"""Two cold builds of the python image, each from its own empty cache: are they byte-identical?

Each build runs `fipsforge build python` in its own process with `FIPSFORGE_CACHE` at a different empty
directory, so it downloads the sources and .debs and compiles OpenSSL and CPython from scratch. Both
manifest digests are printed; when they differ, so is the first blob that differs and, for a layer, the
first file in it whose header or content differs. The builds run side by side, but their OpenSSL
compiles take turns: both use the build directory fixed by the compile key. Too long for CI (two OpenSSL
and two CPython builds, about an hour on two busy cores); run it by hand.

Run: nice .venv/bin/python benchmarks/reproducible.py [--work DIR] [--sequential]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

FIPSFORGE = str(Path(sys.executable).with_name("fipsforge"))


def start_build(work: Path, name: str) -> tuple[subprocess.Popen[str], float]:
    """`fipsforge build python` with its own empty cache, output and log under `work/name`."""
    (work / name / "cache").mkdir(parents=True)
    env = {**os.environ, "FIPSFORGE_CACHE": str(work / name / "cache")}
    log = (work / name / "build.log").open("w")
    command = [FIPSFORGE, "build", "python", "--out", str(work / name / "oci"), "--json"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    return process, time.monotonic()


def finish_build(process: subprocess.Popen[str], started: float, name: str) -> tuple[dict[str, Any], float]:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{name}: build failed (exit {process.returncode}), see its build.log")
    return json.loads(out), time.monotonic() - started


def _json_blob(layout: Path, digest: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((layout / "blobs/sha256" / digest.split(":")[1]).read_bytes())
    return value


def _members(layer: Path) -> dict[str, tuple[tuple[object, ...], bytes]]:
    """Layer path → (tar header fields, content), in archive order."""
    found: dict[str, tuple[tuple[object, ...], bytes]] = {}
    with gzip.open(layer) as raw, tarfile.open(fileobj=raw, mode="r|") as archive:
        for member in archive:
            header = (member.type, member.mode, member.uid, member.gid, member.mtime, member.linkname)
            stream = archive.extractfile(member) if member.isreg() else None
            found[member.name] = (header, stream.read() if stream else b"")
    return found


def first_difference(a: Path, b: Path, digest_a: str, digest_b: str) -> str:
    """Where two layouts' images first differ: the config, or the first differing file of the layer."""
    manifest_a, manifest_b = _json_blob(a, digest_a), _json_blob(b, digest_b)
    if manifest_a["config"]["digest"] != manifest_b["config"]["digest"]:
        config_a = _json_blob(a, manifest_a["config"]["digest"])
        config_b = _json_blob(b, manifest_b["config"]["digest"])
        if config_a["rootfs"] == config_b["rootfs"]:
            return f"config only: {json.dumps(config_a)} vs {json.dumps(config_b)}"
    layer_a = a / "blobs/sha256" / manifest_a["layers"][0]["digest"].split(":")[1]
    layer_b = b / "blobs/sha256" / manifest_b["layers"][0]["digest"].split(":")[1]
    members_a, members_b = _members(layer_a), _members(layer_b)
    for name in sorted(set(members_a) | set(members_b), key=lambda n: n.encode()):
        if name not in members_a or name not in members_b:
            return f"{name}: only in {'a' if name in members_a else 'b'}"
        (header_a, data_a), (header_b, data_b) = members_a[name], members_b[name]
        if header_a != header_b:
            return f"{name}: tar header {header_a} vs {header_b}"
        if data_a != data_b:
            offset = next(i for i, (x, y) in enumerate(zip(data_a, data_b, strict=False)) if x != y) \
                if len(data_a) == len(data_b) else min(len(data_a), len(data_b))  # fmt: skip
            context = slice(max(0, offset - 40), offset + 40)
            return (f"{name}: content differs at byte {offset} ({len(data_a)} vs {len(data_b)} bytes): "
                    f"{data_a[context]!r} vs {data_b[context]!r}")  # fmt: skip
    return "manifests differ but no file does (annotations?)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the caches and layouts here (default: temporary)")
    parser.add_argument("--sequential", action="store_true", help="build one after the other")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fipsforge-repro-") as tmp:
        work = args.work or Path(tmp)
        results: dict[str, tuple[dict[str, Any], float]] = {}
        if args.sequential:
            for name in ("a", "b"):
                results[name] = finish_build(*start_build(work, name), name)
        else:
            running = {name: start_build(work, name) for name in ("a", "b")}
            results = {name: finish_build(*started, name) for name, started in running.items()}
        (a, seconds_a), (b, seconds_b) = results["a"], results["b"]
        print(f"build a: {a['manifest_digest']} ({seconds_a:.0f} s, cache {work / 'a' / 'cache'})")
        print(f"build b: {b['manifest_digest']} ({seconds_b:.0f} s, cache {work / 'b' / 'cache'})")
        if a["manifest_digest"] == b["manifest_digest"]:
            print("identical: yes")
            return
        print("identical: no")
        print("first difference: " + first_difference(
            work / "a" / "oci", work / "b" / "oci", a["manifest_digest"], b["manifest_digest"]))  # fmt: skip
        sys.exit(1)


if __name__ == "__main__":
    main()
