"""Candidates from the suite's signed indexes (trixie, -updates, -security), one apt pass per question.

Uses the image builder's private apt root, so the candidate is exactly what `fipsforge build` would
install today. apt is asked once for all binary names, and once for all source names.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from debian.deb822 import Deb822
from debian.debian_support import Version

from fipsforge.apt import AptRoot
from fipsforge.image.resolve import DebPackage, deb_package, show


def candidates(root: AptRoot, names: list[str]) -> dict[str, DebPackage]:
    """Each name's candidate in the suite; names the indexes lack are absent from the answer."""
    found = {}
    for stanza in show(root, sorted(set(names)), missing_ok=True):
        package = deb_package(stanza)
        found[package.name] = package
    return found


def newest_sources(root: AptRoot, sources: list[str]) -> dict[str, Deb822]:
    """The newest Sources stanza of each source package (all suites at once)."""
    if not sources:
        return {}
    done = subprocess.run(
        ["apt-cache", *root.options(), "showsrc", "--only-source", *sorted(set(sources))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    newest: dict[str, Deb822] = {}
    for stanza in Deb822.iter_paragraphs(done.stdout.splitlines()):
        name, version = stanza.get("Package"), stanza.get("Version")
        if name and version and (name not in newest or Version(version) > Version(newest[name]["Version"])):
            newest[name] = stanza
    return newest


def source_served(root: AptRoot, stanza: Deb822) -> bool:
    """Does the mirror serve this source version? Fetches its smallest file (hash-checked) to find out.

    A Sources index can list a version whose files the mirror does not carry (404): a stack pinned
    to an older version then cannot move without a mirror that has them.
    """
    files = [line.split() for line in stanza.get("Checksums-Sha256", "").strip().splitlines()]
    if not files:
        return False
    sha256, _size, name = min(files, key=lambda f: int(f[1]))
    uri = _source_uri(root, stanza["Package"], stanza["Version"], name)
    if uri is None:
        return False
    with tempfile.TemporaryDirectory(prefix="fipsforge-probe-") as scratch:
        done = subprocess.run(
            ["/usr/lib/apt/apt-helper", *root.options(), "download-file", uri,
             str(Path(scratch) / name), f"SHA256:{sha256}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    return done.returncode == 0


def _source_uri(root: AptRoot, package: str, version: str, file_name: str) -> str | None:
    done = subprocess.run(
        ["apt-get", *root.options(), "source", "--print-uris", f"{package}={version}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) >= 2 and words[1] == file_name:
            return words[0].strip("'")
    return None
