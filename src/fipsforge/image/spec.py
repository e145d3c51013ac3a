"""The image spec: a small YAML file validated with pydantic, plus the built-in `openssl` and `python`."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fipsforge.errors import FipsforgeError

BUILTIN_SPECS = ("openssl", "python")
_PACKAGE = r"^[a-z0-9][a-z0-9+.-]+$"


class UserSpec(BaseModel):
    """The user the image runs as; the default is distroless' `nonroot` (65532:65532)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="nonroot", pattern=r"^[a-z_][a-z0-9_-]*$")
    uid: int = Field(default=65532, ge=0, lt=2**31)
    gid: int = Field(default=65532, ge=0, lt=2**31)
    home: str = Field(default="/home/nonroot", pattern=r"^/")


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
    entrypoint: list[str] = Field(default_factory=list)
    cmd: list[str] = Field(default_factory=list)
    user: UserSpec = Field(default_factory=UserSpec)
    env: dict[str, str] = Field(default_factory=dict)
    workdir: str = Field(default="/", pattern=r"^/")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    def model_post_init(self, _context: object) -> None:
        for field_name in ("packages", "exclude"):
            for index, package in enumerate(getattr(self, field_name)):
                if not _valid_package(package):
                    raise FipsforgeError(f"{field_name}.{index}: not a Debian package name: {package!r}")
        if self.cpython and not self.fips_stack:
            raise FipsforgeError("cpython: the CPython build needs fips_stack: true")


def _valid_package(name: str) -> bool:
    return re.fullmatch(_PACKAGE, name) is not None


def parse_spec(text: str, origin: str) -> ImageSpec:
    """Validate YAML text; errors name `origin` and the field path (`origin: user.uid: ...`)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise FipsforgeError(f"{origin}: not valid YAML{line}") from error
    if not isinstance(raw, dict):
        raise FipsforgeError(f"{origin}: the spec must be a YAML mapping")
    try:
        return ImageSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in first["loc"]) or "(spec)"
        raise FipsforgeError(f"{origin}: {path}: {first['msg']}") from error
    except FipsforgeError as error:
        raise FipsforgeError(f"{origin}: {error}") from error


def builtin_spec_text(name: str) -> str:
    return resources.files("fipsforge.image").joinpath(f"specs/{name}.yaml").read_text(encoding="utf-8")


def load_spec(name_or_path: str) -> tuple[ImageSpec, str]:
    """A built-in spec by name, or a YAML file; returns the spec and its exact text (a build input)."""
    if name_or_path in BUILTIN_SPECS:
        text = builtin_spec_text(name_or_path)
        return parse_spec(text, f"built-in spec {name_or_path}"), text
    path = Path(name_or_path)
    if not path.is_file():
        raise FipsforgeError(
            f"{name_or_path}: no such spec file (built-in specs: {', '.join(BUILTIN_SPECS)})"
        )
    text = path.read_text(encoding="utf-8")
    return parse_spec(text, str(path)), text
