"""`fipsforge evidence probe` against TLS servers started on 127.0.0.1: a FIPS-restricted one and a stock one.

The fast tests use the host's `openssl s_server` twice: restricted to what a FIPS provider allows
(TLS 1.2/1.3, AES-GCM suites, P-256/P-384 groups), and with OpenSSL's defaults (ChaCha20, X25519).
The slow test serves from the fipsforge stack itself (its openssl with the hardened FIPS config),
against the host's stock openssl and against the same stack binary without the FIPS config.
Every server runs under `timeout`, so it stops by itself even if a test dies.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.evidence.build import EvidenceOptions, run
from fipsforge.evidence.probe import parse_target, probe
from fipsforge.evidence.tlsclass import classify_group, classify_key, classify_suite
from tls_fixtures import write_certificate

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command is not installed"
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "deployment"
FIPS_ARGS = [
    "-no_ssl3", "-no_tls1", "-no_tls1_1",
    "-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
    "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256",
    "-groups", "P-256:P-384",
]  # fmt: skip


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_certificate(tmp_path_factory.mktemp("cert"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _s_server(
    certificate: tuple[Path, Path],
    extra: list[str],
    openssl: str = "openssl",
    env: dict[str, str] | None = None,
) -> Iterator[int]:
    port = _free_port()
    command = ["timeout", "120", openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
               str(certificate[0]), "-key", str(certificate[1]), "-www", "-quiet", *extra]  # fmt: skip
    environment = {**os.environ, **env} if env is not None else None
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"openssl s_server exited with {process.returncode}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def fips_server(certificate: tuple[Path, Path]) -> Iterator[int]:
    yield from _s_server(certificate, FIPS_ARGS)


@pytest.fixture  # per test, like fips_server: a long-lived server's `timeout` ran out while a cold stack built
def stock_server(certificate: tuple[Path, Path]) -> Iterator[int]:
    yield from _s_server(certificate, [])


def test_probe_tells_fips_and_stock_servers_apart(fips_server: int, stock_server: int) -> None:
    fips, stock = probe([f"127.0.0.1:{fips_server}", f"127.0.0.1:{stock_server}"])
    assert fips.verdict == "observed-fips", fips.reasons
    assert set(fips.tls_versions) == {"TLS 1.2", "TLS 1.3"}
    assert {c.name for c in fips.cipher_suites} >= {
        "TLS_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    }
    assert all(c.approved for c in fips.cipher_suites)
    assert {g.name for g in fips.groups} <= {"secp256r1", "secp384r1"} and fips.groups
    assert [(k.algorithm, k.size, k.curve) for k in fips.certificate_keys] == [("EC", 256, "secp256r1")]

    assert stock.verdict == "observed-non-fips"
    assert "TLS_CHACHA20_POLY1305_SHA256" in {c.name for c in stock.cipher_suites}
    assert "X25519" in {g.name for g in stock.groups}
    assert any("CHACHA20" in r for r in stock.reasons) and any("X25519" in r for r in stock.reasons)


def test_unreachable_endpoint_is_not_observed() -> None:
    (result,) = probe([f"127.0.0.1:{_free_port()}"])
    assert not result.reachable and result.verdict == "not-observed"


def test_observed_verdicts_mark_the_flows(fips_server: int, stock_server: int, tmp_path: Path) -> None:
    results = probe([f"shop/api:api=127.0.0.1:{fips_server}", f"shop/redis:redis=127.0.0.1:{stock_server}"])
    observed = tmp_path / "observed.json"
    observed.write_text(json.dumps([r.model_dump(mode="json") for r in results]))
    options = EvidenceOptions(
        manifests=[EXAMPLE / "k8s"],
        overlay=EXAMPLE / "overlay.yaml",
        verify=sorted((EXAMPLE / "verify").glob("*.json")),
        observed=[observed],
        run_verify=False,
        today=dt.date(2026, 11, 27),
    )
    evidence = run(options, tmp_path / "out")
    by_server = {(f.client.label, f.server.label): f for f in evidence.flows}
    api = by_server[("shop/web:web", "shop/api:api")]
    assert (api.observed, api.status) == ("observed-fips", "fips")
    redis = by_server[("shop/api:api", "shop/redis:redis")]
    assert redis.observed == "observed-non-fips"
    unprobed = by_server[("shop/web:tls-proxy", "shop/web:web")]
    assert unprobed.observed == "not-observed"  # negative control
    report = (tmp_path / "out" / "report.html").read_text()
    observed_section = report.split('id="observed"')[1]
    assert "shop/api:api" in observed_section and "observed-non-fips" in observed_section


def test_parse_target() -> None:
    assert parse_target("127.0.0.1:8443") == (None, "127.0.0.1", 8443)
    assert parse_target("shop/api:api=127.0.0.1:8443") == ("shop/api:api", "127.0.0.1", 8443)
    assert parse_target("[::1]:443") == (None, "::1", 443)
    for bad in ("127.0.0.1", "host:http", "host:70000", ":443"):
        with pytest.raises(FipsforgeError, match="want HOST:PORT"):
            parse_target(bad)


def test_classification_rules() -> None:
    assert classify_suite("TLS 1.3", "TLS_AES_128_GCM_SHA256").approved
    assert not classify_suite("TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256").approved
    assert classify_suite("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384").approved
    assert not classify_suite("TLS 1.2", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA").approved
    assert not classify_suite("TLS 1.2", "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256").approved
    assert classify_group("secp384r1").approved and classify_group("SecP256r1MLKEM768").approved
    assert not classify_group("X25519").approved
    assert classify_key("RSA", 2048, None).approved and not classify_key("RSA", 1024, None).approved
    assert classify_key("EC", 384, "secp384r1").approved and not classify_key("EC", 256, "secp256k1").approved


@pytest.mark.slow
def test_probe_tells_the_fipsforge_stack_from_stock_openssl(
    built_stack: Path, certificate: tuple[Path, Path], stock_server: int, tmp_path: Path
) -> None:
    from fipsforge.stack.build import staged_environment

    openssl = str(built_stack / "usr/bin/openssl")
    fips_env = staged_environment(built_stack, tmp_path)
    plain_env = {**fips_env, "OPENSSL_CONF": str(tmp_path / "empty.cnf")}
    (tmp_path / "empty.cnf").write_text("# no providers configured: OpenSSL's default provider\n")
    fips_server = _s_server(certificate, [], openssl, fips_env)
    plain_server = _s_server(certificate, [], openssl, plain_env)
    try:
        fips_port, plain_port = next(fips_server), next(plain_server)
        stack, stock, plain = probe(
            [f"127.0.0.1:{fips_port}", f"127.0.0.1:{stock_server}", f"127.0.0.1:{plain_port}"]
        )
    finally:
        fips_server.close()
        plain_server.close()
    assert stack.verdict == "observed-fips", stack.reasons
    assert "TLS 1.3" in stack.tls_versions and stack.groups
    assert stock.verdict == "observed-non-fips"
    # negative control: the same stack binary without its FIPS configuration is not FIPS
    assert plain.verdict == "observed-non-fips"
    assert any("CHACHA20" in r for r in plain.reasons)
