"""The explicit list of non-security constants: found and inventoried, never a finding.

CRC tables (zlib, gzip, PNG, ext4's CRC32C) detect accidental corruption only. SipHash's initialisation
words serve hash-table seeding (CPython's str hash, Rust's HashMap) — a keyed PRF used against
hash flooding, not to protect data (SipHash paper, Aumasson and Bernstein 2012, §2).
"""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, constants, table


def crc_table(reflected_polynomial: int) -> list[int]:
    table_ = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ reflected_polynomial if value & 1 else value >> 1
        table_.append(value)
    return table_


SIPHASH_INIT = [
    int.from_bytes(b"somepseudorandomlygeneratedbytes"[i : i + 8], "big") for i in range(0, 32, 8)
]


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("crc32-table", "CRC-32", "other", "ISO 3309 / ITU-T V.42 (reflected polynomial 0xEDB88320)",
                    table(crc_table(0xEDB88320), 4), security=False),
        Fingerprint("crc32c-table", "CRC-32C", "other", "RFC 3720 §B.4 (reflected polynomial 0x82F63B78)",
                    table(crc_table(0x82F63B78), 4), security=False),
        Fingerprint("siphash-init", "SipHash", "other", "Aumasson, Bernstein, SipHash (2012) §2.1 (v0..v3 init)",
                    constants(SIPHASH_INIT, 8, share=1.0), security=False,
                    notes="hash-table seeding against hash flooding"),
    ]  # fmt: skip
