"""Probes for the runtimes an image carries, one module each, chosen by what the image holds.

Each module's `plan(image, context)` looks for its runtime and returns the checks to run (sandboxed
`Probe`s the suite runs in both entropy modes) and findings decided without running anything (build
info, a config file). A runtime fipsforge finds but has no probe for is reported "not probed", so its
crypto is never counted as passed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from fipsforge.oci.unpack import UnpackedImage
from fipsforge.stack.check import Probe

Outcome = Literal["passed", "failed", "not probed"]


class RuntimeCheck(BaseModel):
    """A probe; `non_validated` names the function reported as a non-validated path when the probe fails."""

    probe: Probe
    non_validated: str | None = None


class Finding(BaseModel):
    """A case decided from the image's files, without running it (mode-independent)."""

    id: str
    group: str
    description: str
    outcome: Outcome
    detail: str
    non_validated: str | None = None


class Plan(BaseModel):
    """What one runtime module found and wants run; `binds` are host paths its probes need (read-only)."""

    checks: list[RuntimeCheck] = []
    findings: list[Finding] = []
    binds: dict[Path, str] = {}


class Context(BaseModel, arbitrary_types_allowed=True):
    """What the suite gives each runtime module: a PATH lookup in the image and a scratch directory."""

    find: Callable[[tuple[str, ...]], str | None]
    """The image path of the first of these program names on the image's PATH, or None."""
    openssl_cli: str | None
    scratch: Path
    """Host directory that lives as long as the suite run (certificates and the like)."""


class RuntimeModule(Protocol):
    def plan(self, image: UnpackedImage, context: Context) -> Plan | None: ...


UNPROBED = {
    "ruby": "Ruby (Digest, SecureRandom)",
    "perl": "Perl (Digest::MD5, Digest::SHA)",
    "dotnet": ".NET",
    "erl": "Erlang/OTP (crypto)",
    "lua5.4": "Lua",
}
"""Runtimes with crypto of their own that fipsforge recognises but does not probe yet."""


def not_probed(context: Context) -> Plan:
    findings = [
        Finding(id=f"{program}-not-probed", group="runtimes not probed", description=f"{name}: its own crypto",
                outcome="not probed",
                detail=f"{found} is in the image; fipsforge has no probe for {name.split(' (')[0]}: "
                "nothing about its crypto is proven")
        for program, name in UNPROBED.items()
        if (found := context.find((program,))) is not None
    ]  # fmt: skip
    return Plan(findings=findings)


def runtime_plans(image: UnpackedImage, context: Context) -> list[Plan]:
    """Every applicable runtime module's plan, in a fixed order."""
    from fipsforge.sandbox.runtimes import curl, go, java, libcrypto, node_tls, php

    modules: list[RuntimeModule] = [libcrypto, php, curl, node_tls, go, java]
    plans = [plan for module in modules if (plan := module.plan(image, context)) is not None]
    return [*plans, not_probed(context)]
