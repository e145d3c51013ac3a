"""OS package inventory (dpkg status, apk installed database) and SBOMs (SPDX and CycloneDX JSON)."""

from __future__ import annotations

import json
import re
from typing import Any

from debian.deb822 import Deb822

from fipsforge.oci.tree import VirtualTree
from fipsforge.verify.model import Package

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_DIR = "var/lib/dpkg/status.d"  # distroless images keep one file per package here
APK_DATABASES = ("lib/apk/db/installed", "usr/lib/apk/db/installed")
SBOM_DIRS = ("var/lib/db/sbom", "usr/share/sbom", "sbom")
SBOM_NAME = re.compile(r"(\.spdx\.json|\.cdx\.json|bom\.json|sbom\.json)$")


def wanted_path(path: str) -> bool:
    """Paths whose content the package inventory needs kept."""
    return (
        path == DPKG_STATUS
        or path.startswith(DPKG_STATUS_DIR + "/")
        or path in APK_DATABASES
        or bool(SBOM_NAME.search(path))
    )


def dpkg_packages(tree: VirtualTree) -> list[Package]:
    texts: list[tuple[str, bytes]] = []
    status = tree.read_bytes(DPKG_STATUS)
    if status is not None:
        texts.append((DPKG_STATUS, status))
    for name in tree.listdir(DPKG_STATUS_DIR):
        data = tree.read_bytes(f"{DPKG_STATUS_DIR}/{name}")
        if data is not None:
            texts.append((f"{DPKG_STATUS_DIR}/{name}", data))
    packages = []
    for path, data in texts:
        for stanza in Deb822.iter_paragraphs(data.decode("utf-8", "replace").splitlines()):
            name, version = str(stanza.get("Package", "")), str(stanza.get("Version", ""))
            status_words = stanza.get("Status", "install ok installed").split()
            if name and version and status_words[-1:] == ["installed"]:
                packages.append(Package(name=name, version=version, ecosystem="deb", source=path))
    return packages


def apk_packages(tree: VirtualTree) -> list[Package]:
    packages = []
    for path in APK_DATABASES:
        data = tree.read_bytes(path)
        if data is None:
            continue
        for block in re.split(r"\n\s*\n", data.decode("utf-8", "replace")):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                if len(line) > 2 and line[1] == ":":
                    fields.setdefault(line[0], line[2:])
            if "P" in fields and "V" in fields:
                packages.append(Package(name=fields["P"], version=fields["V"], ecosystem="apk", source=path))
    return packages


def sbom_packages(data: bytes, source: str) -> list[Package] | None:
    """Packages named by an SPDX 2.x or CycloneDX JSON document; None when it is neither."""
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(document, dict) and "payload" in document and "payloadType" in document:
        return _in_toto(document, source)
    if isinstance(document, dict) and document.get("predicateType") and "predicate" in document:
        predicate = document["predicate"]
        return sbom_packages(json.dumps(predicate).encode(), source) if isinstance(predicate, dict) else None
    if not isinstance(document, dict):
        return None
    if "spdxVersion" in document:
        return _spdx(document, source)
    if document.get("bomFormat") == "CycloneDX":
        return _cyclonedx(document, source)
    return None


def _in_toto(envelope: dict[str, Any], source: str) -> list[Package] | None:
    import base64
    import binascii

    try:
        statement = base64.b64decode(str(envelope["payload"]))
    except (binascii.Error, ValueError):
        return None
    return sbom_packages(statement, source)


def _spdx(document: dict[str, Any], source: str) -> list[Package]:
    """SPDX 2.x: validated by spdx-tools when it can be, read leniently otherwise."""
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser

    try:
        parsed = JsonLikeDictParser().parse(document)  # type: ignore[no-untyped-call]
        pairs: list[tuple[object, object]] = [(p.name, p.version) for p in parsed.packages]
    except (SPDXParsingError, KeyError, TypeError, ValueError):
        pairs = [
            (p.get("name"), p.get("versionInfo"))
            for p in document.get("packages") or []
            if isinstance(p, dict)
        ]
    return [
        Package(name=str(name), version=str(version), ecosystem="sbom", source=source)
        for name, version in pairs
        if name and version
    ]


def _cyclonedx(document: dict[str, Any], source: str) -> list[Package]:
    pending = list(document.get("components") or [])
    packages = []
    while pending:
        component = pending.pop(0)
        if not isinstance(component, dict):
            continue
        pending.extend(component.get("components") or [])
        if component.get("name") and component.get("version"):
            packages.append(
                Package(
                    name=str(component["name"]),
                    version=str(component["version"]),
                    ecosystem="sbom",
                    source=source,
                )
            )
    return packages


def image_sboms(tree: VirtualTree) -> list[tuple[str, bytes]]:
    """SBOM documents inside the image: known SBOM directories and SBOM-named files."""
    found = []
    for path, node in tree.files():
        if SBOM_NAME.search(path) or any(
            path.startswith(d + "/") and path.endswith(".json") for d in SBOM_DIRS
        ):
            data = tree.content(node)
            if data is not None:
                found.append((path, data))
    return found
