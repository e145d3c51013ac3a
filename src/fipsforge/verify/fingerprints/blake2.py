"""BLAKE2 (RFC 7693 §2.7): the message schedule sigma. BLAKE2's IVs are SHA-2's (RFC 7693 §2.6), so only sigma
tells BLAKE2 apart; rows 1-9 are used (row 0 is the identity, found in any byte table)."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, table

# RFC 7693 §2.7 gives sigma as a table; it is not derived from a formula (test: every row is a permutation).
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


def fingerprints() -> list[Fingerprint]:
    rows = [value for row in SIGMA[1:] for value in row]
    return [
        Fingerprint("blake2-sigma", "BLAKE2", "hash", "RFC 7693 §2.7 (sigma rows 1-9)", table(rows, 1),
                    symbols=("blake2b_compress", "crypto_generichash_blake2b", "blake2s_compress")),
    ]  # fmt: skip
