"""Resolve an image's Debian packages with their dependencies, in a private apt root, and fetch them.

apt does the resolving (`apt-get -s install` against an empty dpkg status), so the closure is the one
Debian's own tools would install. Packages the image must not contain are entered into that status as
already installed: the ones our FIPS stack replaces, and the ones a spec excludes (dependencies that
only serve maintainer scripts, which an image build never runs). apt then neither picks them nor pulls
their dependencies. Downloads go through apt, which checks every file against the signed indexes, and
are kept under `cache_root()/debs`, checked again by SHA-256 on every use. A spec's `name=version` pins go to
apt as they are: a pinned version need not be the candidate, only in the indexes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from debian.deb822 import Deb822
from pydantic import BaseModel

from fipsforge.apt import AptRoot, DebianMirrors, host_debian_mirrors
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import cache_root, sha256_file
from fipsforge.image.spec import ImageSpec

# Debian packages whose files our stack provides instead (libssl/libcrypto, the providers, the CLI).
STACK_REPLACES = ("libssl3t64", "openssl", "openssl-provider-fips", "openssl-provider-legacy")
# Debian's packages replaced by fipsforge's own builds (`spec.SOURCE_BUILDS`), when a spec asks for them.
SOURCE_BUILD_REPLACES = {
    "cpython": ("python3.13", "python3.13-minimal", "libpython3.13-stdlib", "libpython3.13-minimal"),
    "libsodium": ("libsodium23",),
}

_INST = re.compile(r"^Inst (\S+) \((\S+) .*\[(\S+)\]\)")
_STUB_FIELDS = ("Package", "Version", "Architecture", "Multi-Arch", "Provides")


class DebPackage(BaseModel):
    """One resolved binary package, with what the signed index says about its file."""

    name: str
    version: str
    architecture: str
    source: str
    source_version: str
    sha256: str
    size: int
    filename: str

    @property
    def deb_name(self) -> str:
        return Path(self.filename).name


class Resolution(BaseModel):
    """The packages to unpack (sorted by name), and the Debian packages left out, with why."""

    packages: list[DebPackage]
    replaced: dict[str, str]


def apt_root(mirrors: DebianMirrors | None = None, suite: str = "trixie") -> AptRoot:
    """The image builder's private apt root for these mirrors (indexes refreshed by `update`)."""
    mirrors = mirrors or host_debian_mirrors()
    tag = hashlib.sha256(f"{mirrors.archive} {mirrors.security}".encode()).hexdigest()[:12]
    return AptRoot.create(cache_root() / "image" / f"apt-{suite}-{tag}", suite=suite, mirrors=mirrors)


