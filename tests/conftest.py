"""Shared fixtures. Builds are cached under ~/.cache/fipsforge, so only a cold machine pays for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipsforge.stack.build import StackBuild, build_stack
from image_fixtures import node_image, openssl_image, plain_python_image, python_image  # noqa: F401


@pytest.fixture(scope="session")
def stack_build() -> StackBuild:
    """The default stack (OpenSSL 3.5 + enable-fips-jitter), built once per machine."""
    return build_stack()


@pytest.fixture(scope="session")
def built_stack(stack_build: StackBuild) -> Path:
    """The staged tree of the default stack, laid out at Debian's paths."""
    return stack_build.staging
