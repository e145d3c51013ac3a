"""Compile the SP 800-90B kernels into numba's on-disk cache once, so no assessment pays for it.

numba caches compiled machine code beside each kernel module (`__pycache__`, for an editable install
and for a writable site-packages alike) or, where that directory is read-only, in its user-wide cache
directory (`~/.cache/numba`, or `NUMBA_CACHE_DIR`). The cache is keyed by the kernel source file, so
a fresh venv or an upgraded fipsforge is cold once: `scripts/bootstrap.sh` runs this module after
install, and the CLI warms the kernels itself, visibly on stderr, if they are still cold.

Run: python -m fipsforge.entropy.warm
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fipsforge.entropy import _iid_kernels, _kernels, iid, noniid, samples


def _dispatchers() -> list[object]:
    from numba.core.registry import CPUDispatcher

    found = [obj for module in (_kernels, _iid_kernels) for obj in vars(module).values()]
    # Inlined helpers (njit without cache) have a null cache; they live inside their callers' code.
    return [obj for obj in found if isinstance(obj, CPUDispatcher) and hasattr(obj._cache, "_cache_path")]  # type: ignore[attr-defined]


def cache_directory() -> Path:
    return Path(_dispatchers()[0]._cache.cache_path)  # type: ignore[attr-defined]


def cold_kernels() -> list[str]:
    """Kernels with no compiled code in numba's cache for their current source (numba's own index,
    which it checks against the source file's stamp)."""
    return [d.__name__ for d in _dispatchers() if not d._cache._cache_file._load_index()]  # type: ignore[attr-defined]


def is_cold() -> bool:
    return bool(cold_kernels())


def compile_all() -> None:
    """Run both tracks on small 8-bit, binary and translated (sparse 4-bit) data: every kernel
    compiles for the types it gets."""
    rng = np.random.default_rng(0)
    for width, values in ((8, np.arange(256)), (1, np.arange(2)), (4, np.array([0, 3, 7, 12]))):
        data = samples.from_array(rng.choice(values, 20_000).astype(np.uint8), width, name="warm-up")
        noniid.assess(data)
        iid.assess(data, permutations=12, seed=0)


@contextmanager
def warm_kernels() -> Iterator[None]:
    """Around a command that runs the kernels: compile them first, saying so on stderr, if cold."""
    if is_cold():
        from fipsforge.console import stderr_console

        with stderr_console.status(
            "compiling the SP 800-90B kernels once (numba caches them for later runs)"
        ):
            compile_all()
    yield


def main() -> int:
    if not is_cold():
        print(f"fipsforge: SP 800-90B kernels already compiled ({cache_directory()})", file=sys.stderr)
        return 0
    print(
        "fipsforge: compiling the SP 800-90B kernels into numba's cache (about a minute, once)",
        file=sys.stderr,
    )
    start = time.perf_counter()
    compile_all()
    cold = cold_kernels()
    if cold:
        print(f"fipsforge: kernels still not cached after warm-up: {', '.join(cold)}", file=sys.stderr)
        return 1
    print(
        f"fipsforge: kernels compiled in {time.perf_counter() - start:.0f} s, cached in {cache_directory()}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
