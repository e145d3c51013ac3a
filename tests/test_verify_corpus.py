"""The verify corpus: every image gets the verdict the issue expects, with the reasons named.

Images are OCI layouts assembled in the test from registry packages (Debian trixie via fipsforge.apt,
wheels via pip); inputs are cached under cache_root()/test-corpus. The images fipsforge builds, and the
one with a flipped byte in fips.so, are in test_verify_images.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.verify.analyze import verify_image
from fipsforge.verify.model import VerifyReport
from oci_fixtures import (
    GO_DEBS,
    PYTHON_DEBS,
    Entry,
    Layout,
    debian_rootfs,
    layer,
    spdx_document,
    tree_entries,
    wheel_tree,
    write_layout,
)


def _image(tmp: Path, name: str, trees: list[Path]) -> str:
    layers = [layer(tree_entries(tree), compress=False) for tree in trees]
    write_layout(tmp / name, layers)
    return str(tmp / name)


def _rules(report: VerifyReport) -> set[str]:
    return {f.rule_id for f in report.findings}


def _paths(report: VerifyReport, rule: str) -> list[str]:
    return [f.path for f in report.findings if f.rule_id == rule]


@pytest.fixture(scope="module")
def python_rootfs() -> Path:
    return debian_rootfs("python", PYTHON_DEBS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def test_plain_debian_python_fails_with_reasons(corpus: Path, python_rootfs: Path) -> None:
    report = verify_image(_image(corpus, "debian-python", [python_rootfs]), corpus)
    assert report.verdict == "fail"
    assert report.kernel_independent == "no"
    assert {"FIPS001", "KI001", "CONF005", "PY002"} <= _rules(report)
    assert "/usr/bin/python3.13" in _paths(report, "PY002")
    assert any(
        lib.path == "/usr/lib/x86_64-linux-gnu/libcrypto.so.3" and lib.version
        for lib in report.crypto_libraries
    )
    assert {p.name for p in report.packages} >= {"python3.13-minimal", "libssl3t64"}
    assert report.fips_modules == []


def test_cryptography_wheel_vendored_openssl_is_found(corpus: Path, python_rootfs: Path) -> None:
    report = verify_image(_image(corpus, "cryptography", [python_rootfs, wheel_tree("cryptography")]), corpus)
    assert report.verdict == "fail"
    vendored = [lib for lib in report.crypto_libraries if lib.linkage == "vendored"]
    assert vendored and vendored[0].path.endswith("cryptography/hazmat/bindings/_rust.abi3.so")
    assert vendored[0].path in _paths(report, "CRYPTO001")
    assert vendored[0].version and vendored[0].version != "3.5.9"  # its own OpenSSL, not Debian's
    [message] = [f.message for f in report.findings if f.rule_id == "CRYPTO001"]
    assert "Python package cryptography" in message
    # negative control: the plain python image has no vendored copy
    plain = verify_image(_image(corpus, "plain-for-crypto", [python_rootfs]), corpus)
    assert "CRYPTO001" not in _rules(plain)


def test_pycryptodome_is_flagged(corpus: Path, python_rootfs: Path) -> None:
    report = verify_image(_image(corpus, "pycryptodome", [python_rootfs, wheel_tree("pycryptodome")]), corpus)
    [path] = _paths(report, "PY001")
    assert "pycryptodome-" in path and path.endswith("METADATA")
    assert report.verdict == "fail"


def test_go_binary_from_debian_uses_pure_go_crypto(corpus: Path) -> None:
    report = verify_image(_image(corpus, "go", [debian_rootfs("go", GO_DEBS)]), corpus)
    assert _paths(report, "GO001") == ["/usr/bin/mkcert"]
    [binary] = report.go_binaries
    assert binary.go_version.startswith("go1.") and binary.crypto_backend == "go-native"
    assert "crypto/tls" in binary.crypto_packages or "crypto/x509" in binary.crypto_packages
    assert binary.fips140_module is None
    assert report.verdict == "fail"


# -- a synthetic Wolfi-style image: apk database plus an SPDX SBOM ----------------------------------


def _apk_db(libcrypto3: str) -> bytes:
    blocks = [
        ("wolfi-baselayout", "20230201-r16"),
        ("libcrypto3", libcrypto3),
        ("libssl3", libcrypto3),
        ("openssl-provider-fips", "3.1.2-r0"),
    ]
    return "\n".join(
        f"C:Q1abc=\nP:{name}\nV:{version}\nA:x86_64\no:openssl\n" for name, version in blocks
    ).encode()


@pytest.mark.parametrize(
    ("version", "verdict"), [("3.4.0-r1", "fail"), ("3.4.0-r2", "pass"), ("3.4.1-r0", "pass")]
)
def test_wolfi_style_libcrypto3_rule(corpus: Path, version: str, verdict: str) -> None:
    entries = [
        Entry("lib/apk/db/installed", data=_apk_db(version)),
        Entry(f"var/lib/db/sbom/libcrypto3-{version}.spdx.json", data=spdx_document(version)),
    ]
    layout_dir = corpus / f"wolfi-{version}"
    write_layout(layout_dir, [layer(entries)])
    report = verify_image(str(layout_dir), corpus)
    assert report.verdict == verdict
    assert report.kernel_independent == ("yes" if verdict == "pass" else "no")
    assert any(f"libcrypto3 {version}" in reason for reason in report.kernel_independent_reasons)
    [module] = report.fips_modules
    assert (module.version, module.cmvp_certificate) == ("3.1.2", "#4985")
    assert report.sboms == [f"var/lib/db/sbom/libcrypto3-{version}.spdx.json"]
    sources = {p.source for p in report.packages if p.name == "libcrypto3"}
    assert sources == {"lib/apk/db/installed", f"var/lib/db/sbom/libcrypto3-{version}.spdx.json"}


def test_sbom_alone_decides_the_rule_attached_or_given(corpus: Path, tmp_path: Path) -> None:
    """No apk database: the rule runs on an SBOM attached as an OCI 1.1 referrer, or given with --sbom."""
    layout = Layout(corpus / "sbom-attached")
    digest = layout.add_image([layer([Entry("etc/os-release", data=b"ID=wolfi\n")])])
    layout.add_artifact(digest, "application/spdx+json", spdx_document("3.4.0-r1"), "application/spdx+json")
    attached = verify_image(str(corpus / "sbom-attached"), corpus)
    assert attached.kernel_independent == "no" and attached.sboms[0].startswith("oci-subject:sha256:")
    bare = corpus / "sbom-bare"
    write_layout(bare, [layer([Entry("etc/os-release", data=b"ID=wolfi\n")])])
    given = tmp_path / "given.spdx.json"
    given.write_bytes(spdx_document("3.4.0-r2"))
    assert verify_image(str(bare), corpus, sbom_files=[given]).verdict == "pass"
    # negative control: without the SBOM nothing names a FIPS module
    assert verify_image(str(bare), corpus).verdict == "fail"
