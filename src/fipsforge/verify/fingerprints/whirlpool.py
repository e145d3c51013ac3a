"""Whirlpool (ISO/IEC 10118-3:2018 §9; Barreto and Rijmen, "The WHIRLPOOL Hashing Function", 2003).

The S-box is built from three 4-bit mini-boxes (Barreto-Rijmen §6.1, Figure 2): E(u) = B^u in GF(2^4)
mod x^4 + x + 1 with B = x^3 + x + 1 (E(15) = 0), its inverse, and R, a random permutation the
designers give as a table (R is the only value typed here). C0[x] is the first row of the mixing
step applied to S[x]: the bytes S[x]·(1, 1, 4, 1, 8, 5, 2, 9) in GF(2^8) mod x^8 + x^4 + x^3 + x^2 + 1
(§5.3, the circulant cir(1, 1, 4, 1, 8, 5, 2, 9)), as a big-endian 64-bit word. libgcrypt and
libtomcrypt store C0..C7 as native 64-bit words; OpenSSL's assembly stores each C0 entry twice in a
row (16 bytes) so that one unaligned load at offset k reads row k.
"""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, raw_table, table

R = (0x7, 0xC, 0xB, 0xD, 0xE, 0x4, 0x9, 0xF, 0x6, 0x3, 0x8, 0xA, 0x2, 0x5, 0x1, 0x0)
MIX_ROW = (1, 1, 4, 1, 8, 5, 2, 9)


def _gf_multiply(a: int, b: int, bits: int, polynomial: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a >> bits:
            a ^= polynomial
    return product


def mini_e() -> list[int]:
    e, x = [], 1
    for _ in range(15):
        e.append(x)
        x = _gf_multiply(x, 0xB, 4, 0x13)
    return [*e, 0]


def sbox() -> list[int]:
    e = mini_e()
    e_inverse = [e.index(v) for v in range(16)]
    found = []
    for u in range(256):
        high, low = e[u >> 4], e_inverse[u & 15]
        r = R[high ^ low]
        found.append((e[high ^ r] << 4) | e_inverse[low ^ r])
    return found


def c0() -> list[int]:
    return [int.from_bytes(bytes(_gf_multiply(s, c, 8, 0x11D) for c in MIX_ROW), "big") for s in sbox()]


def fingerprints() -> list[Fingerprint]:
    values = c0()
    return [
        Fingerprint("whirlpool-c0", "Whirlpool", "hash",
                    "ISO/IEC 10118-3 §9; Barreto-Rijmen 2003 §5.3 and §6.1 (S-box from E, E^-1, R; C0 = S·cir(1,1,4,1,8,5,2,9))",
                    (*table(values, 8), raw_table("u64-be-doubled", b"".join(v.to_bytes(8, "big") * 2 for v in values))),
                    symbols=("WHIRLPOOL_Init", "whirlpool_init", "whirlpool_compress", "whirlpool_BitUpdate")),
    ]  # fmt: skip