def _apt(root: AptRoot, *args: str, status: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["-o", f"Dir::State::status={status}"] if status else []
    return subprocess.run(
        [args[0], *root.options(), *extra, *args[1:]], capture_output=True, text=True, check=False
    )


def _unknown_packages(stderr: str) -> list[str]:
    found = re.findall(r"Unable to locate package (\S+)", stderr)
    found += re.findall(r"Package '?(\S+?)'? has no installation candidate", stderr)
    found += re.findall(r"No packages found.*?(\S+)$", stderr, flags=re.M)
    return found


def _missing_pins(stderr: str) -> list[tuple[str, str]]:
    """(name, version) of each `name=version` that apt says the indexes do not have."""
    return re.findall(r"Version '([^']+)' for '([^']+)' was not found", stderr)


def show(root: AptRoot, names: list[str], missing_ok: bool = False) -> list[Deb822]:
    """Index stanzas for `name` (its candidate) or `name=version` (that version, candidate or not).

    One apt-cache call for all names; a name or version the indexes lack is simply absent from the
    answer (apt-cache prints nothing for an unknown `name=version`), so callers compare. Only when
    none is found is that an error, unless `missing_ok`.
    """
    if not names:
        return []
    done = _apt(root, "apt-cache", "show", "--no-all-versions", *names)
    if done.returncode != 0 and not done.stdout and not missing_ok:
        missing = re.findall(r"Unable to locate package (\S+)", done.stderr) or names
        raise FipsforgeError(f"package {missing[0]}: not found in Debian {root.suite}")
    return list(Deb822.iter_paragraphs(done.stdout.splitlines()))


def deb_package(stanza: Deb822) -> DebPackage:
    """The `DebPackage` a Packages index stanza describes."""
    source, _, source_version = stanza.get("Source", stanza["Package"]).partition(" ")
    return DebPackage(
        name=stanza["Package"],
        version=stanza["Version"],
        architecture=stanza["Architecture"],
        source=source,
        source_version=source_version.strip("()") or stanza["Version"],
        sha256=stanza["SHA256"],
        size=int(stanza["Size"]),
        filename=stanza["Filename"],
    )


def _available_versions(root: AptRoot, name: str) -> list[str]:
    done = _apt(root, "apt-cache", "madison", name)
    rows = [line.split("|") for line in done.stdout.splitlines() if line.count("|") == 2]
    return list(dict.fromkeys(row[1].strip() for row in rows if row[2].strip().endswith("Packages")))


def _stub_status(root: AptRoot, names: list[str], origin: str) -> str:
    """A dpkg status in which `names` count as installed, so apt leaves them (and their deps) out."""
    stanzas = []
    for name in names:
        done = _apt(root, "apt-cache", "show", "--no-all-versions", name)
        paragraphs = list(Deb822.iter_paragraphs(done.stdout.splitlines())) if done.returncode == 0 else []
        if not paragraphs:
            if origin == "exclude":
                raise FipsforgeError(f"exclude: unknown package {name!r} in Debian {root.suite}")
            continue  # a replaced package this suite does not have: nothing to leave out
        stub = Deb822()
        for key in _STUB_FIELDS:
            if key in paragraphs[0]:
                stub[key] = paragraphs[0][key]
        stub["Status"] = "install ok installed"
        stanzas.append(stub.dump())
    return "\n".join(stanzas)


def resolve(spec: ImageSpec, root: AptRoot) -> Resolution:
    """The dependency closure of `spec.packages`, minus what the stack, CPython build or spec replace."""
    replaced = {name: "fipsforge FIPS stack" for name in STACK_REPLACES} if spec.fips_stack else {}
    stubs = [_stub_status(root, sorted(replaced), "stack"), _stub_status(root, spec.exclude, "exclude")]
    stub_text = "\n".join(stub for stub in stubs if stub)  # a lone newline is not a dpkg status apt reads
    with tempfile.TemporaryDirectory(prefix="fipsforge-resolve-") as tmp:
        status = Path(tmp) / "status"
        status.write_text(stub_text)
        done = _apt(
            root, "apt-get", "-s", "-q", "install", "--no-install-recommends", *spec.install, status=status
        )
    if done.returncode != 0:
        for version, name in _missing_pins(done.stderr):
            available = ", ".join(_available_versions(root, name)) or "none"
            raise FipsforgeError(
                f"packages: {name}={version}: Debian {root.suite} has no such version (available: {available})"
            )
        unknown = _unknown_packages(done.stderr)
        if unknown:
            raise FipsforgeError(f"packages: unknown package {unknown[0]!r} in Debian {root.suite}")
        errors = [line for line in done.stderr.splitlines() if line.startswith("E:")]
        raise FipsforgeError(f"packages: apt cannot resolve them: {errors[-1] if errors else done.stderr}")
    chosen = [m.groups() for m in map(_INST.match, done.stdout.splitlines()) if m]
    replaced.update(dict.fromkeys(spec.exclude, "excluded by the spec"))
    for build in spec.source_builds:
        replaces = SOURCE_BUILD_REPLACES[build]
        if not any(name in replaces for name, _version, _arch in chosen):
            raise FipsforgeError(f"{build}: true, but no package of the image needs {', '.join(replaces)}")
        replaced.update(dict.fromkeys(replaces, f"fipsforge {build} build"))
    keep = [(name, version) for name, version, _arch in chosen if name not in replaced]
    stanzas = {(p["Package"], p["Version"]): p for p in show(root, [f"{n}={v}" for n, v in keep])}
    packages = [deb_package(stanzas[key]) for key in sorted(keep)]
    return Resolution(packages=packages, replaced=dict(sorted(replaced.items())))


def fetch(packages: list[DebPackage], root: AptRoot, cache: Path | None = None) -> dict[str, Path]:
    """Each package's .deb in the cache (downloading what is missing); name → path, hashes checked."""
    cache = cache or cache_root() / "debs"
    cache.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not (cache / p.deb_name).is_file()]
    if missing:
        with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as tmp:
            # apt-get download writes to the working directory, and checks each file's hash.
            done = subprocess.run(
                ["apt-get", *root.options(), "download", *[f"{p.name}={p.version}" for p in missing]],
                cwd=tmp, capture_output=True, text=True, check=False,
            )  # fmt: skip
            for package in missing:
                got = next(Path(tmp).glob(f"{package.name}_*.deb"), None)
                if got is None:
                    errors = [line for line in done.stderr.splitlines() if line.startswith(("E:", "Err:"))]
                    raise FipsforgeError(
                        f"package {package.name}={package.version}: download failed "
                        f"({errors[-1] if errors else 'no file'})"
                    )
                shutil.move(got, cache / package.deb_name)
    paths = {}
    for package in packages:
        path = cache / package.deb_name
        if sha256_file(path) != package.sha256:
            path.unlink()
            raise FipsforgeError(f"{path}: SHA-256 does not match the signed index; removed, build again")
        paths[package.name] = path
    return paths
