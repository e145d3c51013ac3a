"""The `fipsforge test` report as a JUnit XML file, for CI: one testsuite per group, one testcase per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fipsforge.fsutil import write_bytes_atomic
from fipsforge.sandbox.suite import CaseResult, RuntimeReport, Status


def case_name(case: CaseResult) -> str:
    return f"{case.id} [{case.mode.value}]" if case.mode else case.id


def junit_xml(report: RuntimeReport) -> bytes:
    root = ET.Element("testsuites", name=f"fipsforge test {report.image}")
    groups: dict[str, list[CaseResult]] = {}
    for case in report.cases:
        groups.setdefault(case.group, []).append(case)
    for group, cases in groups.items():
        suite = ET.SubElement(
            root, "testsuite", name=group, tests=str(len(cases)),
            failures=str(sum(c.status is Status.FAILED for c in cases)),
            skipped=str(sum(c.status in (Status.SKIPPED, Status.RISK, Status.NOT_PROBED) for c in cases)),
            errors="0",
        )  # fmt: skip
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="image", value=report.image)
        ET.SubElement(properties, "property", name="manifest_digest", value=report.manifest_digest or "")
        for case in cases:
            element = ET.SubElement(suite, "testcase", classname=group, name=case_name(case))
            if case.variant:
                ET.SubElement(
                    ET.SubElement(element, "properties"), "property", name="variant", value=case.variant
                )
            ET.SubElement(element, "system-out").text = f"{case.description}: {case.detail}"
            if case.status is Status.FAILED:
                kind = "non-validated-path" if case.non_validated_path else "expectation"
                ET.SubElement(element, "failure", message=case.detail, type=kind)
            elif case.status is Status.SKIPPED:
                ET.SubElement(element, "skipped", message=case.detail)
            elif case.status is Status.RISK:  # JUnit has no such outcome: not a failure, and never a pass
                ET.SubElement(element, "skipped", message=f"risk: {case.detail}", type="risk")
            elif case.status is Status.NOT_PROBED:
                ET.SubElement(element, "skipped", message=f"not probed: {case.detail}")
    root.set("tests", str(len(report.cases)))
    root.set("failures", str(len(report.failed)))
    root.set("risks", str(len(report.risks)))
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_junit(report: RuntimeReport, path: Path) -> None:
    write_bytes_atomic(path, junit_xml(report))
