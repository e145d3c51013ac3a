"""The services an image declares, started in the sandbox and probed over TLS by fipsforge's own client.

For each service and each entropy mode: start its command (as the image's user, loopback networking
only, a fresh ECDSA P-256 certificate read-only at `TLS_DIR`), wait a bounded time for its TLS port,
then five handshakes from outside the image, each its own case:

- TLS 1.3 with an AES-GCM suite succeeds, verifying chain and host name (PostgreSQL's verify-full);
- TLS 1.2 ECDHE with AES-GCM succeeds, when the service offers TLS 1.2 at all;
- a client offering only ChaCha20-Poly1305, one offering only X25519, and TLS 1.0/1.1 are refused.

The client reaches 127.0.0.1 of the sandbox by creating its sockets inside the sandbox's network
namespace (`setns` on a short-lived thread), so nothing listens on the host. Python's `ssl` makes the
handshakes that must succeed (it verifies like a real client); nassl makes the refused ones, because
only it can restrict TLS 1.3 suites and groups and still speak TLS 1.0/1.1. Every getrandom call of the
server is kept and attributed: crypto-relevant kernel seeding fails the service's `no-kernel-seeding`.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.image.rootfs import resolve_in_root
from fipsforge.image.spec import ServiceSpec
from fipsforge.oci.unpack import UnpackedImage
from fipsforge.sandbox import (
    BackgroundSandbox,
    EntropyMode,
    RandomnessCall,
    SandboxSetup,
    run_sandboxed,
    start_sandboxed,
)
from fipsforge.sandbox.certificate import HOST_NAME, write_certificate
from fipsforge.stack.check import Expectation

TLS_DIR = "/run/fipsforge/tls"
STATE_DIR = "/tmp/fipsforge-state"
"""Writable, shared by a service's `setup` and the service (the image root is read-only)."""
HANDSHAKE_TIMEOUT = 5.0
CLONE_NEWNET = 0x40000000
SSL_REQUEST = struct.pack("!II", 8, 80877103)
"""PostgreSQL's SSLRequest: length 8, code 1234.5679 (protocol documentation, "SSL Session Encryption")."""
TLS13_AES_GCM = r"^TLS_AES_(128|256)_GCM_SHA(256|384)$"
TLS12_ECDHE_AES_GCM = r"^ECDHE-(ECDSA|RSA)-AES(128|256)-GCM-SHA(256|384)$"
NOT_OFFERED = re.compile(r"UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION|WRONG_VERSION_NUMBER|NO_PROTOCOLS_AVAILABLE")


class ServiceCase(BaseModel):
    """One service check, before the suite turns it into a `CaseResult`."""

    id: str
    group: str
    description: str
    mode: EntropyMode
    expect: Expectation
    passed: bool | None
    """None: not applicable (skipped)."""
    detail: str
    kernel_seeding_calls: int = 0


class ServiceRun(BaseModel):
    cases: list[ServiceCase]
    calls: list[RandomnessCall]
    mode: EntropyMode
    service: str


_libc = ctypes.CDLL(None, use_errno=True)


