"""An image's Debian packages and fipsforge components: from its SBOM referrer, else its dpkg status.

The CycloneDX referrer that `fipsforge build` attaches names each package with its Debian source
(property `fipsforge:debian-source`) and each built component with its source files; reading it needs
no layer. Other images are read from `/var/lib/dpkg/status` (and `/usr/share/fipsforge/components.json`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from debian.deb822 import Deb822
from packageurl import PackageURL

from fipsforge.errors import FipsforgeError
from fipsforge.oci.reader import ImageSource, open_image
from fipsforge.outdated.model import BuiltComponent, ImageInventory, InstalledPackage

DPKG_STATUS = "var/lib/dpkg/status"
COMPONENTS_JSON = "usr/share/fipsforge/components.json"
CYCLONEDX_TYPE = "application/vnd.cyclonedx+json"
RELEASES = {"debian-13": "trixie"}
# A Debian source package's own files name it and its full version: `openssl_3.5.7-1~deb13u2.dsc`.
_DEBIAN_FILE = re.compile(r"^([a-z0-9][a-z0-9+.-]+)_([0-9][^_/]*?)(?:\.debian\.tar\.[a-z0-9]+|\.dsc)$")


def read_inventory(ref: str, work_dir: Path) -> ImageInventory:
    """The package list of `ref` (layout, docker-archive or registry reference)."""
    with open_image(ref, work_dir) as image:
        from_sbom = _from_cyclonedx(image)
        if from_sbom is not None:
            return from_sbom
        return _from_tree(image, work_dir)


def _from_cyclonedx(image: ImageSource) -> ImageInventory | None:
    for referrer in image.referrers():
        if referrer.artifact_type != CYCLONEDX_TYPE:
            continue
        for layer in referrer.layers:
            try:
                document = json.loads(image.blob(layer))
            except (FipsforgeError, json.JSONDecodeError):
                continue
            if isinstance(document, dict) and document.get("bomFormat") == "CycloneDX":
                return _cyclonedx_inventory(
                    image, document, f"CycloneDX referrer {referrer.descriptor.digest}"
                )
    return None


def _cyclonedx_inventory(image: ImageSource, document: dict[str, Any], where: str) -> ImageInventory:
    packages: list[InstalledPackage] = []
    components: list[BuiltComponent] = []
    suite = "trixie"
    for entry in document.get("components") or []:
        if not isinstance(entry, dict) or not entry.get("purl"):
            continue
        purl = PackageURL.from_string(str(entry["purl"]))
        if purl.type == "deb":
            properties = {p.get("name"): p.get("value") for p in entry.get("properties") or []}
            source, _, source_version = str(properties.get("fipsforge:debian-source") or "").partition(" ")
            suite = RELEASES.get(str((purl.qualifiers or {}).get("distro", "")), suite)
            packages.append(
                InstalledPackage(
                    name=str(purl.name),
                    version=str(purl.version),
                    source=source or str(purl.name),
                    source_version=source_version or str(purl.version),
                )
            )
        elif entry.get("publisher") == "fipsforge":
            files = [str(r.get("url", "")) for r in entry.get("externalReferences") or []]
            component = _component(str(entry.get("name")), str(entry.get("version")), files)
            if component is not None:
                components.append(component)
    return ImageInventory(
        image=image.ref, digest=image.manifest_digest, suite=suite, package_list=where,
        packages=packages, components=components,
    )  # fmt: skip


def _component(name: str, version: str, source_files: list[str]) -> BuiltComponent | None:
    """The Debian source a component was built from, read off its source file names."""
    for file_name in source_files:
        match = _DEBIAN_FILE.match(Path(file_name).name)
        if match:
            return BuiltComponent(name=name, version=version, debian_source=match[1], debian_version=match[2])
    return None


def _from_tree(image: ImageSource, work_dir: Path) -> ImageInventory:
    wanted = {DPKG_STATUS, COMPONENTS_JSON}
    tree = image.tree(keep=lambda path, _head: path in wanted, work_dir=work_dir)
    try:
        status = tree.read_bytes(DPKG_STATUS)
        record = tree.read_bytes(COMPONENTS_JSON)
    finally:
        tree.close()
    if status is None:
        raise FipsforgeError(
            f"{image.ref}: no package list (no CycloneDX SBOM referrer and no /{DPKG_STATUS})"
        )
    packages = []
    for stanza in Deb822.iter_paragraphs(status.decode("utf-8", "replace").splitlines()):
        name, version = stanza.get("Package"), stanza.get("Version")
        if not name or not version or stanza.get("Status", "installed").split()[-1:] != ["installed"]:
            continue
        source, _, source_version = stanza.get("Source", name).partition(" ")
        packages.append(
            InstalledPackage(
                name=name, version=version, source=source,
                source_version=source_version.strip("()") or version,
            )
        )  # fmt: skip
    components = []
    if record is not None:
        for entry in json.loads(record).get("components") or []:
            component = _component(
                str(entry["name"]), str(entry["version"]), list(entry.get("sources") or {})
            )
            if component is not None:
                components.append(component)
    return ImageInventory(
        image=image.ref, digest=image.manifest_digest, suite="trixie", package_list=f"/{DPKG_STATUS}",
        packages=packages, components=components,
    )  # fmt: skip
