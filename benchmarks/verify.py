"""`fipsforge verify` throughput on a synthetic image of at least 1 GB, in MB/s of uncompressed layer data.

The image is an OCI layout written in a temporary directory: several layers of files, some of them ELF
libraries and programs copied from the host (so the ELF scanner, the fips.so rules and the blob store
all work), the rest incompressible filler that the reader must still stream through. A whiteout layer
at the top deletes part of what is below.

Baseline, measured in the same run on the same layers: Python's `tarfile` streaming every member's
data and hashing the layer (what any reader has to do at least: read, check the digest, walk the tar).
The figure of merit is verify MB/s and its ratio to that baseline. The crypto-implementation detector
(fingerprints, one Aho-Corasick pass per kept file) is timed against verify without it, in the same run:
`fingerprints_slowdown` is their ratio (target: at most 1.5).

Run: .venv/bin/python benchmarks/verify.py [--size-mb 1024] [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from fipsforge.oci.reader import open_image
from fipsforge.verify.analyze import verify_image

HOST_ELVES = [Path("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"), Path("/usr/lib/x86_64-linux-gnu/libssl.so.3"),
              Path("/usr/bin/openssl"), Path("/bin/bash")]  # fmt: skip
LAYERS = 4


class _Sink(io.RawIOBase):
    """A file that hashes and counts what is written (the layer blob) as it goes to disk."""

    def __init__(self, out: io.BufferedWriter) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.out.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)


def _layer(root: Path, number: int, size: int, compress: bool, rng: random.Random) -> tuple[str, int, int]:
    """Write one layer blob; returns (digest, blob size, uncompressed size)."""
    tmp = root / f"layer-{number}.tmp"
    elves = [p.read_bytes() for p in HOST_ELVES if p.is_file()]
    filler = os.urandom(8 << 20)
    with tmp.open("wb") as raw:
        sink = _Sink(raw)
        target = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=1, mtime=0) if compress else sink
        with tarfile.open(fileobj=target, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            written = count = 0
            while written < size:
                count += 1
                if count % 10 == 0 and elves:
                    data = elves[count // 10 % len(elves)]
                    name = f"usr/lib/layer{number}/lib{count}.so"
                else:
                    length = rng.randint(4 << 10, 8 << 20)
                    start = rng.randint(0, len(filler) - length)
                    data = filler[start : start + length]
                    name = f"srv/data{number}/{count // 100}/blob{count}.bin"
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                written += len(data)
            if number == LAYERS - 1:
                tar.addfile(tarfile.TarInfo("srv/data0/.wh..wh..opq"))
        if compress:
            target.close()
    digest = f"sha256:{sink.sha.hexdigest()}"
    tmp.rename(root / "blobs/sha256" / digest.split(":")[1])
    return digest, sink.size, written


def _write_image(root: Path, total_mb: int, compress: bool) -> int:
    rng = random.Random(1)
    (root / "blobs/sha256").mkdir(parents=True)
    layers = []
    uncompressed = 0
    for number in range(LAYERS):
        digest, size, data = _layer(root, number, (total_mb << 20) // LAYERS, compress, rng)
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
        layers.append({"mediaType": media, "digest": digest, "size": size})
        uncompressed += data
    blobs = root / "blobs/sha256"
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers"}}
    ).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    (blobs / config_digest).write_bytes(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{config_digest}",
                   "size": len(config)},
        "layers": layers,
    }).encode()  # fmt: skip
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    (blobs / manifest_digest).write_bytes(manifest)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                "digest": f"sha256:{manifest_digest}", "size": len(manifest)}]}  # fmt: skip
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return uncompressed


def _baseline(root: Path, work: Path) -> None:
    with open_image(str(root), work) as image:
        for _descriptor, stream in image.layers():
            with tarfile.open(fileobj=stream, mode="r|*") as tar:  # type: ignore[call-overload]
                for member in tar:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        while handle.read(1 << 20):
                            pass
            assert stream.digest_ok()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="uncompressed layer data to generate")
    parser.add_argument(
        "--gzip", action="store_true", help="gzip the layers (level 1) as registries serve them"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fipsforge-bench-verify-") as tmp:
        root, work = Path(tmp) / "image", Path(tmp) / "work"
        work.mkdir()
        start = time.monotonic()
        data = _write_image(root, args.size_mb, args.gzip)
        generated = time.monotonic() - start
        start = time.monotonic()
        _baseline(root, work)
        baseline = time.monotonic() - start
        # Alternated, best of two each: the page cache and a noisy machine favour whichever runs later.
        times: dict[bool, list[float]] = {False: [], True: []}
        for fingerprints in (False, True, True, False):
            start = time.monotonic()
            result = verify_image(str(root), work, fingerprints=fingerprints)
            times[fingerprints].append(time.monotonic() - start)
            if fingerprints:
                report = result
        without, elapsed = min(times[False]), min(times[True])
        shutil.rmtree(work, ignore_errors=True)
    megabytes = data / 1e6
    figures = {
        "uncompressed_mb": round(megabytes, 1),
        "layers_gzip": args.gzip,
        "generate_s": round(generated, 1),
        "baseline_tarfile_mb_per_s": round(megabytes / baseline, 1),
        "verify_mb_per_s": round(megabytes / elapsed, 1),
        "verify_over_baseline": round(baseline / elapsed, 3),
        "verify_without_fingerprints_s": round(without, 2),
        "verify_s": round(elapsed, 2),
        "fingerprints_slowdown": round(elapsed / without, 3),
        "files_with_implementations": len(report.crypto_implementations),
        "crypto_libraries_found": len(report.crypto_libraries),
        "findings": len(report.findings),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
