"""Blowfish (Schneier, FSE 1993, "Description of a New Variable-Length Key, 64-Bit Block Cipher", §3):
the P-array and S-box 1 are the hexadecimal digits of π's fractional part, computed here (Machin)."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, table


def _arctan_inverse(x: int, one: int) -> int:
    total, term, n, sign = 0, one // x, 1, 1
    while term:
        total += sign * (term // n)
        term //= x * x
        n += 2
        sign = -sign
    return total


def pi_words(count: int) -> list[int]:
    """The first `count` 32-bit words of π's fractional hex digits."""
    guard = 64
    one = 1 << (32 * count + guard)
    pi = 16 * _arctan_inverse(5, one) - 4 * _arctan_inverse(239, one)
    fraction = (pi - 3 * one) >> guard
    return [(fraction >> (32 * (count - 1 - i))) & 0xFFFFFFFF for i in range(count)]


def fingerprints() -> list[Fingerprint]:
    digits = pi_words(18 + 256)
    return [
        Fingerprint("blowfish-p-array", "Blowfish", "block-cipher", "Schneier 1993 §3 (P1..P18 = π's hex digits)",
                    table(digits[:18], 4), symbols=("BF_set_key", "Blowfish_initstate", "blowfish_setup")),
        Fingerprint("blowfish-s1", "Blowfish", "block-cipher", "Schneier 1993 §3 (S1, the next 256 words of π)",
                    table(digits[18:], 4)),
    ]  # fmt: skip
