"""Image fixtures: built once per session into a temporary directory (inputs cached under cache_root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.image.build import ImageResult, build_image
from fipsforge.image.spec import load_spec, parse_spec
from fipsforge.stack.check import SCRATCH

# The same Python as the python image, from plain Debian packages: no FIPS stack, no CPython build.
PLAIN_PYTHON_SPEC = """
name: test/plain-python
tag: control
packages: [base-files, python3.13, ca-certificates]
exclude: [debconf, mawk]
fips_stack: false
entrypoint: ["/usr/bin/python3.13"]
"""

# Debian's nodejs over the fipsforge stack: node links our libcrypto and reads openssl.cnf's nodejs_conf.
NODE_SPEC = """
name: test/node
tag: fips
packages: [base-files, nodejs, ca-certificates]
exclude: [debconf, mawk]
fips_stack: true
entrypoint: ["/usr/bin/node"]
"""


class BuiltImage:
    def __init__(self, result: ImageResult, rootfs: Path) -> None:
        self.result = result
        self.rootfs = rootfs
        self.layout = result.layout


def _build(tmp: Path, name: str, spec_text: str | None = None) -> BuiltImage:
    if spec_text is None:
        spec, text = load_spec(name)
    else:
        spec, text = parse_spec(spec_text, name), spec_text
    rootfs = tmp / f"{name}-rootfs"
    result = build_image(spec, text, tmp / f"{name}-oci", keep_rootfs=rootfs)
    # What a container runtime provides and the image leaves out: /etc/hostname, and the mount point of
    # the checks' scratch directory. Added to this test copy of the rootfs only, not to the image.
    (rootfs / "etc/hostname").write_text("fipsforge-test\n")
    (rootfs / SCRATCH.lstrip("/")).mkdir()
    return BuiltImage(result, rootfs)


@pytest.fixture(scope="session")
def plain_python_image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """Debian's own python3.13 with Debian's OpenSSL: the negative control of the python image."""
    return _build(tmp_path_factory.mktemp("images"), "plain-python", PLAIN_PYTHON_SPEC)


@pytest.fixture(scope="session")
def openssl_image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    return _build(tmp_path_factory.mktemp("images"), "openssl")


@pytest.fixture(scope="session")
def python_image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    return _build(tmp_path_factory.mktemp("images"), "python")


@pytest.fixture(scope="session")
def node_image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """Debian's nodejs over the fipsforge stack (Node links our libcrypto)."""
    return _build(tmp_path_factory.mktemp("images"), "node", NODE_SPEC)
