"""The evidence outputs: inventory, diagram (red plaintext), OSCAL validated by trestle, POA&M clocks,
CMVP warnings, and the HTML report rendered in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.evidence import poam
from fipsforge.evidence.build import EvidenceOptions, run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "deployment"
TODAY = date(2026, 11, 27)
GENERATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SVG_NS = "{http://www.w3.org/2000/svg}"


def options(k8s: Path = EXAMPLE / "k8s", **changes: object) -> EvidenceOptions:
    values: dict[str, object] = {
        "manifests": [k8s],
        "overlay": EXAMPLE / "overlay.yaml",
        "verify": sorted((EXAMPLE / "verify").glob("*.json")),
        "scans": [EXAMPLE / "scans" / "grype-api.json", EXAMPLE / "scans" / "trivy-redis.json"],
        "run_verify": False,
        "today": TODAY,
    }
    values.update(changes)
    return EvidenceOptions.model_validate(values)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evidence") / "out"
    run(options(), out, generated=GENERATED)
    return out


@pytest.fixture(scope="module")
def all_tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Negative control: the sample with Redis over TLS, so no flow is plaintext."""
    root = tmp_path_factory.mktemp("tls")
    k8s = root / "k8s"
    shutil.copytree(EXAMPLE / "k8s", k8s)
    api = k8s / "api.yaml"
    api.write_text(api.read_text().replace("redis://redis:6379/0", "rediss://redis:6379/0"))
    out = root / "out"
    run(options(k8s), out, generated=GENERATED)
    return out


def edge_strokes(svg: Path) -> dict[str, set[str]]:
    """SVG edge id → stroke colours of its path, as Graphviz drew them."""
    tree = ET.parse(svg)
    strokes: dict[str, set[str]] = {}
    for group in tree.iter(f"{SVG_NS}g"):
        if group.get("class") == "edge" and (group.get("id") or "").startswith("flow-"):
            strokes[group.get("id", "")] = {p.get("stroke", "") for p in group.iter(f"{SVG_NS}path")}
    return strokes


