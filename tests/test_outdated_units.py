"""`fipsforge outdated` pieces that need no image build: clocks by hand, changelog links in a `.deb`,
and bad input (no package list, an unreachable index, a package gone from the archive)."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
from datetime import date
from pathlib import Path

import pytest

from fipsforge.apt import DebianMirrors
from fipsforge.errors import FipsforgeError
from fipsforge.image.resolve import apt_root, resolve
from fipsforge.image.spec import parse_spec
from fipsforge.outdated import changelog
from fipsforge.outdated.check import check_images
from fipsforge.outdated.clocks import clock
from fipsforge.outdated.model import ChangelogEntry
from oci_fixtures import Entry, layer, write_docker_archive, write_layout

FIX = ChangelogEntry(
    version="1.0-1+deb13u1", date=date(2026, 11, 15), urgency="high", distributions="trixie-security",
    cves=["CVE-2026-0001"],
)  # fmt: skip
# The pinned libkrb5support0 of trixie's point release, older than trixie-security's.
OLD_KRB5 = "1.21.3-5+deb13u1"


def test_clocks_checked_by_hand() -> None:
    """High (Debian urgency=high, fallback): vendor 14 days, FedRAMP 30, from 2026-11-15."""
    on_due_day = clock("CVE-2026-0001", FIX, "demo", ["libdemo1"], date(2026, 11, 29), {}, True)
    assert on_due_day.severity == "High" and "fallback" in on_due_day.severity_source
    assert on_due_day.days_open == 14 and on_due_day.vendor_due == date(2026, 11, 29)
    assert not on_due_day.overdue_vendor and not on_due_day.overdue_fedramp
    day_after = clock("CVE-2026-0001", FIX, "demo", ["libdemo1"], date(2026, 11, 30), {}, True)
    assert day_after.overdue_vendor and not day_after.overdue_fedramp  # the vendor clock runs first
    assert day_after.fedramp_due == date(2026, 12, 15)
    late = clock("CVE-2026-0001", FIX, "demo", ["libdemo1"], date(2026, 12, 16), {}, True)
    assert late.overdue_vendor and late.overdue_fedramp and late.days_open == 31
    low = clock(
        "CVE-2026-0001", FIX.model_copy(update={"urgency": "low"}), "demo", [], date(2027, 5, 14), {}, True
    )
    assert low.severity == "Low" and low.fedramp_due == date(2027, 5, 14) and not low.overdue_fedramp
    critical = clock(
        "CVE-2026-0001",
        FIX,
        "demo",
        [],
        date(2026, 11, 23),
        {"CVE-2026-0001": ("Critical", "scanner: x")},
        True,
    )
    assert critical.severity == "Critical" and critical.vendor_due == date(2026, 11, 22)
    assert critical.overdue_vendor and critical.severity_source == "scanner: x"


CHANGELOG = """demo (1.0-1+deb13u1) trixie-security; urgency=high

  * Fix CVE-2026-0001 and CVE-2026-0002 (out-of-bounds read).

 -- Maintainer <m@example.org>  Sun, 15 Nov 2026 10:00:00 +0000

demo (1.0-1) unstable; urgency=medium

  * Initial release.

 -- Maintainer <m@example.org>  Mon, 02 Feb 2026 10:00:00 +0000
