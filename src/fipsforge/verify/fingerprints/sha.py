"""SHA-1 and SHA-2 (FIPS 180-4): round constants and initial hash values, generated from prime roots."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, constants, iroot, primes, root_bits, table

# FIPS 180-4 §5.3.1 gives SHA-1's H(0) only as hex; they are not derived from a formula.
SHA1_H0 = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)


def sha1_k() -> list[int]:
    """FIPS 180-4 §4.2.1; the values are floor(2^30·√n) for n = 2, 3, 5, 10."""
    return [iroot(n << 60, 2) for n in (2, 3, 5, 10)]


def sha256_k() -> list[int]:
    return [root_bits(p, 32, 3) for p in primes(64)]


def sha512_k() -> list[int]:
    return [root_bits(p, 64, 3) for p in primes(80)]


def initial_hash(bits: int) -> list[int]:
    """FIPS 180-4 §5.3.3 / §5.3.5: H(0) of SHA-256 (32) or SHA-512 (64), square roots of the first 8 primes."""
    return [root_bits(p, bits, 2) for p in primes(8)]


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("sha1-constants", "SHA-1", "hash",
                    "FIPS 180-4 §4.2.1 (K0..K3) and §5.3.1 (H4, the word MD5 does not share)",
                    constants([*sha1_k(), SHA1_H0[4]], 4, share=1.0),
                    symbols=("SHA1_Init", "sha1_block_data_order", "SHA1Init", "sha1_update")),
        Fingerprint("sha256-k", "SHA-256", "hash",
                    "FIPS 180-4 §4.2.2 (first 32 bits of the fractional parts of the cube roots of the first 64 primes)",
                    (*table(sha256_k(), 4), *constants(sha256_k(), 4)[:2]),
                    symbols=("SHA256_Init", "sha256_block_data_order", "crypto_hash_sha256", "sha256_update"),
                    shadowed_by="sha512-k"),
        Fingerprint("sha512-k", "SHA-512", "hash",
                    "FIPS 180-4 §4.2.3 (first 64 bits of the fractional parts of the cube roots of the first 80 primes)",
                    (*table(sha512_k(), 8, halves=True), *constants(sha512_k(), 8)[:2]),
                    symbols=("SHA512_Init", "sha512_block_data_order", "crypto_hash_sha512", "sha512_update")),
    ]  # fmt: skip
