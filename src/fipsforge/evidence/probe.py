"""`fipsforge evidence probe`: observe what live TLS endpoints accept, with sslyze, and classify it."""

from __future__ import annotations

import ipaddress
from typing import Any

from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.models import ServerScanRequest, ServerScanStatusEnum
from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum
from sslyze.scanner.scanner import Scanner
from sslyze.server_setting import ServerNetworkLocation

from fipsforge.errors import FipsforgeError
from fipsforge.evidence.tlsclass import ProbeResult, classify_group, classify_key, classify_suite, verdict_of

SUITE_COMMANDS = {
    "SSL 2.0": ScanCommand.SSL_2_0_CIPHER_SUITES,
    "SSL 3.0": ScanCommand.SSL_3_0_CIPHER_SUITES,
    "TLS 1.0": ScanCommand.TLS_1_0_CIPHER_SUITES,
    "TLS 1.1": ScanCommand.TLS_1_1_CIPHER_SUITES,
    "TLS 1.2": ScanCommand.TLS_1_2_CIPHER_SUITES,
    "TLS 1.3": ScanCommand.TLS_1_3_CIPHER_SUITES,
}
ATTRIBUTES = {
    ScanCommand.SSL_2_0_CIPHER_SUITES: "ssl_2_0_cipher_suites",
    ScanCommand.SSL_3_0_CIPHER_SUITES: "ssl_3_0_cipher_suites",
    ScanCommand.TLS_1_0_CIPHER_SUITES: "tls_1_0_cipher_suites",
    ScanCommand.TLS_1_1_CIPHER_SUITES: "tls_1_1_cipher_suites",
    ScanCommand.TLS_1_2_CIPHER_SUITES: "tls_1_2_cipher_suites",
    ScanCommand.TLS_1_3_CIPHER_SUITES: "tls_1_3_cipher_suites",
}


def parse_target(text: str) -> tuple[str | None, str, int]:
    """`[LABEL=]HOST:PORT` → (label, host, port). IPv6 hosts go in brackets: `[::1]:443`."""
    label, _, address = text.rpartition("=")
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise FipsforgeError(f"{text}: want HOST:PORT (optionally LABEL=HOST:PORT)")
    return label or None, host.strip("[]"), int(port)


def _location(host: str, port: int) -> ServerNetworkLocation:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ServerNetworkLocation(hostname=host, port=port)
    return ServerNetworkLocation(hostname=host, port=port, ip_address=host)


def _key_of(public_key: Any) -> tuple[str, int, str | None]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size, None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC", public_key.key_size, public_key.curve.name
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(public_key, dsa.DSAPublicKey):
        return "DSA", public_key.key_size, None
    return type(public_key).__name__, 0, None


def _collect(target: str, label: str | None, scan: Any) -> ProbeResult:
    result = ProbeResult(target=target, label=label)
    groups: dict[str, None] = {}
    for version, command in SUITE_COMMANDS.items():
        attempt = getattr(scan, ATTRIBUTES[command])
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
            continue
        accepted = attempt.result.accepted_cipher_suites
        if accepted:
            result.tls_versions.append(version)
        for suite in accepted:
            result.cipher_suites.append(classify_suite(version, suite.cipher_suite.name))
            key = suite.ephemeral_key
            curve = getattr(key, "curve_name", None) if key is not None else None
            if curve:
                groups[str(curve)] = None
            elif key is not None and getattr(key, "type_name", "") == "DH":
                groups[f"ffdhe{key.size}"] = None
    curves = scan.elliptic_curves
    if curves.status == ScanCommandAttemptStatusEnum.COMPLETED and curves.result is not None:
        for curve in curves.result.supported_curves:
            groups[curve.name] = None
    result.groups = [classify_group(name) for name in groups]
    info = scan.certificate_info
    if info.status == ScanCommandAttemptStatusEnum.COMPLETED and info.result is not None:
        seen: set[tuple[str, int, str | None]] = set()
        for deployment in info.result.certificate_deployments:
            chain = deployment.received_certificate_chain
            if chain:
                seen.add(_key_of(chain[0].public_key()))
        result.certificate_keys = [classify_key(*key) for key in sorted(seen, key=str)]
    result.verdict, result.reasons = verdict_of(result)
    return result


def probe(targets: list[str]) -> list[ProbeResult]:
    """Scan each `[LABEL=]HOST:PORT` with sslyze; unreachable endpoints are reported, not raised."""
    parsed = [parse_target(t) for t in targets]
    requests = []
    by_uuid: dict[Any, tuple[str, str | None]] = {}
    for text, (label, host, port) in zip(targets, parsed, strict=True):
        request = ServerScanRequest(
            server_location=_location(host, port),
            scan_commands={
                *SUITE_COMMANDS.values(),
                ScanCommand.ELLIPTIC_CURVES,
                ScanCommand.CERTIFICATE_INFO,
            },
        )
        requests.append(request)
        by_uuid[request.uuid] = (text.rpartition("=")[2], label)
    scanner = Scanner(per_server_concurrent_connections_limit=4, concurrent_server_scans_limit=4)
    scanner.queue_scans(requests)
    results: dict[Any, ProbeResult] = {}
    for scanned in scanner.get_results():
        target, label = by_uuid[scanned.uuid]
        if scanned.scan_status != ServerScanStatusEnum.COMPLETED or scanned.scan_result is None:
            error = str(scanned.connectivity_error_trace or scanned.connectivity_status or "no connection")
            failed = ProbeResult(
                target=target, label=label, reachable=False, error=error.splitlines()[-1][:300]
            )
            failed.verdict, failed.reasons = verdict_of(failed)
            results[scanned.uuid] = failed
        else:
            results[scanned.uuid] = _collect(target, label, scanned.scan_result)
    return [results[r.uuid] for r in requests]
