"""MD5 (RFC 1321), MD4 (RFC 1320) and RIPEMD-160: round constants, from sin() and square and cube roots.

MD4's only constants are MD5's IV and two of SHA-1's round constants (RFC 1320 §3.4: 0x5A827999 =
floor(2^30·√2) in round 2, 0x6ED9EBA1 = floor(2^30·√3) in round 3), which RIPEMD-128/160 use too. What
is MD4's own is that nothing follows them: compiled, MD4's rounds 2 and 3 are 16 immediates of each
back to back (830-910 bytes of x86-64 in libgcrypt, nettle, libtomcrypt, libxcrypt and OpenSSL), with
no third constant near. SHA-1's round 3 constant follows its round 2 within about 1300 bytes (62 bytes
a step in libgcrypt's and Go's SHA-1), RIPEMD's right-line constants interleave with the left line.
So an MD4 hit is the two constants within MD4_SPAN bytes with none of SHA-1's or RIPEMD's others
within MD4_REACH bytes. The nearest unrelated code in those libraries lies 3.1 KB (libgcrypt's
RIPEMD-160 after its MD4) to 5.6 KB away.
"""

from __future__ import annotations

import math

from fipsforge.verify.fingerprints.layouts import LITERAL_WIDTH, Fingerprint, Layout, constants, iroot
from fipsforge.verify.fingerprints.sha import sha1_k

MD4_SPAN = 256
MD4_REACH = 2048


def md5_t() -> list[int]:
    """RFC 1321 §3.4: T[i] = floor(4294967296 · |sin(i)|), i = 1..64 (exact in IEEE doubles)."""
    return [math.floor(abs(math.sin(i + 1)) * 2**32) for i in range(64)]


def ripemd160_k() -> list[int]:
    """Dobbertin, Bosselaers, Preneel, RIPEMD-160 (FSE 1996) §2: floor(2^30·√n) for the left line's
    fifth constant and floor(2^30·∛n) for the right line (n = 2, 3, 5, 7); ISO/IEC 10118-3 §8."""
    return [iroot(7 << 60, 2), *(iroot(n << 90, 3) for n in (2, 3, 5, 7))]


def md4_layouts() -> tuple[Layout, ...]:
    """K2 and K3 of MD4 (as immediates, either byte order, or as script literals), without the constants
    of SHA-1 (K3, K4) and RIPEMD-128/160 (K4, K'0..K'3) that share them."""
    k2, k3, sha1_k3, sha1_k4 = sha1_k()
    others = [sha1_k3, sha1_k4, *ripemd160_k()]
    layouts = []
    for name, width, order, literal in (("u32-le-constants", 4, "little", False),
                                        ("u32-be-constants", 4, "big", False),
                                        ("literal-constants", LITERAL_WIDTH, "big", True)):  # fmt: skip
        scale = LITERAL_WIDTH // 4 if literal else 1
        layouts.append(Layout(
            name, tuple(v.to_bytes(width, order) for v in (k2, k3)), 2, 0, literal,  # type: ignore[arg-type]
            span=MD4_SPAN * scale, away=tuple(v.to_bytes(width, order) for v in others),  # type: ignore[arg-type]
            reach=MD4_REACH * scale,
        ))  # fmt: skip
    return tuple(layouts)


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("md5-t", "MD5", "hash", "RFC 1321 §3.4 (the sine table T[1..64])", constants(md5_t(), 4),
                    symbols=("MD5_Init", "md5_block_data_order", "MD5Init", "PHP_MD5Init", "md5_update")),
        Fingerprint("ripemd160-k", "RIPEMD-160", "hash",
                    "ISO/IEC 10118-3 §8; Dobbertin, Bosselaers, Preneel, FSE 1996 (K4 and K'0..K'3)",
                    constants(ripemd160_k(), 4, share=1.0), symbols=("RIPEMD160_Init", "ripemd160")),
        Fingerprint("md4-rounds", "MD4", "hash",
                    "RFC 1320 §3.4 (round 2 and 3 constants), without SHA-1's (FIPS 180-4 §4.2.1) or RIPEMD's",
                    md4_layouts(), symbols=("MD4_Init", "md4_init", "nettle_md4_init", "MD4Init"),
                    notes="the NT hash (libxcrypt $3$, NTLM) is MD4"),
    ]  # fmt: skip
