"""The catalog's server images pass `fipsforge test` with their own services probed, in both modes; each
stock control (the same spec with `fips_stack: false`, Debian's OpenSSL) fails on named service checks.
A user spec for a server the catalog does not ship (lighttpd) runs end to end the same way.

Images are built once per module (inputs cached under cache_root) and tested from their OCI layouts,
as `fipsforge test` would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fipsforge.image.build import build_image
from fipsforge.image.spec import (
    ServiceSpec,
    builtin_spec_dir,
    builtin_spec_text,
    parse_spec,
    stock_control_text,
)
from fipsforge.oci.unpack import UnpackedImage, unpack_image
from fipsforge.sandbox import EntropyMode
from fipsforge.sandbox.services import probe_service
from fipsforge.sandbox.shims import GETRANDOM_TRACE, preload
from fipsforge.sandbox.suite import RuntimeReport, Status, run_suite

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="the sandbox needs bubblewrap"),
]

SERVERS = {"nginx": "nginx", "haproxy": "haproxy", "valkey": "valkey", "postgresql": "postgres"}
"""Catalog spec -> the service it declares."""
HANDSHAKES = ("tls13-aes-gcm", "chacha20-refused", "x25519-refused", "tls11-refused", "tls10-refused")

# stunnel4 refuses to start on the FIPS stack with its default group list (X25519 first): its
# `curves` option names the NIST groups. defaults.conf, without that line, is the control.
STUNNEL_SPEC = """
name: test/stunnel
tag: user
packages: [stunnel4]
exclude: [debconf, perl, init-system-helpers, systemd]
fips_stack: true
entrypoint: ["/usr/bin/stunnel4", "/etc/stunnel/fips.conf"]
files:
  /etc/stunnel/fips.conf: fips.conf
  /etc/stunnel/defaults.conf: defaults.conf
services:
  - name: stunnel
    tls_port: 8443
"""
STUNNEL_CONF = """foreground = yes
pid =
[tls]
accept = 127.0.0.1:8443
connect = 127.0.0.1:9
cert = /run/fipsforge/tls/cert.pem
key = /run/fipsforge/tls/key.pem
"""
STUNNEL_GROUPS = "curves = P-256:P-384\n"


def _test_image(tmp: Path, name: str, text: str, source_dir: Path) -> tuple[RuntimeReport, UnpackedImage]:
    spec = parse_spec(text, name, source_dir)
    layout = tmp / f"{name}-oci"
    build_image(spec, text, layout)
    image = unpack_image(str(layout), tmp / f"{name}-work")
    return run_suite(image), image


Built = tuple[str, RuntimeReport, RuntimeReport, UnpackedImage]


@pytest.fixture(scope="module", params=sorted(SERVERS))
def catalog_reports(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    name = str(request.param)
    tmp = tmp_path_factory.mktemp(name)
    text = builtin_spec_text(name)
    fips, _ = _test_image(tmp, name, text, builtin_spec_dir())
    stock, stock_image = _test_image(tmp, f"{name}-stock", stock_control_text(text), builtin_spec_dir())
    return name, fips, stock, stock_image


def _service_cases(report: RuntimeReport, service: str) -> dict[tuple[str, EntropyMode | None], Status]:
    return {(c.id, c.mode): c.status for c in report.cases if c.group == f"service {service}"}


def _assert_proven(report: RuntimeReport, service: str) -> None:
    assert report.passed, [(c.id, c.mode, c.detail) for c in report.failed]
    cases = _service_cases(report, service)
    for mode in EntropyMode:
        for check in ("start", *HANDSHAKES, "no-kernel-seeding"):
            assert cases[(f"{service}-{check}", mode)] is Status.PASSED, (check, mode)


def _assert_control_fails(report: RuntimeReport, service: str) -> None:
    cases = _service_cases(report, service)
    normal = EntropyMode.NORMAL
    # Debian's OpenSSL serves the same config (the shipped config refuses ChaCha20 and X25519 there too)...
    assert cases[(f"{service}-start", normal)] is Status.PASSED
    assert cases[(f"{service}-tls13-aes-gcm", normal)] is Status.PASSED
    # ...but seeds its DRBG from the kernel, and without the kernel fails to start, serve or stay unseeded.
    assert cases[(f"{service}-no-kernel-seeding", normal)] is Status.FAILED
    cut_off = [cases.get((f"{service}-{check}", EntropyMode.KERNEL_CUT_OFF))
               for check in ("start", "tls13-aes-gcm", "no-kernel-seeding")]  # fmt: skip
    assert Status.FAILED in cut_off, cut_off
    assert not report.passed


def test_catalog_server_is_proven_and_its_stock_control_fails(catalog_reports: Built) -> None:
    name, fips, stock, stock_image = catalog_reports
    _assert_proven(fips, SERVERS[name])
    _assert_control_fails(stock, SERVERS[name])
    if name == "nginx":
        _assert_handshake_checks_can_fail(stock_image)


# Debian's OpenSSL with nginx's defaults plus the old protocols: what the refusal checks must catch.
PERMISSIVE_NGINX = """daemon off; pid /tmp/nginx.pid; error_log stderr;
events {}
http { access_log off; client_body_temp_path /tmp/b; proxy_temp_path /tmp/p; fastcgi_temp_path /tmp/f;
  uwsgi_temp_path /tmp/u; scgi_temp_path /tmp/s;
  server { listen 127.0.0.1:8443 ssl; ssl_certificate /run/fipsforge/tls/cert.pem;
    ssl_certificate_key /run/fipsforge/tls/key.pem; ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_ciphers DEFAULT:@SECLEVEL=0; return 200; } }
