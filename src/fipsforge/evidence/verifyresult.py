"""`fipsforge verify --json` results, read tolerantly, and the FIPS module verdict of each image.

Results come from files the user passes. For an image without one, verify runs when the
`fipsforge.verify` package is installed and `run_verify` is on; otherwise the image is "unknown".
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fipsforge import cmvp
from fipsforge.errors import FipsforgeError
from fipsforge.evidence.models import FipsModuleRef, Note

VERIFY_TIMEOUT_SECONDS = 1800


class VerifyModule(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    version: str | None = None
    path: str | None = None
    cmvp_certificate: str | None = None
    cmvp_status: str | None = None
    integrity_ok: bool | None = None


class VerifyFinding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rule_id: str = ""
    severity: str = "info"
    message: str = ""
    path: str | None = None


class VerifyResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: str
    digest: str | None = None
    fips_modules: list[VerifyModule] = Field(default_factory=list)
    kernel_independent: str = "unknown"
    kernel_independent_reasons: list[str] = Field(default_factory=list)
    verdict: str = "fail"
    findings: list[VerifyFinding] = Field(default_factory=list)
    source: str = ""


def _parse(text: str, where: str) -> list[VerifyResult]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise FipsforgeError(f"{where}:{error.lineno}: malformed verify JSON: {error.msg}") from None
    items = raw if isinstance(raw, list) else [raw]
    results = []
    for index, item in enumerate(items):
        try:
            result = VerifyResult.model_validate(item)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise FipsforgeError(f"{where}: verify result {index}: {field}: {first['msg']}") from None
        result.source = where
        results.append(result)
    return results


def load_verify_results(paths: Iterable[Path]) -> list[VerifyResult]:
    """Read verify JSON files: one result object, or a list of them, per file."""
    results: list[VerifyResult] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise FipsforgeError(f"{path}: cannot read verify result: {error.strerror}") from None
        results.extend(_parse(text, str(path)))
    return results


def _normalise(ref: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def match_result(image: str, results: list[VerifyResult]) -> VerifyResult | None:
    wanted = _normalise(image)
    digest = image.split("@", 1)[1] if "@" in image else None
    for result in results:
        if _normalise(result.image) == wanted or (digest and result.digest == digest):
            return result
    return None


def verify_available() -> bool:
    """True when the `fipsforge verify` command is installed: `fipsforge.verify.cli.verify` exists."""
    try:
        if importlib.util.find_spec("fipsforge.verify.cli") is None:
            return False
        return callable(getattr(importlib.import_module("fipsforge.verify.cli"), "verify", None))
    except ImportError:
        return False


def run_verify(image: str) -> VerifyResult:
    """Run `fipsforge verify IMAGE --json` (the command's own function) in a child process; read its JSON."""
    command = [
        sys.executable,
        "-c",
        "import typer; from fipsforge.verify.cli import verify; typer.run(verify)",
        image,
        "--json",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=VERIFY_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise FipsforgeError(f"{image}: fipsforge verify timed out") from None
    if done.returncode not in (0, 1) or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FipsforgeError(f"{image}: fipsforge verify failed: {last}")
    return _parse(done.stdout, f"fipsforge verify {image}")[0]


def resolve_images(
    images: Iterable[str], results: list[VerifyResult], allow_run: bool
) -> tuple[dict[str, VerifyResult | None], list[Note]]:
    """Each image's verify result; None (with a note) where none is given and verify cannot run."""
    resolved: dict[str, VerifyResult | None] = {}
    notes: list[Note] = []
    can_run = allow_run and verify_available()
    for image in sorted(set(images)):
        found = match_result(image, results)
        if found is None and can_run:
            try:
                found = run_verify(image)
                results.append(found)
            except FipsforgeError as error:
                notes.append(
                    Note(where=image, message=f"verify did not complete ({error}); reported as unknown")
                )
        elif found is None:
            reason = (
                "verify was not run"
                if allow_run is False
                else "the fipsforge verify command is not available"
            )
            notes.append(
                Note(where=image, message=f"no verify result and {reason}; FIPS module reported as unknown")
            )
        resolved[image] = found
    return resolved, notes


def module_of(result: VerifyResult | None, today: date) -> FipsModuleRef:
    """The FIPS module an image uses and its CMVP verdict, from its verify result."""
    if result is None:
        return FipsModuleRef(name="unknown", status="unknown")
    if not result.fips_modules:
        return FipsModuleRef(name="none", status="none")
    # prefer a module the dataset validates, then one with any certificate, then the first
    ranked = sorted(
        result.fips_modules,
        key=lambda m: (
            cmvp.find_certificate(m.name, m.version or "") is None,
            m.cmvp_certificate is None,
        ),
    )
    module = ranked[0]
    cert = cmvp.find_certificate(module.name, module.version or "")
    status = cmvp.module_status(module.name, module.version or "", today)
    if module.integrity_ok is False:
        status = "integrity check failed"
    return FipsModuleRef(
        name=module.name,
        version=module.version,
        certificate=cert.certificate if cert else module.cmvp_certificate,
        status=status,
    )
