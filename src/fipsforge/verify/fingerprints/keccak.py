"""SHA-3 / Keccak-f[1600] (FIPS 202 §3.2.5): the 24 round constants, generated from the rc(t) LFSR."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, table


def _rc(t: int) -> int:
    """FIPS 202 Algorithm 5: bit t of the LFSR x^8 + x^6 + x^5 + x^4 + 1."""
    if t % 255 == 0:
        return 1
    r = 0x80  # R = 10000000, bit 0 leftmost
    for _ in range(t % 255):
        r = (r >> 1) ^ (0x8E if r & 1 else 0)  # R8 feeds back into R0, R4, R5, R6
        r &= 0xFF
    return r >> 7 & 1


def round_constants() -> list[int]:
    """FIPS 202 Algorithm 6: RC[i] has rc(j + 7i) at bit 2^j - 1, j = 0..6."""
    return [sum(_rc(j + 7 * i) << ((1 << j) - 1) for j in range(7)) for i in range(24)]


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("keccak-rc", "SHA-3", "hash", "FIPS 202 §3.2.5 (iota step round constants RC[0..23])",
                    table(round_constants(), 8, halves=True),
                    symbols=("SHA3_absorb", "KeccakF1600", "keccak_f1600", "sha3_update", "KeccakP1600_Permute")),
    ]  # fmt: skip
