"""The SP 800-90B kernels compiled ahead of time into one extension module: no numba at run time.

The kernel modules (`KERNEL_MODULES`) hold numba functions. JIT-compiled, even from numba's on-disk cache, a
process pays about 0.8 s before the first kernel runs (importing numba, then its typing and lowering
registries on the first call) and then links each cached kernel as it is first called (0.01-0.6 s
each: measured 1-3 s of CPU for the 8-bit non-IID track). Compiled ahead of time with numba's `pycc` (same source, same LLVM
code generation, for this host's CPU), the kernels are a plain CPython extension that imports in
under a millisecond and releases the GIL like the `nogil` JIT kernels.

The module is built once per kernel source (`python -m fipsforge.entropy.warm`, run by
`scripts/bootstrap.sh`) into the cache directory, named by a hash of everything it depends on: the
kernel sources, the export table below, numpy's and Python's versions and this CPU. Where no module
matches (no C compiler, or sources changed since), `kernels()` falls back to the JIT functions.

Call the kernels through `kernels()`: the wrapper makes every array argument the contiguous dtype its
compiled signature names (a copy only when the caller's array is not already that) and refuses, for
the arrays a kernel writes into, anything it would have to copy.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from fipsforge.fsutil import cache_root

HERE = Path(__file__).resolve().parent
# What the compiled code depends on, besides the export table below.
KERNEL_MODULES = ("_kernels", "_iid_kernels", "_bzip2_kernels")
SOURCES = (*(f"{name}.py" for name in KERNEL_MODULES), "_iid_layout.py", "_bits.py")
FORMAT = 1  # bump when the way the module is built changes


class Export(NamedTuple):
    """One compiled entry point. `arguments` are numba type names; `T[]` is a C-contiguous 1-D array
    of T and `T[]!` one the kernel writes into (passed through, never copied)."""

    module: str
    function: str
    result: str
    arguments: tuple[str, ...]


U1 = "u1[]"
I8A = "i8[]"
EXPORTS: dict[str, Export] = {
    "collision_counts": Export("_kernels", "collision_counts", "UniTuple(i8, 3)", (U1,)),
    "compression_log_distances": Export(
        "_kernels", "compression_log_distances", "UniTuple(f8, 2)", (I8A, "i8")
    ),
    "compression_g": Export("_kernels", "compression_g", "f8", ("f8", "i8", "i8")),
    "tuple_statistics": Export("_kernels", "tuple_statistics", "UniTuple(i8[::1], 2)", (I8A,)),
    "window_keys": Export("_kernels", "window_keys", "u8[::1]", (U1, "i8")),
    "radix_sorted": Export("_kernels", "radix_sorted", "u8[::1]", ("u8[]",)),
    "adjacent_lcp_of_windows": Export(
        "_kernels", "adjacent_lcp_of_windows", "Tuple((i8[::1], b1))", ("u8[]", "u8[]", I8A, I8A, "i8")
    ),
    "multi_mcw": Export("_kernels", "multi_mcw", "UniTuple(i8, 2)", (U1, "i8")),
    "multi_mcw_binary": Export("_kernels", "multi_mcw_binary", "UniTuple(i8, 2)", (U1,)),
    "lag_predictor": Export("_kernels", "lag_predictor", "UniTuple(i8, 2)", (U1,)),
    "lag_predictor_binary": Export("_kernels", "lag_predictor_binary", "UniTuple(i8, 2)", (U1,)),
    "multi_mmc_literal": Export("_kernels", "multi_mmc_literal", "UniTuple(i8, 2)", (U1, "i8", "i8")),
    "multi_mmc_binary": Export("_kernels", "multi_mmc_binary", "UniTuple(i8, 2)", (U1, "i8")),
    "lz78y_literal": Export("_kernels", "lz78y_literal", "UniTuple(i8, 2)", (U1, "i8", "i8")),
    "lz78y_binary": Export("_kernels", "lz78y_binary", "UniTuple(i8, 2)", (U1, "i8")),
    "statistics": Export("_iid_kernels", "statistics", "none", (U1, U1, "i8", "f8", "f8", "b1[]", "f8[]!")),
    "decimal_text": Export("_iid_kernels", "decimal_text", "u1[::1]", (U1,)),
    "shuffle_u1": Export("_iid_kernels", "shuffle", "none", ("u1[]!", "u8")),
    "shuffle_u2": Export("_iid_kernels", "shuffle", "none", ("u2[]!", "u8")),
    "bzip2_runs_and_blocks": Export(
        "_bzip2_kernels", "bzip2_runs_and_blocks", "Tuple((u1[::1], i8[::1]))", (U1, "i8")
    ),
    "bzip2_rotation_order": Export("_bzip2_kernels", "bzip2_rotation_order", "b1", (U1, "i4[]!", "i8")),
    "bzip2_tokens": Export("_bzip2_kernels", "bzip2_tokens", "Tuple((u1[::1], i4[::1]))", (U1,)),
    "bzip2_token_suffixes": Export(
        "_bzip2_kernels", "bzip2_token_suffixes", "Tuple((i4[::1], i8))", (U1, U1, "i4[]", "i4[]")
    ),
    "bzip2_block_bits": Export("_bzip2_kernels", "bzip2_block_bits", "i8", (U1, "i4[]")),
}
# Kernels with one export per element type of their first argument.
BY_DTYPE = {"shuffle": ("shuffle_u1", "shuffle_u2")}


def kernel_modules() -> dict[str, ModuleType]:
    """The numba kernel modules by name (importing them imports numba)."""
    return {name: importlib.import_module(f"fipsforge.entropy.{name}") for name in KERNEL_MODULES}


def numba_signature(export: Export) -> str:
    arguments = ", ".join(a.rstrip("!").replace("[]", "[::1]") for a in export.arguments)
    return f"{export.result}({arguments})"


def _cpu() -> str:
    """This CPU's model and feature flags (the module is compiled for it), as Linux reports them."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    wanted = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(wanted)))


