"""One evidence run: read the inputs, derive flows and verdicts, write every output atomically."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from fipsforge import cmvp
from fipsforge.errors import FipsforgeError
from fipsforge.evidence import diagram, inventory, oscal, poam, report
from fipsforge.evidence.bundle import Evidence, Finding, ImageEvidence
from fipsforge.evidence.flows import derive_flows
from fipsforge.evidence.manifests import read_deployment
from fipsforge.evidence.overlay import Overlay, read_overlay
from fipsforge.evidence.overrides import config_overrides
from fipsforge.evidence.tlsclass import ProbeResult
from fipsforge.evidence.verifyresult import load_verify_results, module_of, resolve_images
from fipsforge.fsutil import atomic_dir

OUTPUTS = {
    "inventory_csv": "flows.csv",
    "inventory_md": "flows.md",
    "diagram_svg": "diagram.svg",
    "diagram_png": "diagram.png",
    "component_definition": "component-definition.json",
    "poam_json": "poam.json",
    "poam_csv": "poam.csv",
    "report_html": "report.html",
    "evidence_json": "evidence.json",
}


class EvidenceOptions(BaseModel):
    manifests: list[Path]
    overlay: Path | None = None
    scans: list[Path] = Field(default_factory=list)
    outdated: list[Path] = Field(default_factory=list)
    """`fipsforge outdated --json` results, whose open CVEs become POA&M items."""
    verify: list[Path] = Field(default_factory=list)
    observed: list[Path] = Field(default_factory=list)
    run_verify: bool = True
    today: date = Field(default_factory=date.today)
    sunset_within_days: int = 365
    vendor_sla: dict[poam.Severity, int] = Field(default_factory=lambda: dict(poam.DEFAULT_VENDOR_SLA))
    scan_date: date | None = None


def read_probe_results(paths: list[Path]) -> list[ProbeResult]:
    results: list[ProbeResult] = []
    for path in paths:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            items = raw if isinstance(raw, list) else [raw]
            results.extend(ProbeResult.model_validate(item) for item in items)
        except OSError as error:
            raise FipsforgeError(f"{path}: cannot read probe results: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise FipsforgeError(f"{path}:{error.lineno}: malformed probe JSON: {error.msg}") from None
        except ValidationError as error:
            first = error.errors()[0]
            raise FipsforgeError(
                f"{path}: probe result: {'.'.join(map(str, first['loc']))}: {first['msg']}"
            ) from None
    return results


def _observed(probes: list[ProbeResult]) -> dict[str, str]:
    """Probe verdicts keyed by what a flow can be matched on: its server label, or label:port."""
    observed: dict[str, str] = {}
    for result in probes:
        if result.label and result.verdict != "not-observed":
            observed[result.label] = result.verdict
    return observed


def _findings(evidence: Evidence, unknown_images: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    for flow in evidence.flows:
        where = f"{flow.client.label} -> {flow.server.label}:{flow.port or ''}"
        if flow.status == "plaintext":
            findings.append(
                Finding(severity="high", subject=where, message=f"unencrypted flow: {flow.encryption}")
            )
        elif flow.status == "non-fips":
            findings.append(
                Finding(
                    severity="high",
                    subject=where,
                    message=(
                        f"encrypted without a validated FIPS module (client: {flow.client.module.status}; "
                        f"server: {flow.server.module.status}; {flow.observed})"
                    ),
                )
            )
        elif flow.status == "unverified":
            findings.append(
                Finding(
                    severity="medium",
                    subject=where,
                    message=f"not verifiable: {flow.encryption}; modules "
                    f"{flow.client.module.status} / {flow.server.module.status}",
                )
            )
    for warning in evidence.cmvp_warnings:
        subject, _, message = warning.partition(": ")
        severity = "high" if "historical" in message or "revoked" in message else "medium"
        findings.append(Finding(severity=severity, subject=subject, message=message))
    for image in unknown_images:
        findings.append(
            Finding(severity="medium", subject=image, message="no verify result: FIPS module unknown")
        )
    for override in evidence.overrides:
        findings.append(
            Finding(
                severity="high",
                subject=f"{override.workload}:{override.container} ({override.where})",
                message=f"{override.found_in}: {override.setting}: {override.message}",
                controls=override.controls,
            )
        )
    overdue = [e for e in evidence.poam if e.overdue_fedramp]
    if overdue:
        findings.append(
            Finding(
                severity="high",
                subject="POA&M",
                message=f"{len(overdue)} items overdue on the FedRAMP clock: "
                + ", ".join(
                    f"{e.poam_id} {e.finding.vulnerability_id} (due {e.fedramp_due})" for e in overdue
                ),
            )
        )
    late_vendor = [e for e in evidence.poam if e.overdue_vendor]
    if late_vendor:
        findings.append(
            Finding(
                severity="medium", subject="POA&M", message=f"{len(late_vendor)} items past the vendor SLA"
            )
        )
    order = {"high": 0, "medium": 1, "low": 2, "info": 3}
    return sorted(findings, key=lambda f: order.get(f.severity, 9))


def gather(options: EvidenceOptions, generated: datetime | None = None) -> Evidence:
    """Read everything and derive the evidence; nothing is written."""
    deployment = read_deployment(options.manifests)
    overlay = read_overlay(options.overlay) if options.overlay else Overlay()
    results = load_verify_results(options.verify)
    images = sorted({c.image for w in deployment.workloads for c in w.containers})
    verify, verify_notes = resolve_images(images, results, options.run_verify)
    probes = read_probe_results(options.observed)
    flows, flow_notes = derive_flows(deployment, overlay, verify, options.today, _observed(probes))

    image_evidence: list[ImageEvidence] = []
    warnings: list[str] = []
    certificates: list[cmvp.CmvpCertificate] = []
    seen_certs: set[str] = set()
    for image in images:
        result = verify.get(image)
        module = module_of(result, options.today)
        used_by = sorted(
            {f"{w.key}:{c.name}" for w in deployment.workloads for c in w.containers if c.image == image}
        )
        image_evidence.append(
            ImageEvidence(
                image=image,
                digest=result.digest if result else None,
                verdict=result.verdict if result else "unknown",
                kernel_independent=result.kernel_independent if result else "unknown",
                module=module,
                verify_source=result.source if result else None,
                used_by=used_by,
            )
        )
        cert = cmvp.get_certificate(module.certificate) if module.certificate else None
        if cert is not None and cert.certificate not in seen_certs:
            seen_certs.add(cert.certificate)
            certificates.append(cert)
            warnings.extend(cmvp.certificate_warnings(cert, options.today, options.sunset_within_days))
        elif module.status == cmvp.NOT_VALIDATED:
            warnings.append(f"{module.label()}: {cmvp.NOT_VALIDATED} (no certificate for this version)")

    findings_in: list[poam.ScanFinding] = []
    for scan in options.scans:
        findings_in.extend(poam.read_scan(scan, options.scan_date))
    outdated_images = []
    for outdated_file in options.outdated:
        found, reports = poam.read_outdated(outdated_file)
        findings_in.extend(found)
        outdated_images.extend(reports)
    entries = poam.build_entries(findings_in, options.today, options.vendor_sla)
    vulnerability_inputs = [*options.scans, *options.outdated]

    evidence = Evidence(
        title=overlay.boundary,
        today=options.today,
        generated=generated or datetime.now(UTC).replace(microsecond=0),
        inputs=[str(p) for p in [*options.manifests, *filter(None, [options.overlay]), *options.verify]],
        flows=flows,
        images=image_evidence,
        certificates=certificates,
        cmvp_warnings=list(dict.fromkeys(warnings)),
        notes=[str(n) for n in [*deployment.notes, *verify_notes, *flow_notes]],
        poam=entries,
        scans=[str(s) for s in vulnerability_inputs],
        outdated=outdated_images,
        probes=probes,
        outputs={k: v for k, v in OUTPUTS.items() if vulnerability_inputs or not k.startswith("poam")},
        overrides=config_overrides(deployment),
    )
    unknown = [i.image for i in image_evidence if i.verdict == "unknown"]
    evidence.findings = _findings(evidence, unknown)
    return evidence


def write_outputs(evidence: Evidence, out: Path) -> None:
    """Write every output into `out`, replacing it as a whole only when all succeeded."""
    svg, png = diagram.render(evidence.flows, evidence.title)
    files: dict[str, bytes] = {
        "inventory_csv": inventory.to_csv(evidence.flows).encode(),
        "inventory_md": inventory.to_markdown(evidence.flows, evidence.title).encode(),
        "diagram_svg": svg,
        "diagram_png": png,
        "component_definition": oscal.to_json(oscal.component_definition(evidence)),
    }
    if evidence.scans:
        files["poam_json"] = oscal.to_json(oscal.plan_of_action(evidence))
        files["poam_csv"] = poam.to_csv(evidence.poam, evidence.today).encode()
    files["report_html"] = report.render_html(evidence, svg).encode()
    files["evidence_json"] = evidence.model_dump_json(indent=2).encode()
    with atomic_dir(out) as staging:
        staging.chmod(0o755)
        for key, data in files.items():
            (staging / evidence.outputs[key]).write_bytes(data)


def run(options: EvidenceOptions, out: Path, generated: datetime | None = None) -> Evidence:
    evidence = gather(options, generated)
    write_outputs(evidence, out)
    return evidence
