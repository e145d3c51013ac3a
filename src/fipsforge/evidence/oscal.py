"""OSCAL documents built with compliance-trestle's models: a component definition whose every
statement cites the gathered evidence, and a plan of action and milestones from the scan.

UUIDs are derived from content (uuid5), so the same evidence gives the same documents.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, time

from trestle.oscal import OSCAL_VERSION
from trestle.oscal import common as oc
from trestle.oscal.component import (
    ComponentDefinition,
    ControlImplementation,
    DefinedComponent,
    ImplementedRequirement,
)
from trestle.oscal.poam import PlanOfActionAndMilestones, PoamItem

from fipsforge.evidence.bundle import Evidence
from fipsforge.evidence.models import Flow

NAMESPACE = uuid.UUID("6f1d1f3e-3c1e-5b7e-9d55-0f1b2a3c4d5e")
FEDRAMP_MODERATE = (
    "https://raw.githubusercontent.com/GSA/fedramp-automation/master/dist/content/rev5/baselines/json/"
    "FedRAMP_rev5_MODERATE-baseline_profile.json"
)
CONTROLS = [
    "sc-8",
    "sc-8.1",
    "sc-13",
    "sc-12",
    "sc-28",
    "ia-7",
    "ra-5",
    "ca-7",
    "si-2",
    "cm-6",
    "sa-10",
    "sa-11",
]
NS = "https://fipsforge.dev/ns/oscal"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def _prop(name: str, value: str) -> oc.Property:
    return oc.Property(name=name, value=value or "none", ns=NS)


def _status_prop(ok: bool, partial: bool = True) -> oc.Property:
    value = "implemented" if ok else ("partial" if partial else "planned")
    return oc.Property(name="implementation-status", value=value)


def _metadata(title: str, evidence: Evidence) -> oc.Metadata:
    return oc.Metadata(
        title=title,
        last_modified=evidence.generated,
        version=evidence.today.isoformat(),
        oscal_version=oc.OscalVersion(OSCAL_VERSION),
    )


def _link(evidence: Evidence, output: str, text: str) -> oc.Link:
    return oc.Link(href=f"./{evidence.outputs.get(output, output)}", rel="evidence", text=text)


def _flow_line(flow: Flow) -> str:
    port = f":{flow.port}" if flow.port else ""
    return f"{flow.client.label} -> {flow.server.label} ({flow.protocol}{port}): {flow.encryption}"


def _statements(evidence: Evidence) -> dict[str, tuple[str, bool, list[oc.Link]]]:
    """control id → (description from evidence, fully evidenced?, evidence links)."""
    flows = evidence.flows
    count = Counter(f.status for f in flows)
    plaintext = [f for f in flows if f.status == "plaintext"]
    non_fips = [f for f in flows if f.status == "non-fips"]
    unknown = [f for f in flows if f.status == "unverified"]
    encrypted = [f for f in flows if f.encrypted]
    inventory = _link(evidence, "inventory_csv", "flow inventory")
    diagram = _link(evidence, "diagram_svg", "boundary and data-flow diagram")
    poam_links = [_link(evidence, "poam_json", "OSCAL POA&M")] if "poam_json" in evidence.outputs else []
    modules = sorted({(i.module.label(), i.module.status) for i in evidence.images})
    module_text = "; ".join(f"{label}: {status}" for label, status in modules) or "no images"
    observed = [p for p in evidence.probes]
    observed_text = (
        "; ".join(f"{p.label or p.target}: {p.verdict}" for p in observed)
        if observed
        else "no endpoint was probed"
    )
    overdue_f = sum(e.overdue_fedramp for e in evidence.poam)
    overdue_v = sum(e.overdue_vendor for e in evidence.poam)
    by_sev = Counter(e.finding.severity for e in evidence.poam)
    scans = ", ".join(evidence.scans) or "no scan supplied"
    with_digest = [i for i in evidence.images if i.digest]
    overrides = (
        "Workload settings that override the images' FIPS configuration: "
        + (
            "; ".join(
                f"{o.workload}:{o.container} ({o.where}) {o.found_in}: {o.setting}"
                for o in evidence.overrides
            )
            or "none"
        )
        + "."
    )
    stores = sorted(
        {f.server.label for f in flows if f.protocol in ("postgresql", "redis", "mysql", "mongodb")}
    )
    return {
        "sc-8": (
            f"{len(flows)} client/server flows were derived from the manifests and overlay, intra-pod flows "
            f"included; {len(encrypted)} are encrypted. Unencrypted flows: "
            + ("; ".join(_flow_line(f) for f in plaintext) or "none")
            + ".",
            not plaintext,
            [inventory, diagram],
        ),
        "sc-8.1": (
            f"Cryptographic protection per flow: {count['fips']} with a validated FIPS module on each end, "
            f"{count['fips-historical']} relying on a historical certificate, {len(unknown)} unverified, "
            f"{len(non_fips)} encrypted without a validated module, {len(plaintext)} plaintext. "
            f"Observed TLS tests: {observed_text}.",
            not (plaintext or non_fips or unknown),
            [inventory, diagram],
        ),
        "sc-13": (
            f"FIPS modules in the images, with CMVP status on {evidence.today.isoformat()}: {module_text}. "
            f"CMVP warnings: {'; '.join(evidence.cmvp_warnings) or 'none'}. {overrides}",
            all(i.module.status.endswith("active)") for i in evidence.images) and not evidence.overrides,
            [inventory],
        ),
        "sc-12": (
            "Keys for the encrypted flows are established by TLS inside the listed FIPS modules "
            f"({module_text}). Key-exchange groups and certificate keys observed: "
            + (
                "; ".join(
                    f"{p.label or p.target}: groups {', '.join(g.name for g in p.groups) or 'none'}, keys "
                    + ", ".join(f"{k.algorithm}-{k.curve or k.size}" for k in p.certificate_keys)
                    for p in observed
                )
                or "not observed"
            )
            + ".",
            bool(observed) and all(p.verdict == "observed-fips" for p in observed),
            [inventory],
        ),
        "sc-28": (
            "Data stores found among the flows: "
            + (", ".join(stores) or "none")
            + ". fipsforge does not see storage encryption; protection at rest must be evidenced separately.",
            False,
            [inventory],
        ),
        "ia-7": (
            "Authentication to cryptographic modules: each image's FIPS module and its integrity self-test as "
            "reported by fipsforge verify: "
            + "; ".join(f"{i.image}: {i.module.label()} ({i.verdict})" for i in evidence.images)
            + ".",
            all(i.verdict == "pass" for i in evidence.images),
            [inventory],
        ),
        "ra-5": (
            f"Vulnerability scans: {scans}. Findings by severity: "
            + (", ".join(f"{s} {n}" for s, n in sorted(by_sev.items())) or "none")
            + ".",
            bool(evidence.scans),
            poam_links,
        ),
        "ca-7": (
            f"Evidence generated {evidence.generated.isoformat()} from {len(evidence.inputs)} inputs; "
            f"{len(observed)} endpoints probed; {overdue_f} POA&M items overdue on the FedRAMP clock and "
            f"{overdue_v} on the vendor SLA.",
            bool(observed) and overdue_f == 0,
            [inventory, *poam_links],
        ),
        "si-2": (
            f"{len(evidence.poam)} POA&M items with due dates from discovery (FedRAMP: Critical/High 30 days, "
            f"Moderate 90, Low 180; CISA KEV due dates override) and the vendor SLA; {overdue_f} overdue on the "
            f"FedRAMP clock, {overdue_v} on the vendor SLA.",
            overdue_f == 0,
            poam_links,
        ),
        "cm-6": (
            "FIPS configuration per image, as verified: "
            + "; ".join(
                f"{i.image}: verdict {i.verdict}, kernel-independent {i.kernel_independent}"
                for i in evidence.images
            )
            + f". TLS settings not visible in manifests are declared in the overlay. {overrides}",
            all(i.verdict == "pass" for i in evidence.images) and not evidence.overrides,
            [inventory],
        ),
        "sa-10": (
            f"{len(with_digest)} of {len(evidence.images)} images were verified at a recorded digest: "
            + "; ".join(f"{i.image}@{i.digest}" for i in with_digest)
            + ".",
            len(with_digest) == len(evidence.images),
            [inventory],
        ),
        "sa-11": (
            "Developer testing evidence: fipsforge verify results ("
            + ", ".join(f"{i.image}: {i.verdict}" for i in evidence.images)
            + f"); observed TLS tests: {observed_text}.",
            all(i.verdict == "pass" for i in evidence.images) and bool(observed),
            [inventory],
        ),
    }


def _override_props(evidence: Evidence, control: str) -> list[oc.Property]:
    """One property per deployment override of the FIPS configuration that is evidence against `control`."""
    return [
        _prop("fips-config-override", f"{o.workload}:{o.container} {o.found_in}: {o.setting}")
        for o in evidence.overrides
        if control in o.controls
    ]


def component_definition(evidence: Evidence) -> ComponentDefinition:
    statements = _statements(evidence)
    requirements = [
        ImplementedRequirement(
            uuid=_uuid("req", evidence.title, control),
            control_id=control,
            description=statements[control][0],
            props=[_status_prop(statements[control][1]), *_override_props(evidence, control)],
            links=statements[control][2] or None,
        )
        for control in CONTROLS
    ]
    system = DefinedComponent(
        uuid=_uuid("component", evidence.title),
        type="service",
        title=evidence.title,
        description=(
            f"The deployment inside the authorization boundary, evidenced by fipsforge from "
            f"{', '.join(evidence.inputs)}: {len(evidence.flows)} flows, {len(evidence.images)} images."
        ),
        props=[
            _prop("flow-count", str(len(evidence.flows))),
            _prop("red-flow-count", str(sum(f.status in ("plaintext", "non-fips") for f in evidence.flows))),
        ],
        control_implementations=[
            ControlImplementation(
                uuid=_uuid("ci", evidence.title),
                source=FEDRAMP_MODERATE,
                description="FedRAMP Rev 5 controls evidenced from the deployment's flows, images and scans.",
                implemented_requirements=requirements,
            )
        ],
    )
    images = [
        DefinedComponent(
            uuid=_uuid("image", image.image),
            type="software",
            title=image.image,
            description=f"Container image; FIPS module {image.module.label()} ({image.module.status}).",
            props=[
                _prop("image-digest", image.digest or "unknown"),
                _prop("fips-module", image.module.label()),
                _prop("cmvp-status", image.module.status),
                _prop("verify-verdict", image.verdict),
            ],
            control_implementations=[
                ControlImplementation(
                    uuid=_uuid("ci-image", image.image),
                    source=FEDRAMP_MODERATE,
                    description="Cryptographic module used by this image.",
                    implemented_requirements=[
                        ImplementedRequirement(
                            uuid=_uuid("req-image", image.image),
                            control_id="sc-13",
                            description=(
                                f"{image.image} uses {image.module.label()}; CMVP: {image.module.status}; "
                                f"used by {', '.join(image.used_by) or 'no flow'}."
                            ),
                            props=[_status_prop(image.module.status.endswith("active)"))],
                        )
                    ],
                )
            ],
        )
        for image in evidence.images
    ]
    return ComponentDefinition(
        uuid=_uuid("component-definition", evidence.title, evidence.generated.isoformat()),
        metadata=_metadata(f"fipsforge evidence: {evidence.title}", evidence),
        components=[system, *images],
    )


def plan_of_action(evidence: Evidence) -> PlanOfActionAndMilestones:
    observations: list[oc.Observation] = []
    risks: list[oc.Risk] = []
    items: list[PoamItem] = []
    for entry in evidence.poam:
        f = entry.finding
        key = (f.asset, f.package, f.installed_version, f.vulnerability_id)
        obs_uuid, risk_uuid = _uuid("obs", *key), _uuid("risk", *key)
        collected = datetime.combine(f.discovered, time(0, 0), tzinfo=UTC)
        observations.append(
            oc.Observation(
                uuid=obs_uuid,
                title=f"{f.vulnerability_id} in {f.package} {f.installed_version}",
                description=f.description or f.title,
                methods=["TEST"],
                types=["finding"],
                collected=collected,
                props=[_prop("scanner", f.scanner), _prop("asset", f.asset)],
            )
        )
        risks.append(
            oc.Risk(
                uuid=risk_uuid,
                title=f"{f.vulnerability_id} ({f.severity})",
                description=f.description or f.title,
                statement=f"{f.package} {f.installed_version} in {f.asset}; fixed in {', '.join(f.fixed_versions) or 'none yet'}.",
                status=oc.RiskStatus("open"),
                deadline=datetime.combine(entry.fedramp_due, time(23, 59, 59), tzinfo=UTC),
                props=[
                    _prop("severity", f.severity),
                    _prop("fedramp-clock", entry.fedramp_clock),
                    _prop("fedramp-due", entry.fedramp_due.isoformat()),
                    _prop("vendor-sla-due", entry.vendor_due.isoformat()),
                    _prop("overdue-fedramp", "yes" if entry.overdue_fedramp else "no"),
                    _prop("overdue-vendor-sla", "yes" if entry.overdue_vendor else "no"),
                    _prop("kev-due", f.kev_due.isoformat() if f.kev_due else "none"),
                ],
            )
        )
        items.append(
            PoamItem(
                uuid=_uuid("poam-item", *key),
                title=f"{entry.poam_id}: {f.vulnerability_id} in {f.package}",
                description=f.title,
                props=[_prop("poam-id", entry.poam_id)],
                related_observations=[oc.RelatedObservation(observation_uuid=obs_uuid)],
                related_risks=[oc.AssociatedRisk(risk_uuid=risk_uuid)],
            )
        )
    return PlanOfActionAndMilestones(
        uuid=_uuid("poam", evidence.title, evidence.generated.isoformat()),
        metadata=_metadata(f"fipsforge POA&M: {evidence.title}", evidence),
        observations=observations or None,
        risks=risks or None,
        poam_items=items,
    )


def to_json(document: ComponentDefinition | PlanOfActionAndMilestones) -> bytes:
    """The document wrapped in its OSCAL root key, as trestle writes it."""
    return document.oscal_serialize_json_bytes(pretty=True, wrapped=True)
