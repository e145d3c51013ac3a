"""The built-in images in the sandbox with the kernel's entropy cut off, against plain Debian controls."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from fipsforge.image.build import COMPONENTS_FILE, CYCLONEDX_TYPE, build_image
from fipsforge.image.spec import load_spec
from fipsforge.sandbox import EntropyMode, SandboxResult, run_sandboxed
from fipsforge.stack.build import StackBuild
from fipsforge.stack.check import SCRATCH, openssl_probes, run_probe, stack_binds
from image_fixtures import BuiltImage

pytestmark = pytest.mark.slow

CUT = EntropyMode.KERNEL_CUT_OFF
# Hash randomisation is not cryptography and lies outside the FIPS boundary; CPython seeds it from the
# kernel before any user code runs, so with the kernel cut off the caller fixes the seed (see docs).
PY_ENV = {"PYTHONHASHSEED": "0"}

CHECKS = r"""
import hashlib, importlib.util, json, ssl
out = {"openssl": ssl.OPENSSL_VERSION, "sha256": hashlib.sha256(b"abc").hexdigest(),
       "fallbacks": [m for m in ("_md5", "_sha1", "_sha2", "_sha3", "_blake2") if importlib.util.find_spec(m)]}
try:
    out["rand"] = len(ssl.RAND_bytes(32))
except ssl.SSLError as error:
    out["rand"] = "failed: " + str(error)
for label, kwargs in (("md5", {}), ("md5_not_for_security", {"usedforsecurity": False})):
    try:
        out[label] = hashlib.md5(b"abc", **kwargs).hexdigest()
    except ValueError as error:
        out[label] = "refused: " + str(error)
print(json.dumps(out))
"""

TLS = r"""
import json, socket, ssl, subprocess, sys
d = sys.argv[1]
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                "-keyout", d + "/key.pem", "-out", d + "/cert.pem"], check=True, capture_output=True)
server = subprocess.Popen([sys.executable, "-c", '''
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(sys.argv[1] + "/cert.pem", sys.argv[1] + "/key.pem")
with socket.create_server(("127.0.0.1", 0)) as s:
    print(s.getsockname()[1], flush=True)
    conn, _ = s.accept()
    with ctx.wrap_socket(conn, server_side=True) as tls:
        tls.sendall(tls.recv(100).upper())
''', d], stdout=subprocess.PIPE, text=True)
port = int(server.stdout.readline())
ctx = ssl.create_default_context(cafile=d + "/cert.pem"); ctx.minimum_version = ssl.TLSVersion.TLSv1_3
with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as tls:
    tls.sendall(b"hello")
    print(json.dumps({"version": tls.version(), "cipher": tls.cipher()[0], "echo": tls.recv(100).decode(),
                      "server": server.wait(10)}))
"""


def _python(image: BuiltImage, code: str, *args: str, env: dict[str, str] | None = None) -> SandboxResult:
    with tempfile.TemporaryDirectory(prefix="fipsforge-image-test-") as scratch:
        return run_sandboxed(
            image.rootfs, ["/usr/bin/python3.13", "-c", code, *args], mode=CUT,
            env=PY_ENV if env is None else env, writable={Path(scratch): SCRATCH},
        )  # fmt: skip


def test_openssl_image_passes_the_stack_checks(
    openssl_image: BuiltImage, plain_python_image: BuiltImage, stack_build: StackBuild
) -> None:
    """Every stack probe gives the same verdict in the image as for the stack itself, and seeding works."""
    in_image = {probe.id: run_probe(openssl_image.rootfs, {}, probe) for probe in openssl_probes()}
    on_host = {
        probe.id: run_probe(Path("/"), stack_binds(stack_build.staging), probe) for probe in openssl_probes()
    }
    differ = [
        f"{key}: {in_image[key].detail}" for key in in_image if in_image[key].passed != on_host[key].passed
    ]
    assert not differ
    for key in ("rand", "ec-p256-keygen", "rsa-3072-keygen", "md5-refused", "x25519-refused"):
        assert in_image[key].passed, in_image[key].detail
    # Control: Debian's own OpenSSL, same sandbox, kernel cut off: no seed, so `openssl rand` fails.
    rand = next(p for p in openssl_probes() if p.id == "rand")
    assert not run_probe(plain_python_image.rootfs, {}, rand).passed


def test_openssl_image_records_the_stack_truthfully(openssl_image: BuiltImage) -> None:
    status = (openssl_image.rootfs / "var/lib/dpkg/status").read_text()
    listed = {line.split()[1] for line in status.splitlines() if line.startswith("Package:")}
    assert not listed & {"libssl3t64", "openssl", "openssl-provider-fips", "openssl-provider-legacy"}
    assert "ca-certificates" in listed
    record = json.loads((openssl_image.rootfs / COMPONENTS_FILE.lstrip("/")).read_text())
    assert {c["name"] for c in record["components"]} == {"openssl", "openssl-fips-provider", "jitterentropy"}
    assert (openssl_image.rootfs / "usr/lib/ssl/openssl.cnf").is_file()
    assert not (openssl_image.rootfs / "usr/lib/ssl/openssl.cnf").is_symlink()
    layout = openssl_image.layout
    manifest = json.loads(
        (layout / "blobs/sha256" / openssl_image.result.referrers[CYCLONEDX_TYPE][7:]).read_text()
    )
    bom = (layout / "blobs/sha256" / manifest["layers"][0]["digest"][7:]).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(bom) is None
    assets = {c["name"] for c in json.loads(bom)["components"] if c["type"] == "cryptographic-asset"}
    assert assets == {"openssl-fips-provider", "jitterentropy"}
    for component in json.loads(bom)["components"]:
        if component["publisher"] == "fipsforge":
            assert component["version"] and component["externalReferences"][0]["hashes"][0]["content"]


def test_python_image_fips_behaviour(python_image: BuiltImage) -> None:
    run = _python(python_image, CHECKS)
    assert run.ok, run.stderr
    assert "was not found" not in run.stderr  # hashlib imports without complaint
    out = json.loads(run.stdout)
    assert out["openssl"].startswith("OpenSSL 3.5.")
    assert out["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert out["rand"] == 32
    assert out["fallbacks"] == []
    assert out["md5"].startswith("refused: ")
    assert out["md5_not_for_security"].startswith("refused: ")


def test_plain_debian_python_computes_md5(plain_python_image: BuiltImage) -> None:
    """The negative control: Debian's Python and OpenSSL, same sandbox and checks, compute MD5."""
    run = _python(plain_python_image, CHECKS)
    assert run.ok, run.stderr
    out = json.loads(run.stdout)
    assert out["md5"] == "900150983cd24fb0d6963f7d28e17f72"
    assert out["md5_not_for_security"] == "900150983cd24fb0d6963f7d28e17f72"
    assert str(out["rand"]).startswith("failed: ")  # and Debian's OpenSSL cannot seed without the kernel
    assert out["fallbacks"] == ["_md5", "_sha1", "_sha2", "_sha3", "_blake2"]


