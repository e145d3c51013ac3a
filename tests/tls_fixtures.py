"""A throwaway TLS server certificate for the loopback probe tests: the one `fipsforge test` makes."""

from __future__ import annotations

from pathlib import Path

from fipsforge.sandbox.certificate import write_certificate as write_product_certificate


def write_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for `localhost`, valid for a day: (cert.pem, key.pem) in `directory`."""
    return write_product_certificate(directory), directory / "key.pem"