def test_outputs_exist(sample: Path) -> None:
    names = {p.name for p in sample.iterdir()}
    assert names == {
        "flows.csv",
        "flows.md",
        "diagram.svg",
        "diagram.png",
        "component-definition.json",
        "poam.json",
        "poam.csv",
        "report.html",
        "evidence.json",
    }
    assert (sample / "diagram.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_inventory_csv_and_markdown(sample: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((sample / "flows.csv").read_text())))
    assert len(rows) == 7
    redis = next(r for r in rows if r["server"] == "shop/redis:redis")
    assert (redis["encrypted"], redis["status"], redis["port"]) == ("no", "plaintext", "6379")
    assert redis["client CMVP"] == "validated (#4985, active)" and redis["server FIPS module"] == "none"
    intra = next(r for r in rows if r["kind"] == "intra-pod")
    assert (intra["client"], intra["server"]) == ("shop/web:tls-proxy", "shop/web:web")
    markdown = (sample / "flows.md").read_text()
    assert "7 flows; 1 plaintext or non-FIPS." in markdown
    assert "| **plaintext** |" in markdown


def test_plaintext_flow_is_red_in_the_svg(sample: Path, all_tls: Path) -> None:
    strokes = edge_strokes(sample / "diagram.svg")
    assert strokes["flow-shop-api-api-shop-redis-redis-6379"] == {"red"}
    assert strokes["flow-shop-web-web-shop-api-api-8443"] == {"darkgreen"}  # negative control: FIPS flow
    assert sum(s == {"red"} for s in strokes.values()) == 1
    # with TLS to Redis the flow is encrypted but Redis has no FIPS module: still red, as non-FIPS
    tls = edge_strokes(all_tls / "diagram.svg")
    assert tls["flow-shop-api-api-shop-redis-redis-6379"] == {"red"}
    flows = json.loads((all_tls / "evidence.json").read_text())["flows"]
    assert next(f for f in flows if f["server"]["label"] == "shop/redis:redis")["status"] == "non-fips"


def _trestle_validate(
    workspace: Path, kind: str, name: str, document: Path
) -> subprocess.CompletedProcess[str]:
    target = workspace / kind / "ev" / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(document, target)
    trestle = Path(sys.executable).parent / "trestle"
    return subprocess.run(
        [str(trestle), "validate", "-f", str(target)],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
    )


def test_oscal_passes_trestle_validation(sample: Path, tmp_path: Path) -> None:
    trestle = Path(sys.executable).parent / "trestle"
    subprocess.run([str(trestle), "init"], cwd=tmp_path, capture_output=True, check=True)
    component = sample / "component-definition.json"
    done = _trestle_validate(tmp_path, "component-definitions", "component-definition", component)
    assert done.returncode == 0 and "VALID" in done.stdout, done.stdout + done.stderr
    done = _trestle_validate(
        tmp_path, "plan-of-action-and-milestones", "plan-of-action-and-milestones", sample / "poam.json"
    )
    assert done.returncode == 0 and "VALID" in done.stdout, done.stdout + done.stderr

    doc = json.loads(component.read_text())["component-definition"]
    system = doc["components"][0]
    requirements = system["control-implementations"][0]["implemented-requirements"]
    # the controls the issue names, in its notation: SC-8(1) is OSCAL's sc-8.1
    issue = "SC-8, SC-8(1), SC-13, SC-12, SC-28, IA-7, RA-5, CA-7, SI-2, CM-6, SA-10, SA-11"
    wanted = [c.strip().lower().replace("(", ".").rstrip(")") for c in issue.split(",")]
    assert [r["control-id"] for r in requirements] == wanted
    by_control = {r["control-id"]: r for r in requirements}
    # statements are backed by the evidence: the plaintext flow is named, its status is partial
    assert (
        "shop/api:api -> shop/redis:redis (redis:6379): plaintext (redis:// scheme)"
        in by_control["sc-8"]["description"]
    )
    assert {"name": "implementation-status", "value": "partial"} in by_control["sc-8"]["props"]
    assert "#4856" in by_control["sc-13"]["description"]
    assert by_control["sc-8"]["links"][0]["href"] == "./flows.csv"

    # negative control: a document trestle must reject
    broken = tmp_path / "broken.json"
    bad = json.loads(component.read_text())
    del bad["component-definition"]["metadata"]
    broken.write_text(json.dumps(bad))
    done = _trestle_validate(tmp_path, "component-definitions", "broken", broken)
    assert done.returncode != 0


def test_without_a_scan_there_is_no_poam_and_oscal_stays_valid(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(options(scans=[]), out, generated=GENERATED)
    assert not (out / "poam.json").exists() and not (out / "poam.csv").exists()
    component = (out / "component-definition.json").read_text()
    assert "poam" not in component
    workspace = tmp_path / "ws"
    workspace.mkdir()
    trestle = Path(sys.executable).parent / "trestle"
    subprocess.run([str(trestle), "init"], cwd=workspace, capture_output=True, check=True)
    done = _trestle_validate(
        workspace, "component-definitions", "component-definition", out / "component-definition.json"
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sc8_is_implemented_without_plaintext(all_tls: Path) -> None:
    doc = json.loads((all_tls / "component-definition.json").read_text())["component-definition"]
    sc8 = doc["components"][0]["control-implementations"][0]["implemented-requirements"][0]
    assert sc8["control-id"] == "sc-8"
    assert {"name": "implementation-status", "value": "implemented"} in sc8["props"]


def test_poam_dates_under_both_clocks(sample: Path) -> None:
    rows = {
        r["Weakness Source Identifier"]: r
        for r in csv.DictReader(io.StringIO((sample / "poam.csv").read_text()))
    }
    header = next(csv.reader(io.StringIO((sample / "poam.csv").read_text())))
    assert header[: len(poam.TEMPLATE_COLUMNS)] == poam.TEMPLATE_COLUMNS
    expected = {
        # id: (detected, FedRAMP due, vendor due, overdue FedRAMP, overdue vendor)
        "CVE-2099-0001": (
            "2026-10-01",
            "2026-10-22",
            "2026-10-08",
            "yes",
            "yes",
        ),  # Critical, KEV due overrides
        "GHSA-xxxx-sample-0002": ("2026-10-01", "2026-10-31", "2026-10-15", "yes", "yes"),  # High: 30 days
        "CVE-2099-0003": ("2026-10-01", "2026-12-30", "2026-10-15", "no", "yes"),  # Moderate: 90 days
        "CVE-2099-0004": ("2026-10-01", "2027-03-30", "2026-10-15", "no", "yes"),  # Low: 180 days
        "CVE-2099-0005": ("2026-10-01", "2027-03-30", "2026-10-15", "no", "yes"),  # Negligible → Low
        "CVE-2099-0101": ("2026-11-20", "2026-12-20", "2026-11-27", "no", "no"),  # Trivy Critical; due today
        "CVE-2099-0102": ("2026-11-20", "2026-12-20", "2026-12-04", "no", "no"),  # Trivy High
    }
    for vuln, (detected, due, vendor, late_f, late_v) in expected.items():
        row = rows[vuln]
        got = (
            row["Original Detection Date"],
            row["Scheduled Completion Date"],
            row["Vendor SLA Due Date"],
            row["Overdue (FedRAMP clock)"],
            row["Overdue (vendor SLA)"],
        )
        assert got == (detected, due, vendor, late_f, late_v), vuln
    assert rows["CVE-2099-0001"]["Binding Operational Directive 22-01 tracking"] == "Yes"
    assert rows["CVE-2099-0001"]["Binding Operational Directive 22-01 Due Date"] == "2026-10-22"
    assert rows["GHSA-xxxx-sample-0002"]["CVE"] == "CVE-2099-0002"
    assert rows["CVE-2099-0102"]["Vendor Dependency"] == "Yes"  # no fixed version yet

    oscal_poam = json.loads((sample / "poam.json").read_text())["plan-of-action-and-milestones"]
    assert len(oscal_poam["poam-items"]) == 7
    kev_risk = next(r for r in oscal_poam["risks"] if r["title"].startswith("CVE-2099-0001"))
    assert kev_risk["deadline"].startswith("2026-10-22")


def test_poam_clock_edges() -> None:
    finding = poam.ScanFinding(
        vulnerability_id="CVE-1",
        cve="CVE-1",
        package="p",
        installed_version="1",
        severity="High",
        scanner_severity="High",
        title="t",
        description="",
        scanner="s",
        asset="a",
        discovered=date(2026, 1, 1),
        source="x",
    )
    (on_time,) = poam.build_entries([finding], date(2026, 1, 31))
    assert on_time.fedramp_due == date(2026, 1, 31) and not on_time.overdue_fedramp
    (late,) = poam.build_entries([finding], date(2026, 2, 1))
    assert late.overdue_fedramp
    sla = poam.parse_vendor_sla("high=3")
    (custom,) = poam.build_entries([finding], date(2026, 1, 2), sla)
    assert custom.vendor_due == date(2026, 1, 4) and sla["Critical"] == 7
    with pytest.raises(FipsforgeError, match="--vendor-sla"):
        poam.parse_vendor_sla("urgent=1")


def test_bad_scan_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "scan.json"
    bad.write_text('{"matches": [\n  {"vulnerability": {}}\n]}')
    with pytest.raises(FipsforgeError, match=r"scan\.json: descriptor\.timestamp missing"):
        poam.read_scan(bad)
    with pytest.raises(FipsforgeError, match=r"scan\.json: matches\[0\]: vulnerability\.id"):
        poam.read_scan(bad, discovered=TODAY)
    bad.write_text('{"something": 1}')
    with pytest.raises(FipsforgeError, match="not a Grype or Trivy JSON report"):
        poam.read_scan(bad)


def test_cmvp_warnings_fire(sample: Path, tmp_path: Path) -> None:
    evidence = json.loads((sample / "evidence.json").read_text())
    warnings = evidence["cmvp_warnings"]
    assert "#4856 (Chainguard OpenSSL 3.0 FIPS Provider): certificate is historical on 2026-11-27" in warnings
    assert any("#4856" in w and "FIPS 140-2 certificate" in w for w in warnings)
    assert not any("#4985" in w for w in warnings)  # negative control: the active 140-3 cert is quiet today
    assert {c["certificate"] for c in evidence["certificates"]} == {"#4985", "#4856"}
    report = (sample / "report.html").read_text()
    assert (
        "https://edu.chainguard.dev/chainguard/chainguard-images/working-with-images/fips-images/ (2026-11-27)"
        in report
    )
    # three years on, #4985's sunset is within the window
    out = tmp_path / "later"
    run(options(today=date(2029, 6, 1)), out, generated=GENERATED)
    later = json.loads((out / "evidence.json").read_text())["cmvp_warnings"]
    assert any("#4985" in w and "is within 282 days" in w for w in later)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[bytes]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
    ]  # fmt: skip
    return subprocess.run(["chromium", *flags, *args], capture_output=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")
def test_html_report_renders_in_chromium(sample: Path, all_tls: Path, tmp_path: Path) -> None:
    import matplotlib.image

    report = sample / "report.html"
    html = report.read_text()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")  # self-contained
    dom = _chromium(["--dump-dom", report.as_uri()], tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-500:]
    text = dom.stdout.decode()
    assert "FedRAMP Rev 5 evidence: Shop production" in text
    assert text.count('data-status="plaintext"') == 2  # the summary and the Redis row
    assert "flow-shop-api-api-shop-redis-redis-6379" in text  # the diagram is inline
    assert "V-0002" in text and "OVERDUE" in text
    control = _chromium(["--dump-dom", (all_tls / "report.html").as_uri()], tmp_path / "p2")
    assert control.stdout.decode().count('data-status="plaintext"') == 1  # negative control: summary only

    shot = tmp_path / "shot.png"
    done = _chromium([f"--screenshot={shot}", "--window-size=1400,1600", report.as_uri()], tmp_path / "p3")
    assert done.returncode == 0 and shot.exists(), done.stderr[-500:]
    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[0] == 1600 and pixels.shape[1] == 1400
    red = (pixels[..., 0] > 0.8) & (pixels[..., 1] < 0.2) & (pixels[..., 2] < 0.2)
    green = (pixels[..., 0] < 0.1) & (pixels[..., 1] > 0.3) & (pixels[..., 2] < 0.1)
    assert red.sum() > 50 and green.sum() > 50  # the rendered diagram and status colours are on screen
    assert pixels[..., :3].std() > 0.05  # not a blank page
