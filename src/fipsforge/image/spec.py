"""The image spec: a small YAML file validated with pydantic, plus the built-in specs.

A spec names Debian packages (optionally pinned, `libc6=2.41-12`), files to copy in (`files:`, sources
relative to the spec file), and the services `fipsforge test` starts and probes (`services:`).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from fipsforge.errors import FipsforgeError

BUILTIN_SPECS = ("openssl", "python", "node", "php", "curl", "nginx", "haproxy", "valkey", "postgresql")
SOURCE_BUILDS = ("cpython", "libsodium")
"""Spec fields (booleans) that ask for one of fipsforge's own builds of a Debian source package."""
ALWAYS_INSTALLED = ("base-files",)
"""In every image, listed or not: base-files makes the merged-usr links (`/lib64` holds the ELF loader)."""
_PACKAGE = r"^[a-z0-9][a-z0-9+.-]+$"
# Debian policy §5.6.12: [epoch:]upstream_version[-debian_revision].
_VERSION = r"^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$"


class UserSpec(BaseModel):
    """The user the image runs as; the default is distroless' `nonroot` (65532:65532)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="nonroot", pattern=r"^[a-z_][a-z0-9_-]*$")
    uid: int = Field(default=65532, ge=0, lt=2**31)
    gid: int = Field(default=65532, ge=0, lt=2**31)
    home: str = Field(default="/home/nonroot", pattern=r"^/")


class ServiceSpec(BaseModel):
    """A service in the image that `fipsforge test` starts in the sandbox and probes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    command: list[str] = Field(default_factory=list)
    """What to run; empty means the image's entrypoint + cmd."""
    tls_port: int | None = Field(default=None, ge=1, le=65535)
    """The service listens for TLS on 127.0.0.1:PORT inside the sandbox."""
    protocol: Literal["tls", "postgres"] = "tls"
    """`postgres`: the client sends PostgreSQL's SSLRequest before the handshake (protocol §55.2.10)."""
    start_timeout: float = Field(default=20, gt=0, le=300)
    """Seconds the service has to accept connections on `tls_port`."""
    setup: list[str] = Field(default_factory=list)
    """Run to completion before each start (e.g. `initdb`), untraced: provisioning, not the service.
    The two share a writable `/tmp/fipsforge-state`."""


