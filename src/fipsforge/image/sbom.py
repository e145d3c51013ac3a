"""SPDX 2.3 and CycloneDX 1.6 SBOMs for a built image, written deterministically.

Both list every Debian package (purl `pkg:deb/debian/...`, with the .deb's SHA-256 from the signed
index) and every component fipsforge built itself, with its version and the SHA-256 of each source
file. In CycloneDX the FIPS module and the entropy source are `cryptographic-asset` components. The
documents are written by hand rather than through the libraries' object models so that they carry no
random serial number or wall-clock time: the same image gives the same bytes. The tests validate them
with spdx-tools and cyclonedx-python-lib.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from packageurl import PackageURL
from pydantic import BaseModel

from fipsforge import __version__
from fipsforge.image.resolve import DebPackage
from fipsforge.oci.writer import rfc3339

DEBIAN_RELEASE = {"trixie": "debian-13"}
Role = Literal["library", "fips-module", "entropy-source", "interpreter", "files"]


SPDX_PURPOSE = {"interpreter": "APPLICATION", "files": "FILE"}
CYCLONEDX_TYPE = {"fips-module": "cryptographic-asset", "entropy-source": "cryptographic-asset",
                  "interpreter": "application", "files": "file"}  # fmt: skip


class Component(BaseModel):
    """Something in the image that is not a Debian package: a part of the FIPS stack, our CPython, or the
    spec's `files:` (its sources are then image paths with their SHA-256)."""

    name: str
    version: str
    role: Role
    description: str
    sources: dict[str, str]
    cpe: str | None = None


class ImageFacts(BaseModel):
    """What the SBOMs describe: the image, its packages and components, and when it was made."""

    name: str
    tag: str
    suite: str
    manifest_digest: str
    created: int
    packages: list[DebPackage]
    components: list[Component]


def deb_purl(package: DebPackage, suite: str) -> str:
    return str(
        PackageURL(
            type="deb",
            namespace="debian",
            name=package.name,
            version=package.version,
            qualifiers={"arch": package.architecture, "distro": DEBIAN_RELEASE.get(suite, suite)},
        ).to_string()
    )


def component_purl(component: Component) -> str:
    return str(PackageURL(type="generic", name=component.name, version=component.version).to_string())


def _spdx_id(kind: str, index: int, name: str) -> str:
    return f"SPDXRef-{kind}-{index}-{re.sub(r'[^A-Za-z0-9.-]', '-', name)}"