def build_key() -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((HERE / name).read_bytes())
    digest.update(f"{FORMAT}\n{sorted(EXPORTS.items())}\n{np.__version__}\n{sys.version}\n{_cpu()}".encode())
    return digest.hexdigest()[:16]


def module_name(key: str) -> str:
    return f"_sp800_90b_{key}"


def directory() -> Path:
    return cache_root() / "entropy-kernels"


def module_path(key: str) -> Path | None:
    matches = sorted(directory().glob(f"{module_name(key)}.*.so")) if directory().is_dir() else []
    return matches[0] if matches else None


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def compiled() -> ModuleType | None:
    """The ahead-of-time module for the current sources, or None when it has not been built."""
    key = build_key()
    path = module_path(key)
    if path is None:
        return None
    try:
        return _load(path, module_name(key))
    except ImportError:
        return None


def _converter(code: str) -> Callable[[Any], Any]:
    if code.endswith("!"):
        dtype = np.dtype(code[:-3])

        def in_place(value: Any) -> Any:
            if not (isinstance(value, np.ndarray) and value.dtype == dtype and value.flags.c_contiguous):
                raise TypeError(f"in-place argument must be a C-contiguous {dtype} array")
            return value

        return in_place
    if code.endswith("[]"):
        dtype = np.dtype(code[:-2])
        return lambda value: np.ascontiguousarray(value, dtype=dtype)
    return float if code == "f8" else int


def _wrap(function: Callable[..., Any], export: Export) -> Callable[..., Any]:
    converters = [_converter(code) for code in export.arguments]

    def call(*arguments: Any) -> Any:
        return function(*(convert(value) for convert, value in zip(converters, arguments, strict=True)))

    call.__name__ = export.function
    return call


class Kernels:
    """The kernels by their names in the kernel modules, compiled ahead of time when built."""

    def __init__(self, module: ModuleType | None) -> None:
        self.module = module
        self.ahead_of_time = module is not None
        self._functions: dict[str, Callable[..., Any]] = {}

    def _jit(self, name: str) -> Callable[..., Any]:
        for module in kernel_modules().values():
            if hasattr(module, name):
                found: Callable[..., Any] = getattr(module, name)
                return found
        raise AttributeError(name)

    def _compiled(self, name: str) -> Callable[..., Any]:
        if name in BY_DTYPE:
            variants = {
                np.dtype(EXPORTS[e].arguments[0][:2]): _wrap(getattr(self.module, e), EXPORTS[e])
                for e in BY_DTYPE[name]
            }
            fallback = next(iter(variants.values()))  # refuses (or converts) other dtypes

            def by_dtype(first: Any, *rest: Any) -> Any:
                dtype = getattr(first, "dtype", None)
                return (
                    variants.get(dtype, fallback)(first, *rest)
                    if dtype is not None
                    else fallback(first, *rest)
                )

            return by_dtype
        if name not in EXPORTS:
            raise AttributeError(name)
        return _wrap(getattr(self.module, name), EXPORTS[name])

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        function = self._functions.get(name)
        if function is None:
            function = self._compiled(name) if self.ahead_of_time else self._jit(name)
            self._functions[name] = function
        return function


@functools.cache
def kernels() -> Kernels:
    return Kernels(compiled())
