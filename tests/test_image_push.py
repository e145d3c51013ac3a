"""`fipsforge push`: round-trip an image and its SBOM referrers through Debian's docker-registry."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.image.build import build_image
from fipsforge.image.spec import parse_spec
from fipsforge.oci.push import Reference, push_layout, referrers_tag
from oci_fixtures import loopback_registry

pytestmark = pytest.mark.slow

SPEC = """
name: test/push
tag: t1
packages: [base-files, libc6]
exclude: [mawk]
fips_stack: false
"""
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "registry").mkdir()
    with loopback_registry(tmp_path / "registry") as address:
        yield address


def _get(url: str, accept: str) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read(), dict(response.headers)


def test_push_round_trips_image_and_sboms(tmp_path: Path, registry: str) -> None:
    result = build_image(parse_spec(SPEC, "push"), SPEC, tmp_path / "oci")
    pushed = push_layout(tmp_path / "oci", f"{registry}/fipsforge/test:t1")
    assert pushed.manifest_digest == result.manifest_digest
    base = f"http://{registry}/v2/fipsforge/test"
    body, headers = _get(f"{base}/manifests/t1", MANIFEST)
    assert headers["Docker-Content-Digest"] == result.manifest_digest
    assert body == (tmp_path / "oci/blobs/sha256" / result.manifest_digest[7:]).read_bytes()
    # The SBOMs come back through the referrers tag (or API) with the same bytes as in the layout.
    if pushed.referrers_api:
        index, _ = _get(f"{base}/referrers/{result.manifest_digest}", INDEX)
    else:
        index, _ = _get(f"{base}/manifests/{referrers_tag(result.manifest_digest)}", INDEX)
    listed = {m["artifactType"]: m["digest"] for m in json.loads(index)["manifests"]}
    assert listed == result.referrers
    for digest in listed.values():
        manifest = json.loads(_get(f"{base}/manifests/{digest}", MANIFEST)[0])
        assert manifest["subject"]["digest"] == result.manifest_digest
        sbom = _get(f"{base}/blobs/{manifest['layers'][0]['digest']}", "*/*")[0]
        assert sbom == (tmp_path / "oci/blobs/sha256" / manifest["layers"][0]["digest"][7:]).read_bytes()
    skopeo = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{registry}/fipsforge/test:t1"],
                            capture_output=True, text=True)  # fmt: skip
    assert skopeo.returncode == 0 and json.loads(skopeo.stdout)["Digest"] == result.manifest_digest
    # Pushing again (through the CLI) uploads no blob twice and keeps one entry per referrer.
    fipsforge = shutil.which("fipsforge") or str(Path(__file__).parents[1] / ".venv/bin/fipsforge")
    done = subprocess.run([fipsforge, "push", str(tmp_path / "oci"), f"{registry}/fipsforge/test:t1", "--json"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["blobs_uploaded"] == 0
    index, _ = _get(f"{base}/manifests/{referrers_tag(result.manifest_digest)}", INDEX)
    assert len(json.loads(index)["manifests"]) == len(result.referrers) or pushed.referrers_api


def test_push_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError, match=r"^fipsforge/test: not a registry reference"):
        Reference.parse("fipsforge/test")
    with pytest.raises(FipsforgeError, match=r"no index\.json"):
        push_layout(tmp_path, "127.0.0.1:9/fipsforge/test")
    assert Reference.parse("127.0.0.1:5000/a/b").base.startswith("http://")
    assert Reference.parse("fipsforge.invalid:5000/a/b:v1").base.startswith("https://")  # control
