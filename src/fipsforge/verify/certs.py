"""X.509 certificates and private keys baked into an image, parsed with `cryptography`.

A private key in an image is a finding on its own (NIST SP 800-53 SC-12 key management, SC-28
protection at rest): whoever pulls the image has it. Certificates are checked for what FIPS does not
approve (SP 800-131A Rev. 2: SHA-1 or MD5 signatures, RSA below 2048 bits) and for expiry. Trust stores
(`/etc/ssl/certs`, `/usr/share/ca-certificates`, any PEM file with many certificates) are summarised.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections import Counter
from datetime import UTC, date, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning

from fipsforge.oci.tree import Severity, VirtualTree
from fipsforge.verify.model import CaBundle, CertificateInfo, PrivateKeyInfo

RuleHit = tuple[str, Severity, str, str]
SUFFIXES = (".pem", ".crt", ".cer", ".der", ".key", ".p8")
CA_DIRS = ("etc/ssl/certs/", "usr/share/ca-certificates/", "etc/pki/ca-trust/", "etc/ca-certificates/")
BUNDLE_SIZE = 10
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
WEAK_HASHES = ("sha1", "md5")
MIN_RSA_BITS = 2048


def wanted_path(path: str, head: bytes) -> bool:
    return path.endswith(SUFFIXES) or head.startswith(b"-----BEGIN")


def _key_facts(key: object) -> tuple[str, int | None]:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey | dsa.DSAPrivateKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return "Ed448", 456
    return type(key).__name__, None


def _certificate(path: str, cert: x509.Certificate, today: date) -> CertificateInfo:
    algorithm, size = _key_facts(cert.public_key())
    digest = cert.signature_hash_algorithm
    signature = f"{digest.name if isinstance(digest, hashes.HashAlgorithm) else 'none'}-with-{cert.signature_algorithm_oid._name}"
    problems = []
    if isinstance(digest, hashes.HashAlgorithm) and digest.name in WEAK_HASHES:
        problems.append(f"{digest.name.upper()} signature")
    if algorithm == "RSA" and size is not None and size < MIN_RSA_BITS:
        problems.append(f"RSA-{size} key")
    expiry = cert.not_valid_after_utc
    if expiry.date() < today:
        problems.append(f"expired {expiry.date().isoformat()}")
    return CertificateInfo(path="/" + path, subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                           serial=f"{cert.serial_number:x}", signature_algorithm=signature, key_algorithm=algorithm,
                           key_size=size, not_after=expiry.isoformat(), problems=problems)  # fmt: skip


def _private_key(path: str, block: bytes) -> PrivateKeyInfo:
    try:
        key = serialization.load_pem_private_key(block, password=None)
    except TypeError:  # encrypted: still a key in the image, its passphrase is elsewhere (or beside it)
        return PrivateKeyInfo(path="/" + path, algorithm="unknown (encrypted)", key_size=None, encrypted=True)
    except (ValueError, UnsupportedAlgorithm):
        return PrivateKeyInfo(path="/" + path, algorithm="unparsed", key_size=None, encrypted=False)
    algorithm, size = _key_facts(key)
    return PrivateKeyInfo(path="/" + path, algorithm=algorithm, key_size=size, encrypted=False)


def _parse(path: str, data: bytes, today: date) -> tuple[list[CertificateInfo], list[PrivateKeyInfo]]:
    # Old trust-store roots with non-positive serials make cryptography warn on every parse; their
    # serial is not what the inventory is about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return _parse_blocks(path, data, today)


def _parse_blocks(path: str, data: bytes, today: date) -> tuple[list[CertificateInfo], list[PrivateKeyInfo]]:
    certs, keys = [], []
    blocks = list(PEM_BLOCK.finditer(data))
    for block in blocks:
        kind = block.group(1)
        if kind in (b"CERTIFICATE", b"TRUSTED CERTIFICATE"):
            try:
                certs.append(_certificate(path, x509.load_pem_x509_certificate(block.group(0)), today))
            except ValueError:
                continue
        elif kind.endswith(b"PRIVATE KEY"):
            keys.append(_private_key(path, block.group(0)))
    if not blocks and path.endswith((".der", ".cer", ".crt")):
        with contextlib.suppress(ValueError):
            certs.append(_certificate(path, x509.load_der_x509_certificate(data), today))
    return certs, keys


def inventory(tree: VirtualTree, today: date) -> tuple[list[CertificateInfo], list[PrivateKeyInfo], list[CaBundle], list[RuleHit]]:  # fmt: skip
    certificates: list[CertificateInfo] = []
    keys: list[PrivateKeyInfo] = []
    bundles: dict[str, list[CertificateInfo]] = {}
    for path, node in tree.files():
        data = tree.content(node)
        if data is None or not (path.endswith(SUFFIXES) or data.startswith(b"-----BEGIN")):
            continue
        certs, found_keys = _parse(path, data, today)
        keys += found_keys
        if len(certs) >= BUNDLE_SIZE or path.startswith(CA_DIRS):
            key = path if len(certs) >= BUNDLE_SIZE else path.rsplit("/", 1)[0]
            bundles.setdefault(key, []).extend(certs)
        else:
            certificates += certs
    hits: list[RuleHit] = []
    for key_info in keys:
        size = f"-{key_info.key_size}" if key_info.key_size else ""
        hits.append(("KEY001", "high", f"private key ({key_info.algorithm}{size}) baked into the image: anyone "
                     "who pulls it has the key (SC-12, SC-28)", key_info.path))  # fmt: skip
        if key_info.algorithm == "RSA" and key_info.key_size and key_info.key_size < MIN_RSA_BITS:
            hits.append(("KEY002", "medium", f"RSA-{key_info.key_size} private key: below the 2048 bits "
                         "SP 800-131A Rev. 2 requires", key_info.path))  # fmt: skip
    for cert in certificates:
        for problem in cert.problems:
            if problem.startswith("expired"):
                hits.append(("CERT003", "low", f"certificate {cert.subject}: {problem}", cert.path))
            else:
                hits.append(("CERT001", "medium", f"certificate {cert.subject}: {problem}, not FIPS-approved "
                             "(SP 800-131A Rev. 2)", cert.path))  # fmt: skip
    return certificates, keys, [_summary(p, c, today) for p, c in sorted(bundles.items()) if c], hits


def _summary(path: str, certs: list[CertificateInfo], today: date) -> CaBundle:
    expiries = sorted(c.not_after for c in certs)
    now = datetime.combine(today, datetime.min.time(), UTC).isoformat()
    return CaBundle(
        path="/" + path,
        certificates=len(certs),
        key_algorithms=dict(Counter(f"{c.key_algorithm}-{c.key_size}" for c in certs)),
        sha1_signed=sum(1 for c in certs if c.signature_algorithm.startswith("sha1")),
        expired=sum(1 for e in expiries if e < now),
        earliest_expiry=expiries[0] if expiries else None,
    )