"""


def _deb(tmp: Path, package: str, doc: dict[str, str | bytes]) -> Path:
    """A .deb made by dpkg-deb; `doc` maps a path under usr/share/doc to file bytes or a symlink target."""
    root = tmp / package
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: 1.0-1+deb13u1\nArchitecture: all\nMaintainer: m <m@example.org>\n"
        "Description: demo\n"
    )
    for relative, content in doc.items():
        path = root / "usr/share/doc" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.symlink_to(content)
    (root / "usr/share/doc").mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(tmp / f"{package}.deb")],
                   check=True, capture_output=True)  # fmt: skip
    return tmp / f"{package}.deb"


def test_changelog_from_a_deb_and_its_links(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    real = _deb(tmp_path, "demo", {"demo/changelog.Debian.gz": gzip.compress(CHANGELOG.encode())})
    parsed = changelog.read_deb(real, "demo", "aa" * 32, cache)
    assert parsed.entries is not None and [e.version for e in parsed.entries] == ["1.0-1+deb13u1", "1.0-1"]
    assert parsed.entries[0].cves == ["CVE-2026-0001", "CVE-2026-0002"] and parsed.entries[1].cves == []
    assert parsed.entries[0].date == date(2026, 11, 15) and parsed.entries[0].urgency == "high"
    assert changelog.cached(cache, "aa" * 32) == parsed  # cached by the .deb's SHA-256
    assert changelog.cached(cache, "bb" * 32) is None

    linked_dir = _deb(tmp_path, "libdemo1", {"libdemo1": "demo"})
    assert changelog.read_deb(linked_dir, "libdemo1", "cc" * 32, cache).points_to == "demo"
    linked_file = _deb(tmp_path, "demo-bin", {"demo-bin/changelog.Debian.gz": "../demo/changelog.Debian.gz"})
    assert changelog.read_deb(linked_file, "demo-bin", "dd" * 32, cache).points_to == "demo"
    none = _deb(tmp_path, "demo-empty", {"demo-empty/copyright": b"x"})
    assert changelog.read_deb(none, "demo-empty", "ee" * 32, cache) == changelog.DebChangelog(entries=[])


def _dpkg_layout(tmp: Path, stanzas: list[tuple[str, str]], name: str = "oci") -> Path:
    status = "".join(f"Package: {p}\nStatus: install ok installed\nVersion: {v}\n\n" for p, v in stanzas)
    root = tmp / name
    write_layout(
        root, [layer([Entry("var/lib/dpkg", "dir"), Entry("var/lib/dpkg/status", data=status.encode())])]
    )
    return root


def test_an_image_without_a_package_list_is_a_clear_error(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    write_layout(bare, [layer([Entry("etc", "dir"), Entry("etc/hostname", data=b"x\n")])])
    with pytest.raises(
        FipsforgeError,
        match=r"bare: no package list \(no CycloneDX SBOM referrer and no /var/lib/dpkg/status\)",
    ):
        check_images([str(bare)], today=date(2026, 12, 1))
    archive = tmp_path / "bare.tar"
    write_docker_archive(archive, [layer([Entry("etc/hostname", data=b"x\n")])])
    with pytest.raises(FipsforgeError, match=r"bare\.tar: no package list"):
        check_images([str(archive)], today=date(2026, 12, 1))


def test_an_unreachable_index_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FIPSFORGE_CACHE", str(tmp_path / "cache")
    )  # keep the dead mirror's root out of the cache
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    sources = tmp_path / "sources.list"
    sources.write_text(f"deb http://127.0.0.1:{port}/debian trixie main\n")
    mirrors = DebianMirrors(archive=f"http://127.0.0.1:{port}/debian", found_in=sources)
    image = _dpkg_layout(tmp_path, [("libc6", "2.41-12")])
    with pytest.raises(
        FipsforgeError,
        match=rf"sources\.list: the Debian mirror http://127\.0\.0\.1:{port}/debian does not serve trixie",
    ):
        check_images([str(image)], today=date(2026, 12, 1), mirrors=mirrors)


def test_a_package_gone_from_the_archive_is_reported(tmp_path: Path) -> None:
    image = _dpkg_layout(tmp_path, [("fipsforge-test-gone", "1.0-1"), ("libkrb5support0", OLD_KRB5)])
    (report,) = check_images([str(image)], today=date(2026, 12, 1)).images
    assert report.package_list == "/var/lib/dpkg/status" and report.packages_checked == 2
    assert [(m.name, m.version) for m in report.missing] == [("fipsforge-test-gone", "1.0-1")]
    assert "not in Debian trixie any more" in report.missing[0].reason
    assert [p.name for p in report.behind] == ["libkrb5support0"]  # the rest is still checked
    assert report.clocks and all(
        c.fix_date > date(2025, 8, 9) for c in report.clocks
    )  # after trixie's release
    json.loads(report.model_dump_json())


def test_a_pin_the_archive_lacks_is_one_line() -> None:
    spec = parse_spec("name: t/pin\npackages: [libkrb5support0=9.9-1]\nfips_stack: false\n", "pin.yaml")
    with pytest.raises(
        FipsforgeError,
        match=r"^packages: libkrb5support0=9\.9-1: Debian trixie has no such version \(available: .*1\.21\.3-5\+deb13u1",
    ) as caught:
        resolve(spec, apt_root())
    assert "\n" not in str(caught.value)
    pinned = parse_spec(
        f"name: t/pin\npackages: [libkrb5support0={OLD_KRB5}]\nfips_stack: false\n", "pin.yaml"
    )
    chosen = {p.name: p.version for p in resolve(pinned, apt_root()).packages}
    assert chosen["libkrb5support0"] == OLD_KRB5  # not the candidate
    unpinned = parse_spec("name: t/pin\npackages: [libkrb5support0]\nfips_stack: false\n", "pin.yaml")
    assert {p.name: p.version for p in resolve(unpinned, apt_root()).packages}["libkrb5support0"] != OLD_KRB5
