"""The builder refuses an image that cannot run: one line naming the binary and the missing file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.image.build import build_image
from fipsforge.image.spec import parse_spec

pytestmark = pytest.mark.slow

# Debian's openssl CLI, with libssl3t64 (which it needs) left out of the closure.
BROKEN = """
name: test/broken
packages: [openssl]
exclude: [debconf, libssl3t64]
fips_stack: false
entrypoint: ["/usr/bin/openssl"]
services:
  - name: tool
    command: ["{service}"]
"""


def _build(tmp: Path, entrypoint: str, service: str) -> None:
    text = BROKEN.replace("/usr/bin/openssl", entrypoint).replace("{service}", service)
    build_image(parse_spec(text, "broken"), text, tmp / "out")


def test_missing_shared_library_is_named(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError) as caught:
        _build(tmp_path, "/usr/bin/openssl", "/usr/bin/c_rehash")
    assert str(caught.value) == (
        "entrypoint: /usr/bin/openssl: needs libssl.so.3, which is not in the image's library path"
    )
    assert not (tmp_path / "out").exists()


def test_missing_entrypoint_and_service_are_named(tmp_path: Path) -> None:
    with pytest.raises(FipsforgeError) as caught:
        _build(tmp_path, "/usr/bin/no-such-server", "/usr/bin/c_rehash")
    assert str(caught.value) == "entrypoint: /usr/bin/no-such-server: not in the image"
    assert not (tmp_path / "out").exists()
    # A script service is followed to its #! interpreter: c_rehash is Perl, which the image lacks.
    with pytest.raises(FipsforgeError) as caught:
        _build(tmp_path, "/usr/lib/x86_64-linux-gnu/libc.so.6", "c_rehash")
    assert (
        str(caught.value)
        == "services.tool: /usr/bin/c_rehash: its interpreter /usr/bin/perl is not in the image"
    )
    assert not (tmp_path / "out").exists()
