"""Compile the SP 800-90B kernels once, so no assessment pays for it.

Two compiled forms of the same kernels (`native.KERNEL_MODULES`):
- the ahead-of-time extension module (`native`), which assessments use: it imports no numba, so a
  process starts about 0.8 s sooner. It lives in the cache directory, named by a hash of the kernel
  sources, numpy, Python and this CPU.
- numba's JIT cache, the fallback where no C compiler can build that module (and what tests that
  call a kernel module directly use). numba caches machine code beside each kernel module
  (`__pycache__`) or, where that is read-only, in its user-wide cache (`~/.cache/numba`, or
  `NUMBA_CACHE_DIR`), keyed by the kernel source file.

`scripts/bootstrap.sh` runs this module after install; the CLI builds what is missing itself,
visibly on stderr, if both are still cold.

Run: python -m fipsforge.entropy.warm
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fipsforge.entropy import native


def _dispatchers() -> list[object]:
    from numba.core.registry import CPUDispatcher

    found = [obj for module in native.kernel_modules().values() for obj in vars(module).values()]
    # Inlined helpers (njit without cache) have a null cache; they live inside their callers' code.
    return [obj for obj in found if isinstance(obj, CPUDispatcher) and hasattr(obj._cache, "_cache_path")]  # type: ignore[attr-defined]


def cache_directory() -> Path:
    return Path(_dispatchers()[0]._cache.cache_path)  # type: ignore[attr-defined]


def cold_kernels() -> list[str]:
    """JIT kernels with no compiled code in numba's cache for their current source (numba's own
    index, which it checks against the source file's stamp)."""
    return [d.__name__ for d in _dispatchers() if not d._cache._cache_file._load_index()]  # type: ignore[attr-defined]


def is_cold() -> bool:
    return bool(cold_kernels())


def compile_all() -> None:
    """Compile every JIT kernel for the signatures the ahead-of-time module exports (the types the
    estimators pass); the helpers they call compile and cache with them."""
    modules = native.kernel_modules()
    for export in native.EXPORTS.values():
        getattr(modules[export.module], export.function).compile(native.numba_signature(export))


@contextmanager
def _wrappers_release_the_gil() -> Iterator[None]:
    """Compile pycc's Python wrappers with `release_gil` set, as `njit(nogil=True)` does, so two
    threads can run two kernels at once. pycc builds its compile flags from `Flags()` in
    numba.pycc.compiler; this swaps in a subclass for the build only."""
    pycc_compiler: Any = importlib.import_module("numba.pycc.compiler")
    flags: Any = importlib.import_module("numba.core.compiler").Flags

    class NogilFlags(flags):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.release_gil = True

    saved = pycc_compiler.Flags
    pycc_compiler.Flags = NogilFlags
    try:
        yield
    finally:
        pycc_compiler.Flags = saved


def build(target: Path | None = None) -> Path:
    """Compile every export of `native.EXPORTS` into the extension module for the current sources,
    for this CPU; returns its path. Built in a private directory and renamed into place, so
    concurrent builds do not collide."""
    modules = native.kernel_modules()
    name = native.module_name(native.build_key())
    target = target or native.directory()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".build-") as staging, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's pending-deprecation notice
        pycc: Any = importlib.import_module("numba.pycc")
        cc = pycc.CC(name, source_module=modules["_kernels"])
        cc.output_dir = staging
        cc.target_cpu = "host"
        for export_name, export in native.EXPORTS.items():
            dispatcher = getattr(modules[export.module], export.function)
            cc.export(export_name, native.numba_signature(export))(dispatcher.py_func)
        with _wrappers_release_the_gil():
            cc.compile()
        final = target / str(cc.output_file)
        (Path(staging) / str(cc.output_file)).replace(final)
    return final


def build_native() -> Path | None:
    """Build the ahead-of-time module unless it is there; None when it cannot be built here."""
    try:
        path = native.module_path(native.build_key()) or build()
    except Exception as error:  # no C compiler, or a toolchain numba's pycc cannot drive
        print(
            f"fipsforge: cannot build the SP 800-90B kernel module ({error}); using numba's JIT",
            file=sys.stderr,
        )
        return None
    native.compiled.cache_clear()
    native.kernels.cache_clear()
    return path


@contextmanager
def warm_kernels() -> Iterator[None]:
    """Around a command that runs the kernels: build them first, saying so on stderr, if cold."""
    if native.compiled() is None:
        from fipsforge.console import stderr_console

        with stderr_console.status("compiling the SP 800-90B kernels once (cached for later runs)"):
            if build_native() is None and is_cold():
                compile_all()
    yield


def main() -> int:
    start = time.perf_counter()
    missing = native.module_path(native.build_key()) is None
    jit = is_cold()
    if not missing and not jit:
        print(f"fipsforge: SP 800-90B kernels already compiled ({native.directory()})", file=sys.stderr)
        return 0
    print("fipsforge: compiling the SP 800-90B kernels (about a minute, once)", file=sys.stderr)
    if jit:
        compile_all()
    path = build_native()
    cold = cold_kernels()
    if cold:
        print(f"fipsforge: kernels still not cached after warm-up: {', '.join(cold)}", file=sys.stderr)
        return 1
    print(
        f"fipsforge: kernels compiled in {time.perf_counter() - start:.0f} s: JIT cache in {cache_directory()}, "
        f"module {path or '(not built: JIT only)'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
