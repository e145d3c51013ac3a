"""Registry input: Debian's docker-registry on a loopback port, images pushed with skopeo.

Attached SBOMs are found under cosign's legacy `sha256-<hex>.sbom` tag, under the OCI 1.1 referrers
tag schema (`sha256-<hex>` naming an index of artifacts whose subject is the image), and through the
OCI 1.1 referrers API, which Debian's docker-registry lacks: a small read-only registry over a layout
(`oci_fixtures.layout_registry`) serves that case.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.oci.reader import open_image
from fipsforge.verify.analyze import verify_image
from oci_fixtures import Entry, Layout, layer, layout_registry, loopback_registry, spdx_document

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
    reason="docker-registry and skopeo are installed by scripts/bootstrap.sh",
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with loopback_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def _push(source: str, dest: str, all_manifests: bool = False) -> None:
    extra = ["--all"] if all_manifests else []
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *extra, source, f"docker://{dest}"],
                   check=True, capture_output=True)  # fmt: skip


def _image(tmp: Path, name: str) -> tuple[Layout, str]:
    layout = Layout(tmp / name)
    digest = layout.add_image([layer([Entry("etc/os-release", data=f"ID={name}\n".encode())])], tag="v1")
    return layout, digest


def test_registry_image_with_cosign_sbom_tag(registry: str, tmp_path: Path) -> None:
    layout, digest = _image(tmp_path, "signed")
    _push(f"oci:{layout.root}:v1", f"{registry}/team/signed:v1")
    sbom_layout = Layout(tmp_path / "sbom")
    empty = sbom_layout.blob(b"{}")
    payload = spdx_document("3.4.0-r2")
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "text/spdx+json", "digest": sbom_layout.blob(payload), "size": len(payload)}],
    }  # fmt: skip
    sbom_layout._add_manifest(manifest, "sbom")
    _push(f"oci:{sbom_layout.root}:sbom", f"{registry}/team/signed:{digest.replace(':', '-')}.sbom")

    report = verify_image(f"docker://{registry}/team/signed:v1", tmp_path)
    assert report.digest == digest
    assert report.sboms and report.sboms[0].startswith("cosign-tag:")
    assert report.verdict == "pass" and report.kernel_independent == "yes"
    # a bare `host/name:tag`, as Kubernetes manifests write it, is read from the registry too
    assert verify_image(f"{registry}/team/signed:v1", tmp_path).digest == digest
    # negative control: the same image without the attached SBOM names no FIPS module
    other, _ = _image(tmp_path, "unsigned")
    _push(f"oci:{other.root}:v1", f"{registry}/team/unsigned:v1")
    bare = verify_image(f"docker://{registry}/team/unsigned:v1", tmp_path)
    assert bare.sboms == [] and bare.verdict == "fail"


def test_registry_referrers_tag_schema(registry: str, tmp_path: Path) -> None:
    layout, digest = _image(tmp_path, "referred")
    _push(f"oci:{layout.root}:v1", f"{registry}/team/referred:v1")
    artifact_digest = layout.add_artifact(
        digest, "application/spdx+json", spdx_document("3.4.0-r1"), "application/spdx+json"
    )
    artifact = next(m for m in layout.index if m["digest"] == artifact_digest)
    layout.add_index([artifact], "referrers")
    layout.write_index()
    _push(
        f"oci:{layout.root}:referrers",
        f"{registry}/team/referred:{digest.replace(':', '-')}",
        all_manifests=True,
    )
    with open_image(f"docker://{registry}/team/referred:v1", tmp_path) as image:
        [found] = image.referrers()
        assert (found.via, found.artifact_type) == ("oci-subject", "application/spdx+json")
    report = verify_image(f"docker://{registry}/team/referred:v1", tmp_path)
    assert report.kernel_independent == "no"
    assert any("libcrypto3 3.4.0-r1" in reason for reason in report.kernel_independent_reasons)


def test_missing_registry_image_is_a_one_line_error(registry: str, tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError, match="cannot copy from the registry"):
        open_image(f"docker://{registry}/team/absent:v1", tmp_path)


@pytest.mark.parametrize("api", [True, False])
def test_registry_referrers_api(api: bool, tmp_path: Path) -> None:
    """A registry with the OCI 1.1 referrers API; the negative control is the same registry without it."""
    layout, digest = _image(tmp_path, "api")
    layout.add_artifact(digest, "application/spdx+json", spdx_document("3.4.0-r1"), "application/spdx+json")
    with layout_registry(layout.root, referrers_api=api) as address:
        report = verify_image(f"docker://{address}/team/api:v1", tmp_path)
    assert report.digest == digest
    if api:
        assert report.sboms and report.sboms[0].startswith("oci-subject:")
        assert any("libcrypto3 3.4.0-r1" in reason for reason in report.kernel_independent_reasons)
    else:
        assert report.sboms == []