class ImageSpec(BaseModel):
    """What to put in an image. Unknown fields are errors, so a typo cannot be silently ignored."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
    tag: str = Field(default="latest", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    suite: Literal["trixie"] = "trixie"
    packages: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    trim: bool = True
    fips_stack: bool = True
    cpython: bool = False
    libsodium: bool = False
    entrypoint: list[str] = Field(default_factory=list)
    cmd: list[str] = Field(default_factory=list)
    user: UserSpec = Field(default_factory=UserSpec)
    env: dict[str, str] = Field(default_factory=dict)
    workdir: str = Field(default="/", pattern=r"^/")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    """Image path (absolute) → source file or directory, relative to the spec file."""
    services: list[ServiceSpec] = Field(default_factory=list)
    _source_dir: Path | None = PrivateAttr(default=None)

    def model_post_init(self, _context: object) -> None:
        for index, package in enumerate(self.packages):
            if not _valid_pinned_package(package):
                raise FipsforgeError(f"packages.{index}: not a Debian package name[=version]: {package!r}")
        for index, package in enumerate(self.exclude):
            if not _valid_package(package):
                raise FipsforgeError(f"exclude.{index}: not a Debian package name: {package!r}")
        for build in self.source_builds:
            if not self.fips_stack:
                raise FipsforgeError(f"{build}: fipsforge's {build} build needs fips_stack: true")
        for target in self.files:
            if not target.startswith("/") or ".." in Path(target).parts or target.rstrip("/") == "":
                raise FipsforgeError(f"files.{target}: the image path must be absolute, without '..'")
        names = [service.name for service in self.services]
        for name in names:
            if names.count(name) > 1:
                raise FipsforgeError(f"services: the name {name!r} is used twice")

    @property
    def source_builds(self) -> list[str]:
        """The source builds this spec asks for, in `SOURCE_BUILDS` order."""
        return [build for build in SOURCE_BUILDS if getattr(self, build)]

    @property
    def install(self) -> list[str]:
        """What apt installs: `packages`, plus `ALWAYS_INSTALLED` where the spec does not list them."""
        listed = {entry.split("=", 1)[0] for entry in self.packages}
        return [*self.packages, *(name for name in ALWAYS_INSTALLED if name not in listed)]

    @property
    def pins(self) -> dict[str, str]:
        """Package name → pinned version, for the `name=version` entries of `packages`."""
        return dict(entry.split("=", 1) for entry in self.packages if "=" in entry)

    def file_sources(self) -> dict[str, Path]:
        """Image path → the source on disk; only a spec loaded from a file (or built in) has any."""
        if not self.files:
            return {}
        if self._source_dir is None:
            raise FipsforgeError(
                "files: this spec was not loaded from a file, so its sources cannot be found"
            )
        return {target: self._source_dir / source for target, source in sorted(self.files.items())}


def _valid_package(name: str) -> bool:
    return re.fullmatch(_PACKAGE, name) is not None


def _valid_pinned_package(entry: str) -> bool:
    name, pinned, version = entry.partition("=")
    return _valid_package(name) and (not pinned or re.fullmatch(_VERSION, version) is not None)


def parse_spec(text: str, origin: str, source_dir: Path | None = None) -> ImageSpec:
    """Validate YAML text; errors name `origin` and the field path (`origin: user.uid: ...`).

    `source_dir` is where `files:` sources are looked up (the spec file's directory); each must exist.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise FipsforgeError(f"{origin}: not valid YAML{line}") from error
    if not isinstance(raw, dict):
        raise FipsforgeError(f"{origin}: the spec must be a YAML mapping")
    try:
        spec = ImageSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in first["loc"]) or "(spec)"
        raise FipsforgeError(f"{origin}: {path}: {first['msg']}") from error
    except FipsforgeError as error:
        raise FipsforgeError(f"{origin}: {error}") from error
    spec._source_dir = source_dir
    if spec.files and source_dir is None:
        raise FipsforgeError(f"{origin}: files: sources need a spec file to be relative to")
    for target, source in spec.file_sources().items():
        if not (source.is_file() or source.is_dir()):
            raise FipsforgeError(f"{origin}: files.{target}: no such file or directory: {source}")
    return spec


def builtin_spec_text(name: str) -> str:
    return resources.files("fipsforge.image").joinpath(f"specs/{name}.yaml").read_text(encoding="utf-8")


def stock_control_text(text: str) -> str:
    """The same spec over Debian's own OpenSSL: `fips_stack: false`, and none of fipsforge's source builds
    (they link the stack). What every catalog image is compared against."""
    if "fips_stack: true" not in text:
        raise FipsforgeError("the spec has no 'fips_stack: true' line to make a stock control of")
    asked = {f"{build}: true" for build in SOURCE_BUILDS}
    lines = [line for line in text.splitlines(True) if line.strip() not in asked]
    return "".join(lines).replace("fips_stack: true", "fips_stack: false")


def builtin_spec_dir() -> Path:
    """The directory of the built-in specs, where their `files:` sources live."""
    return Path(str(resources.files("fipsforge.image").joinpath("specs")))


def load_spec(name_or_path: str) -> tuple[ImageSpec, str]:
    """A built-in spec by name, or a YAML file; returns the spec and its exact text (a build input)."""
    if name_or_path in BUILTIN_SPECS:
        text = builtin_spec_text(name_or_path)
        return parse_spec(text, f"built-in spec {name_or_path}", builtin_spec_dir()), text
    path = Path(name_or_path)
    if not path.is_file():
        raise FipsforgeError(
            f"{name_or_path}: no such spec file (built-in specs: {', '.join(BUILTIN_SPECS)})"
        )
    text = path.read_text(encoding="utf-8")
    return parse_spec(text, str(path), path.parent), text
