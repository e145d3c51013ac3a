"""A spec's `files:` and `services:` in a built image: laid with their modes, hashed, listed in both SBOMs."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from fipsforge.errors import FipsforgeError
from fipsforge.image.build import CYCLONEDX_TYPE, SPDX_TYPE, ImageResult, build_image
from fipsforge.image.spec import parse_spec
from fipsforge.image.workload import SERVICES_FILE, read_services

pytestmark = pytest.mark.slow

SPEC = """
name: test/workload
tag: t1
packages: [dash]
exclude: [debconf, mawk]
fips_stack: false
entrypoint: ["/usr/bin/dash", "-c", "exit 0"]
files:
  /etc/demo/demo.conf: demo.conf
  /opt/demo: tree
services:
  - name: demo
    tls_port: 8443
  - name: other
    command: ["/opt/demo/bin/run", "--flag"]
"""


def _sources(directory: Path, conf: str = "listen 8443;\n") -> Path:
    directory.mkdir()
    (directory / "demo.conf").write_text(conf)
    (directory / "demo.conf").chmod(0o640)
    (directory / "tree/bin").mkdir(parents=True)
    (directory / "tree/bin/run").write_text("#!/usr/bin/dash\necho run\n")
    (directory / "tree/bin/run").chmod(0o755)
    (directory / "tree/data.txt").write_text("data\n")
    (directory / "tree/data.txt").chmod(0o600)
    os.symlink("data.txt", directory / "tree/link")
    return directory


def _build(tmp: Path, source_dir: Path, name: str) -> tuple[ImageResult, Path]:
    spec = parse_spec(SPEC, name, source_dir)
    rootfs = tmp / f"{name}-rootfs"
    return build_image(spec, SPEC, tmp / name, keep_rootfs=rootfs), rootfs


def _referrer(result: ImageResult, media_type: str) -> bytes:
    blobs = result.layout / "blobs/sha256"
    manifest = json.loads((blobs / result.referrers[media_type].split(":")[1]).read_bytes())
    return (blobs / manifest["layers"][0]["digest"].split(":")[1]).read_bytes()


def test_files_and_services_land_in_the_image(tmp_path: Path) -> None:
    result, rootfs = _build(tmp_path, _sources(tmp_path / "src"), "a")
    conf = rootfs / "etc/demo/demo.conf"
    assert conf.read_text() == "listen 8443;\n" and stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert stat.S_IMODE((rootfs / "opt/demo/bin/run").stat().st_mode) == 0o755
    assert stat.S_IMODE((rootfs / "opt/demo/data.txt").stat().st_mode) == 0o600
    assert os.readlink(rootfs / "opt/demo/link") == "data.txt"
    assert (rootfs / "opt/demo/bin/run").stat().st_uid == 0
    # base-files is always there, though the spec does not list it: the merged-usr loader link
    assert os.readlink(rootfs / "lib64") == "usr/lib64"
    services = {s.name: s for s in read_services(rootfs)}
    assert services["demo"].command == ["/usr/bin/dash", "-c", "exit 0"] and services["demo"].tls_port == 8443
    assert services["other"].command == ["/opt/demo/bin/run", "--flag"] and services["other"].tls_port is None
    assert (rootfs / SERVICES_FILE.lstrip("/")).is_file()

    component = next(c for c in result.components if c.role == "files")
    assert set(component.sources) == {"/etc/demo/demo.conf", "/opt/demo/bin/run", "/opt/demo/data.txt"}
    spdx_path = tmp_path / "sbom.spdx.json"
    spdx_path.write_bytes(_referrer(result, SPDX_TYPE))
    assert validate_full_spdx_document(parse_file(str(spdx_path))) == []
    spdx_files = [p for p in json.loads(spdx_path.read_text())["packages"] if p["name"] == "spec-files"]
    assert spdx_files and spdx_files[0]["primaryPackagePurpose"] == "FILE"
    assert component.sources["/etc/demo/demo.conf"] in spdx_files[0]["sourceInfo"]
    cyclonedx = _referrer(result, CYCLONEDX_TYPE).decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cyclonedx) is None
    listed = [c for c in json.loads(cyclonedx)["components"] if c["name"] == "spec-files"]
    assert listed and listed[0]["type"] == "file"

    # Control: the same spec text with one changed byte in a copied file is another image.
    again, _ = _build(tmp_path, _sources(tmp_path / "src2"), "b")
    assert again.inputs_digest == result.inputs_digest and again.manifest_digest == result.manifest_digest
    changed, _ = _build(tmp_path, _sources(tmp_path / "src3", "listen 8444;\n"), "c")
    assert changed.inputs_digest != result.inputs_digest
    assert changed.manifest_digest != result.manifest_digest


def test_missing_source_is_one_line_naming_spec_and_path(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError) as caught:
        parse_spec(SPEC, "my.yaml", tmp_path)
    assert (
        str(caught.value)
        == f"my.yaml: files./etc/demo/demo.conf: no such file or directory: {tmp_path}/demo.conf"
    )
