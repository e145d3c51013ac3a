"""A private apt root for Debian trixie, whose mirror comes from the host's own apt sources.

The host's apt state is never touched: the root has its own sources, lists, cache and dpkg status, and
apt still checks every index against the Debian archive keyring. Only the mirror addresses are taken
from the host, so the same code works behind whatever mirror or proxy the machine is configured for.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from debian.deb822 import Deb822
from pydantic import BaseModel

from fipsforge.errors import FipsforgeError

DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SUGGESTED_SOURCE = "deb-src <your Debian mirror>/debian trixie main"


class DebianMirrors(BaseModel):
    """The archive and security mirror URIs found in the host's apt sources."""

    archive: str
    security: str | None = None
    found_in: Path


def _one_line_entries(path: Path) -> list[tuple[str, str, list[str]]]:
    """(type, uri, suites) from a one-line-style `sources.list` file."""
    entries: list[tuple[str, str, list[str]]] = []
    for raw in path.read_text(errors="replace").splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        if words[1].startswith("["):  # options such as [signed-by=...]
            while words and not words[1].endswith("]"):
                words.pop(1)
            words.pop(1)
        if len(words) >= 3:
            entries.append((words[0], words[1], [words[2]]))
    return entries


def _deb822_entries(path: Path) -> list[tuple[str, str, list[str]]]:
    entries: list[tuple[str, str, list[str]]] = []
    with path.open() as stream:
        for paragraph in Deb822.iter_paragraphs(stream):
            if paragraph.get("Enabled", "yes").lower() == "no":
                continue
            suites = paragraph.get("Suites", "").split()
            for kind in paragraph.get("Types", "").split():
                entries.extend((kind, uri, suites) for uri in paragraph.get("URIs", "").split())
    return entries


def host_debian_mirrors(apt_etc: Path = Path("/etc/apt")) -> DebianMirrors:
    """Find the Debian archive (and security) mirrors the host already uses.

    A Debian entry is one whose suite is a Debian codename (or `<codename>-updates/-security`) and whose
    URI path ends in `debian` or `debian-security`; the security mirror serves a `*-security` suite.
    """
    files = [apt_etc / "sources.list"] if (apt_etc / "sources.list").is_file() else []
    list_dir = apt_etc / "sources.list.d"
    if list_dir.is_dir():
        files += sorted(p for p in list_dir.iterdir() if p.suffix in (".list", ".sources"))
    archive: tuple[str, Path] | None = None
    security: str | None = None
    for path in files:
        entries = _deb822_entries(path) if path.suffix == ".sources" else _one_line_entries(path)
        for _kind, uri, suites in entries:
            bases = {suite.split("-")[0].split("/")[0] for suite in suites}
            if not bases & _DEBIAN_CODENAMES or not _is_debian_archive_path(uri):
                continue
            if any(suite.endswith("-security") or "/updates" in suite for suite in suites):
                security = security or uri.rstrip("/")
            elif archive is None:
                archive = (uri.rstrip("/"), path)
    if archive is None:
        raise FipsforgeError(
            f"{apt_etc}: no Debian archive in the apt sources; add a line such as "
            f"'{SUGGESTED_SOURCE.replace('deb-src', 'deb')}' to {apt_etc / 'sources.list'}"
        )
    return DebianMirrors(archive=archive[0], security=security, found_in=archive[1])


def _is_debian_archive_path(uri: str) -> bool:
    """Debian's archives live at `.../debian` and `.../debian-security` on every mirror and proxy."""
    return uri.rstrip("/").rsplit("/", 1)[-1] in ("debian", "debian-security")


_DEBIAN_CODENAMES = {
    "buster", "bullseye", "bookworm", "trixie", "forky", "sid", "stable", "testing", "unstable",
    "oldstable",
}  # fmt: skip