def test_python_image_tls13_between_two_processes(python_image: BuiltImage) -> None:
    run = _python(python_image, TLS, SCRATCH)
    assert run.ok, run.stderr
    out = json.loads(run.stdout)
    assert out["version"] == "TLSv1.3" and out["echo"] == "HELLO" and out["server"] == 0
    assert out["cipher"] in {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"}


def test_python_needs_a_hash_seed_without_the_kernel(python_image: BuiltImage) -> None:
    """Documents why the tests set PYTHONHASHSEED: without it CPython cannot start with the kernel cut off."""
    assert not _python(python_image, "print(1)", env={}).ok
    assert _python(python_image, "print(1)").ok  # control: same run with the seed fixed


def test_python_image_stdlib_extensions_load(python_image: BuiltImage) -> None:
    """Our CPython, built on the host, finds every library its extension modules need in the image."""
    modules = "ctypes, sqlite3, lzma, bz2, zlib, readline, curses, uuid, decimal, pyexpat, ssl, _hashlib"
    code = f"import {modules}; print('ok')"
    with tempfile.TemporaryDirectory(prefix="fipsforge-image-test-") as scratch:
        run = run_sandboxed(python_image.rootfs, ["/usr/bin/python3", "-c", code], env=PY_ENV,
                            writable={Path(scratch): SCRATCH})  # fmt: skip
    assert run.ok and run.stdout.strip() == "ok", run.stderr
    # Control: a module that does not exist fails the same way the check would.
    assert not _python(python_image, "import _md5").ok


def test_python_image_rebuild_gives_the_same_digest(python_image: BuiltImage, tmp_path: Path) -> None:
    spec, text = load_spec("python")
    again = build_image(spec, text, tmp_path / "again")
    assert again.manifest_digest == python_image.result.manifest_digest
    assert again.referrers == python_image.result.referrers  # the SBOMs are byte-identical too


def test_python_image_records_cpython_truthfully(python_image: BuiltImage) -> None:
    status = (python_image.rootfs / "var/lib/dpkg/status").read_text()
    listed = {line.split()[1] for line in status.splitlines() if line.startswith("Package:")}
    assert not listed & {"python3.13", "python3.13-minimal", "libpython3.13-stdlib", "libpython3.13-minimal"}
    assert {"libffi8", "libsqlite3-0", "libexpat1"} <= listed  # the runtime libraries our build links
    record = json.loads((python_image.rootfs / COMPONENTS_FILE.lstrip("/")).read_text())
    cpython = next(c for c in record["components"] if c["name"] == "cpython")
    assert cpython["version"].startswith("3.13.") and any(
        n.endswith(".orig.tar.xz") for n in cpython["sources"]
    )
    assert not (python_image.rootfs / "usr/lib/python3.13/idlelib").exists()
