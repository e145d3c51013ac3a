"""AES (FIPS 197): the S-box, its inverse, and the encryption T-tables of table-driven implementations."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, table

SOURCE = "FIPS 197 §5.1.1 (S-box: inverse in GF(2^8) mod x^8+x^4+x^3+x+1, then the affine map)"


def _xtime(a: int) -> int:
    a <<= 1
    return a ^ 0x11B if a & 0x100 else a


def _multiply(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        a, b = _xtime(a), b >> 1
    return product


def _power(a: int, exponent: int) -> int:
    result = 1
    while exponent:
        if exponent & 1:
            result = _multiply(result, a)
        a, exponent = _multiply(a, a), exponent >> 1
    return result


def sbox() -> list[int]:
    table_ = []
    for x in range(256):
        inverse = _power(x, 254)  # x^254 = x^-1 in GF(2^8), and 0 for 0
        rotations = [((inverse << k) | (inverse >> (8 - k))) & 0xFF for k in range(5)]
        value = 0x63
        for rotated in rotations:
            value ^= rotated
        table_.append(value)
    return table_


def inverse_sbox(forward: list[int]) -> list[int]:
    inverse = [0] * 256
    for x, y in enumerate(forward):
        inverse[y] = x
    return inverse


def t_tables(forward: list[int]) -> list[list[int]]:
    """Te0..Te3: Te0[x] = (2·S[x], S[x], S[x], 3·S[x]) as a big-endian word, the others rotated by bytes."""
    te0 = [(_multiply(s, 2) << 24) | (s << 16) | (s << 8) | _multiply(s, 3) for s in forward]
    rotated = [te0]
    for _ in range(3):
        rotated.append([((w >> 8) | (w << 24)) & 0xFFFFFFFF for w in rotated[-1]])
    return rotated


def fingerprints() -> list[Fingerprint]:
    forward = sbox()
    found = [
        Fingerprint("aes-sbox", "AES", "block-cipher", SOURCE, table(forward, 1),
                    symbols=("AES_encrypt", "aes_encrypt", "rijndaelEncrypt", "nettle_aes")),
        Fingerprint("aes-inverse-sbox", "AES", "block-cipher", "FIPS 197 §5.3.2 (InvSubBytes)",
                    table(inverse_sbox(forward), 1), symbols=("AES_decrypt", "aes_decrypt")),
    ]  # fmt: skip
    for index, te in enumerate(t_tables(forward)):
        found.append(Fingerprint(f"aes-te{index}", "AES", "block-cipher",
                                 "FIPS 197 §5.1 with the T-table form of Daemen and Rijmen, AES Proposal: "
                                 "Rijndael §5.2.1", table(te, 4)))  # fmt: skip
    return found
