"""Bit counts on 64-bit words as single instructions inside compiled kernels.

numba exposes LLVM's count-leading/trailing-zeros intrinsics but not its population count, so that
one is declared here the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.extending import intrinsic
from numba.cpython.unsafe import numbers

__all__ = ["leading_zeros", "popcount", "trailing_zeros"]

# Kernels call these with one word; typed so for mypy (an intrinsic's own signature is its typer's).
WordCount = Callable[[np.uint64], np.uint64]


@intrinsic
def _popcount(typing_context: Any, value: types.Integer) -> Any:
    """How many bits of an integer are set (LLVM's ctpop)."""

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return value(value), codegen


popcount = cast(WordCount, _popcount)
leading_zeros = cast(WordCount, numbers.leading_zeros)
trailing_zeros = cast(WordCount, numbers.trailing_zeros)
