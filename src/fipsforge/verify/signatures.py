"""`fipsforge verify --key`: is the image signed with that key, are its SBOMs and provenance attested, and
does the signed SBOM tell the truth about the image's Debian packages?

The checks are cosign's own (`cosign verify`, `cosign verify-attestation`, against the digest that was
analysed, so a re-tag cannot slip in between); the SBOMs returned are the payloads of verified
attestations only. A registry image is checked where it lives; an OCI layout as `cosign save` writes it
(`--local-image`). An SBOM's `pkg:deb` purls are compared with the image's dpkg status, whichever SBOM
the analysis uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packageurl import PackageURL
from pydantic import BaseModel

from fipsforge.attest.cosign import (
    ATTESTATION_TYPES,
    cosign_binary,
    verified_attestations,
    verified_signature,
)
from fipsforge.errors import FipsforgeError
from fipsforge.oci.reader import ImageSource
from fipsforge.oci.tree import Severity
from fipsforge.verify.model import Package

SBOM_ATTESTATIONS = ("spdxjson", "cyclonedx")


class SignatureFinding(BaseModel):
    rule_id: str
    severity: Severity
    message: str


class SignatureCheck(BaseModel):
    """What `--key` found: signature, attestations, and the verified SBOM documents."""

    signed: bool
    attestations: list[str]
    sboms: dict[str, bytes]
    """Verified attestation type → its SBOM predicate, as JSON."""
    findings: list[SignatureFinding]


def cosign_reference(image: ImageSource) -> tuple[str, bool]:
    """What cosign is pointed at: `HOST/NAME@DIGEST` for a registry, the layout directory otherwise."""
    ref = image.ref.removeprefix("docker://")
    if image.kind == "registry":
        name = ref.split("@", 1)[0]
        if ":" in name.rsplit("/", 1)[-1]:
            name = name.rsplit(":", 1)[0]
        return f"{name}@{image.manifest_digest}", False
    body = ref.removeprefix("oci:")
    if not Path(body).is_dir() and ":" in body:
        body = body.rpartition(":")[0]
    return body, True


def check_signatures(image: ImageSource, key: Path, require_attestations: bool) -> SignatureCheck:
    """Signature and attestations of `image`, each verified by cosign with the public `key`."""
    if not key.is_file():
        raise FipsforgeError(f"{key}: no such public key file (--key)")
    digest = image.manifest_digest
    if image.kind == "docker-archive" or digest is None:
        finding = SignatureFinding(rule_id="SIG001", severity="high", message=f"{image.ref}: a docker-archive "
                                   "carries no signatures; verify the registry reference or an OCI layout")  # fmt: skip
        return SignatureCheck(signed=False, attestations=[], sboms={}, findings=[finding])
    cosign = cosign_binary()
    reference, local = cosign_reference(image)
    findings = []
    signed = True
    try:
        payloads = verified_signature(cosign, reference, str(key), local=local)
        signed_digests = {
            p.get("critical", {}).get("image", {}).get("docker-manifest-digest") for p in payloads
        }
        if digest not in signed_digests:  # a layout whose signed image is not the one analysed
            raise FipsforgeError(f"the signatures are for {', '.join(sorted(map(str, signed_digests)))}")
    except FipsforgeError as error:
        signed = False
        findings.append(SignatureFinding(rule_id="SIG001", severity="high",
                                         message=f"no signature of {digest} verifies with {key}: {error}"))  # fmt: skip
    attested, sboms = [], {}
    for kind, predicate_type in ATTESTATION_TYPES.items():
        try:
            statements = [
                s for s in verified_attestations(cosign, reference, str(key), kind, local=local)
                if any(d.get("digest", {}).get("sha256") == digest.split(":", 1)[1] for d in s.get("subject", []))
            ]  # fmt: skip
            if not statements:
                raise FipsforgeError(f"the attestations are for another image than {digest}")
        except FipsforgeError as error:
            findings.append(SignatureFinding(rule_id="SIG002", severity="high" if require_attestations else "medium",
                                             message=f"no {predicate_type} attestation verifies with {key}: {error}"))  # fmt: skip
            continue
        attested.append(kind)
        if kind in SBOM_ATTESTATIONS:
            sboms[kind] = json.dumps(statements[0].get("predicate", {})).encode()
    return SignatureCheck(signed=signed, attestations=attested, sboms=sboms, findings=findings)


def _purls(document: Any) -> list[str]:
    """Every purl an SPDX 2.x or CycloneDX JSON document gives."""
    if not isinstance(document, dict):
        return []
    found = [
        str(ref.get("referenceLocator"))
        for package in document.get("packages") or []
        for ref in package.get("externalRefs") or []
        if ref.get("referenceType") == "purl"
    ]
    pending = list(document.get("components") or [])
    while pending:
        component = pending.pop()
        if isinstance(component, dict):
            pending.extend(component.get("components") or [])
            found += [str(component["purl"])] if component.get("purl") else []
    return found


def sbom_deb_packages(data: bytes) -> set[tuple[str, str]] | None:
    """(name, version) of each `pkg:deb` package an SBOM lists; None when it lists none."""
    try:
        purls = _purls(json.loads(data))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    found = set()
    for purl in purls:
        try:
            parsed = PackageURL.from_string(purl)
        except ValueError:
            continue
        if parsed.type == "deb" and parsed.version:
            found.add((parsed.name, parsed.version))
    return found or None


def sbom_disagreement(data: bytes, installed: list[Package]) -> str | None:
    """How an SBOM's Debian packages differ from the dpkg status, or None when they agree."""
    listed = sbom_deb_packages(data)
    dpkg = {(p.name, p.version) for p in installed if p.ecosystem == "deb"}
    if listed is None or not dpkg or listed == dpkg:
        return None

    def some(pairs: set[tuple[str, str]]) -> str:
        shown = [f"{name} {version}" for name, version in sorted(pairs)[:5]]
        return ", ".join(shown) + (f" and {len(pairs) - 5} more" if len(pairs) > 5 else "")

    parts = []
    if dpkg - listed:
        parts.append(f"installed but not listed: {some(dpkg - listed)}")
    if listed - dpkg:
        parts.append(f"listed but not installed: {some(listed - dpkg)}")
    return "; ".join(parts)
