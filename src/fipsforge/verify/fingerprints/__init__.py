"""Fingerprints of cryptographic implementations: the constants an implementation must carry.

One module per algorithm family; each builds its `Fingerprint`s from the standard's definition where
that is short (AES S-box from GF(2^8) inversion, MD5 from the sine function, SHA-2 from prime roots,
Keccak from its LFSR, DES's combined tables from its S-boxes and P) so no table is typed by hand
beyond what the standard itself only gives as a table (DES's S-boxes, BLAKE2's SIGMA, Whirlpool's R).
A family without constants (RC4) is a `symbol_only` fingerprint: exact function names, reported as
the weaker `symbol-only` evidence. `all_fingerprints()` is the registry the matcher
compiles into one Aho-Corasick automaton.
"""

from __future__ import annotations

from fipsforge.verify.fingerprints import (
    aes,
    blake2,
    blowfish,
    camellia,
    chacha,
    curves,
    des,
    keccak,
    md,
    noncrypto,
    rc4,
    sha,
    sm,
    whirlpool,
)
from fipsforge.verify.fingerprints.layouts import Fingerprint

FAMILIES = (
    aes,
    sha,
    keccak,
    md,
    chacha,
    curves,
    blowfish,
    camellia,
    sm,
    des,
    whirlpool,
    blake2,
    rc4,
    noncrypto,
)


def all_fingerprints() -> list[Fingerprint]:
    return [fingerprint for family in FAMILIES for fingerprint in family.fingerprints()]


__all__ = ["Fingerprint", "all_fingerprints"]
