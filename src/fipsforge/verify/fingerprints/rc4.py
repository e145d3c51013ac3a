"""RC4 (Rivest 1987; RFC 6229 gives test vectors, RFC 7465 prohibits it in TLS): found by symbol names only.

RC4 has no constants: its key schedule starts from the identity permutation S[i] = i and mixes in the
key. The only bytes that schedule leaves in compiled code is a vectorised loop's identity vector
(00 01 .. 0f, or the 32-bit words 0, 1, 2, 3), which any `a[i] = i` loop produces: in the Debian
reference libraries it is in zlib (2 times) and libargon2 (2 times), which have no RC4, as often as in
nettle (1) and OpenSSL's libcrypto (2), which do; libtomcrypt carries the byte vector 82 times and
libgcrypt 9 times. So a byte fingerprint would flag every other binary, and this one is evidence of the
weaker kind: the exported or symbol-table names of the functions (`symbol-only` in the report).
Stripped static implementations (libgcrypt's arcfour.c, whose functions are not exported) are not found.
"""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("rc4-symbols", "RC4", "stream-cipher", "RFC 6229 (RC4 test vectors); no constants to fingerprint",
                    (), symbols=("RC4_set_key", "RC4", "nettle_arcfour_set_key", "nettle_arcfour128_set_key",
                                 "rc4_stream_setup", "rc4_setup", "arcfour_set_key", "crypto/rc4.NewCipher"),
                    symbol_only=True),
    ]  # fmt: skip
