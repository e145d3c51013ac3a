"""MD5 (RFC 1321) and RIPEMD-160: round constants, generated from sin() and from square and cube roots.

MD4 (RFC 1320) is left out: its only constants are MD5's IV and two of SHA-1's, so bytes cannot tell it
apart from those.
"""

from __future__ import annotations

import math

from fipsforge.verify.fingerprints.layouts import Fingerprint, constants, iroot


def md5_t() -> list[int]:
    """RFC 1321 §3.4: T[i] = floor(4294967296 · |sin(i)|), i = 1..64 (exact in IEEE doubles)."""
    return [math.floor(abs(math.sin(i + 1)) * 2**32) for i in range(64)]


def ripemd160_k() -> list[int]:
    """Dobbertin, Bosselaers, Preneel, RIPEMD-160 (FSE 1996) §2: floor(2^30·√n) for the left line's
    fifth constant and floor(2^30·∛n) for the right line (n = 2, 3, 5, 7); ISO/IEC 10118-3 §8."""
    return [iroot(7 << 60, 2), *(iroot(n << 90, 3) for n in (2, 3, 5, 7))]


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("md5-t", "MD5", "hash", "RFC 1321 §3.4 (the sine table T[1..64])", constants(md5_t(), 4),
                    symbols=("MD5_Init", "md5_block_data_order", "MD5Init", "PHP_MD5Init", "md5_update")),
        Fingerprint("ripemd160-k", "RIPEMD-160", "hash",
                    "ISO/IEC 10118-3 §8; Dobbertin, Bosselaers, Preneel, FSE 1996 (K4 and K'0..K'3)",
                    constants(ripemd160_k(), 4, share=1.0), symbols=("RIPEMD160_Init", "ripemd160")),
    ]  # fmt: skip
