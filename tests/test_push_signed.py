"""`fipsforge push --sign-key` and `fipsforge verify --key` against Debian's docker-registry on loopback.

The checks are made by the cosign binary itself (Debian trixie's 2.5): a signed push verifies for the
signature and each of the three attestation types; another key, an unsigned push and an image re-tagged
under the signed name do not. Bad keys are refused before anything is uploaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipsforge.attest.cosign import ATTESTATION_TYPES, SigningOptions, cosign_binary
from fipsforge.attest.sign import push_signed
from fipsforge.errors import FipsforgeError
from fipsforge.image.build import SPDX_TYPE
from fipsforge.oci.push import PushResult, push_layout
from fipsforge.verify.analyze import verify_image
from fipsforge.verify.model import VerifyReport
from image_fixtures import BuiltImage
from oci_fixtures import Entry, extend_layout, layer, loopback_registry

pytestmark = pytest.mark.slow
PASSWORD = "correct horse"


class Keys:
    def __init__(self, directory: Path) -> None:
        self.private = directory / "cosign.key"
        self.public = directory / "cosign.pub"


def _cosign(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cosign_binary().path), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COSIGN_PASSWORD": PASSWORD})  # fmt: skip


def _key_pair(directory: Path) -> Keys:
    directory.mkdir()
    done = subprocess.run([str(cosign_binary().path), "generate-key-pair"], cwd=directory, capture_output=True,
                          env={**os.environ, "COSIGN_PASSWORD": PASSWORD}, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Keys(directory)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Keys, Keys]:
    """The signer's key pair, and somebody else's."""
    base = tmp_path_factory.mktemp("keys")
    return _key_pair(base / "signer"), _key_pair(base / "other")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with loopback_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="module")
def signed(openssl_image: BuiltImage, registry: str, keys: tuple[Keys, Keys]) -> PushResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COSIGN_PASSWORD", PASSWORD)
        return push_signed(openssl_image.layout, f"{registry}/fipsforge/signed:3.5",
                           SigningOptions(key=str(keys[0].private)))  # fmt: skip


def _verify(ref: str, tmp_path: Path, key: Path | None) -> VerifyReport:
    work = tmp_path / f"verify-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    return verify_image(ref, work, key=key, require_attestations=key is not None)


def _signature_findings(report: VerifyReport) -> list[str]:
    return [f"{f.rule_id} {f.severity}" for f in report.findings if f.rule_id.startswith(("SIG", "SBOM"))]


def test_cosign_verifies_the_signature_and_all_three_attestations(
    signed: PushResult, registry: str, keys: tuple[Keys, Keys], openssl_image: BuiltImage
) -> None:
    signer, other = keys
    ref = f"{registry}/fipsforge/signed:3.5"
    assert signed.signed and signed.attestations == list(ATTESTATION_TYPES)
    done = _cosign("verify", "--key", str(signer.public), "--insecure-ignore-tlog=true", ref)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)[0]
    assert payload["critical"]["image"]["docker-manifest-digest"] == openssl_image.result.manifest_digest
    refused = _cosign("verify", "--key", str(other.public), "--insecure-ignore-tlog=true", ref)
    assert refused.returncode != 0  # control: another key does not verify
    spdx_manifest = json.loads(_layout_blob(openssl_image.layout, openssl_image.result.referrers[SPDX_TYPE]))
    layout_spdx = json.loads(_layout_blob(openssl_image.layout, spdx_manifest["layers"][0]["digest"]))
    for kind, predicate_type in ATTESTATION_TYPES.items():
        done = _cosign("verify-attestation", "--key", str(signer.public), "--insecure-ignore-tlog=true",
                       "--type", kind, ref)  # fmt: skip
        assert done.returncode == 0, f"{kind}: {done.stderr}"
        statement = json.loads(base64.b64decode(json.loads(done.stdout.splitlines()[0])["payload"]))
        assert statement["predicateType"] == predicate_type
        assert statement["subject"][0]["digest"]["sha256"] == openssl_image.result.manifest_digest[7:]
        if kind == "spdxjson":
            assert statement["predicate"] == layout_spdx  # the attested SBOM is the one built with the image
    refused = _cosign("verify-attestation", "--key", str(other.public), "--insecure-ignore-tlog=true",
                      "--type", "slsaprovenance1", ref)  # fmt: skip
    assert refused.returncode != 0


def _layout_blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs/sha256" / digest.split(":")[1]).read_bytes()


def test_fipsforge_verify_checks_the_signature(
    signed: PushResult, registry: str, keys: tuple[Keys, Keys], tmp_path: Path
) -> None:
    signer, other = keys
    ref = f"docker://{registry}/fipsforge/signed:3.5"
    good = _verify(ref, tmp_path, signer.public)
    assert _signature_findings(good) == [] and good.verdict == "pass", good.findings
    assert good.sboms == ["signed attestation spdxjson", "signed attestation cyclonedx"]
    wrong = _verify(ref, tmp_path, other.public)
    assert "SIG001 high" in _signature_findings(wrong) and wrong.verdict == "fail"
    # An OCI layout as `cosign save` writes it (image, signatures, attestations) verifies offline.
    saved = tmp_path / "saved"
    done = _cosign("save", "--dir", str(saved), ref.removeprefix("docker://"))
    assert done.returncode == 0, done.stderr
    offline = _verify(str(saved), tmp_path, signer.public)
    assert _signature_findings(offline) == [] and offline.digest == signed.manifest_digest
    assert "SIG001 high" in _signature_findings(_verify(str(saved), tmp_path, other.public))


def _drop_from_spdx(source: Path, dest: Path, spdx_referrer: str, package: str) -> None:
    """A copy of the layout whose SPDX SBOM leaves out one Debian package the image has."""
    shutil.copytree(source, dest)
    blobs = dest / "blobs/sha256"

    def put(data: bytes) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    manifest = json.loads((blobs / spdx_referrer[7:]).read_bytes())
    document = json.loads((blobs / manifest["layers"][0]["digest"][7:]).read_bytes())
    document["packages"] = [p for p in document["packages"] if p["name"] != package]
    manifest["layers"][0].update(put(json.dumps(document).encode()))
    index = json.loads((dest / "index.json").read_text())
    for entry in index["manifests"]:
        if entry["digest"] == spdx_referrer:
            entry.update(put(json.dumps(manifest).encode()))
    (dest / "index.json").write_text(json.dumps(index))


def test_a_signed_sbom_that_disagrees_with_dpkg_is_a_finding(
    openssl_image: BuiltImage, registry: str, keys: tuple[Keys, Keys], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    lying = tmp_path / "lying"
    _drop_from_spdx(openssl_image.layout, lying, openssl_image.result.referrers[SPDX_TYPE], "tzdata")
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    push_signed(lying, f"{registry}/fipsforge/lying:3.5", SigningOptions(key=str(keys[0].private)))
    report = _verify(f"docker://{registry}/fipsforge/lying:3.5", tmp_path, keys[0].public)
    assert _signature_findings(report) == ["SBOM001 high"] and report.verdict == "fail"
    (finding,) = [f for f in report.findings if f.rule_id == "SBOM001"]
    assert (
        "signed attestation spdxjson" in finding.message
        and "installed but not listed: tzdata" in finding.message
    )


def test_unsigned_push_fails_verification(
    openssl_image: BuiltImage, registry: str, keys: tuple[Keys, Keys], tmp_path: Path
) -> None:
    push_layout(openssl_image.layout, f"{registry}/fipsforge/unsigned:3.5")
    ref = f"{registry}/fipsforge/unsigned:3.5"
    done = _cosign("verify", "--key", str(keys[0].public), "--insecure-ignore-tlog=true", ref)
    assert done.returncode != 0 and "no signatures found" in done.stderr
    assert _verify(f"docker://{ref}", tmp_path, None).verdict == "pass"  # control: only the key makes it fail
    fipsforge = shutil.which("fipsforge") or str(Path(__file__).parents[1] / ".venv/bin/fipsforge")
    done = subprocess.run([fipsforge, "verify", f"docker://{ref}", "--key", str(keys[0].public),
                           "--require-attestations", "--json"], capture_output=True, text=True)  # fmt: skip
    report = VerifyReport.model_validate_json(done.stdout)
    assert {"SIG001 high", "SIG002 high"} <= set(_signature_findings(report)) and report.verdict == "fail"


def test_a_layout_without_signatures_fails_with_a_key(
    openssl_image: BuiltImage, keys: tuple[Keys, Keys], tmp_path: Path
) -> None:
    report = _verify(str(openssl_image.layout), tmp_path, keys[0].public)
    assert "SIG001 high" in _signature_findings(report) and report.verdict == "fail"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", r"nope\.key: no such key file \(--sign-key\)$"),
        ("password", r"cosign\.key: wrong password \(COSIGN_PASSWORD\)$"),
        ("public", r"cosign\.pub: not a cosign private key \(unsupported pem type: PUBLIC KEY\)$"),
    ],
)
def test_bad_keys_are_one_line_errors_and_push_nothing(
    case: str, expected: str, openssl_image: BuiltImage, registry: str, keys: tuple[Keys, Keys],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    key = {"missing": tmp_path / "nope.key", "password": keys[0].private, "public": keys[0].public}[case]
    monkeypatch.setenv("COSIGN_PASSWORD", "wrong" if case == "password" else PASSWORD)
    repository = f"fipsforge/refused-{case}"
    with pytest.raises(FipsforgeError, match=expected) as raised:
        push_signed(openssl_image.layout, f"{registry}/{repository}:3.5", SigningOptions(key=str(key)))
    assert "\n" not in str(raised.value)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://{registry}/v2/{repository}/tags/list", timeout=10)
    assert missing.value.code == 404
    catalog = json.loads(urllib.request.urlopen(f"http://{registry}/v2/_catalog", timeout=10).read())
    assert repository not in catalog["repositories"] and "fipsforge/signed" in catalog["repositories"]


def test_cli_wrong_password_exits_2_with_one_line(
    openssl_image: BuiltImage, registry: str, keys: tuple[Keys, Keys]
) -> None:
    fipsforge = shutil.which("fipsforge") or str(Path(__file__).parents[1] / ".venv/bin/fipsforge")
    done = subprocess.run(
        [fipsforge, "push", str(openssl_image.layout), f"{registry}/fipsforge/cli:3.5", "--sign-key",
         str(keys[0].private)],
        capture_output=True, text=True, env={**os.environ, "COSIGN_PASSWORD": "wrong"},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {keys[0].private}: wrong password (COSIGN_PASSWORD)"]


def test_image_retagged_under_the_signed_name_fails(
    signed: PushResult, openssl_image: BuiltImage, registry: str, keys: tuple[Keys, Keys], tmp_path: Path
) -> None:
    """Runs last in this module: it replaces the signed tag."""
    ref = f"{registry}/fipsforge/signed:3.5"
    assert _cosign("verify", "--key", str(keys[0].public), "--insecure-ignore-tlog=true", ref).returncode == 0
    other = tmp_path / "other"
    extend_layout(openssl_image.layout, other, layer([Entry("etc/retagged", data=b"not what was signed\n")]))
    pushed = push_layout(other, ref)
    assert pushed.manifest_digest != signed.manifest_digest
    done = _cosign("verify", "--key", str(keys[0].public), "--insecure-ignore-tlog=true", ref)
    assert done.returncode != 0
    report = _verify(f"docker://{ref}", tmp_path, keys[0].public)
    assert "SIG001 high" in _signature_findings(report) and report.verdict == "fail"
