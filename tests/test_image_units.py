"""Fast checks of the image spec, the reproducible layer writer and the rootfs helpers."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.image.rootfs import resolve_in_root, trimmed
from fipsforge.image.spec import (
    BUILTIN_SPECS,
    SOURCE_BUILDS,
    builtin_spec_dir,
    builtin_spec_text,
    load_spec,
    parse_spec,
    stock_control_text,
)
from fipsforge.oci.writer import LayoutWriter, write_layer

GOOD = "name: test/x\npackages: [libc6]\n"


def test_builtin_specs_parse() -> None:
    for name in BUILTIN_SPECS:
        spec, _text = load_spec(name)
        assert spec.fips_stack and spec.user.uid == 65532
    assert load_spec("python")[0].cpython


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: test/x\npackages: [libc6]\nuser: {uid: -1}\n", "spec.yaml: user.uid: "),
        ("name: test/x\npackages: [libc6]\npackges: [x]\n", "spec.yaml: packges: "),
        ("name: test/x\npackages: []\n", "spec.yaml: packages: "),
        ("name: Test X\npackages: [libc6]\n", "spec.yaml: name: "),
        ("name: test/x\npackages: [Bad_Name]\n", "spec.yaml: packages.0: not a Debian package name"),
        ("name: [unclosed\n", "spec.yaml: not valid YAML (line"),
        ("- a list\n", "spec.yaml: the spec must be a YAML mapping"),
        (
            "name: test/x\npackages: [libc6]\nfips_stack: false\nlibsodium: true\n",
            "spec.yaml: libsodium: fipsforge's libsodium build needs fips_stack: true",
        ),
    ],
)
def test_malformed_spec_is_one_line_naming_the_field(text: str, message: str) -> None:
    assert parse_spec(GOOD, "spec.yaml").name == "test/x"  # control: the good spec passes
    with pytest.raises(FipsforgeError) as caught:
        parse_spec(text, "spec.yaml")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_every_source_build_field_has_its_replaced_packages_and_its_overlay() -> None:
    from fipsforge.image.overlays import SOURCE_BUILD_OVERLAYS
    from fipsforge.image.resolve import SOURCE_BUILD_REPLACES

    assert set(SOURCE_BUILD_REPLACES) == set(SOURCE_BUILDS) == set(SOURCE_BUILD_OVERLAYS)
    assert parse_spec(GOOD, "spec.yaml").source_builds == []
    php = load_spec("php")[0]
    assert php.source_builds == ["libsodium"] and load_spec("python")[0].source_builds == ["cpython"]


def test_stock_control_drops_the_stack_and_the_source_builds() -> None:
    for name in BUILTIN_SPECS:
        text = builtin_spec_text(name)
        stock = parse_spec(stock_control_text(text), f"{name}-stock", builtin_spec_dir())
        fips = parse_spec(text, name, builtin_spec_dir())
        assert not stock.fips_stack and not stock.cpython and not stock.libsodium
        assert stock.packages == fips.packages and stock.services == fips.services
    assert load_spec("php")[0].libsodium and load_spec("python")[0].cpython  # the controls had them to drop
    with pytest.raises(FipsforgeError, match="no 'fips_stack: true' line"):
        stock_control_text(GOOD)


def test_missing_spec_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError, match=r"nope\.yaml: no such spec file"):
        load_spec(str(tmp_path / "nope.yaml"))


def test_trim_rules_keep_licences() -> None:
    assert trimmed("/usr/share/man/man1/ls.1.gz")
    assert trimmed("/usr/share/locale/de/LC_MESSAGES/x.mo")
    assert trimmed("/usr/share/doc/libc6/changelog.Debian.gz")
    assert not trimmed("/usr/share/doc/libc6/copyright")
    assert not trimmed("/usr/share/doc/libc6")
    assert not trimmed("/usr/bin/openssl")


def test_absolute_symlink_stays_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib/ssl").mkdir(parents=True)
    (root / "etc/ssl/certs").mkdir(parents=True)
    os.symlink("/etc/ssl/certs", root / "usr/lib/ssl/certs")
    placed = resolve_in_root(root, "/usr/lib/ssl/certs/x.pem")
    assert placed == root / "etc/ssl/certs/x.pem"
    # Control: the naive host join follows the link out of the root.
    assert (root / "usr/lib/ssl/certs").resolve() == Path("/etc/ssl/certs")


def _tree(root: Path, content: bytes) -> None:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(content)
    os.symlink("usr/bin", root / "bin")
    os.link(root / "usr/bin/tool", root / "usr/bin/tool2")
    (root / "z").write_text("last")


def test_layer_is_reproducible_and_sorted(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for root in (a, b, c):
        _tree(root, b"same" if root != c else b"different")
    os.utime(b / "z", (1, 1))  # a different mtime on disk must not matter
    la, lb, lc = (write_layer(r, tmp_path / f"blobs-{r.name}", mtime=1700000000) for r in (a, b, c))
    assert la.descriptor.digest == lb.descriptor.digest and la.diff_id == lb.diff_id
    assert lc.descriptor.digest != la.descriptor.digest  # control: content changes the digest
    blob = tmp_path / "blobs-a" / la.descriptor.digest.split(":")[1]
    assert blob.read_bytes()[:2] == b"\x1f\x8b" and blob.read_bytes()[4:8] == b"\0\0\0\0"  # no gzip mtime
    with tarfile.open(blob) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["bin", "usr", "usr/bin", "usr/bin/tool", "usr/bin/tool2", "z"]
    assert {m.mtime for m in members} == {1700000000} and {m.uname for m in members} == {""}
    assert members[4].islnk() and members[4].linkname == "usr/bin/tool"


def test_layout_index_lists_image_and_referrer(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root/f").write_text("x")
    writer = LayoutWriter(tmp_path / "oci")
    layer = writer.add_layer(tmp_path / "root", 0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }
    image = writer.add_image(config, [layer], {}, ref_name="t")
    writer.add_referrer(image, "application/spdx+json", b"{}", "sbom.spdx.json", {})
    writer.finish()
    index = json.loads((tmp_path / "oci/index.json").read_text())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "t"}
    ref = index["manifests"][1]
    manifest = json.loads((tmp_path / "oci/blobs/sha256" / ref["digest"].split(":")[1]).read_text())
    assert manifest["subject"]["digest"] == image.digest and ref["artifactType"] == "application/spdx+json"
