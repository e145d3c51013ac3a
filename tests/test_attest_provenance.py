"""The SLSA provenance v1 statement `fipsforge build` puts into the layout beside the SBOMs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from debian.deb822 import Deb822
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from packageurl import PackageURL

from fipsforge import __version__
from fipsforge.attest.provenance import PREDICATE_TYPE, STATEMENT_MEDIA_TYPE, resolved_dependencies
from fipsforge.image.spec import parse_spec
from fipsforge.stack.build import build_stack
from image_fixtures import BuiltImage


def _statement(image: BuiltImage) -> dict[str, Any]:
    blobs = image.layout / "blobs/sha256"
    manifest = json.loads((blobs / image.result.referrers[STATEMENT_MEDIA_TYPE][7:]).read_bytes())
    assert manifest["subject"]["digest"] == image.result.manifest_digest
    value: dict[str, Any] = json.loads((blobs / manifest["layers"][0]["digest"][7:]).read_bytes())
    return value


def _parses(statement: dict[str, Any]) -> bool:
    """Whether the statement and its predicate fit the in-toto Statement v1 and SLSA v1 schemas."""
    try:
        json_format.ParseDict(statement, statement_pb2.Statement())
        json_format.ParseDict(statement["predicate"], provenance_pb2.Provenance())
    except json_format.ParseError:
        return False
    return True


@pytest.mark.slow
def test_provenance_names_every_input_by_sha256(openssl_image: BuiltImage) -> None:
    statement = _statement(openssl_image)
    assert _parses(statement)
    broken = json.loads(json.dumps(statement))
    broken["predicate"]["buildDefinition"]["resolvedDependency"] = []
    assert not _parses(broken)  # control: a misspelt field does not fit the schema
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"][0]["digest"]["sha256"] == openssl_image.result.manifest_digest[7:]
    definition = statement["predicate"]["buildDefinition"]
    spec_text = (Path(__file__).parents[1] / "src/fipsforge/image/specs/openssl.yaml").read_text()
    assert definition["externalParameters"]["spec"] == spec_text
    assert statement["predicate"]["runDetails"]["builder"]["id"] == f"pkg:pypi/fipsforge@{__version__}"
    found = {d["name"]: d["digest"]["sha256"] for d in definition["resolvedDependencies"]}
    assert found["spec"] == hashlib.sha256(spec_text.encode()).hexdigest()
    # The Debian source packages, the upstream tarball and its signature, exactly as the stack recorded them.
    inputs = build_stack().manifest.inputs
    tarball = next(name for name in inputs if name.endswith(".orig.tar.gz"))
    assert found[tarball] == inputs[tarball] and found[f"{tarball}.asc"] == inputs[f"{tarball}.asc"]
    assert {name: found.get(name) for name in inputs} == inputs
    # Every .deb the image was made of (its dpkg status), by purl and SHA-256.
    status = (openssl_image.rootfs / "var/lib/dpkg/status").read_text()
    installed = {(p["Package"], p["Version"]) for p in Deb822.iter_paragraphs(status.splitlines())}
    debs = [d for d in definition["resolvedDependencies"] if d.get("uri", "").startswith("pkg:deb/")]
    assert {
        (PackageURL.from_string(d["uri"]).name, PackageURL.from_string(d["uri"]).version) for d in debs
    } == installed
    assert all(len(d["digest"]["sha256"]) == 64 and d["name"].endswith(".deb") for d in debs)


def test_spec_files_are_listed_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("listen 8443\n")
    (tmp_path / "site").mkdir()
    (tmp_path / "site/index.html").write_text("<p>hi</p>\n")
    text = "name: t/files\npackages: [base-files]\nfiles:\n  /etc/app.conf: app.conf\n  /srv/www: site\n"
    spec = parse_spec(text, "t", tmp_path)
    found = {d.name: d.digest["sha256"] for d in resolved_dependencies(spec, text, [], [])}
    assert found == {
        "spec": hashlib.sha256(text.encode()).hexdigest(),
        "files:/etc/app.conf": hashlib.sha256(b"listen 8443\n").hexdigest(),
        "files:/srv/www/index.html": hashlib.sha256(b"<p>hi</p>\n").hexdigest(),
    }
    (tmp_path / "app.conf").write_text("listen 443\n")  # control: a changed file changes its entry
    again = {d.name: d.digest["sha256"] for d in resolved_dependencies(spec, text, [], [])}
    assert again["files:/etc/app.conf"] != found["files:/etc/app.conf"]
