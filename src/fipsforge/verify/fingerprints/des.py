"""DES (FIPS 46-3): the eight S-boxes, and the combined S-box-and-P tables of table-driven code.

The S-boxes are the standard's table (FIPS 46-3, "The Primitive Functions S1, ..., S8", row = b1b6,
column = b2b3b4b5); there is no formula behind them. Everything else is computed from them and from P
(FIPS 46-3, "The Permutation P"):

- `sbox`: the 8 x 64 nibbles, one a byte, in two orders real code uses: the standard's print order
  (row-major, Go's crypto/des) and indexed by the 6-bit input itself (des.js, libxcrypt's precomputed
  pairs).
- "SP" tables, one 32-bit word per S-box input holding P(S_n(x)) at the bits P sends the output to,
  in two representations: Richard Outerbridge's (d3des; libtomcrypt and libgcrypt), where the word is
  rotated left by one bit, and Eric Young's `DES_SPtrans` (libdes, OpenSSL), where the halves live in
  the bit order OpenSSL's IP macro leaves them in and the index bits are reversed. That bit order is
  computed here by running the macro's five swap steps (crypto/des/des_local.h: PERM_OP shifts 4, 16,
  2, 8, 1, then a rotation right by 29) on each single-bit block, never typed.

Nettle keeps Dana How's "keymap" representation (desCode.h), which no layout here covers.
"""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, table

SOURCE = "FIPS 46-3 (S1..S8 and the permutation P; the initial permutation IP)"
S_BOXES = """
14 4 13 1 2 15 11 8 3 10 6 12 5 9 0 7  0 15 7 4 14 2 13 1 10 6 12 11 9 5 3 8
4 1 14 8 13 6 2 11 15 12 9 7 3 10 5 0  15 12 8 2 4 9 1 7 5 11 3 14 10 0 6 13
15 1 8 14 6 11 3 4 9 7 2 13 12 0 5 10  3 13 4 7 15 2 8 14 12 0 1 10 6 9 11 5
0 14 7 11 10 4 13 1 5 8 12 6 9 3 2 15  13 8 10 1 3 15 4 2 11 6 7 12 0 5 14 9
10 0 9 14 6 3 15 5 1 13 12 7 11 4 2 8  13 7 0 9 3 4 6 10 2 8 5 14 12 11 15 1
13 6 4 9 8 15 3 0 11 1 2 12 5 10 14 7  1 10 13 0 6 9 8 7 4 15 14 3 11 5 2 12
7 13 14 3 0 6 9 10 1 2 8 5 11 12 4 15  13 8 11 5 6 15 0 3 4 7 2 12 1 10 14 9
10 6 9 0 12 11 7 13 15 1 3 14 5 2 8 4  3 15 0 6 10 1 13 8 9 4 5 11 12 7 2 14
2 12 4 1 7 10 11 6 8 5 3 15 13 0 14 9  14 11 2 12 4 7 13 1 5 0 15 10 3 9 8 6
4 2 1 11 10 13 7 8 15 9 12 5 6 3 0 14  11 8 12 7 1 14 2 13 6 15 0 9 10 4 5 3
12 1 10 15 9 2 6 8 0 13 3 4 14 7 5 11  10 15 4 2 7 12 9 5 6 1 13 14 0 11 3 8
9 14 15 5 2 8 12 3 7 0 4 10 1 13 11 6  4 3 2 12 9 5 15 10 11 14 1 7 6 0 8 13
4 11 2 14 15 0 8 13 3 12 9 7 5 10 6 1  13 0 11 7 4 9 1 10 14 3 5 12 2 15 8 6
1 4 11 13 12 3 7 14 10 15 6 8 0 5 9 2  6 11 13 8 1 4 10 7 9 5 0 15 14 2 3 12
13 2 8 4 6 15 11 1 10 9 3 14 5 0 12 7  1 15 13 8 10 3 7 4 12 5 6 11 0 14 9 2
7 11 4 1 9 12 14 2 0 6 10 13 15 3 5 8  2 1 14 7 4 10 8 13 15 12 9 0 3 5 6 11
"""
P = (16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
     2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25)  # fmt: skip
IP = (58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
      62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
      57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
      61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7)  # fmt: skip
