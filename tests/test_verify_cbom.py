"""Certificates, keys and the CBOM on small synthetic images: findings, validation, occurrences, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from typer.testing import CliRunner

from fipsforge.cli import app
from fipsforge.verify.analyze import verify_image
from fipsforge.verify.cbom import cbom
from fipsforge.verify.model import VerifyReport
from oci_fixtures import Entry, debian_rootfs, layer, write_layout

SODIUM = "usr/lib/x86_64-linux-gnu/libsodium.so.23.3.0"


def _certificate(key_bits: int, digest: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"app-{key_bits}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30)).sign(key, digest)
    )  # fmt: skip
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def _weak_certificate(tmp_path: Path) -> tuple[bytes, bytes]:
    """RSA-1024 signed with SHA-1, made by the openssl CLI (cryptography refuses to sign with SHA-1)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes", "-subj", "/CN=app-1024",
                    "-days", "30", "-keyout", tmp_path / "weak.key", "-out", tmp_path / "weak.crt"],
                   check=True, capture_output=True)  # fmt: skip
    return (tmp_path / "weak.crt").read_bytes(), (tmp_path / "weak.key").read_bytes()


ZLIB = "usr/lib/x86_64-linux-gnu/libz.so.1.3.1"


@pytest.fixture(scope="module")
def libraries() -> Path:
    return debian_rootfs("verify-cbom-libraries", ["libsodium23", "zlib1g"])


@pytest.fixture(scope="module")
def sodium(libraries: Path) -> bytes:
    return (libraries / SODIUM).read_bytes()


def _verify(tmp_path: Path, entries: list[Entry]) -> VerifyReport:
    write_layout(tmp_path / "image", [layer(entries)])
    return verify_image(f"oci:{tmp_path / 'image'}", tmp_path)


def _rules(report: VerifyReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.rule_id, []).append(finding.path)
    return found


def test_baked_in_weak_key_and_sha1_certificate(tmp_path: Path) -> None:
    cert, key = _weak_certificate(tmp_path)
    report = _verify(
        tmp_path, [Entry("etc/app/tls.crt", data=cert), Entry("etc/app/tls.key", data=key, mode=0o600)]
    )
    rules = _rules(report)
    assert rules["KEY001"] == ["/etc/app/tls.key"] and rules["KEY002"] == ["/etc/app/tls.key"]
    assert rules["CERT001"] == ["/etc/app/tls.crt", "/etc/app/tls.crt"]  # SHA-1 signature, RSA-1024 key
    [certificate] = report.certificates
    assert (certificate.key_algorithm, certificate.key_size) == ("RSA", 1024)
    assert certificate.signature_algorithm.startswith("sha1")
    assert [(k.algorithm, k.key_size) for k in report.private_keys] == [("RSA", 1024)]


def test_strong_certificate_without_key_has_no_finding(tmp_path: Path) -> None:
    """Negative control: RSA-2048 signed with SHA-256, no key beside it."""
    cert, _key = _certificate(2048, hashes.SHA256())
    report = _verify(tmp_path, [Entry("etc/app/tls.crt", data=cert)])
    assert not {"KEY001", "KEY002", "CERT001"} & set(_rules(report))
    assert [c.problems for c in report.certificates] == [[]]


def test_trust_store_is_summarised(tmp_path: Path) -> None:
    certs = [_certificate(2048, hashes.SHA256())[0] for _ in range(3)]
    report = _verify(
        tmp_path, [Entry(f"usr/share/ca-certificates/mozilla/ca{i}.crt", data=c) for i, c in enumerate(certs)]
    )
    assert report.certificates == []
    [bundle] = report.ca_bundles
    assert (bundle.path, bundle.certificates, bundle.key_algorithms) == ("/usr/share/ca-certificates/mozilla", 3,
                                                                          {"RSA-2048": 3})  # fmt: skip


def test_cbom_validates_and_carries_every_occurrence(tmp_path: Path, sodium: bytes) -> None:
    cert, key = _weak_certificate(tmp_path)
    report = _verify(tmp_path, [Entry(SODIUM, data=sodium), Entry("etc/app/tls.crt", data=cert),
                                Entry("etc/app/tls.key", data=key)])  # fmt: skip
    text = cbom(report)
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(text) is None
    document = json.loads(text)
    assert document["specVersion"] == "1.6"
    occurrences = {(o["location"], o.get("offset")) for c in document["components"]
                   for o in c.get("evidence", {}).get("occurrences", [])}  # fmt: skip
    [sodium_impl] = [i for i in report.crypto_implementations if i.path == f"/{SODIUM}"]
    security = [a for a in sodium_impl.algorithms if a.security]
    assert {a.algorithm for a in security} >= {"ChaCha20/Salsa20", "Poly1305", "Ed25519/X25519", "SHA-512"}
    assert {f.path for f in report.findings if f.rule_id == "IMPL002"} == {f"/{SODIUM}"}
    for algorithm in sodium_impl.algorithms:
        for evidence in algorithm.evidence:
            assert (sodium_impl.path, evidence.offset) in occurrences
    dependencies = {d["ref"]: set(d.get("dependsOn", [])) for d in document["dependencies"]}
    assert dependencies[f"file:/{SODIUM}"] == {
        f"crypto/algorithm/{a.algorithm}@outside" for a in sodium_impl.algorithms
    }
    assert {"/etc/app/tls.crt", "/etc/app/tls.key"} <= {o[0] for o in occurrences}
    # negative control: the validator rejects a broken document
    document["components"][0]["cryptoProperties"]["assetType"] = "not-an-asset-type"
    assert validator.validate_str(json.dumps(document)) is not None


def test_non_security_tables_are_inventoried_without_a_finding(tmp_path: Path, libraries: Path) -> None:
    report = _verify(tmp_path, [Entry(ZLIB, data=(libraries / ZLIB).read_bytes())])
    [zlib] = report.crypto_implementations
    assert [(a.algorithm, a.security, a.severity) for a in zlib.algorithms] == [("CRC-32", False, None)]
    assert not [f for f in report.findings if f.rule_id.startswith("IMPL")]


def test_cli_writes_the_cbom(tmp_path: Path, sodium: bytes) -> None:
    write_layout(tmp_path / "image", [layer([Entry(SODIUM, data=sodium)])])
    out = tmp_path / "out.cdx.json"
    result = CliRunner().invoke(app, ["verify", f"oci:{tmp_path / 'image'}", "--cbom", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["crypto_implementations"][0]["path"] == f"/{SODIUM}"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.read_text()) is None
