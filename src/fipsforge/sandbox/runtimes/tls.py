"""TLS material and a loopback HTTPS server for the client probes (curl, PHP streams, Node).

The sandbox's network namespace is private to each run, so the server runs in the same run as the client:
fipsforge's probe program serves HTTPS with the image's own libssl on 127.0.0.1 while the client runs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from fipsforge.sandbox.runtimes.libcrypto import PROBE, probe_binds
from fipsforge.sandbox.shims import SANDBOX_DIR

TLS_DIR = f"{SANDBOX_DIR}/tls"
CERT, KEY = f"{TLS_DIR}/cert.pem", f"{TLS_DIR}/key.pem"
PORT = 8443
URL = f"https://127.0.0.1:{PORT}/"
BODY = "fipsforge hello"


def tls_binds(scratch: Path) -> dict[Path, str]:
    """A fresh P-256 certificate for 127.0.0.1 and localhost (ECDSA with SHA-256), and the probe program."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = scratch / "tls"
    if not (directory / "key.pem").is_file():
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=12))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return {directory: TLS_DIR, **probe_binds()}


def served(client: list[str]) -> list[str]:
    """`client` run while the probe program serves HTTPS on 127.0.0.1:PORT with the image's libssl."""
    return [PROBE, "serve", CERT, KEY, str(PORT), "--", *client]
