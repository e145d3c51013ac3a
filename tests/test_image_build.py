"""Debian-only image builds: reproducibility, OCI tools' acceptance, dpkg status, SBOMs, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from fipsforge.apt import DebianMirrors
from fipsforge.errors import FipsforgeError
from fipsforge.image.build import CYCLONEDX_TYPE, SPDX_TYPE, build_image
from fipsforge.image.spec import parse_spec

pytestmark = pytest.mark.slow

SMALL = """
name: test/small
tag: t1
packages: [base-files, libc6, ca-certificates]
exclude: [debconf, mawk]
fips_stack: false
entrypoint: ["/usr/lib/x86_64-linux-gnu/libc.so.6"]  # in libc6; the builder checks it is there
env: {GREETING: hello}
"""


def _build(tmp: Path, text: str, name: str, **kwargs: object) -> str:
    spec = parse_spec(text, name)
    return build_image(spec, text, tmp / name, **kwargs).manifest_digest  # type: ignore[arg-type]


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs/sha256" / digest.split(":")[1]).read_bytes()


def test_two_builds_same_digest_and_one_input_changes_it(tmp_path: Path) -> None:
    first = _build(tmp_path, SMALL, "a")
    second = _build(tmp_path, SMALL, "b")
    assert first == second
    changed = _build(tmp_path, SMALL.replace("hello", "world"), "c")
    assert changed != first  # control: a changed input gives a different image


def test_oci_tools_accept_the_layout(tmp_path: Path) -> None:
    _build(tmp_path, SMALL, "oci")
    layout = tmp_path / "oci"
    inspect = subprocess.run(["skopeo", "inspect", f"oci:{layout}:t1"], capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    labels = json.loads(inspect.stdout)["Labels"]
    assert labels["org.opencontainers.image.title"] == "test/small"
    assert "org.opencontainers.image.created" in labels
    bundle = tmp_path / "bundle"
    unpack = subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:t1", str(bundle)], capture_output=True, text=True
    )
    assert unpack.returncode == 0, unpack.stderr
    rootfs = bundle / "rootfs"
    assert (rootfs / "usr/lib/x86_64-linux-gnu/libc.so.6").exists()
    assert not (rootfs / "usr/share/man").exists()
    assert (rootfs / "usr/share/doc/libc6/copyright").is_file()
    assert not list((rootfs / "usr/share/doc/libc6").glob("changelog*"))
    assert "GREETING=hello" in json.loads((bundle / "config.json").read_text())["process"]["env"]
    assert json.loads((bundle / "config.json").read_text())["process"]["user"]["uid"] == 65532
    # Control: umoci refuses a tag the layout does not have.
    missing = subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:nope", str(tmp_path / "b2")], capture_output=True
    )
    assert missing.returncode != 0


def test_dpkg_status_is_truthful(tmp_path: Path) -> None:
    spec = parse_spec(SMALL, "small")
    result = build_image(spec, SMALL, tmp_path / "oci", keep_rootfs=tmp_path / "rootfs")
    status = (tmp_path / "rootfs/var/lib/dpkg/status").read_text()
    listed = {line.split()[1] for line in status.splitlines() if line.startswith("Package:")}
    assert "libc6" in listed and "ca-certificates" in listed
    assert "debconf" not in listed and "mawk" not in listed  # excluded, so not claimed
    assert len(listed) == result.packages
    assert status.count("Status: install ok installed") == len(listed)
    # Every file dpkg claims for libc6 is really there (the trimmed docs are not claimed).
    claimed = (tmp_path / "rootfs/var/lib/dpkg/info/libc6:amd64.list").read_text().split()
    assert all(
        (tmp_path / "rootfs" / p.lstrip("/")).exists() or (tmp_path / "rootfs" / p.lstrip("/")).is_symlink()
        for p in claimed
        if p != "/."
    )
    assert not any("/usr/share/doc/libc6/changelog" in p for p in claimed)
    bundle = (tmp_path / "rootfs/etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 100


def test_sboms_are_valid_referrers(tmp_path: Path) -> None:
    spec = parse_spec(SMALL, "small")
    result = build_image(spec, SMALL, tmp_path / "oci")
    layout = tmp_path / "oci"
    payloads = {}
    for media_type, digest in result.referrers.items():
        manifest = json.loads(_blob(layout, digest))
        assert manifest["subject"]["digest"] == result.manifest_digest
        assert manifest["artifactType"] == media_type
        payloads[media_type] = _blob(layout, manifest["layers"][0]["digest"])
    spdx_path = tmp_path / "sbom.spdx.json"
    spdx_path.write_bytes(payloads[SPDX_TYPE])
    assert validate_full_spdx_document(parse_file(str(spdx_path))) == []
    spdx = json.loads(payloads[SPDX_TYPE])
    purls = {r["referenceLocator"] for p in spdx["packages"] for r in p.get("externalRefs", [])}
    assert sum(purl.startswith("pkg:deb/debian/") for purl in purls) == result.packages
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(payloads[CYCLONEDX_TYPE].decode()) is None
    # Controls: each validator rejects a broken document.
    broken = json.loads(payloads[CYCLONEDX_TYPE])
    broken["components"][0]["type"] = "not-a-type"
    assert validator.validate_str(json.dumps(broken)) is not None
    spdx["packages"][1]["SPDXID"] = "bad id"
    spdx_path.write_text(json.dumps(spdx))
    assert validate_full_spdx_document(parse_file(str(spdx_path))) != []


def test_docker_archive_on_request(tmp_path: Path) -> None:
    _build(tmp_path, SMALL, "oci", docker_archive=tmp_path / "image.tar")
    names = subprocess.run(["tar", "-tf", str(tmp_path / "image.tar")], capture_output=True, text=True).stdout
    assert "manifest.json" in names.split()
    inspect = subprocess.run(
        ["skopeo", "inspect", f"docker-archive:{tmp_path / 'image.tar'}"], capture_output=True
    )
    assert inspect.returncode == 0


def test_unknown_package_is_named(tmp_path: Path) -> None:
    text = SMALL.replace("ca-certificates]", "ca-certificates, fipsforge-no-such-package]")
    with pytest.raises(
        FipsforgeError, match=r"^packages: unknown package 'fipsforge-no-such-package' in Debian trixie$"
    ):
        _build(tmp_path, text, "bad")
    assert not (tmp_path / "bad").exists()


def test_source_build_nothing_needs_is_named(tmp_path: Path) -> None:
    """`libsodium: true` in a spec none of whose packages pulls in libsodium23 would lay an unused library
    into the image: a one-line error before anything is built or written."""
    text = SMALL.replace("fips_stack: false", "fips_stack: true\nlibsodium: true")
    with pytest.raises(
        FipsforgeError, match=r"^libsodium: true, but no package of the image needs libsodium23$"
    ):
        _build(tmp_path, text, "bad")
    assert not (tmp_path / "bad").exists()


def test_unreachable_apt_source_names_the_sources_file(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    mirrors = DebianMirrors(archive="http://127.0.0.1:9/debian", found_in=sources)
    with pytest.raises(FipsforgeError) as caught:
        _build(tmp_path, SMALL, "unreachable", mirrors=mirrors)
    message = str(caught.value)
    assert message.startswith(f"{sources}: the Debian mirror http://127.0.0.1:9/debian does not serve trixie")
    assert "\n" not in message
    assert not (tmp_path / "unreachable").exists()


def test_interrupted_build_leaves_no_partial_image(tmp_path: Path) -> None:
    def interrupt(step: str) -> None:
        if step == "sbom":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _build(tmp_path, SMALL, "interrupted", report=interrupt)
    assert list(tmp_path.iterdir()) == []
    # Control: the same build, not interrupted, leaves the layout.
    _build(tmp_path, SMALL, "interrupted")
    assert (tmp_path / "interrupted/index.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interrupted"]


def test_cli_build_json(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    fipsforge = shutil.which("fipsforge") or str(Path(__file__).parents[1] / ".venv/bin/fipsforge")
    done = subprocess.run([fipsforge, "build", str(spec), "--out", str(tmp_path / "oci"), "--json"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["manifest_digest"].startswith("sha256:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.replace("tag: t1", "tag: [x]"))
    failed = subprocess.run(
        [fipsforge, "build", str(bad), "--out", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert failed.returncode == 2 and f"error: {bad}: tag: " in failed.stderr
