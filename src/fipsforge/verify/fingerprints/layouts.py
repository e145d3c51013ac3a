"""How a fingerprint's values are laid out in real files, and the pieces the matcher looks for.

A value list becomes several byte layouts: little- and big-endian words as compiled code stores them
(x86/arm64 tables and instruction immediates are little-endian; s390x, Java class files and network-order
code are big-endian), 64-bit words split into 32-bit halves (32-bit and JavaScript code), and the
*literal* layout that `scan.script_literals` produces from source text (every integer literal as an
8-byte big-endian word), which lets one automaton also read pure-Python and pure-JavaScript tables.

A table is cut into windows; a hit needs most of its windows, so a short constant that happens to
occur alone never makes one. A constant set (values used as instruction immediates, scattered over
the code) needs most of its values, each at least 4 bytes and not a low-entropy word such as 0x1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Primitive = Literal[
    "block-cipher", "stream-cipher", "hash", "xof", "mac", "signature", "key-agree", "pke", "ae", "other"
]
WINDOW = 16
LITERAL_WIDTH = 8
LITERAL_WINDOW = 4  # literals per window: 32 bytes of the literal stream
TABLE_SHARE = 0.75
MIN_DISTINCT_BYTES = 3


@dataclass(frozen=True)
class Layout:
    """One way the values appear in a file: the pieces looked for and how many must be found."""

    name: str
    pieces: tuple[bytes, ...]
    required: int
    stride: int  # bytes between consecutive pieces of a table (0: scattered constants)
    literal: bool = False  # matched against the script literal stream, not raw bytes
    span: int = 0  # if set, the required pieces must all lie within this many bytes
    near: tuple[bytes, ...] = ()
    """Pieces that must also lie within `reach` bytes of the found ones (an IV beside its table)."""
    near_required: int = 0
    away: tuple[bytes, ...] = ()
    """Pieces that must not occur within `reach` bytes of the found ones: what a related algorithm
    sharing these constants adds (SHA-1's third round constant beside MD4's two)."""
    reach: int = 0


@dataclass(frozen=True)
class Fingerprint:
    id: str
    algorithm: str
    primitive: Primitive
    source: str
    layouts: tuple[Layout, ...]
    symbols: tuple[str, ...] = ()
    security: bool = True
    """False for the explicit non-security list (CRC tables, hash-table seeds): inventoried, never a finding."""
    notes: str = ""
    symbol_only: bool = False
    """No constants to find: only the exact function names in `symbols` (a weaker kind of evidence)."""
    shadowed_by: str = ""
    """A fingerprint whose matches contain this one's pieces (SHA-512's K words begin with SHA-256's):
    pieces found only inside that one's matches do not count."""


def words(values: Sequence[int], width: int, order: Literal["little", "big"]) -> bytes:
    return b"".join(value.to_bytes(width, order) for value in values)


def _informative(piece: bytes) -> bool:
    return len(set(piece)) >= MIN_DISTINCT_BYTES


def _windows(data: bytes, window: int) -> tuple[tuple[bytes, ...], int]:
    if len(data) <= 2 * window:
        return (data,), len(data)
    return tuple(data[i : i + window] for i in range(0, len(data) - window + 1, window)), window


def _table_layout(name: str, data: bytes, window: int, literal: bool = False) -> Layout:
    pieces, stride = _windows(data, window)
    kept = tuple(p for p in pieces if _informative(p))
    # Windows that are not informative keep their place (stride arithmetic) but never count.
    required = max(1, math.ceil(TABLE_SHARE * len(kept))) if len(kept) > 2 else len(kept)
    return Layout(name, tuple(p if _informative(p) else b"" for p in pieces), required, stride, literal)


def table(values: Sequence[int], width: int, *, halves: bool = False) -> tuple[Layout, ...]:
    """A table stored contiguously: LE and BE words, optionally 64-bit words as 32-bit halves, literals."""
    layouts = [
        _table_layout("u8" if width == 1 else f"u{width * 8}-le", words(values, width, "little"), WINDOW)
    ]
    if width > 1:
        layouts.append(_table_layout(f"u{width * 8}-be", words(values, width, "big"), WINDOW))
    literal_values: list[int] = list(values)
    if halves and width == 8:
        layouts.append(_table_layout("u32-pairs-le", words(_halves(values), 4, "little"), WINDOW))
        literal_values = _halves(values)
    layouts.append(_literal_layout(literal_values))
    return tuple(layouts)


def raw_table(name: str, data: bytes) -> Layout:
    """A table in a layout `table` does not generate (rows repeated, interleaved): its bytes as stored."""
    return _table_layout(name, data, WINDOW)


def _literal_layout(values: Sequence[int]) -> Layout:
    return _table_layout(
        "literals", words(values, LITERAL_WIDTH, "big"), LITERAL_WIDTH * LITERAL_WINDOW, True
    )


def _halves(values: Sequence[int]) -> list[int]:
    return [half for value in values for half in (value >> 32, value & 0xFFFFFFFF)]


def constants(
    values: Sequence[int], width: int, share: float = TABLE_SHARE, span: int = 0
) -> tuple[Layout, ...]:
    """Constants that code may scatter as immediates: each value counts once, wherever it is (or, with
    `span`, within that many bytes of the others: for words that also occur as text, like ChaCha's)."""
    layouts = []
    for order in ("little", "big"):
        pieces = tuple(p for p in (v.to_bytes(width, order) for v in values) if _informative(p))
        name = f"u{width * 8}-{'le' if order == 'little' else 'be'}-constants"
        layouts.append(Layout(name, pieces, max(1, math.ceil(share * len(pieces))), 0, span=span))
    literal = tuple(
        v.to_bytes(LITERAL_WIDTH, "big") for v in values if _informative(v.to_bytes(width, "big"))
    )
    layouts.append(Layout("literal-constants", literal, max(1, math.ceil(share * len(literal))), 0, True))
    return tuple(layouts)


def whole(name: str, values: Sequence[bytes], required: int = 1) -> Layout:
    """Long distinctive values (curve parameters, strings), each found whole."""
    return Layout(name, tuple(values), required, 0)


def iroot(value: int, root: int) -> int:
    """floor(value^(1/root)), exactly (Newton's method on integers)."""
    x = 1 << ((value.bit_length() + root - 1) // root)
    while True:
        y = ((root - 1) * x + value // x ** (root - 1)) // root
        if y >= x:
            return x
        x = y


def root_bits(n: int, bits: int, root: int = 2) -> int:
    """floor(2^bits · n^(1/root)) mod 2^bits: the first `bits` bits of the root's fractional part."""
    return iroot(n << (bits * root), root) & ((1 << bits) - 1)


def primes(count: int) -> list[int]:
    found: list[int] = []
    candidate = 2
    while len(found) < count:
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
        candidate += 1
    return found
