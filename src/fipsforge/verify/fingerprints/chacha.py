"""ChaCha20 / Salsa20 (RFC 8439 §2.3; Bernstein, Salsa20 specification §9) and Poly1305 (RFC 8439 §2.5)."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, constants, table

SIGMA = b"expand 32-byte k"
# The four words are ASCII: alone they occur in any binary's strings ("expand", "write k"); as
# immediates of one function or as the string they lie within a few hundred bytes of each other.
SIGMA_SPAN = 512
# RFC 8439 §2.5.1: r &= 0x0ffffffc0ffffffc0ffffffc0fffffff
POLY1305_CLAMP = 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF


def _clamp_limbs(bits: int, count: int) -> list[int]:
    """The clamp mask in the limb radix an implementation keeps r in (26-bit: poly1305-donna-32)."""
    return [(POLY1305_CLAMP >> (bits * i)) & ((1 << bits) - 1) for i in range(count)]


def fingerprints() -> list[Fingerprint]:
    sigma_words = [int.from_bytes(SIGMA[i : i + 4], "little") for i in range(0, 16, 4)]
    return [
        # Salsa20 and ChaCha share the constant, so the bytes name the family, not which of the two.
        Fingerprint("chacha-salsa-sigma", "ChaCha20/Salsa20", "stream-cipher",
                    "RFC 8439 §2.3 (the words of \"expand 32-byte k\")",
                    (*constants(sigma_words, 4, share=1.0, span=SIGMA_SPAN)[:2], *table(list(SIGMA), 1)[-1:]),
                    symbols=("chacha20", "ChaCha20_ctr32", "crypto_stream_chacha20", "crypto_stream_salsa20",
                             "salsa20")),
        Fingerprint("poly1305-clamp", "Poly1305", "mac", "RFC 8439 §2.5.1 (the clamp of r, in 64-, 44- and 26-bit limbs)",
                    (*constants(_clamp_limbs(64, 2), 8, share=1.0)[:1],
                     *constants(_clamp_limbs(26, 5), 4, share=1.0)[:1],
                     *constants(_clamp_limbs(44, 3), 8, share=1.0)[:1]),
                    symbols=("poly1305_init", "Poly1305_Init", "crypto_onetimeauth_poly1305")),
    ]  # fmt: skip
