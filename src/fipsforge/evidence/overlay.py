"""The overlay: what manifests cannot show. External services, TLS settings, flows declared by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fipsforge.errors import FipsforgeError
from fipsforge.evidence.manifests import LineDict, load_yaml_documents


class OverlayModule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str | None = None
    certificate: str | None = None


class ExternalService(BaseModel):
    """A service outside the cluster: a managed database, an identity provider, a SaaS API."""

    model_config = ConfigDict(extra="forbid")

    name: str
    host: str
    port: int | None = None
    protocol: str | None = None
    encrypted: bool | None = None
    by: str | None = None
    """How it is encrypted, in words: `TLS 1.2+ (provider documentation)`."""
    fips_module: OverlayModule | None = None
    inside_boundary: bool = False
    description: str = ""


class TlsSetting(BaseModel):
    """TLS facts about a server the manifests cannot show (server config files, mesh policy)."""

    model_config = ConfigDict(extra="forbid")

    server: str
    """A Service name (`postgres` or `shop/postgres`) or an external service name."""
    port: int | None = None
    encrypted: bool
    by: str = ""


class DeclaredFlow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client: str
    """`namespace/workload`, `namespace/workload:container`, `internet` or `external:NAME`."""
    server: str
    port: int | None = None
    protocol: str = "tcp"
    encrypted: bool | None = None
    by: str = ""


class Overlay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    boundary: str = "Authorization boundary"
    external_services: list[ExternalService] = Field(default_factory=list)
    tls: list[TlsSetting] = Field(default_factory=list)
    flows: list[DeclaredFlow] = Field(default_factory=list)
    source: str = ""
    lines: dict[str, int] = Field(default_factory=dict, exclude=True)
    """`flows.0` → line, for the evidence trail."""


def _line_at(raw: Any, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest mapping on `loc` that the YAML recorded."""
    line = raw.line if isinstance(raw, LineDict) else 1
    node = raw
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (in_dict or in_list):
            break
        node = node[part]
        if isinstance(node, LineDict):
            line = node.line
    return line


def _lines(raw: Any, prefix: str = "") -> dict[str, int]:
    found: dict[str, int] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            found.update(_lines(value, f"{prefix}{key}."))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            if isinstance(value, LineDict):
                found[f"{prefix}{index}"] = value.line
    return found


def read_overlay(path: Path) -> Overlay:
    docs = [d for d in load_yaml_documents(path) if d is not None]
    if not docs:
        return Overlay(source=str(path))
    if len(docs) > 1 or not isinstance(docs[0], dict):
        raise FipsforgeError(f"{path}:1: overlay must be one YAML mapping")
    raw = docs[0]
    try:
        overlay = Overlay.model_validate({k: v for k, v in raw.items() if k not in ("source", "lines")})
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(p) for p in loc)
        raise FipsforgeError(f"{path}:{_line_at(raw, loc)}: overlay {field}: {first['msg']}") from None
    overlay.source = str(path)
    overlay.lines = _lines(raw)
    return overlay
