"""Run-time cost of the python image against the plain-Debian control, measured in the same run.

Both images are built (inputs cached), unpacked with `fipsforge.oci.unpack`, and one driver script runs
inside each (bubblewrap, read-only root, /dev/urandom present, no tracer), timing:
  tls13       TLS 1.3 handshakes per second, client and server threads over loopback (EC P-256 cert)
  aes256gcm   AES-256-GCM bytes per second, `openssl speed -evp aes-256-gcm -bytes 16384` (the image's CLI)
  sha256      SHA-256 bytes per second through hashlib, 1 MiB buffers
  startup     `python -c 'import ssl'`, median seconds of fresh processes (the control's standard
              library compiled first, as Debian's postinst would)
Figures print as ratios fipsforge / plain Debian (>1 means more throughput, or a slower start).

Each figure is the median of --rounds alternating rounds (fipsforge, plain, fipsforge, ...).

Run: .venv/bin/python benchmarks/runtime.py [--seconds 3] [--starts 21] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from fipsforge.image.build import build_image
from fipsforge.image.spec import load_spec, parse_spec
from fipsforge.oci.unpack import unpack_image

PLAIN_PYTHON_SPEC = """
name: bench/plain-python
tag: control
packages: [base-files, python3.13, ca-certificates]
exclude: [debconf, mawk]
fips_stack: false
entrypoint: ["/usr/bin/python3.13"]
"""

DRIVER = r"""
import hashlib, json, socket, ssl, statistics, subprocess, sys, threading, time
work, seconds, starts = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", "/CN=localhost", "-keyout", work + "/key.pem", "-out", work + "/cert.pem"],
               check=True, capture_output=True)
out = {}
samples = []
for _ in range(starts):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import ssl"], check=True)
    samples.append(time.perf_counter() - t)
out["startup"] = statistics.median(samples)
block, n, t = b"\x5a" * (1 << 20), 0, time.perf_counter()
while time.perf_counter() - t < seconds:
    hashlib.sha256(block).digest()
    n += 1
out["sha256"] = n * len(block) / (time.perf_counter() - t)
speed = subprocess.run(["openssl", "speed", "-mr", "-evp", "aes-256-gcm", "-bytes", "16384",
                        "-seconds", str(int(seconds))], check=True, capture_output=True, text=True).stdout
out["aes256gcm"] = float([l for l in speed.splitlines() if l.startswith("+F:")][0].split(":")[3])
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
server_ctx.load_cert_chain(work + "/cert.pem", work + "/key.pem")
client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
client_ctx.load_verify_locations(work + "/cert.pem")
client_ctx.check_hostname = False
listener = socket.create_server(("127.0.0.1", 0))
listener.settimeout(10)
port = listener.getsockname()[1]
stop = threading.Event()
def serve():
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass
thread = threading.Thread(target=serve)
thread.start()
n, t = 0, time.perf_counter()
while time.perf_counter() - t < seconds:
    with socket.create_connection(("127.0.0.1", port)) as raw, client_ctx.wrap_socket(raw) as tls:
        tls.sendall(b"x")
    n += 1
out["tls13"] = n / (time.perf_counter() - t)
stop.set()
listener.close()
thread.join(10)
print(json.dumps(out))
"""


def measure(rootfs: Path, python: str, seconds: float, starts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fipsforge-bench-") as work:
        done = subprocess.run(
            ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", str(rootfs), "/", "--proc", "/proc",
             "--dev", "/dev", "--tmpfs", "/tmp", "--bind", work, "/tmp/bench", "--clearenv",
             "--setenv", "PATH", "/usr/bin:/bin", "--", python, "-c", DRIVER, "/tmp/bench", str(seconds),
             str(starts)],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{rootfs}: driver failed: {done.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def compile_stdlib(rootfs: Path, python: str) -> None:
    """Write the .pyc files Debian's postinst (py3compile) would: the image build runs no maintainer
    scripts, and without them the control would compile its standard library on every start."""
    subprocess.run(
        ["bwrap", "--unshare-all", "--bind", str(rootfs), "/", "--proc", "/proc", "--dev", "/dev",
         "--", python, "-m", "compileall", "-q", "-j", "0", "/usr/lib/python3.13"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--starts", type=int, default=21)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians are printed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fipsforge-bench-images-") as scratch:
        images = {}
        for name, (spec, text) in {
            "fipsforge": load_spec("python"),
            "plain": (parse_spec(PLAIN_PYTHON_SPEC, "plain-python"), PLAIN_PYTHON_SPEC),
        }.items():
            layout = build_image(spec, text, Path(scratch) / f"{name}-oci").layout
            images[name] = unpack_image(str(layout), Path(scratch) / f"{name}-unpacked")
        compile_stdlib(images["plain"].rootfs, images["plain"].config.argv[0])
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in images}
        for _ in range(args.rounds):  # alternate, so a load change on the machine hits both alike
            for name, image in images.items():
                rounds[name].append(measure(image.rootfs, image.config.argv[0], args.seconds, args.starts))
    ours, plain = (
        {key: statistics.median(r[key] for r in rounds[name]) for key in rounds[name][0]}
        for name in ("fipsforge", "plain")
    )
    print(f"{'metric':<34}{'fipsforge':>14}{'plain Debian':>14}{'ratio':>8}  per-round ratios")
    rows = [
        ("TLS 1.3 handshakes/s", "tls13", 1.0),
        ("AES-256-GCM MB/s (16 KiB blocks)", "aes256gcm", 1e-6),
        ("SHA-256 MB/s (hashlib, 1 MiB)", "sha256", 1e-6),
        ("python -c 'import ssl' ms", "startup", 1e3),
    ]
    for label, key, scale in rows:
        per_round = sorted(a[key] / b[key] for a, b in zip(rounds["fipsforge"], rounds["plain"], strict=True))
        print(
            f"{label:<34}{ours[key] * scale:>14.1f}{plain[key] * scale:>14.1f}{ours[key] / plain[key]:>8.2f}"
            f"  {per_round[0]:.2f}-{per_round[-1]:.2f}"
        )
    print(json.dumps({"median": {"fipsforge": ours, "plain": plain}, "rounds": rounds}, sort_keys=True))


if __name__ == "__main__":
    main()
