"""Fingerprints of cryptographic implementations: the constants an implementation must carry.

One module per algorithm family; each builds its `Fingerprint`s from the standard's definition where
that is short (AES S-box from GF(2^8) inversion, MD5 from the sine function, SHA-2 from prime roots,
Keccak from its LFSR) so no table is typed by hand. `all_fingerprints()` is the registry the matcher
compiles into one Aho-Corasick automaton.
"""

from __future__ import annotations

from fipsforge.verify.fingerprints import (
    aes,
    blowfish,
    camellia,
    chacha,
    curves,
    keccak,
    md,
    noncrypto,
    sha,
    sm,
)
from fipsforge.verify.fingerprints.layouts import Fingerprint

FAMILIES = (aes, sha, keccak, md, chacha, curves, blowfish, camellia, sm, noncrypto)


def all_fingerprints() -> list[Fingerprint]:
    return [fingerprint for family in FAMILIES for fingerprint in family.fingerprints()]


__all__ = ["Fingerprint", "all_fingerprints"]