MASK = 0xFFFFFFFF


PRINTED = tuple(int(v) for v in S_BOXES.split())


def printed() -> list[int]:
    """S1..S8 as the standard prints them: 8 boxes x 4 rows x 16 columns."""
    return list(PRINTED)


def s(box: int, x: int) -> int:
    """S_box(x) for the 6-bit input x = b1..b6 (b1 most significant): row b1b6, column b2..b5."""
    return PRINTED[64 * box + 16 * (((x >> 4) & 2) | (x & 1)) + ((x >> 1) & 15)]


def by_input() -> list[int]:
    return [s(box, x) for box in range(8) for x in range(64)]


def permute_p(value: int) -> int:
    """P on a 32-bit word whose most significant bit is bit 1."""
    return sum(1 << (32 - i) for i, src in enumerate(P, 1) if value >> (32 - src) & 1)


def _rotl(value: int, count: int) -> int:
    return ((value << count) | (value >> (32 - count))) & MASK


def outerbridge_sp() -> list[int]:
    """SP1..SP8 of d3des: P(S_n(x)) rotated left by one bit, x in natural order."""
    return [_rotl(permute_p(s(box, x) << (4 * (7 - box))), 1) for box in range(8) for x in range(64)]


def _swap(a: int, b: int, shift: int, mask: int) -> tuple[int, int]:
    t = ((a >> shift) ^ b) & mask
    return a ^ ((t << shift) & MASK), b ^ t


def openssl_bit_positions() -> dict[int, int]:
    """DES bit k (1..32) of a half → its bit in OpenSSL's register after IP and the rotation by 29.

    The same for both halves; computed by pushing each single-bit block through c2l (little-endian
    load) and the IP macro's swaps."""
    positions: dict[int, int] = {}
    for k in range(1, 33):
        block = bytearray(8)
        source = IP[32 + k - 1]  # the input bit that IP sends to R0's bit k
        block[(source - 1) // 8] = 0x80 >> ((source - 1) % 8)
        right, left = int.from_bytes(block[:4], "little"), int.from_bytes(block[4:], "little")
        for shift, mask, l_first in ((4, 0x0F0F0F0F, True), (16, 0x0000FFFF, False), (2, 0x33333333, True),
                                     (8, 0x00FF00FF, False), (1, 0x55555555, True)):  # fmt: skip
            if l_first:
                left, right = _swap(left, right, shift, mask)
            else:
                right, left = _swap(right, left, shift, mask)
        word = ((right >> 29) | (right << 3)) & MASK
        positions[k] = word.bit_length() - 1
    return positions


def openssl_sptrans() -> list[int]:
    """DES_SPtrans[8][64]: index bit i is the S-box's input bit b(i+1), output bits in OpenSSL's order."""
    positions = openssl_bit_positions()
    found = []
    for box in range(8):
        for index in range(64):
            natural = int(f"{index:06b}"[::-1], 2)
            f = permute_p(s(box, natural) << (4 * (7 - box)))
            found.append(sum(1 << positions[k] for k in range(1, 33) if f >> (32 - k) & 1))
    return found


def fingerprints() -> list[Fingerprint]:
    symbols = ("DES_set_key", "DES_encrypt1", "des_setkey", "des_ecb_encrypt", "nettle_des_set_key")
    return [
        Fingerprint("des-sbox", "DES", "block-cipher", SOURCE + ": S1..S8 in print order",
                    table(printed(), 1), symbols=symbols),
        Fingerprint("des-sbox-by-input", "DES", "block-cipher", SOURCE + ": S1..S8 indexed by the 6-bit input",
                    table(by_input(), 1), symbols=symbols),
        Fingerprint("des-sp", "DES", "block-cipher",
                    SOURCE + "; SP = P∘S_n rotated left by 1 (Outerbridge's d3des representation)",
                    table(outerbridge_sp(), 4), symbols=symbols),
        Fingerprint("des-sptrans", "DES", "block-cipher",
                    SOURCE + "; SP = P∘S_n in the bit order of OpenSSL's IP (crypto/des/des_local.h)",
                    table(openssl_sptrans(), 4), symbols=symbols),
    ]  # fmt: skip
