"""`fipsforge outdated` on real images built from pinned, older packages: the packages, the CVEs of the
real changelogs and their dates; evidence from the result; `build --if-outdated` rebuilds, tests, reports."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fipsforge.cli import app
from fipsforge.errors import FipsforgeError
from fipsforge.evidence.build import EvidenceOptions, run
from fipsforge.fsutil import cache_root
from fipsforge.image.build import ImageResult, build_image
from fipsforge.image.spec import builtin_spec_text, parse_spec
from fipsforge.oci.reader import open_image
from fipsforge.outdated.check import check_images
from fipsforge.outdated.model import ImageReport
from fipsforge.outdated.rebuild import rebuild_if_outdated
from test_evidence_outputs import EXAMPLE, _chromium, _trestle_validate

# trixie's point release has krb5 1.21.3-5+deb13u1; trixie-security has a newer upload with CVE fixes.
OLD = "1.21.3-5+deb13u1"
KRB5 = ["libk5crypto3", "libkrb5support0"]
PLAIN = "name: test/krb5\ntag: {tag}\nfips_stack: false\npackages: [{packages}]\n"
TODAY = date(2026, 12, 1)


def _pinned(pin: bool) -> list[str]:
    return [f"{name}={OLD}" if pin else name for name in KRB5]


def _plain(tag: str, pin: bool) -> str:
    return PLAIN.format(tag=tag, packages=", ".join(_pinned(pin)))


def _fips(tag: str, pin: bool) -> str:
    """The built-in openssl spec with the krb5 libraries added (pinned to the older upload or not)."""
    extra = "".join(f"  - {entry}\n" for entry in _pinned(pin))
    text = builtin_spec_text("openssl").replace("  - tzdata\n", "  - tzdata\n" + extra)
    return text.replace('tag: "3.5"', f"tag: {tag}")


def _build(text: str, out: Path) -> ImageResult:
    return build_image(parse_spec(text, out.name), text, out)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ImageResult]:
    root = tmp_path_factory.mktemp("outdated")
    return {
        "behind": _build(_plain("behind", True), root / "behind"),
        "current": _build(_plain("current", False), root / "current"),
        "fips-behind": _build(_fips("behind", True), root / "fips-behind"),
    }


@pytest.fixture(scope="module")
def reports(images: dict[str, ImageResult]) -> dict[str, ImageReport]:
    result = check_images([str(images[k].layout) for k in ("behind", "current")], today=TODAY)
    return {"behind": result.images[0], "current": result.images[1]}


def _changelog_text(deb: Path, package: str) -> str:
    """The changelog read with dpkg-deb and tar, as a check independent of python-debian."""
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    member = f"./usr/share/doc/{package}/changelog.Debian.gz"
    data = subprocess.run(["tar", "-xO", member], input=tar, capture_output=True, check=True).stdout
    return gzip.decompress(data).decode()


def test_behind_image_names_packages_cves_and_dates(reports: dict[str, ImageReport]) -> None:
    behind = reports["behind"]
    assert behind.status == "behind" and behind.package_list.startswith("CycloneDX referrer sha256:")
    assert sorted(p.name for p in behind.behind) == KRB5
    assert all(p.installed == OLD and p.candidate != OLD and p.source == "krb5" for p in behind.behind)
    package = behind.behind[0]
    deb = next(
        (cache_root() / "debs").glob(
            f"{package.changelog_from}_{package.candidate.replace(':', '%3a')}_*.deb"
        )
    )
    text = _changelog_text(deb, package.changelog_from)
    # every upload between the pinned version and the candidate, each with its CVEs and trailer date
    blocks = re.split(r"\n(?=krb5 \()", text)
    newer = [b for b in blocks if b.split()[1].strip("()") in {e.version for e in package.entries}]
    assert len(newer) == len(package.entries) >= 1 and package.entries[0].version == package.candidate
    for block, entry in zip(newer, package.entries, strict=True):
        assert sorted(set(re.findall(r"CVE-\d{4}-\d+", block))) == entry.cves
        trailer = re.search(r"^ -- .*?  (.+)$", block, flags=re.M)
        assert trailer is not None and parsedate_to_datetime(trailer[1]).date() == entry.date
    assert OLD not in {e.version for e in package.entries}  # the image's own upload is not "newer"
    assert {c.cve for c in behind.clocks} == {cve for e in package.entries for cve in e.cves}
    assert behind.oldest_open_fix is not None and behind.overdue  # a fix from weeks ago


def test_current_image_is_up_to_date(reports: dict[str, ImageReport]) -> None:
    current = reports["current"]
    assert current.status == "up-to-date" and current.behind == [] and current.clocks == []
    assert current.packages_checked == reports["behind"].packages_checked and not current.missing


def test_cli_json_and_a_scanner_overrides_the_severity(
    images: dict[str, ImageResult], tmp_path: Path
) -> None:
    layout = str(images["behind"].layout)
    plain = CliRunner().invoke(app, ["outdated", layout, "--json", "--today", TODAY.isoformat()])
    assert plain.exit_code == 0, plain.output
    clocks = json.loads(plain.stdout)["images"][0]["clocks"]
    target, other = clocks[0], clocks[1]
    assert target["severity_source"].startswith("Debian urgency=") and "fallback" in target["severity_source"]
    grype = tmp_path / "grype.json"
    grype.write_text(json.dumps({
        "descriptor": {"name": "grype", "version": "0.80.0", "timestamp": "2026-11-30T00:00:00Z"},
        "source": {"target": {"userInput": layout}},
        "matches": [{"vulnerability": {"id": target["cve"], "severity": "Critical"},
                     "artifact": {"name": "libk5crypto3", "version": OLD}}],
    }))  # fmt: skip
    scanned = CliRunner().invoke(
        app,
        [
            "outdated",
            layout,
            "--json",
            "--today",
            TODAY.isoformat(),
            "--scan",
            str(grype),
            "--fail-on-overdue",
        ],
    )
    assert scanned.exit_code == 1  # overdue items are findings
    after = {c["cve"]: c for c in json.loads(scanned.stdout)["images"][0]["clocks"]}
    assert after[target["cve"]]["severity"] == "Critical" and after[target["cve"]]["vendor_days"] == 7
    assert after[target["cve"]]["severity_source"].startswith("scanner: Grype 0.80.0 Critical")
    fix = date.fromisoformat(target["fix_date"])
    assert after[target["cve"]]["vendor_due"] == (fix + timedelta(days=7)).isoformat()
    assert after[target["cve"]]["fedramp_due"] == (fix + timedelta(days=30)).isoformat()
    assert after[other["cve"]] == other  # negative control: a CVE the scan does not name keeps the fallback
    bad_day = CliRunner().invoke(app, ["outdated", layout, "--today", "1.12.2026"])
    assert bad_day.exit_code != 0 and "--today: '1.12.2026' is not a date" in str(bad_day.exception)


def test_evidence_poam_and_report_section(images: dict[str, ImageResult], tmp_path: Path) -> None:
    workspace = tmp_path / "trestle"
    workspace.mkdir()
    subprocess.run(
        [str(Path(sys.executable).parent / "trestle"), "init"], cwd=workspace, capture_output=True, check=True
    )
    result = check_images([str(images["behind"].layout), str(images["current"].layout)], today=TODAY)
    outdated = tmp_path / "outdated.json"
    outdated.write_text(result.model_dump_json())
    values = {
        "manifests": [EXAMPLE / "k8s"],
        "overlay": EXAMPLE / "overlay.yaml",
        "run_verify": False,
        "today": TODAY,
    }
    out = tmp_path / "ev"
    run(EvidenceOptions.model_validate({**values, "outdated": [outdated]}), out)
    rows = list(csv.DictReader(io.StringIO((out / "poam.csv").read_text())))
    clocks = result.images[0].clocks
    assert sorted(r["CVE"] for r in rows) == sorted(c.cve for c in clocks)
    for row in rows:
        mine = next(c for c in clocks if c.cve == row["CVE"])
        assert row["Original Detection Date"] == mine.fix_date.isoformat()  # the clock starts at the fix
        assert row["Scheduled Completion Date"] == mine.fedramp_due.isoformat()
        assert row["Vendor SLA Due Date"] == mine.vendor_due.isoformat()
        assert row["Overdue (vendor SLA)"] == ("yes" if mine.overdue_vendor else "no")
    done = _trestle_validate(
        workspace, "plan-of-action-and-milestones", "plan-of-action-and-milestones", out / "poam.json"
    )
    assert done.returncode == 0 and "VALID" in done.stdout, done.stdout + done.stderr

    without = tmp_path / "ev-without"
    run(EvidenceOptions.model_validate(values), without)
    assert not (without / "poam.csv").exists()  # negative control: no input, no POA&M
    if shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed")
    dom = _chromium(["--dump-dom", (out / "report.html").as_uri()], tmp_path / "p1").stdout.decode()
    section = dom.split('id="outdated"', 1)[1].split("<h2", 1)[0]
    assert section.count("<tr>") == 3  # the header and one row per image
    assert 'data-outdated="behind"' in section and 'data-outdated="up-to-date"' in section
    oldest = result.images[0].oldest_open_fix
    assert oldest is not None and f"{oldest.cve}, fixed {oldest.fix_date}" in section
    assert f"{len(result.images[0].overdue)} overdue" in section
    control = _chromium(["--dump-dom", (without / "report.html").as_uri()], tmp_path / "p2").stdout.decode()
    assert 'data-outdated="' not in control and "No <code>fipsforge outdated</code> result" in control


def _digest(layout: Path, tmp: Path) -> str | None:
    with open_image(str(layout), tmp) as image:
        return image.manifest_digest


def test_if_outdated_rebuilds_tests_and_reports_the_delta(
    images: dict[str, ImageResult], tmp_path: Path
) -> None:
    behind = images["fips-behind"]
    out = tmp_path / "published"
    shutil.copytree(behind.layout, out)

    # an update whose image cannot pass `fipsforge test` (no FIPS stack, nothing to run) is never published
    with pytest.raises(
        FipsforgeError, match=r"^the rebuilt image fails fipsforge test \(.*nothing to test\); not published$"
    ):
        rebuild_if_outdated(
            parse_spec(_plain("x", False), "x"), _plain("x", False), out, str(out), today=TODAY
        )
    assert _digest(out, tmp_path) == behind.manifest_digest

    text = _fips("current", False)
    result = rebuild_if_outdated(parse_spec(text, "current"), text, out, str(out), today=TODAY)
    assert result.rebuilt and result.tests_passed and result.tests_passed > 0
    assert result.old_digest == behind.manifest_digest and result.new_digest not in (None, result.old_digest)
    assert _digest(out, tmp_path) == result.new_digest
    changes = {c.name: (c.old, c.new) for c in result.changed}
    assert set(changes) == set(KRB5) and all(old == OLD and new != OLD for old, new in changes.values())
    assert result.cves_closed and not set(result.cves_closed) & set(result.cves_still_open)

    # on the rebuilt image nothing is built (the CLI says so and exits 0); the stack's openssl stays
    # behind: a rebuild cannot move it, and the result says why
    spec_file = tmp_path / "current.yaml"
    spec_file.write_text(text)
    again = CliRunner().invoke(
        app, ["build", str(spec_file), "--out", str(out), "--if-outdated", str(out), "--json"]
    )
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["rebuilt"] is False and "nothing built" in report["reason"]
    assert report["old_digest"] == result.new_digest and report["new_digest"] is None
    assert set(report["cves_still_open"]) == set(result.cves_still_open)
    (published,) = check_images([str(out)], today=TODAY).images
    openssl = next(c for c in published.components if c.debian_source == "openssl")  # the stack counts too
    assert openssl.installed != openssl.candidate and (openssl.served or "does not serve" in openssl.reason)
    assert published.status == "blocked" and published.behind == []
    assert {c.cve for c in published.clocks} == set(result.cves_still_open)
    assert all(not c.actionable for c in published.clocks)


def test_a_registry_reference_reads_the_sbom_referrer(images: dict[str, ImageResult], tmp_path: Path) -> None:
    from fipsforge.oci.push import push_layout
    from fipsforge.outdated.inventory import read_inventory
    from oci_fixtures import loopback_registry

    layout = images["current"].layout
    local = read_inventory(str(layout), tmp_path)
    (tmp_path / "registry").mkdir()
    with loopback_registry(tmp_path / "registry") as address:
        push_layout(layout, f"{address}/test/krb5:current")
        remote = read_inventory(f"docker://{address}/test/krb5:current", tmp_path)
    assert remote.package_list.startswith("CycloneDX referrer") and remote.digest == local.digest
    assert remote.packages == local.packages and {p.name for p in remote.packages} >= set(KRB5)