def spdx_document(facts: ImageFacts) -> dict[str, Any]:
    """An SPDX 2.3 JSON document: the image package CONTAINS each Debian package and component."""
    image_id = "SPDXRef-Image"
    packages: list[dict[str, Any]] = [
        {
            "SPDXID": image_id,
            "name": f"{facts.name}:{facts.tag}",
            "versionInfo": facts.manifest_digest,
            "primaryPackagePurpose": "CONTAINER",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "checksums": [{"algorithm": "SHA256", "checksumValue": facts.manifest_digest.split(":", 1)[1]}],
            "supplier": "Organization: fipsforge",
        }
    ]
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id}
    ]
    for index, package in enumerate(facts.packages):
        spdx_id = _spdx_id("deb", index, package.name)
        packages.append(
            {
                "SPDXID": spdx_id,
                "name": package.name,
                "versionInfo": package.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "supplier": "Organization: Debian",
                "sourceInfo": f"built from Debian source package {package.source} {package.source_version}",
                "checksums": [{"algorithm": "SHA256", "checksumValue": package.sha256}],
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": deb_purl(package, facts.suite),
                    }
                ],
                "primaryPackagePurpose": "LIBRARY",
            }
        )
        relationships.append(
            {"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": spdx_id}
        )
    for index, component in enumerate(facts.components):
        spdx_id = _spdx_id("fipsforge", index, component.name)
        refs = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                 "referenceLocator": component_purl(component)}]  # fmt: skip
        if component.cpe:
            refs.append({"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                         "referenceLocator": component.cpe})  # fmt: skip
        packages.append(
            {
                "SPDXID": spdx_id,
                "name": component.name,
                "versionInfo": component.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "supplier": "Organization: fipsforge",
                "description": component.description,
                "sourceInfo": "built by fipsforge from: "
                + ", ".join(
                    f"{name} (sha256 {digest})" for name, digest in sorted(component.sources.items())
                ),
                "externalRefs": refs,
                "primaryPackagePurpose": SPDX_PURPOSE.get(component.role, "LIBRARY"),
            }
        )
        relationships.append(
            {"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": spdx_id}
        )
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{facts.name}:{facts.tag}",
        "documentNamespace": f"urn:uuid:{_uuid(facts, 'spdx')}",
        "creationInfo": {"created": rfc3339(facts.created), "creators": [f"Tool: fipsforge-{__version__}"]},
        "packages": packages,
        "relationships": relationships,
    }


def _uuid(facts: ImageFacts, kind: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"fipsforge:{kind}:{facts.name}:{facts.manifest_digest}")


def _crypto_properties(component: Component) -> dict[str, Any]:
    functions = ["generate"] if component.role == "entropy-source" else ["digest", "encrypt", "decrypt",
                                                                             "sign", "verify", "keygen",
                                                                             "keyderive", "tag", "generate"]  # fmt: skip
    return {
        "assetType": "algorithm",
        "algorithmProperties": {
            "primitive": "other",
            "executionEnvironment": "software-plain-ram",
            "implementationPlatform": "x86_64",
            # fipsforge builds the module itself; whether a CMVP certificate covers it is for `verify`.
            "certificationLevel": ["none"],
            "cryptoFunctions": functions,
        },
    }


def cyclonedx_document(facts: ImageFacts) -> dict[str, Any]:
    """A CycloneDX 1.6 JSON BOM; the FIPS module and entropy source are cryptographic assets."""
    components: list[dict[str, Any]] = []
    for package in facts.packages:
        purl = deb_purl(package, facts.suite)
        components.append(
            {
                "type": "library",
                "bom-ref": purl,
                "name": package.name,
                "version": package.version,
                "publisher": "Debian",
                "purl": purl,
                "hashes": [{"alg": "SHA-256", "content": package.sha256}],
                "properties": [
                    {"name": "fipsforge:debian-source", "value": f"{package.source} {package.source_version}"}
                ],
            }
        )
    for component in facts.components:
        purl = component_purl(component)
        entry: dict[str, Any] = {
            "type": CYCLONEDX_TYPE.get(component.role, "library"),
            "bom-ref": f"fipsforge:{component.name}@{component.version}",
            "name": component.name,
            "version": component.version,
            "publisher": "fipsforge",
            "description": component.description,
            "purl": purl,
            "externalReferences": [
                {
                    "type": "source-distribution",
                    "url": name,
                    "hashes": [{"alg": "SHA-256", "content": digest}],
                }
                for name, digest in sorted(component.sources.items())
            ],
            "properties": [{"name": "fipsforge:role", "value": component.role}],
        }
        if component.cpe:
            entry["cpe"] = component.cpe
        if entry["type"] == "cryptographic-asset":
            entry["cryptoProperties"] = _crypto_properties(component)
        components.append(entry)
    image_ref = f"image:{facts.manifest_digest}"
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{_uuid(facts, 'cyclonedx')}",
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(facts.created),
            "tools": {"components": [{"type": "application", "name": "fipsforge", "version": __version__}]},
            "component": {
                "type": "container",
                "bom-ref": image_ref,
                "name": facts.name,
                "version": facts.tag,
                "hashes": [{"alg": "SHA-256", "content": facts.manifest_digest.split(":", 1)[1]}],
            },
        },
        "components": components,
        "dependencies": [{"ref": image_ref, "dependsOn": [c["bom-ref"] for c in components]}],
    }
