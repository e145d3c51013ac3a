"""The tamper matrix's verdicts and the `risk` status in every report (table, JSON, JUnit), without images."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.sandbox import EntropyMode
from fipsforge.sandbox.cli import print_table
from fipsforge.sandbox.junit import junit_xml
from fipsforge.sandbox.suite import RuntimeReport, Runtimes, Status
from fipsforge.sandbox.tamper import VARIANTS, WORKED, Attempts, _case, _real_path, _wrong_mac

NORMAL = EntropyMode.NORMAL
REFUSED = "refused: inner_evp_generic_fetch: unsupported"


def _attempts(md5: str, sha256: str, rand: str) -> Attempts:
    return Attempts(started=True, outcomes={"md5": md5, "sha256": sha256, "rand": rand}, kernel_seeding_calls=0,
                    reason="inner_evp_generic_fetch: unsupported")  # fmt: skip


FIPS = _attempts(REFUSED, WORKED, WORKED)
NOTHING = _attempts(REFUSED, REFUSED, REFUSED)
EVERYTHING = _attempts(WORKED, WORKED, WORKED)
VARIANT = {variant.id: variant for variant in VARIANTS}


def test_the_issue_names_every_variant() -> None:
    assert {"fipsmodule-missing", "fipsmodule-wrong-mac", "stock-openssl-cnf", "openssl-conf-dev-null",
            "openssl-modules-elsewhere", "debian-fips-so"} <= set(VARIANT)  # fmt: skip
    # only what an operator's setting (or OpenSSL's parser) decides is allowed to end as a risk
    assert {v.id for v in VARIANTS if not v.refusable} == {
        "stock-openssl-cnf", "openssl-conf-dev-null", "fipsmodule-unparsable"
    }  # fmt: skip
    assert all(v.guard for v in VARIANTS if not v.refusable)


def test_a_case_passes_only_when_refused_and_the_control_works() -> None:
    missing = VARIANT["fipsmodule-missing"]
    assert _case(missing, "python", NORMAL, NOTHING, FIPS).status is Status.PASSED
    # negative controls: not refused is a failure; refused while the untampered image fails proves nothing
    not_refused = _case(missing, "python", NORMAL, EVERYTHING, FIPS)
    assert not_refused.status is Status.FAILED and "NOT refused" in not_refused.detail
    broken = _case(missing, "python", NORMAL, NOTHING, NOTHING)
    assert broken.status is Status.FAILED and "proves nothing" in broken.detail
    assert _case(missing, "python", NORMAL, NOTHING, None).status is Status.FAILED
    # one operation that works is enough to fail
    assert _case(missing, "node", NORMAL, _attempts(REFUSED, REFUSED, WORKED), FIPS).status is Status.FAILED
    # refused at start counts as refused
    at_start = Attempts(started=False, outcomes={}, kernel_seeding_calls=0, reason="module_run: init error")
    case = _case(missing, "node", NORMAL, at_start, FIPS)
    assert case.status is Status.PASSED and case.detail == "refused at start (module_run: init error)"
    assert (case.id, case.variant, case.group) == ("tamper-fipsmodule-missing-node", "fipsmodule-missing",
                                                   case.group)  # fmt: skip


def test_an_operator_setting_that_wins_is_a_risk_never_a_pass() -> None:
    dev_null = VARIANT["openssl-conf-dev-null"]
    risk = _case(dev_null, "openssl", NORMAL, EVERYTHING, FIPS)
    assert risk.status is Status.RISK and "evidence flags it" in risk.detail
    assert _case(dev_null, "openssl", NORMAL, NOTHING, FIPS).status is Status.PASSED
    control = _case(None, "openssl", NORMAL, FIPS, None)
    assert (control.variant, control.status) == ("untampered", Status.PASSED)
    assert _case(None, "openssl", NORMAL, EVERYTHING, None).status is Status.FAILED  # MD5 works: not FIPS


def test_wrong_mac_changes_only_the_mac() -> None:
    text = "[fips_sect]\nactivate = 1\nmodule-mac = 09:94:EF:30\n"
    changed = _wrong_mac(text)
    assert changed == "[fips_sect]\nactivate = 1\nmodule-mac = 09:94:EF:31\n"
    assert _wrong_mac(changed) != changed
    with pytest.raises(FipsforgeError, match="no module-mac line"):
        _wrong_mac("[fips_sect]\nactivate = 1\n")


def _report() -> RuntimeReport:
    dev_null, missing = VARIANT["openssl-conf-dev-null"], VARIANT["fipsmodule-missing"]
    cases = [
        _case(None, "openssl", NORMAL, FIPS, None),
        _case(missing, "openssl", NORMAL, NOTHING, FIPS),
        _case(dev_null, "openssl", NORMAL, EVERYTHING, FIPS),
    ]
    runtimes = Runtimes(
        openssl="/usr/bin/openssl", python=None, node=None, fips_module=None, fips_module_config=None
    )
    return RuntimeReport(image="img", kind="oci-layout", manifest_digest=None, entrypoint=["x"], runtimes=runtimes,
                         cases=cases, randomness_calls=[], randomness_summary=[], kernel_dependent_paths=[])  # fmt: skip


def test_risk_is_named_in_json_junit_and_table_and_does_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    report = _report()
    assert report.passed and [c.id for c in report.risks] == ["tamper-openssl-conf-dev-null-openssl"]
    dumped = report.model_dump(mode="json")["cases"]
    assert [(c["variant"], c["status"]) for c in dumped] == [
        ("untampered", "passed"), ("fipsmodule-missing", "passed"), ("openssl-conf-dev-null", "risk")
    ]  # fmt: skip
    root = ET.fromstring(junit_xml(report))
    assert (root.get("failures"), root.get("risks")) == ("0", "1")
    for case in report.cases:
        element = root.find(f".//testcase[@name='{case.id} [normal]']")
        assert element is not None
        assert element.find("properties/property[@name='variant']").get("value") == case.variant  # type: ignore[union-attr]
    risk = root.find(".//testcase[@name='tamper-openssl-conf-dev-null-openssl [normal]']/skipped")
    assert risk is not None and risk.get("type") == "risk" and risk.get("message", "").startswith("risk: ")
    passed = root.find(".//testcase[@name='tamper-fipsmodule-missing-openssl [normal]']")
    assert passed is not None and passed.find("skipped") is None and passed.find("failure") is None
    print_table(report)
    printed = capsys.readouterr().out
    assert "RISK" in printed and "risk: tamper-openssl-conf-dev-null-openssl (normal)" in printed
    # negative control: the same report with the risky case refusing has no risk line at all
    report.cases[2] = _case(VARIANT["openssl-conf-dev-null"], "openssl", NORMAL, NOTHING, FIPS)
    print_table(report)
    assert "risk:" not in capsys.readouterr().out and not report.risks


def test_binds_name_the_real_file_behind_debian_symlinks(tmp_path: Path) -> None:
    (tmp_path / "etc/ssl").mkdir(parents=True)
    (tmp_path / "etc/ssl/openssl.cnf").write_text("stock")
    (tmp_path / "usr/lib/ssl").mkdir(parents=True)
    (tmp_path / "usr/lib/ssl/openssl.cnf").symlink_to("/etc/ssl/openssl.cnf")
    (tmp_path / "usr/lib/ssl/fipsmodule.cnf").symlink_to("../../../etc/ssl/fipsmodule.cnf")
    assert _real_path(tmp_path, "/usr/lib/ssl/openssl.cnf") == "/etc/ssl/openssl.cnf"
    assert _real_path(tmp_path, "/usr/lib/ssl/fipsmodule.cnf") == "/etc/ssl/fipsmodule.cnf"
    assert _real_path(tmp_path, "/etc/ssl/openssl.cnf") == "/etc/ssl/openssl.cnf"  # not a link: unchanged
