"""TLS material and a loopback HTTPS server for the client probes (curl, PHP streams, Node).

The sandbox's network namespace is private to each run, so the server runs in the same run as the client:
fipsforge's probe program serves HTTPS with the image's own libssl on 127.0.0.1 while the client runs.
"""

from __future__ import annotations

from pathlib import Path

from fipsforge.sandbox.certificate import write_certificate
from fipsforge.sandbox.runtimes.libcrypto import PROBE, probe_binds
from fipsforge.sandbox.shims import SANDBOX_DIR

TLS_DIR = f"{SANDBOX_DIR}/tls"
CERT, KEY = f"{TLS_DIR}/cert.pem", f"{TLS_DIR}/key.pem"
PORT = 8443
URL = f"https://127.0.0.1:{PORT}/"
BODY = "fipsforge hello"


def tls_binds(scratch: Path) -> dict[Path, str]:
    """A fresh P-256 certificate for 127.0.0.1 and localhost (one per scratch directory), and the probe program."""
    directory = scratch / "tls"
    if not (directory / "key.pem").is_file():
        directory.mkdir(parents=True, exist_ok=True)
        write_certificate(directory)
    return {directory: TLS_DIR, **probe_binds()}


def served(client: list[str]) -> list[str]:
    """`client` run while the probe program serves HTTPS on 127.0.0.1:PORT with the image's libssl."""
    return [PROBE, "serve", CERT, KEY, str(PORT), "--", *client]
