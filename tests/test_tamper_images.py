"""The tamper matrix on the fipsforge images: every variant refused (or a named risk), in both entropy modes.

The openssl CLI is exercised on the openssl image, Python on the python image and Node.js on an image with
Debian's nodejs over the stack; each run is limited to that runtime so the matrix runs once per runtime.
Negative control: the same images with the configuration fipsforge shipped before (fips listed before base,
no config_diagnostics) do not refuse, and the matrix fails.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fipsforge.oci.unpack import UnpackedImage, unpack_image
from fipsforge.sandbox import EntropyMode
from fipsforge.sandbox.junit import junit_xml
from fipsforge.sandbox.suite import CaseResult, RuntimeReport, Runtimes, Status, find_runtimes
from fipsforge.sandbox.tamper import VARIANTS, Variant, tamper_matrix
from fipsforge.stack.config import hardened_openssl_cnf
from image_fixtures import BuiltImage

pytestmark = pytest.mark.slow

OLD_CONFIG = (
    hardened_openssl_cnf()
    .replace("config_diagnostics = 1\n", "")
    .replace("base = base_sect\nfips = fips_sect", "fips = fips_sect\nbase = base_sect")
)
MISSING = next(v for v in VARIANTS if v.id == "fipsmodule-missing")


def _only(runtimes: Runtimes, name: str) -> Runtimes:
    """`runtimes` with every program but `name` left out."""
    return runtimes.model_copy(
        update={other: None for other in ("openssl", "python", "node") if other != name}
    )


def _unpack(image: BuiltImage, tmp: Path) -> UnpackedImage:
    return unpack_image(str(image.layout), tmp)


def _with_old_config(image: UnpackedImage, tmp: Path, drop: str = "") -> UnpackedImage:
    """A hard-linked copy of the rootfs whose openssl.cnf is the old, fips-first one (less `drop`)."""
    rootfs = tmp / "old-config-rootfs"
    shutil.copytree(image.rootfs, rootfs, symlinks=True, copy_function=os.link)
    config = rootfs / "usr/lib/ssl/openssl.cnf"
    config.unlink()
    assert drop in OLD_CONFIG
    config.write_text(OLD_CONFIG.replace(drop, ""))
    return image.model_copy(update={"rootfs": rootfs})


def _by_variant(cases: list[CaseResult]) -> dict[tuple[str, EntropyMode], CaseResult]:
    return {(case.variant or "", case.mode): case for case in cases if case.mode is not None}


def _assert_matrix_holds(cases: list[CaseResult], runtime: str) -> dict[tuple[str, EntropyMode], CaseResult]:
    found = _by_variant(cases)
    assert sorted(found) == sorted(
        (v, m) for v in ["untampered", *(v.id for v in VARIANTS)] for m in EntropyMode
    )
    assert all(case.id.endswith(f"-{runtime}") for case in cases)
    for variant in VARIANTS:
        for mode in EntropyMode:
            case = found[(variant.id, mode)]
            allowed = {Status.PASSED} if variant.refusable else {Status.PASSED, Status.RISK}
            assert case.status in allowed, f"{case.id} [{mode}]: {case.detail}"
    assert all(found[("untampered", mode)].status is Status.PASSED for mode in EntropyMode)
    return found


def _runtime_matrix(
    image: UnpackedImage, runtime: str, variants: list[Variant] = VARIANTS
) -> list[CaseResult]:
    return tamper_matrix(image, _only(find_runtimes(image), runtime), variants=variants)


@pytest.fixture(scope="module")
def openssl_matrix(openssl_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> list[CaseResult]:
    return _runtime_matrix(_unpack(openssl_image, tmp_path_factory.mktemp("tamper-openssl")), "openssl")


def test_openssl_cli_refuses_every_tampering_it_can(openssl_matrix: list[CaseResult]) -> None:
    found = _assert_matrix_holds(openssl_matrix, "openssl")
    for mode in EntropyMode:
        assert found[("fipsmodule-missing", mode)].detail.startswith("refused at start (")
        assert "module=providers" in found[("fipsmodule-missing", mode)].detail
        # wrong MAC or Debian's fips.so: the CLI starts with only base active; every operation is refused
        for variant in ("fipsmodule-wrong-mac", "debian-fips-so", "openssl-modules-elsewhere"):
            assert found[(variant, mode)].detail.startswith("md5 refused, sha256 refused, rand refused")
        # what an operator's setting decides is a named risk: MD5 from the default provider
        for variant in ("stock-openssl-cnf", "openssl-conf-dev-null"):
            risk = found[(variant, mode)]
            assert risk.status is Status.RISK and "md5 WORKED" in risk.detail


def test_every_case_is_in_junit_and_json_with_its_variant(openssl_matrix: list[CaseResult]) -> None:
    runtimes = Runtimes(
        openssl="/usr/bin/openssl", python=None, node=None, fips_module=None, fips_module_config=None
    )
    report = RuntimeReport(image="openssl", kind="oci-layout", manifest_digest=None, entrypoint=["openssl"],
                           runtimes=runtimes, cases=openssl_matrix, randomness_calls=[], randomness_summary=[],
                           kernel_dependent_paths=[])  # fmt: skip
    assert report.passed and report.risks
    root = ET.fromstring(junit_xml(report))
    [suite] = [s for s in root.iter("testsuite") if s.get("name", "").startswith("tamper matrix")]
    names = {case.get("name"): case for case in suite.iter("testcase")}
    for case in openssl_matrix:
        element = names[f"{case.id} [{case.mode.value}]"]  # type: ignore[union-attr]
        assert element.find("properties/property[@name='variant']").get("value") == case.variant  # type: ignore[union-attr]
        assert (element.find("skipped") is not None) == (case.status is Status.RISK)
        assert element.find("failure") is None
    dumped = report.model_dump(mode="json")["cases"]
    assert {c["variant"] for c in dumped} == {"untampered", *(v.id for v in VARIANTS)}


def test_old_config_does_not_fail_closed_and_the_matrix_fails(
    openssl_image: BuiltImage, tmp_path: Path
) -> None:
    """Negative control: with fips listed first, a missing fipsmodule.cnf gives the default provider."""
    image = _with_old_config(_unpack(openssl_image, tmp_path / "img"), tmp_path)
    found = _by_variant(_runtime_matrix(image, "openssl", [MISSING]))
    for mode in EntropyMode:
        assert found[("untampered", mode)].status is Status.PASSED  # the old config was FIPS, untampered
        failed = found[("fipsmodule-missing", mode)]
        assert failed.status is Status.FAILED and failed.detail.startswith("NOT refused: md5 WORKED")


@pytest.fixture(scope="module")
def python_matrix(python_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> list[CaseResult]:
    return _runtime_matrix(_unpack(python_image, tmp_path_factory.mktemp("tamper-python")), "python")


def test_python_without_fipsmodule_cnf_has_no_crypto_in_both_modes(python_matrix: list[CaseResult]) -> None:
    found = _assert_matrix_holds(python_matrix, "python")
    for mode in EntropyMode:
        missing = found[("fipsmodule-missing", mode)]
        # CPython starts (it does not check the configuration's result) and fails at first use
        assert missing.detail.startswith("md5 refused, sha256 refused, rand refused, tls-context"), (
            missing.detail
        )
        assert "unsupported hash type" in missing.detail


def test_python_with_the_old_config_computes_md5(python_image: BuiltImage, tmp_path: Path) -> None:
    image = _with_old_config(_unpack(python_image, tmp_path / "img"), tmp_path)
    found = _by_variant(_runtime_matrix(image, "python", [MISSING]))
    for mode in EntropyMode:
        assert found[("fipsmodule-missing", mode)].status is Status.FAILED
        assert "md5 WORKED, sha256 WORKED, rand WORKED" in found[("fipsmodule-missing", mode)].detail


def test_node_refuses_at_start(node_image: BuiltImage, tmp_path: Path) -> None:
    image = _unpack(node_image, tmp_path / "img")
    found = _assert_matrix_holds(_runtime_matrix(image, "node"), "node")
    for mode in EntropyMode:
        for variant in ("fipsmodule-missing", "fipsmodule-wrong-mac", "debian-fips-so"):
            assert found[(variant, mode)].detail.startswith("refused at start"), found[(variant, mode)].detail
        assert "CSPRNG" in found[("fipsmodule-wrong-mac", mode)].detail
    # Node checks the result of loading the configuration itself, so it refused a missing fipsmodule.cnf
    # even with the old, fips-first configuration. Negative control: without the nodejs_conf line Node
    # ignores openssl.cnf altogether, runs on the default provider, and the same case fails.
    old = _with_old_config(image, tmp_path, drop="nodejs_conf = openssl_init\n")
    control = _by_variant(_runtime_matrix(old, "node", [MISSING]))
    for mode in EntropyMode:
        assert control[("fipsmodule-missing", mode)].status is Status.FAILED
        assert control[("fipsmodule-missing", mode)].detail.startswith("NOT refused: md5 WORKED")
