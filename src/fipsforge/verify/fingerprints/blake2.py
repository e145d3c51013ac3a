"""BLAKE2b and BLAKE2s (RFC 7693): the message schedule SIGMA beside the initialisation vector.

BLAKE2's IVs are SHA-512's and SHA-256's H(0) (RFC 7693 §2.6), so alone they name SHA-2. What is
BLAKE2's own is SIGMA (§2.7), the ten permutations of the 16 message words (BLAKE2b uses rows 0..11,
rows 10 and 11 repeating 0 and 1); a table of them with the 64-bit IV within a few KB is BLAKE2b,
with the 32-bit IV (and not the 64-bit one) BLAKE2s. SIGMA is the standard's table, not derived. Rows 0..9 are also BLAKE's
(the SHA-3 finalist), which shares BLAKE2s' IV; BLAKE3 uses another permutation.

Only implementations that index SIGMA at run time keep it: libargon2 (as 32-bit words), blakejs (as
script literals). Fully
unrolled ones (libsodium, libb2, libgcrypt, libtomcrypt, OpenSSL) fold every SIGMA[r][i] into a load
offset, so no table is left in the file; see docs/verify.md.
"""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import LITERAL_WIDTH, Fingerprint, Layout, table
from fipsforge.verify.fingerprints.sha import initial_hash

SIGMA = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3),
    (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4),
    (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8),
    (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13),
    (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9),
    (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11),
    (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10),
    (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5),
    (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0),
)
# The IV lies beside the table (same compilation unit) or as immediates of the init function nearby.
IV_REACH = 4096


def sigma(rounds: int) -> list[int]:
    return [value for r in range(rounds) for value in SIGMA[r % 10]]


def _encode(values: list[int], width: int, layout: Layout) -> tuple[bytes, ...]:
    if layout.literal:
        return tuple(v.to_bytes(LITERAL_WIDTH, "big") for v in values)
    return tuple(v.to_bytes(width, "big" if layout.name.endswith("-be") else "little") for v in values)


def _beside(layout: Layout, bits: int) -> Layout:
    """The table layout, needing most words of the IV within IV_REACH bytes. The 64-bit IV counts as
    words or as 32-bit halves (32-bit and JavaScript code); BLAKE2s' (SHA-256's H(0)) are the high
    halves of BLAKE2b's, so a BLAKE2s hit must not have BLAKE2b's words or low halves within reach."""
    iv64 = initial_hash(64)
    low = [v & 0xFFFFFFFF for v in iv64]
    if bits == 64:
        near = (*_encode(iv64, 8, layout), *_encode(low, 4, layout))
        away: tuple[bytes, ...] = ()
    else:
        near, away = (
            _encode(initial_hash(32), 4, layout),
            (*_encode(iv64, 8, layout), *_encode(low, 4, layout)),
        )
    return Layout(layout.name, layout.pieces, layout.required, layout.stride, layout.literal,
                  near=near, near_required=6, away=away, reach=IV_REACH)  # fmt: skip


def _layouts(rounds: int, bits: int) -> tuple[Layout, ...]:
    values = sigma(rounds)
    as_bytes, as_words = table(values, 1), table(values, 4)
    return tuple(_beside(layout, bits) for layout in (as_bytes[0], *as_words))


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("blake2b-sigma", "BLAKE2b", "hash",
                    "RFC 7693 §2.7 (SIGMA, 12 rounds) beside §2.6's IV (= SHA-512's H(0))",
                    _layouts(12, 64), symbols=("blake2b_init", "crypto_generichash_blake2b",
                                                           "blake2b_compress", "BLAKE2b_Init")),
        Fingerprint("blake2s-sigma", "BLAKE2s", "hash",
                    "RFC 7693 §2.7 (SIGMA, 10 rounds) beside §2.6's IV (= SHA-256's H(0))",
                    _layouts(10, 32), symbols=("blake2s_init", "blake2s_compress",
                                                               "BLAKE2s_Init")),
    ]  # fmt: skip
