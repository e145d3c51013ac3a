"""Sample files in the NIST tool's format: one sample per byte, the low `bits` bits are the symbol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from fipsforge.errors import FipsforgeError


@dataclass(frozen=True)
class Samples:
    """A sample set as SP 800-90B's estimators see it.

    `symbols` are rank-mapped to 0..k-1 when fewer than 2^bits distinct values occur ("translated");
    `bitstring` is built from the untranslated symbols, most significant bit first.
    """

    name: str
    bits: int
    raw: np.ndarray  # masked, untranslated symbols (uint8)
    symbols: np.ndarray  # translated symbols (uint8)
    alphabet: int  # number of distinct symbols, k

    @property
    def binary(self) -> bool:
        return self.alphabet == 2

    @property
    def bitstring(self) -> np.ndarray:
        if self.bits == 1:
            return self.raw
        expanded = np.unpackbits(self.raw[:, None], axis=1)[:, 8 - self.bits :]
        return np.ascontiguousarray(expanded).reshape(-1)


class Summary(BaseModel):
    """What every assessment reports about its input."""

    file: str
    samples: int
    bits: int
    alphabet: int
    binary: bool


def summary(samples: Samples) -> dict[str, str | int | bool]:
    return {
        "file": samples.name,
        "samples": int(samples.symbols.shape[0]),
        "bits": samples.bits,
        "alphabet": samples.alphabet,
        "binary": samples.binary,
    }


def symbol_width(data: np.ndarray) -> int:
    """The number of bits up to the highest bit set in any sample (0 when all samples are zero)."""
    mask = int(np.bitwise_or.reduce(data)) if data.size else 0
    return mask.bit_length()


def from_array(data: np.ndarray, bits: int | None, name: str = "samples") -> Samples:
    """Validate and prepare samples; `bits` None infers the width from the data as the NIST tool does."""
    data = np.ascontiguousarray(data, dtype=np.uint8)
    if data.size == 0:
        raise FipsforgeError(f"{name}: empty, no samples to assess")
    width = symbol_width(data)
    if bits is None:
        bits = max(width, 1)
    elif not 1 <= bits <= 8:
        raise FipsforgeError(f"--bits: {bits} is not a symbol width from 1 to 8")
    elif width > bits:
        first = int(np.flatnonzero(data >> bits)[0])
        raise FipsforgeError(f"{name}: sample {first} is 0x{int(data[first]):02x}, wider than --bits {bits}")
    raw = data & np.uint8((1 << bits) - 1)
    present = np.bincount(raw, minlength=1 << bits) > 0
    alphabet = int(present.sum())
    if alphabet < 2:
        raise FipsforgeError(
            f"{name}: all {raw.size} samples are the same symbol; there is nothing to assess"
        )
    if alphabet < int(raw.max()) + 1:
        table = np.cumsum(present, dtype=np.int64) - 1
        symbols = table[raw].astype(np.uint8)
    else:
        symbols = raw
    return Samples(name=name, bits=bits, raw=raw, symbols=symbols, alphabet=alphabet)


def load(path: Path, bits: int | None) -> Samples:
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise FipsforgeError(f"{path}: cannot read ({error.strerror})") from error
    return from_array(data, bits, name=str(path))
