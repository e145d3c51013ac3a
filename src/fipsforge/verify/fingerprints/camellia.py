"""Camellia (RFC 3713 §2.2): the key-schedule constants Sigma1..Sigma6, hex digits 2-17 of √2, √3, √5, √7, √11, √13."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, constants, root_bits


def sigma() -> list[int]:
    return [root_bits(p, 68, 2) & (2**64 - 1) for p in (2, 3, 5, 7, 11, 13)]


def fingerprints() -> list[Fingerprint]:
    halves = [half for value in sigma() for half in (value >> 32, value & 0xFFFFFFFF)]
    return [
        Fingerprint("camellia-sigma", "Camellia", "block-cipher", "RFC 3713 §2.2 (Sigma1..Sigma6)",
                    (*constants(sigma(), 8, share=0.66), *constants(halves, 4, share=0.66)[:2]),
                    symbols=("Camellia_set_key", "camellia_setup", "camellia_setkey")),
    ]  # fmt: skip
