"""`fipsforge entropy collect`: raw jitter noise from libjitterentropy on this host.

The samples come from a small C helper (`jent_raw.c`) linked against the library's own objects,
built from the same source tree the stack builds (Debian trixie's jitterentropy-rngd, which bundles
libjitterentropy 3.4.x). Version 3.4 has no public raw-sample API, but its sampling step
`jent_measure_jitter()` is an exported library function with a test interface that returns the time
delta it just measured; the helper calls it on a collector made by `jent_entropy_collector_alloc`,
so memory access, the hash loop and the timer GCD are exactly the production ones. The library is
compiled with the stack's own flags (`fipsforge.stack.build.JITTER_CFLAGS`: -O0, as its sources require).

Outputs (written atomically into one directory):
  raw-deltas.u64 / restart-deltas.u64   the deltas as little-endian uint64
  samples-8bit.bin / samples-4bit.bin   one sample per byte: delta & 0xFF, delta & 0x0F
  restart-8bit.bin / restart-4bit.bin   the restart matrix (restarts x samples), same masks
  collect.json                          host CPU, kernel, library version, osr, flags, file hashes
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from fipsforge.entropy.jent_flags import DEFAULT_FLAGS, DEFAULT_OSR
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir, cache_root, sha256_file, write_text_atomic
from fipsforge.stack.build import JITTER_CFLAGS


class HostInfo(BaseModel):
    cpu: str
    cpu_flags_hypervisor: bool
    machine: str
    kernel: str
    clocksource: str | None


class CollectInfo(BaseModel):
    host: HostInfo
    library: str
    library_version: str
    source_dir: str
    osr: int
    flags: int
    samples: int
    restarts: int
    restart_samples: int
    files: dict[str, str]  # name -> sha256


def host_info() -> HostInfo:
    cpu = platform.processor() or platform.machine()
    hypervisor = False
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        text = cpuinfo.read_text(errors="replace")
        model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if model:
            cpu = model.group(1).strip()
        flags = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
        hypervisor = bool(flags and "hypervisor" in flags.group(1).split())
    clock = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    return HostInfo(
        cpu=cpu,
        cpu_flags_hypervisor=hypervisor,
        machine=platform.machine(),
        kernel=f"{platform.system()} {platform.release()} {platform.version()}",
        clocksource=clock.read_text().strip() if clock.is_file() else None,
    )


def library_version(source: Path) -> str:
    """MAJ.MIN.PATCH from lib/jitterentropy-base.c."""
    text = (source / "lib" / "jitterentropy-base.c").read_text(errors="replace")
    parts = [
        re.search(rf"#define {name}\s+(\d+)", text) for name in ("MAJVERSION", "MINVERSION", "PATCHLEVEL")
    ]
    if not all(parts):
        raise FipsforgeError(f"{source}: no version in lib/jitterentropy-base.c")
    return ".".join(p.group(1) for p in parts if p)


def _helper_source() -> str:
    return resources.files("fipsforge.entropy").joinpath("jent_raw.c").read_text()


def build_helper(source: Path) -> Path:
    """Compile jent_raw against the library in `source` (cached by the hash of every input)."""
    for needed in ("jitterentropy.h", "lib/jitterentropy-noise.h", "lib/jitterentropy-base.c"):
        if not (source / needed).is_file():
            raise FipsforgeError(f"{source}: not a jitterentropy source tree (no {needed})")
    compiler = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if compiler is None:
        raise FipsforgeError("CC: no C compiler found (install gcc) to build the jitterentropy sampler")
    inputs = sorted([source / "jitterentropy.h", *(source / "lib").glob("*.[ch]")])
    digest = hashlib.sha256(_helper_source().encode())
    digest.update(" ".join([compiler, *JITTER_CFLAGS]).encode())
    for path in inputs:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    target = cache_root() / "entropy" / f"jent_raw-{digest.hexdigest()[:16]}"
    binary = target / "jent_raw"
    if binary.is_file():
        return binary
    with atomic_dir(target) as staging:
        (staging / "jent_raw.c").write_text(_helper_source())
        command = [
            compiler,
            *JITTER_CFLAGS,
            f"-I{source}",
            f"-I{source / 'lib'}",
            *(str(p) for p in sorted((source / "lib").glob("*.c"))),
            str(staging / "jent_raw.c"),
            "-o",
            str(staging / "jent_raw"),
            "-lpthread",
        ]
        built = subprocess.run(command, capture_output=True, text=True, check=False)
        if built.returncode != 0:
            last = (built.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise FipsforgeError(f"{source}: building the jitterentropy sampler failed: {last}")
    return binary


def record(helper: Path, osr: int, flags: int, samples: int, restarts: int = 0) -> np.ndarray:
    """Raw deltas as uint64: `samples` consecutive ones, or `restarts` x `samples` from fresh collectors."""
    ran = subprocess.run(
        [str(helper), str(osr), str(flags), str(samples), str(restarts)], capture_output=True, check=False
    )
    if ran.returncode != 0:
        message = ran.stderr.decode(errors="replace").strip() or f"exit status {ran.returncode}"
        raise FipsforgeError(f"jitterentropy sampler: {message}")
    expected = samples * max(restarts, 1)
    deltas = np.frombuffer(ran.stdout, dtype="<u8")
    if deltas.shape[0] != expected:
        raise FipsforgeError(f"jitterentropy sampler: got {deltas.shape[0]} deltas, expected {expected}")
    return deltas


def masked(deltas: np.ndarray, bits: int) -> np.ndarray:
    """Samples in the NIST tool's format: the low `bits` bits of each delta, one per byte."""
    return (deltas & np.uint64((1 << bits) - 1)).astype(np.uint8)


def source_dir(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    from fipsforge.stack.sources import jitterentropy_source_dir

    return jitterentropy_source_dir()


def collect(
    out: Path,
    osr: int = DEFAULT_OSR,
    flags: int = DEFAULT_FLAGS,
    samples: int = 1_000_000,
    restarts: int = 1000,
    restart_samples: int = 1000,
    source: Path | None = None,
) -> CollectInfo:
    if osr < 1:
        raise FipsforgeError(f"--osr: {osr} must be at least 1")
    if samples < 1:
        raise FipsforgeError(f"--samples: {samples} must be at least 1")
    tree = source_dir(source)
    helper = build_helper(tree)
    deltas = record(helper, osr, flags, samples)
    restart_deltas = record(helper, osr, flags, restart_samples, restarts) if restarts > 0 else None
    with atomic_dir(out) as staging:
        deltas.astype("<u8").tofile(staging / "raw-deltas.u64")
        masked(deltas, 8).tofile(staging / "samples-8bit.bin")
        masked(deltas, 4).tofile(staging / "samples-4bit.bin")
        if restart_deltas is not None:
            restart_deltas.astype("<u8").tofile(staging / "restart-deltas.u64")
            masked(restart_deltas, 8).tofile(staging / "restart-8bit.bin")
            masked(restart_deltas, 4).tofile(staging / "restart-4bit.bin")
        info = CollectInfo(
            host=host_info(),
            library="libjitterentropy (bundled in jitterentropy-rngd)",
            library_version=library_version(tree),
            source_dir=str(tree),
            osr=osr,
            flags=flags,
            samples=samples,
            restarts=restarts,
            restart_samples=restart_samples if restarts else 0,
            files={p.name: sha256_file(p) for p in sorted(staging.iterdir())},
        )
        write_text_atomic(staging / "collect.json", info.model_dump_json(indent=2) + "\n")
    return info
