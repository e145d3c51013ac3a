"""SM3 (GB/T 32905-2016, draft-sca-cfrg-sm3 §4) and SM4 (GB/T 32907-2016, draft-ribose-cfrg-sm4 §7.3)."""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, constants, table

# SM3's IV and T_j are given as hex in the standard (draft-sca-cfrg-sm3 §4.1, §4.2), not derived.
SM3_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)
SM3_T = (0x79CC4519, 0x7A879D8A)


def sm4_ck() -> list[int]:
    """draft-ribose-cfrg-sm4 §7.3: byte j of CK_i is (4i + j)·7 mod 256."""
    return [int.from_bytes(bytes((4 * i + j) * 7 % 256 for j in range(4)), "big") for i in range(32)]


def fingerprints() -> list[Fingerprint]:
    return [
        Fingerprint("sm3-constants", "SM3", "hash", "GB/T 32905-2016 §4.1-4.2 (IV and T_j)",
                    constants([*SM3_IV, *SM3_T], 4), symbols=("sm3_init", "SM3_Init", "ossl_sm3_init")),
        Fingerprint("sm4-ck", "SM4", "block-cipher", "GB/T 32907-2016 §7.3 (CK)", table(sm4_ck(), 4),
                    symbols=("sm4_set_key", "ossl_sm4_set_key", "SM4_set_key")),
    ]  # fmt: skip
