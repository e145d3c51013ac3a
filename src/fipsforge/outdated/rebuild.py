"""`fipsforge build SPEC --out DIR --if-outdated IMAGE`: rebuild only when `outdated` finds something.

The new image replaces DIR only after `fipsforge test` passes on it: an update that breaks the FIPS
proof must never be published. The result says what changed (packages, CVEs closed, digests).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from fipsforge.apt import DebianMirrors
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir
from fipsforge.image.build import build_image
from fipsforge.image.spec import ImageSpec
from fipsforge.outdated.check import check_images
from fipsforge.outdated.inventory import read_inventory
from fipsforge.outdated.model import ImageReport

Report = Callable[[str], None]


class PackageChange(BaseModel):
    name: str
    old: str | None
    new: str | None


class RebuildResult(BaseModel):
    """What `--if-outdated` did (its `--json` output)."""

    rebuilt: bool
    reason: str
    image: str
    out: Path
    old_digest: str | None
    new_digest: str | None = None
    changed: list[PackageChange] = Field(default_factory=list)
    cves_closed: list[str] = Field(default_factory=list)
    cves_still_open: list[str] = Field(default_factory=list)
    tests_passed: int | None = None
    """Cases `fipsforge test` passed on the new image before it replaced DIR."""


def _changes(old: dict[str, str], new: dict[str, str]) -> list[PackageChange]:
    return [
        PackageChange(name=name, old=old.get(name), new=new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def _versions(ref: str, scratch: Path) -> dict[str, str]:
    inventory = read_inventory(ref, scratch)
    versions = {p.name: p.version for p in inventory.packages}
    versions.update({f"{c.name} (fipsforge)": c.version for c in inventory.components})
    return versions


def _test(layout: Path, scratch: Path, say: Report) -> int:
    from fipsforge.oci.unpack import unpack_image
    from fipsforge.sandbox.suite import run_suite

    say("fipsforge test")
    try:
        report = run_suite(unpack_image(str(layout), scratch), progress=say)
    except FipsforgeError as error:
        raise FipsforgeError(f"the rebuilt image fails fipsforge test ({error}); not published") from error
    if not report.passed:
        failed = ", ".join(case.id for case in report.failed)
        raise FipsforgeError(f"the rebuilt image fails fipsforge test ({failed} failed); not published")
    return sum(1 for case in report.cases if case.status.value == "passed")


def rebuild_if_outdated(
    spec: ImageSpec,
    spec_text: str,
    out: Path,
    image: str,
    *,
    today: date,
    mirrors: DebianMirrors | None = None,
    report: Report | None = None,
) -> RebuildResult:
    """Build `spec` into `out` when `image` is behind; test it first; say what changed."""
    say = report or (lambda _step: None)
    before: ImageReport = check_images([image], today=today, mirrors=mirrors, report=say).images[0]
    if not before.rebuild_helps:
        why = "up to date" if before.status == "up-to-date" else "only fipsforge components are behind"
        return RebuildResult(
            rebuilt=False, reason=f"{image}: {why}; nothing built", image=image, out=out,
            old_digest=before.digest, cves_still_open=[c.cve for c in before.clocks],
        )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fipsforge-rebuild-") as scratch:
        old_versions = _versions(image, Path(scratch) / "old")
        with atomic_dir(out) as staging:
            built = build_image(spec, spec_text, staging, mirrors=mirrors, report=say)
            passed = _test(staging, Path(scratch) / "test", say)
            after = check_images([str(staging)], today=today, mirrors=mirrors, report=say).images[0]
            new_versions = _versions(str(staging), Path(scratch) / "new")
    still_open = {c.cve for c in after.clocks}
    return RebuildResult(
        rebuilt=True,
        reason=f"{image}: {len(before.behind)} packages behind; rebuilt, tested and published to {out}",
        image=image, out=out, old_digest=before.digest, new_digest=built.manifest_digest,
        changed=_changes(old_versions, new_versions),
        cves_closed=sorted({c.cve for c in before.clocks} - still_open),
        cves_still_open=sorted(still_open), tests_passed=passed,
    )  # fmt: skip