"""


def _assert_handshake_checks_can_fail(stock_image: UnpackedImage) -> None:
    """Control of the handshake cases: a permissive server over stock OpenSSL fails every refusal check."""
    (stock_image.rootfs / "etc/nginx/permissive.conf").write_text(PERMISSIVE_NGINX)  # the test's copy
    service = ServiceSpec(name="nginx", tls_port=8443, start_timeout=10,
                          command=["/usr/sbin/nginx", "-e", "stderr", "-c", "/etc/nginx/permissive.conf"])  # fmt: skip
    binds, env = preload([GETRANDOM_TRACE])
    scratch = stock_image.rootfs.parent / "permissive"
    scratch.mkdir()
    run = probe_service(
        stock_image, service, EntropyMode.NORMAL, binds, {**stock_image.config.env, **env}, scratch
    )
    verdicts = {c.id: c for c in run.cases}
    assert verdicts["nginx-start"].passed and verdicts["nginx-tls13-aes-gcm"].passed
    for check in ("chacha20-refused", "x25519-refused", "tls11-refused", "tls10-refused"):
        assert verdicts[f"nginx-{check}"].passed is False, check
        assert verdicts[f"nginx-{check}"].detail.startswith("not refused: agreed on "), check


def test_user_spec_with_files_and_services_runs_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "fips.conf").write_text(STUNNEL_CONF + STUNNEL_GROUPS)
    (tmp_path / "defaults.conf").write_text(STUNNEL_CONF)
    report, image = _test_image(tmp_path, "stunnel", STUNNEL_SPEC, tmp_path)
    _assert_proven(report, "stunnel")
    # Control: the same server with its default group list does not start on the stack, and says why.
    binds, env = preload([GETRANDOM_TRACE])
    defaults = ServiceSpec(name="stunnel", tls_port=8443, start_timeout=5,
                           command=["/usr/bin/stunnel4", "/etc/stunnel/defaults.conf"])  # fmt: skip
    scratch = tmp_path / "control"
    scratch.mkdir()
    run = probe_service(image, defaults, EntropyMode.NORMAL, binds, {**image.config.env, **env}, scratch)
    start = next(c for c in run.cases if c.id == "stunnel-start")
    assert start.passed is False
    assert "Invalid groups list in 'curves'" in start.detail