class AptRoot(BaseModel):
    """A self-contained apt configuration under `root`, for one Debian suite."""

    root: Path
    suite: str
    mirrors: DebianMirrors

    @classmethod
    def create(cls, root: Path, suite: str = "trixie", mirrors: DebianMirrors | None = None) -> AptRoot:
        """Lay out the directories and a deb + deb-src source list for `suite`."""
        mirrors = mirrors or host_debian_mirrors()
        for sub in ("etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d",
                    "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"):  # fmt: skip
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "var/lib/dpkg/status").touch()
        stanzas = [
            f"Types: deb deb-src\nURIs: {mirrors.archive}\nSuites: {suite} {suite}-updates\n"
            f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n"
        ]
        if mirrors.security:
            stanzas.append(
                f"Types: deb deb-src\nURIs: {mirrors.security}\nSuites: {suite}-security\n"
                f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n"
            )
        (root / "etc/apt/sources.list.d/fipsforge.sources").write_text("\n".join(stanzas))
        (root / "etc/apt/sources.list").write_text("")
        return cls(root=root, suite=suite, mirrors=mirrors)

    def options(self) -> list[str]:
        """apt-get/apt-cache options that confine apt to this root."""
        return [
            "-o", f"Dir={self.root}",
            "-o", f"Dir::State::status={self.root / 'var/lib/dpkg/status'}",
            "-o", "Dir::Etc::trustedparts=/etc/apt/trusted.gpg.d",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Sandbox::User=root",
            "-o", "Acquire::Retries=2",
            # Keep apt's binary caches inside the root (hosts may turn them off, as Debian's docker-style
            # configs do): without them every apt-cache call re-parses all indexes, about 3 s each.
            "-o", "Dir::Cache::pkgcache=pkgcache.bin",
            "-o", "Dir::Cache::srcpkgcache=srcpkgcache.bin",
        ]  # fmt: skip

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        """Run `apt-get` or `apt-cache` inside this root; failures become one-line errors."""
        command = [tool, *self.options(), *args]
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            problem = _last_error_line(done.stderr) or f"exit {done.returncode}"
            raise FipsforgeError(f"{tool} {' '.join(args)}: {problem}")
        return done.stdout

    def update(self) -> None:
        """Fetch and verify the signed indexes; an unreachable mirror names the line to fix."""
        done = subprocess.run(
            ["apt-get", *self.options(), "update"], capture_output=True, text=True, check=False
        )
        failed = [line for line in done.stderr.splitlines() if line.startswith(("E:", "W: Failed", "Err:"))]
        if done.returncode != 0 or any("Release" in line or "InRelease" in line for line in failed):
            raise FipsforgeError(
                f"{self.mirrors.found_in}: the Debian mirror {self.mirrors.archive} does not serve "
                f"{self.suite} ({_last_error_line(done.stderr) or 'apt-get update failed'}); add a "
                f"reachable line such as '{SUGGESTED_SOURCE}' to your apt sources"
            )

    def source_record(self, package: str, version: str) -> Deb822:
        """The Sources index stanza for `package` at `version` (its files and their SHA-256s)."""
        text = self.run("apt-cache", "showsrc", "--only-source", package)
        for paragraph in Deb822.iter_paragraphs(text.splitlines()):
            if paragraph.get("Version") == version:
                return paragraph
        versions = [p.get("Version") for p in Deb822.iter_paragraphs(text.splitlines())]
        raise FipsforgeError(
            f"source package {package}={version}: not in {self.suite} (available: {', '.join(map(str, versions))})"
        )

    def download_source(self, package: str, version: str, dest: Path) -> dict[str, Path]:
        """Download a source package's files (checked by apt against the signed Sources index).

        Returns file name → path. The `.dsc` is optional: some mirrors serve only the tarballs, whose
        hashes the signed index already pins.
        """
        record = self.source_record(package, version)
        dest.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["apt-get", *self.options(), "source", "--download-only", f"{package}={version}"],
            cwd=dest, capture_output=True, text=True, check=False,
        )  # fmt: skip
        files: dict[str, Path] = {}
        for line in record.get("Checksums-Sha256", "").strip().splitlines():
            _sha, _size, name = line.split()
            if (dest / name).is_file():
                files[name] = dest / name
        tarballs = [name for name in files if ".tar." in name and not name.endswith(".asc")]
        if not tarballs:
            raise FipsforgeError(
                f"source package {package}={version}: download failed "
                f"({_last_error_line(done.stderr) or 'no files'})"
            )
        return files

    def download(self, packages: list[str], dest: Path) -> list[Path]:
        """Download the named binary packages (no dependency resolution) into `dest`."""
        dest.mkdir(parents=True, exist_ok=True)
        self.run("apt-get", "download", *packages, cwd=dest)
        names = [package.split("=", 1)[0] for package in packages]
        return sorted(path for name in names for path in dest.glob(f"{name}_*.deb"))


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.startswith(("E:", "Err:", "W:"))]
    return lines[-1] if lines else ""
