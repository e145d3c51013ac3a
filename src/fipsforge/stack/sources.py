"""Signed upstream sources for the stack, fetched through Debian's source packages.

apt checks each file against the signed Sources index of the private trixie root; on top of that the
OpenSSL upstream tarball's detached signature is checked with gpgv against the upstream key that the
Debian packaging ships (`debian/upstream/signing-key.asc`). Downloads are cached per package version.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path

from pydantic import BaseModel

from fipsforge.apt import AptRoot
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir, cache_root, sha256_file

OPENSSL_PACKAGE = "openssl"
OPENSSL_VERSION = "3.5.7-1~deb13u2"
JITTERENTROPY_PACKAGE = "jitterentropy-rngd"
JITTERENTROPY_VERSION = "1.2.8-3"


class SourcePackage(BaseModel):
    """The files of one Debian source package, with their SHA-256s."""

    package: str
    version: str
    directory: Path
    sha256: dict[str, str]

    def file(self, suffix: str) -> Path:
        """The one file whose name ends with `suffix` (e.g. `.orig.tar.gz`)."""
        matches = [name for name in self.sha256 if name.endswith(suffix)]
        if len(matches) != 1:
            raise FipsforgeError(
                f"{self.directory}: expected one *{suffix} in {self.package}, found {matches}"
            )
        return self.directory / matches[0]


def apt_root(suite: str = "trixie") -> AptRoot:
    """The shared private apt root for `suite`, with fresh signed indexes."""
    root = AptRoot.create(cache_root() / "apt" / suite, suite=suite)
    root.update()
    return root


def fetch_source_package(package: str, version: str, suite: str = "trixie") -> SourcePackage:
    """Download (once) a Debian source package into the cache and return its files and hashes."""
    target = cache_root() / "sources" / f"{package}_{version}"
    if not (target / ".complete").is_file():
        root = apt_root(suite)
        with atomic_dir(target) as staging:
            root.download_source(package, version, staging)
            if package == OPENSSL_PACKAGE:
                verify_openssl_signature(staging)
            (staging / ".complete").write_text("")
    files = sorted(p for p in target.iterdir() if p.is_file() and not p.name.startswith("."))
    return SourcePackage(
        package=package,
        version=version,
        directory=target,
        sha256={path.name: sha256_file(path) for path in files},
    )


def verify_openssl_signature(directory: Path) -> None:
    """Check `openssl_*.orig.tar.gz.asc` with gpgv against Debian's copy of the upstream signing key."""
    tarballs = sorted(directory.glob("openssl_*.orig.tar.gz"))
    debian = sorted(directory.glob("openssl_*.debian.tar.*"))
    if len(tarballs) != 1 or len(debian) != 1:
        raise FipsforgeError(
            f"{directory}: OpenSSL source package is incomplete (need orig and debian tarballs)"
        )
    signature = tarballs[0].with_name(tarballs[0].name + ".asc")
    if not signature.is_file():
        raise FipsforgeError(f"{signature}: missing; the upstream tarball cannot be verified")
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(debian[0]) as packaging:
        member = packaging.extractfile("debian/upstream/signing-key.asc")
        if member is None:
            raise FipsforgeError(f"{debian[0]}: no debian/upstream/signing-key.asc")
        keyring = Path(scratch) / "openssl-upstream.gpg"
        dearmored = subprocess.run(
            ["gpg", "--dearmor"], input=member.read(), capture_output=True, check=False
        )
        if dearmored.returncode != 0:
            raise FipsforgeError(f"{debian[0]}: debian/upstream/signing-key.asc is not a usable OpenPGP key")
        keyring.write_bytes(dearmored.stdout)
        checked = subprocess.run(
            ["gpgv", "--keyring", str(keyring), str(signature), str(tarballs[0])],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if checked.returncode != 0:
        raise FipsforgeError(f"{tarballs[0]}: upstream signature does not verify ({checked.stderr.strip()})")


def extract(tarball: Path, dest: Path) -> Path:
    """Unpack a source tarball (rejecting unsafe members) and return its single top-level directory."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(dest, filter="data")
        tops = {name.split("/", 1)[0] for name in archive.getnames()}
    if len(tops) != 1:
        raise FipsforgeError(f"{tarball}: expected one top-level directory, found {sorted(tops)}")
    return dest / tops.pop()


def jitterentropy_source_dir(version: str = JITTERENTROPY_VERSION) -> Path:
    """An extracted, hash-recorded jitterentropy-rngd tree: `jitterentropy.h` and the library in `lib/`."""
    package = fetch_source_package(JITTERENTROPY_PACKAGE, version)
    tree = cache_root() / "sources" / f"{JITTERENTROPY_PACKAGE}_{version}.src"
    if not tree.is_dir():
        with atomic_dir(tree) as staging:
            extract(package.file(".orig.tar.xz"), staging)
    (top,) = [path for path in tree.iterdir() if path.is_dir()]
    return top
