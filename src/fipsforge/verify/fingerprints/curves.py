"""Elliptic curves: Curve25519/Ed25519 (RFC 7748 §4.1, RFC 8032 §5.1) and NIST P-256/P-384
(FIPS 186-5 / SP 800-186 §3.2.1.3-4, SEC 2 §2.4.2 and §2.5.1).

Edwards25519's d and √-1 are computed from p = 2^255 - 19; the NIST b and G are the standard's hex,
checked by `on_curve` (a typo would put G off the curve). X25519-only code carries no table beyond
a24 = 121665, so the 25519 fingerprint finds Ed25519 arithmetic (which X25519 code usually shares).
"""

from __future__ import annotations

from fipsforge.verify.fingerprints.layouts import Fingerprint, Layout, whole

P25519 = 2**255 - 19
P256 = 2**256 - 2**224 + 2**192 + 2**96 - 1
P384 = 2**384 - 2**128 - 2**96 + 2**32 - 1
# (b, Gx, Gy) from SP 800-186 §3.2.1.3 (P-256) and §3.2.1.4 (P-384); curves y² = x³ - 3x + b.
NIST = {
    "P-256": (P256, 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
              0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
              0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5),
    "P-384": (P384, 0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
              0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
              0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F),
}  # fmt: skip


def on_curve(name: str) -> bool:
    p, b, x, y = NIST[name]
    return (y * y - (x**3 - 3 * x + b)) % p == 0


def edwards25519_constants() -> dict[str, int]:
    d = -121665 * pow(121666, P25519 - 2, P25519) % P25519
    return {"d": d, "2d": 2 * d % P25519, "sqrt(-1)": pow(2, (P25519 - 1) // 4, P25519)}


def _limbs(value: int, bits: int, count: int, width: int) -> bytes:
    mask = (1 << bits) - 1
    return b"".join(((value >> (bits * i)) & mask).to_bytes(width, "little") for i in range(count))


def _nist_layouts(size: int, values: list[int]) -> tuple[Layout, ...]:
    return (
        whole("be", [v.to_bytes(size, "big") for v in values]),
        whole("le", [v.to_bytes(size, "little") for v in values]),  # also 64-bit limbs, least first
        whole(
            "hex",
            [f"{v:0{size * 2}x}".encode() for v in values] + [f"{v:0{size * 2}X}".encode() for v in values],
        ),
    )


def fingerprints() -> list[Fingerprint]:
    ed = list(edwards25519_constants().values())
    found = [
        Fingerprint("edwards25519-constants", "Ed25519/X25519", "signature",
                    "RFC 8032 §5.1 (d = -121665/121666 mod p, 2d, √-1), RFC 7748 §4.1",
                    (whole("le", [v.to_bytes(32, "little") for v in ed]),
                     whole("radix-2^51", [_limbs(v, 51, 5, 8) for v in ed]),
                     whole("radix-2^25.5", [_limbs(v, 32, 8, 4) for v in ed])),
                    symbols=("crypto_sign_ed25519", "crypto_scalarmult_curve25519", "ed25519_sign", "X25519")),
    ]  # fmt: skip
    for name, (_p, b, gx, gy) in NIST.items():
        size = 32 if name == "P-256" else 48
        found.append(Fingerprint(f"{name.lower()}-parameters", f"ECC {name}", "signature",
                                 "SP 800-186 §3.2.1, SEC 2 §2.4.2/§2.5.1 (b and the base point G)",
                                 _nist_layouts(size, [b, gx, gy]),
                                 symbols=(f"nettle_secp_{size * 8}r1", "EC_GROUP_new_by_curve_name")))  # fmt: skip
    return found
