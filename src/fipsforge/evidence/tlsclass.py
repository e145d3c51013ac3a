"""Classify what a TLS endpoint accepts against SP 800-52r2 and the FIPS-approved algorithms.

A server is observed-FIPS only when everything it accepts is allowed: TLS 1.2 or 1.3; cipher
suites built from approved pieces (AES-GCM/CCM/CBC, SHA-1/SHA-2 MACs, (EC)DHE or RSA key
establishment); approved key-exchange groups (NIST P-curves, FFDHE, hybrids with ML-KEM);
certificate keys of approved type and size (RSA >= 2048, ECDSA on P-256/384/521, EdDSA).
Accepting ChaCha20-Poly1305 or X25519 alone makes a server non-FIPS even if it prefers AES.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Verdict = Literal["observed-fips", "observed-non-fips", "not-observed"]

ALLOWED_VERSIONS = {"TLS 1.2", "TLS 1.3"}
TLS13_APPROVED = {
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
}
APPROVED_GROUPS = {
    "secp256r1",
    "prime256v1",
    "secp384r1",
    "secp521r1",
    "ffdhe2048",
    "ffdhe3072",
    "ffdhe4096",
    "ffdhe6144",
    "ffdhe8192",
}
APPROVED_EC_CURVES = {"secp256r1", "prime256v1", "p-256", "secp384r1", "p-384", "secp521r1", "p-521"}


class CipherObservation(BaseModel):
    version: str
    name: str
    approved: bool
    reason: str


class GroupObservation(BaseModel):
    name: str
    approved: bool
    reason: str


class KeyObservation(BaseModel):
    algorithm: str
    size: int
    curve: str | None = None
    approved: bool
    reason: str


class ProbeResult(BaseModel):
    target: str
    label: str | None = None
    """The server endpoint this target stands for (`shop/api:api`), when the user named it."""
    reachable: bool = True
    error: str | None = None
    tls_versions: list[str] = Field(default_factory=list)
    cipher_suites: list[CipherObservation] = Field(default_factory=list)
    groups: list[GroupObservation] = Field(default_factory=list)
    certificate_keys: list[KeyObservation] = Field(default_factory=list)
    verdict: Verdict = "not-observed"
    reasons: list[str] = Field(default_factory=list)


def classify_suite(version: str, name: str) -> CipherObservation:
    upper = name.upper()
    if version == "TLS 1.3":
        ok = upper in TLS13_APPROVED
        return CipherObservation(
            version=version,
            name=name,
            approved=ok,
            reason="approved TLS 1.3 suite" if ok else "not an approved TLS 1.3 suite (SP 800-52r2 3.3.1.2)",
        )
    bad = [
        word
        for word in (
            "CHACHA20",
            "3DES",
            "DES_",
            "RC4",
            "CAMELLIA",
            "ARIA",
            "SEED",
            "IDEA",
            "NULL",
            "ANON",
            "EXPORT",
            "MD5",
        )
        if word in upper
    ]
    if bad:
        return CipherObservation(
            version=version, name=name, approved=False, reason=f"uses {bad[0].strip('_')}"
        )
    if "AES" not in upper:
        return CipherObservation(version=version, name=name, approved=False, reason="no approved cipher")
    if not any(kx in upper for kx in ("ECDHE_", "DHE_", "TLS_RSA_WITH")):
        return CipherObservation(
            version=version, name=name, approved=False, reason="key exchange not approved"
        )
    reason = "approved: AES with an approved key establishment and MAC"
    if "TLS_RSA_WITH" in upper:
        reason += " (static RSA key transport: no forward secrecy)"
    return CipherObservation(version=version, name=name, approved=True, reason=reason)


def classify_group(name: str) -> GroupObservation:
    lowered = name.lower()
    if lowered in APPROVED_GROUPS:
        return GroupObservation(name=name, approved=True, reason="approved group (SP 800-56A / RFC 7919)")
    if "mlkem" in lowered:
        return GroupObservation(name=name, approved=True, reason="hybrid with ML-KEM (FIPS 203)")
    return GroupObservation(name=name, approved=False, reason="not an approved key-agreement group")


def classify_key(algorithm: str, size: int, curve: str | None) -> KeyObservation:
    algo = algorithm.upper()
    if algo == "RSA":
        ok = size >= 2048
        reason = "RSA >= 2048 bits" if ok else f"RSA {size} bits is below 2048"
    elif algo in ("EC", "ECDSA"):
        ok = (curve or "").lower() in APPROVED_EC_CURVES
        reason = f"ECDSA on {curve}" + ("" if ok else " (curve not approved)")
    elif algo in ("ED25519", "ED448"):
        ok, reason = True, f"{algorithm} (FIPS 186-5 EdDSA)"
    else:
        ok, reason = False, f"{algorithm} keys are not approved for TLS certificates"
    return KeyObservation(algorithm=algorithm, size=size, curve=curve, approved=ok, reason=reason)


def verdict_of(result: ProbeResult) -> tuple[Verdict, list[str]]:
    """observed-fips only when everything the endpoint accepts is allowed; not-observed if unreachable."""
    reasons: list[str] = []
    if not result.reachable:
        return "not-observed", [f"not reachable: {result.error}"]
    reasons += [
        f"accepts {v} (SP 800-52r2 requires TLS 1.2 or 1.3)"
        for v in result.tls_versions
        if v not in ALLOWED_VERSIONS
    ]
    reasons += [f"accepts {c.name} ({c.reason})" for c in result.cipher_suites if not c.approved]
    reasons += [f"offers group {g.name} ({g.reason})" for g in result.groups if not g.approved]
    reasons += [f"certificate key: {k.reason}" for k in result.certificate_keys if not k.approved]
    if not result.cipher_suites:
        reasons.append("no cipher suite accepted")
    return ("observed-non-fips" if reasons else "observed-fips"), reasons
