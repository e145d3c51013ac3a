"""`fipsforge evidence probe` against TLS servers running in images: the fipsforge python image and the
plain Debian python image (the stock control), each serving Python's default `ssl` server context.

The images run in the project sandbox, which has no network of its own; the server listens on a Unix
socket in the shared scratch directory and a small forwarder here exposes it on 127.0.0.1, where
sslyze connects. The server stops by itself (deadline, or a stop file), and so does the forwarder.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipsforge.evidence.probe import probe
from fipsforge.sandbox import SandboxResult, run_sandboxed
from fipsforge.stack.check import SCRATCH
from image_fixtures import BuiltImage
from tls_fixtures import write_certificate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="the sandbox needs bubblewrap"),
]

SERVE_SECONDS = 90
SERVER = r"""
import os, socket, ssl, sys, threading, time
d = sys.argv[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # the image's defaults: whatever its OpenSSL allows
ctx.load_cert_chain(d + "/cert.pem", d + "/key.pem")
listener = socket.socket(socket.AF_UNIX)
listener.bind(d + "/tls.sock")
listener.listen(32)
listener.settimeout(0.2)
deadline = time.monotonic() + float(sys.argv[2])

def serve(conn):
    conn.settimeout(5)
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()

served = 0
while time.monotonic() < deadline and not os.path.exists(d + "/stop"):
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        continue
    served += 1
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
print(served, flush=True)
"""


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _forward(listener: socket.socket, unix_path: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(str(unix_path))
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _serve(image: BuiltImage) -> Iterator[int]:
    """Run the image's TLS server in the sandbox; yield the 127.0.0.1 port that reaches it."""
    scratch = Path(tempfile.mkdtemp(prefix="ff-tls-"))  # short: AF_UNIX paths are limited to 108 bytes
    write_certificate(scratch)
    results: list[SandboxResult] = []
    server = threading.Thread(
        target=lambda: results.append(
            run_sandboxed(
                image.rootfs,
                ["/usr/bin/python3.13", "-c", SERVER, SCRATCH, str(SERVE_SECONDS)],
                writable={scratch: SCRATCH},
                timeout=SERVE_SECONDS + 30,
            )
        ),
        daemon=True,
    )
    server.start()
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    try:
        for _ in range(300):
            if (scratch / "tls.sock").exists() or not server.is_alive():
                break
            time.sleep(0.1)
        assert (scratch / "tls.sock").exists(), results[0].stderr if results else "server did not start"
        forwarder = threading.Thread(
            target=_forward, args=(listener, scratch / "tls.sock", stop), daemon=True
        )
        forwarder.start()
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        (scratch / "stop").touch()
        server.join(timeout=SERVE_SECONDS + 40)
        listener.close()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def fipsforge_python_server(python_image: BuiltImage) -> Iterator[int]:
    yield from _serve(python_image)


@pytest.fixture
def stock_python_server(plain_python_image: BuiltImage) -> Iterator[int]:
    yield from _serve(plain_python_image)


def test_probe_tells_the_fipsforge_python_image_from_stock_python(
    fipsforge_python_server: int, stock_python_server: int
) -> None:
    fipsforge, stock = probe(
        [f"fipsforge=127.0.0.1:{fipsforge_python_server}", f"stock=127.0.0.1:{stock_python_server}"]
    )
    assert fipsforge.reachable and stock.reachable
    assert fipsforge.verdict == "observed-fips", fipsforge.reasons
    assert "TLS 1.3" in fipsforge.tls_versions
    assert all(c.approved for c in fipsforge.cipher_suites) and fipsforge.cipher_suites
    assert stock.verdict == "observed-non-fips"
    assert any("CHACHA20" in r for r in stock.reasons)
    assert any("X25519" in r for r in stock.reasons)