def connect_in_netns(netns: Path, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:`port` of the network namespace `netns` (setns on its own thread)."""
    outcome: list[socket.socket | OSError] = []

    def inside() -> None:
        try:
            with netns.open("rb") as handle:
                if _libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            outcome.append(socket.create_connection(("127.0.0.1", port), timeout=HANDSHAKE_TIMEOUT))
        except OSError as error:
            outcome.append(error)

    worker = threading.Thread(target=inside)
    worker.start()
    worker.join()
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    return outcome[0]


class _Client:
    """Opens connections to one service, with the PostgreSQL preamble where the service needs it."""

    def __init__(self, sandbox: BackgroundSandbox, service: ServiceSpec, cafile: Path) -> None:
        assert service.tls_port is not None
        self.sandbox, self.service, self.port, self.cafile = sandbox, service, service.tls_port, cafile

    @contextlib.contextmanager
    def raw(self) -> Iterator[socket.socket]:
        sock = connect_in_netns(self.sandbox.netns, self.port)
        try:
            if self.service.protocol == "postgres":
                sock.sendall(SSL_REQUEST)
                answer = sock.recv(1)
                if answer != b"S":
                    raise OSError(f"PostgreSQL answered {answer!r} to SSLRequest, not 'S' (ssl is off)")
            yield sock
        finally:
            sock.close()

    def verified(self, version: ssl.TLSVersion, ciphers: str | None = None) -> str:
        """A verify-full handshake (chain + host name) at exactly `version`; returns 'version cipher'."""
        context = ssl.create_default_context(cafile=str(self.cafile))
        context.minimum_version = context.maximum_version = version
        if ciphers:
            context.set_ciphers(ciphers)
        with self.raw() as sock, context.wrap_socket(sock, server_hostname=HOST_NAME) as tls:
            cipher = tls.cipher()
            return f"{tls.version()} {cipher[0] if cipher else '?'}"

    def restricted(
        self, suites: str | None, ciphers: str, groups: list[str] | None, legacy: str | None
    ) -> str:
        """A handshake offering only what is given (nassl); returns the cipher it agreed on."""
        from nassl.ephemeral_key_info import OpenSslEcNidEnum
        from nassl.legacy_ssl_client import LegacySslClient
        from nassl.ssl_client import OpenSslVerifyEnum, OpenSslVersionEnum, SslClient

        with self.raw() as sock:
            sock.settimeout(HANDSHAKE_TIMEOUT)
            client: SslClient | LegacySslClient
            if legacy is not None:
                client = LegacySslClient(underlying_socket=sock, ssl_version=OpenSslVersionEnum[legacy],
                                         ssl_verify=OpenSslVerifyEnum.NONE)  # fmt: skip
            else:
                client = SslClient(underlying_socket=sock, ssl_verify=OpenSslVerifyEnum.NONE)
                if suites is not None:
                    client.set_ciphersuites(suites)
                if groups is not None:
                    client.set_groups([OpenSslEcNidEnum[g] for g in groups])
            client.set_cipher_list(ciphers)
            client.set_tlsext_host_name(HOST_NAME)
            try:
                client.do_handshake()
                return client.get_current_cipher_name()
            finally:
                client.shutdown() if client.is_handshake_completed() else None


# id suffix -> (description, suites, TLS 1.2 ciphers, groups, legacy protocol)
REFUSALS = {
    "chacha20-refused": ("a client offering only ChaCha20-Poly1305 (TLS 1.3 and 1.2) is refused",
                         "TLS_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
                         None, None),
    "x25519-refused": ("a client offering only the X25519 group is refused",
                       "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "ECDHE+AESGCM", ["X25519"], None),
    "tls11-refused": ("TLS 1.1 is refused", None, "ECDHE+AES:AES", None, "TLSV1_1"),
    "tls10-refused": ("TLS 1.0 is refused", None, "ECDHE+AES:AES", None, "TLSV1"),
}  # fmt: skip


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")[:200]


def _probe_cases(client: _Client, case: Callable[..., None]) -> None:
    try:
        got = client.verified(ssl.TLSVersion.TLSv1_3)
        case("tls13-aes-gcm", "TLS 1.3 verify-full handshake agrees on an AES-GCM suite", Expectation.SUCCEEDS,
             re.search(TLS13_AES_GCM, got.split()[-1]) is not None, got)  # fmt: skip
    except (OSError, ssl.SSLError) as error:
        case("tls13-aes-gcm", "TLS 1.3 verify-full handshake agrees on an AES-GCM suite", Expectation.SUCCEEDS,
             False, _error_text(error))  # fmt: skip
    description = "TLS 1.2 ECDHE AES-GCM verify-full handshake (if the service offers TLS 1.2)"
    try:
        got = client.verified(ssl.TLSVersion.TLSv1_2, "ECDHE+AESGCM")
        case("tls12-ecdhe-aes-gcm", description, Expectation.SUCCEEDS,
             re.search(TLS12_ECDHE_AES_GCM, got.split()[-1]) is not None, got)  # fmt: skip
    except (OSError, ssl.SSLError) as error:
        offered = NOT_OFFERED.search(str(error)) is None
        case("tls12-ecdhe-aes-gcm", description, Expectation.SUCCEEDS, False if offered else None,
             _error_text(error) if offered else f"TLS 1.2 not offered ({_error_text(error)})")  # fmt: skip
    for suffix, (text, suites, ciphers, groups, legacy) in REFUSALS.items():
        try:
            agreed = client.restricted(suites, ciphers, groups, legacy)
            case(suffix, text, Expectation.REFUSED, False, f"not refused: agreed on {agreed}")
        except ConnectionRefusedError as error:
            case(suffix, text, Expectation.REFUSED, False, f"no connection: {_error_text(error)}")
        except Exception as error:  # nassl raises its own OpenSSLError and plain errors for alerts
            case(suffix, text, Expectation.REFUSED, True, f"refused: {_error_text(error)}")


def _wait_listening(sandbox: BackgroundSandbox, port: int, timeout: float) -> str | None:
    """None once the port accepts connections; else why not (the service exited, or the time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sandbox.running():
            return f"exited before listening on {port}: {sandbox.stderr_tail()}"
        try:
            connect_in_netns(sandbox.netns, port).close()
            return None
        except OSError:
            time.sleep(0.1)
    return f"not listening on 127.0.0.1:{port} after {timeout:g}s: {sandbox.stderr_tail()}"


def image_user(image: UnpackedImage) -> tuple[int, int]:
    """The image's `User` as numbers (a name is looked up in the image's /etc/passwd); root if unset."""
    user, _, group = image.config.user.partition(":")
    if not user:
        return 0, 0
    if user.isdigit():
        return int(user), int(group) if group.isdigit() else int(user)
    passwd = resolve_in_root(image.rootfs, "/etc/passwd", follow_last=True)
    for line in passwd.read_text().splitlines() if passwd.is_file() else []:
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == user:
            return int(fields[2]), int(group) if group.isdigit() else int(fields[3])
    raise FipsforgeError(f"{image.ref}: config User {image.config.user!r} is not in the image's /etc/passwd")


def probe_service(
    image: UnpackedImage,
    service: ServiceSpec,
    mode: EntropyMode,
    binds: dict[Path, str],
    env: dict[str, str],
    scratch: Path,
) -> ServiceRun:
    """Start one service in one mode, run its handshakes, stop it; its cases and randomness calls."""
    group = f"service {service.name}"
    cases: list[ServiceCase] = []

    def case(suffix: str, description: str, expect: Expectation, passed: bool | None, detail: str) -> None:
        cases.append(ServiceCase(id=f"{service.name}-{suffix}", group=group, description=description,
                                 mode=mode, expect=expect, passed=passed, detail=detail))  # fmt: skip

    if service.tls_port is None:
        case("tls", "TLS handshakes", Expectation.SUCCEEDS, None, "no tls_port declared: not probed")
        return ServiceRun(cases=cases, calls=[], mode=mode, service=service.name)
    tls = scratch / f"tls-{service.name}-{mode.value}"
    tls.mkdir()
    cafile = write_certificate(tls)
    resolve_in_root(image.rootfs, TLS_DIR).mkdir(parents=True, exist_ok=True)  # mount point in the copy
    state = scratch / f"state-{service.name}-{mode.value}"
    state.mkdir()
    where = SandboxSetup(env=env, binds={**binds, tls: TLS_DIR}, writable={state: STATE_DIR},
                         cwd=image.config.workdir or "/", user=image_user(image))  # fmt: skip
    if service.setup:
        done = run_sandboxed(image.rootfs, service.setup, mode=mode, timeout=service.start_timeout,
                             traced=False, env=where.env, binds=where.binds, writable=where.writable,
                             cwd=where.cwd, user=where.user)  # fmt: skip
        if not done.ok:
            tail = " | ".join(done.stderr.strip().splitlines()[-5:]) or f"exit {done.returncode}"
            case("start", "setup completes, then the service starts", Expectation.SUCCEEDS, False,
                 f"setup {' '.join(service.setup)[:60]} failed: {tail}")  # fmt: skip
            return ServiceRun(cases=cases, calls=[], mode=mode, service=service.name)
    with start_sandboxed(image.rootfs, service.command, where, mode) as (sandbox, calls):
        waited = _wait_listening(sandbox, service.tls_port, service.start_timeout)
        case("start", f"starts and listens for TLS on 127.0.0.1:{service.tls_port}", Expectation.SUCCEEDS,
             waited is None, waited or f"listening ({' '.join(service.command)[:80]})")  # fmt: skip
        if waited is None:
            _probe_cases(_Client(sandbox, service, cafile), case)
    calls = [_own_randomness(call) for call in calls]
    relevant = [call for call in calls if call.crypto_relevant]
    by_caller = sorted({f"{c.purpose} ({c.library})" for c in relevant})
    case("no-kernel-seeding", "no crypto-relevant kernel randomness requested by the server",
         Expectation.SUCCEEDS, not relevant,
         f"{len(calls)} randomness requests, none crypto-relevant" if not relevant
         else f"{len(relevant)} crypto-relevant: " + "; ".join(by_caller))  # fmt: skip
    cases[-1].kernel_seeding_calls = len(relevant)
    own = sorted({c.library or "?" for c in calls if c.purpose == OWN_RANDOMNESS})
    if own and mode is EntropyMode.KERNEL_CUT_OFF:
        handshakes = [c for c in cases[:-1] if c.passed is not None]
        case("own-kernel-randomness", "TLS works without the kernel randomness the server asks for itself",
             Expectation.SUCCEEDS, all(c.passed for c in handshakes) and bool(handshakes),
             f"{', '.join(own)} asks the kernel itself (not through OpenSSL, outside the FIPS boundary); "
             f"denied here, and {sum(bool(c.passed) for c in handshakes)}/{len(handshakes)} checks pass")  # fmt: skip
    return ServiceRun(cases=cases, calls=calls, mode=mode, service=service.name)


OWN_RANDOMNESS = "the application's own kernel randomness (not through OpenSSL, outside the FIPS boundary)"
CRYPTO_OBJECTS = ("libcrypto", "libssl", "fips.so", "ossl-modules")


def _own_randomness(call: RandomnessCall) -> RandomnessCall:
    """A call made by the server's own code (no OpenSSL object in its stack) is its own, not DRBG seeding.

    Such randomness (HAProxy's and Valkey's internal PRNG seeds, for instance) is outside the FIPS
    boundary and reported as such; whether TLS depends on it is shown by the handshakes in the
    kernel-cut-off mode, where the call is denied. A call with no caller known stays crypto-relevant.
    """
    if call.purpose != "unknown" or call.library is None:
        return call
    if any(name in frame for frame in call.frames for name in CRYPTO_OBJECTS):
        return call
    return call.model_copy(update={"purpose": OWN_RANDOMNESS, "crypto_relevant": False})
