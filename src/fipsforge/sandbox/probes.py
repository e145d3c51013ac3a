"""The probes of `fipsforge test`: OpenSSL CLI, Python and Node.js, as `fipsforge.stack.check.Probe`s.

Every probe is a short list of commands without a shell (images need not have one) sharing a scratch
directory, with a known answer or a named refusal, so a broken sandbox can pass for neither. The
OpenSSL set extends the stack's own `openssl_probes()`; modes are applied by the suite.
"""

from __future__ import annotations

from fipsforge.stack.check import CONFIG_FILE, SCRATCH, Expectation, Probe, openssl_probes

S = SCRATCH
APPROVED, REFUSED = "OpenSSL: approved operations", "OpenSSL: non-approved operations refused"
PY_BINDING, PY_APPROVED = "Python: bound to OpenSSL", "Python: approved and refused operations"
PY_TLS = "Python: TLS between two processes on loopback"
KERNEL_PATHS = "kernel-dependent paths outside the FIPS boundary"
NODE = "Node.js"
KAT_ABC = {
    "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    "sha3-256": "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
}
# RFC 4231 test case 1: key 0x0b * 20, data "Hi There"
HMAC_KEY, HMAC_DATA = "0b" * 20, "Hi There"
HMAC_SHA256 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
SAME_TWICE = r"= ([0-9a-f]{64})\n[^\n]*= \1$"
"""`openssl dgst` of two files printed the same digest: both sides derived the same secret."""


def _keypair(algorithm: list[str], name: str) -> list[list[str]]:
    return [
        ["openssl", "genpkey", *algorithm, "-out", f"{S}/{name}.pem"],
        ["openssl", "pkey", "-in", f"{S}/{name}.pem", "-pubout", "-out", f"{S}/{name}.pub"],
    ]


def _sign_verify(probe_id: str, description: str, algorithm: list[str], digest: str) -> Probe:
    return Probe(
        id=probe_id, group=APPROVED, description=description,
        commands=[*_keypair(algorithm, "key"),
                  ["openssl", "dgst", f"-{digest}", "-sign", f"{S}/key.pem", "-out", f"{S}/sig", CONFIG_FILE],
                  ["openssl", "dgst", f"-{digest}", "-verify", f"{S}/key.pub", "-signature", f"{S}/sig",
                   CONFIG_FILE]],
        expect=Expectation.SUCCEEDS, stdout_must_match=r"^Verified OK$",
    )  # fmt: skip


def openssl_image_probes() -> list[Probe]:
    """The stack's probes plus the issue's fuller set: digests, HMAC, signatures, ECDH, ML-KEM, ML-DSA."""
    ec = ["-algorithm", "EC", "-pkeyopt"]
    stack = [
        probe.model_copy(update={"group": APPROVED if probe.expect is Expectation.SUCCEEDS else REFUSED})
        for probe in openssl_probes()
    ]
    digests = [
        Probe(id=f"{name}-kat", group=APPROVED, description=f"{name.upper()} known answer",
              commands=[["openssl", "dgst", f"-{name}"]], stdin="abc", expect=Expectation.SUCCEEDS,
              stdout_must_match=rf"= {digest}$")
        for name, digest in KAT_ABC.items()
    ]  # fmt: skip
    return [
        Probe(id="providers-active", group="OpenSSL: providers", description="fips provider active (openssl list)",
              commands=[["openssl", "list", "-providers"]], expect=Expectation.SUCCEEDS,
              stdout_must_match=r"^  fips\n(?:    .*\n)*?    status: active"),
        *digests,
        Probe(id="hmac-sha256-kat", group=APPROVED, description="HMAC-SHA256 known answer (RFC 4231 case 1)",
              commands=[["openssl", "mac", "-digest", "SHA256", "-macopt", f"hexkey:{HMAC_KEY}", "HMAC"]],
              stdin=HMAC_DATA, expect=Expectation.SUCCEEDS, stdout_must_match=rf"^{HMAC_SHA256.upper()}$"),
        *stack,
        _sign_verify("ecdsa-p256", "ECDSA P-256 sign and verify", [*ec, "ec_paramgen_curve:P-256"], "sha256"),
        _sign_verify("ecdsa-p384", "ECDSA P-384 sign and verify", [*ec, "ec_paramgen_curve:P-384"], "sha384"),
        _sign_verify("rsa-3072-sign", "RSA-3072 sign and verify",
                     ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"], "sha256"),
        Probe(id="ecdh-p256", group=APPROVED, description="ECDH P-256: both sides derive the same secret",
              commands=[*_keypair([*ec, "ec_paramgen_curve:P-256"], "a"),
                        *_keypair([*ec, "ec_paramgen_curve:P-256"], "b"),
                        ["openssl", "pkeyutl", "-derive", "-inkey", f"{S}/a.pem", "-peerkey", f"{S}/b.pub",
                         "-out", f"{S}/ab"],
                        ["openssl", "pkeyutl", "-derive", "-inkey", f"{S}/b.pem", "-peerkey", f"{S}/a.pub",
                         "-out", f"{S}/ba"],
                        ["openssl", "dgst", "-sha256", f"{S}/ab", f"{S}/ba"]],
              expect=Expectation.SUCCEEDS, stdout_must_match=SAME_TWICE),
        Probe(id="ml-kem-768", group=APPROVED, description="ML-KEM-768 encapsulate and decapsulate",
              commands=[*_keypair(["-algorithm", "ML-KEM-768"], "kem"),
                        ["openssl", "pkeyutl", "-encap", "-pubin", "-inkey", f"{S}/kem.pub",
                         "-secret", f"{S}/sent", "-out", f"{S}/ct"],
                        ["openssl", "pkeyutl", "-decap", "-inkey", f"{S}/kem.pem", "-in", f"{S}/ct",
                         "-secret", f"{S}/received"],
                        ["openssl", "dgst", "-sha256", f"{S}/sent", f"{S}/received"]],
              expect=Expectation.SUCCEEDS, stdout_must_match=SAME_TWICE),
        Probe(id="ml-dsa-65", group=APPROVED, description="ML-DSA-65 sign and verify",
              commands=[*_keypair(["-algorithm", "ML-DSA-65"], "dsa"),
                        ["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", f"{S}/dsa.pem", "-in", CONFIG_FILE,
                         "-out", f"{S}/sig"],
                        ["openssl", "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", f"{S}/dsa.pub",
                         "-in", CONFIG_FILE, "-sigfile", f"{S}/sig"]],
              expect=Expectation.SUCCEEDS, stdout_must_match=r"^Signature Verified Successfully$"),
        Probe(id="chacha20-poly1305-refused", group=REFUSED,
              description="ChaCha20-Poly1305 (the AEAD, driven by openssl speed; enc takes no AEAD ciphers)",
              commands=[["openssl", "speed", "-evp", "ChaCha20-Poly1305", "-seconds", "1", "-bytes", "16"]],
              expect=Expectation.REFUSED),
        Probe(id="rsa-1024-refused", group=REFUSED, description="RSA-1024 key generation",
              commands=[["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
                         "-out", f"{S}/rsa1024.pem"]],
              expect=Expectation.REFUSED, refusal_must_match=r"invalid modulus|key size too small|unsupported"),
    ]  # fmt: skip


def fips_self_test_probe(module: str, module_config: str) -> Probe:
    """`fipsinstall -verify` loads the module, which runs its self-tests and checks its MAC."""
    return Probe(
        id="fips-self-test", group="OpenSSL: providers",
        description="FIPS module self-test and integrity check on load (fipsinstall -verify)",
        commands=[["openssl", "fipsinstall", "-module", module, "-in", module_config, "-verify"]],
        expect=Expectation.SUCCEEDS,  # it prints VERIFY PASSED on stderr; any failure exits non-zero
    )  # fmt: skip


# -- Python --------------------------------------------------------------------------------------------

LOADED_FIPS = (
    "any(line.endswith('/ossl-modules/fips.so') for line in open('/proc/self/maps').read().splitlines())"
)

PY_HASHLIB = f"""
import hashlib
kat = {{"sha256": "{KAT_ABC["sha256"]}", "sha512": "{KAT_ABC["sha512"]}", "sha3_256": "{KAT_ABC["sha3-256"]}"}}
for name, want in kat.items():
    h = hashlib.new(name, b"abc")
    assert h.hexdigest() == want, name
    assert type(h).__module__ == "_hashlib", f"{{name}} computed by {{type(h).__module__}}, not OpenSSL"
assert {LOADED_FIPS}, "fips.so not loaded"
print("hashlib: sha256, sha512, sha3_256 by _hashlib (OpenSSL), fips.so loaded")
"""
PY_HMAC = f"""
import hmac
h = hmac.new(bytes.fromhex("{HMAC_KEY}"), b"{HMAC_DATA}", "sha256")
assert h.hexdigest() == "{HMAC_SHA256}"
assert type(h._hmac).__module__ == "_hashlib", "HMAC not computed by OpenSSL"
assert {LOADED_FIPS}, "fips.so not loaded"
print("hmac: HMAC-SHA256 by _hashlib (OpenSSL), fips.so loaded")
"""
PY_SSL = f"""
import ssl
ssl.create_default_context()
maps = open('/proc/self/maps').read()
assert "/libssl.so" in maps and "/libcrypto.so" in maps, "ssl not linked to OpenSSL's libraries"
assert ssl.RAND_bytes(16) and {LOADED_FIPS}, "fips.so not loaded"
print("ssl:", ssl.OPENSSL_VERSION, "with fips.so loaded")
"""
PY_RAND = "import ssl; print('RAND_bytes:', len(ssl.RAND_bytes(32)))"
PY_MD5 = "import hashlib; hashlib.md5(b'abc'); print('md5 computed')"
PY_FALLBACKS = """
import importlib.util
found = [m for m in ("_md5", "_sha1", "_sha2", "_sha3", "_blake2") if importlib.util.find_spec(m)]
print("built-in hash modules:", ", ".join(found) or "none")
"""
TLS = r"""
import json, socket, ssl, subprocess, sys
d, kind = sys.argv[1], sys.argv[2]
server = subprocess.Popen([sys.executable, "-c", '''
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1] + "/cert.pem", sys.argv[1] + "/key.pem")
with socket.create_server(("127.0.0.1", 0)) as s:
    s.settimeout(20)
    print(s.getsockname()[1], flush=True)
    conn, _ = s.accept()
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(tls.recv(100).upper())
    except (ssl.SSLError, OSError):
        pass
''', d], stdout=subprocess.PIPE, text=True)
try:
    port = int(server.stdout.readline())
    ctx = ssl.create_default_context(cafile=d + "/cert.pem")
    if kind in ("tls1.2", "chacha20"):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if kind == "chacha20":
        ctx.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
    if kind == "x25519":
        ctx.set_ecdh_curve("X25519")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"hello")
            print(json.dumps({"version": tls.version(), "cipher": tls.cipher()[0], "echo": tls.recv(100).decode()}))
finally:
    server.kill()
    server.wait()
"""
TLS_CERT = [
    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
    "-keyout", f"{S}/key.pem", "-out", f"{S}/cert.pem",
]  # fmt: skip
TLS_REFUSAL = r"SSLError|ssl\.SSL|handshake failure|No cipher can be selected"


def python_probes(python: str, with_openssl_cli: bool) -> list[Probe]:
    """Python's crypto must all go to OpenSSL's FIPS provider; MD5 and non-FIPS TLS must be refused."""

    def script(probe_id: str, group: str, description: str, code: str, **fields: object) -> Probe:
        return Probe.model_validate(
            {"id": probe_id, "group": group, "description": description,
             "commands": [[python, "-c", code]], **fields}
        )  # fmt: skip

    succeeds = {"expect": Expectation.SUCCEEDS}
    probes = [
        script("python-hashlib", PY_BINDING, "hashlib SHA-2/SHA-3 known answers computed by OpenSSL's fips.so",
               PY_HASHLIB, **succeeds, stdout_must_match=r"^hashlib: "),
        script("python-hmac", PY_BINDING, "hmac HMAC-SHA256 known answer computed by OpenSSL's fips.so",
               PY_HMAC, **succeeds, stdout_must_match=r"^hmac: "),
        script("python-ssl", PY_BINDING, "ssl linked to OpenSSL 3, FIPS provider loaded", PY_SSL,
               **succeeds, stdout_must_match=r"^ssl: OpenSSL 3\."),
        script("python-rand-bytes", PY_APPROVED, "ssl.RAND_bytes(32)", PY_RAND, **succeeds,
               stdout_must_match=r"^RAND_bytes: 32$"),
        script("python-md5-refused", PY_APPROVED, "hashlib.md5() refused", PY_MD5, expect=Expectation.REFUSED,
               refusal_must_match=r"unsupported hash type|disabled for FIPS|not supported"),
        script("python-no-builtin-hashes", PY_APPROVED, "no built-in hash module (_md5, _sha2, ...) reachable",
               PY_FALLBACKS, **succeeds, stdout_must_match=r"^built-in hash modules: none$"),
    ]  # fmt: skip
    if with_openssl_cli:
        cases = [
            (
                "tls1.2",
                "TLS 1.2 handshake (FIPS suites)",
                Expectation.SUCCEEDS,
                r'"version": "TLSv1\.2", "cipher": "ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)", "echo": "HELLO"',
            ),
            (
                "tls1.3",
                "TLS 1.3 handshake (FIPS suites)",
                Expectation.SUCCEEDS,
                r'"version": "TLSv1\.3", "cipher": "TLS_AES_(128|256)_GCM_SHA(256|384)", "echo": "HELLO"',
            ),
            ("chacha20", "TLS 1.2 client offering only ChaCha20-Poly1305 fails", Expectation.REFUSED, None),
            ("x25519", "TLS 1.3 client offering only X25519 fails", Expectation.REFUSED, None),
        ]
        for kind, description, expect, stdout in cases:
            probes.append(Probe(
                id=f"python-tls-{kind.replace('.', '')}", group=PY_TLS, description=description,
                commands=[TLS_CERT, [python, "-c", TLS, S, kind]], expect=expect, stdout_must_match=stdout,
                refusal_must_match=TLS_REFUSAL,
            ))  # fmt: skip
    return probes


HASH_SEED_PROBE = "python-kernel-hash-seed"
KERNEL_PATH_CODE = {
    "python-kernel-os-urandom": ("os.urandom", "import os; print(len(os.urandom(16)))"),
    "python-kernel-secrets": ("secrets", "import secrets; print(len(secrets.token_bytes(16)))"),
    "python-kernel-systemrandom": (
        "random.SystemRandom",
        "import random; print(random.SystemRandom().random())",
    ),
    HASH_SEED_PROBE: ("hash randomisation seed", "print(1)"),
}
"""Probe id -> (the path's name, code using it). The hash-seed probe runs without PYTHONHASHSEED."""
KERNEL_PATH_REFUSAL = r"/dev/urandom|Function not implemented|No such file|failed to get random numbers"


def kernel_path_probes(python: str) -> list[Probe]:
    """Python's own randomness paths that read the kernel, not OpenSSL: expected to fail without it."""
    return [
        Probe(id=probe_id, group=KERNEL_PATHS,
              description=f"Python {name} (kernel randomness, outside the FIPS boundary)",
              commands=[[python, "-c", code]], expect=Expectation.SUCCEEDS, refusal_must_match=KERNEL_PATH_REFUSAL)
        for probe_id, (name, code) in KERNEL_PATH_CODE.items()
    ]  # fmt: skip


# -- Node.js ---------------------------------------------------------------------------------------------

NODE_CHECKS = r"""
const crypto = require("crypto");
const out = {fips: crypto.getFips(), sha256: crypto.createHash("sha256").update("abc").digest("hex")};
const refused = (f) => { try { f(); return false; } catch (e) { return true; } };
out.md5_refused = refused(() => crypto.createHash("md5").update("abc").digest("hex"));
out.x25519_refused = refused(() => crypto.generateKeyPairSync("x25519"));
out.chacha20_refused = refused(() => crypto.createCipheriv("chacha20-poly1305", Buffer.alloc(32), Buffer.alloc(12)));
const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const signature = crypto.sign("sha256", Buffer.from("abc"), privateKey);
out.ecdsa = crypto.verify("sha256", Buffer.from("abc"), publicKey, signature);
out.random = crypto.randomBytes(32).length;
console.log(JSON.stringify(out));
const expected = {fips: 1, md5_refused: true, x25519_refused: true, chacha20_refused: true, ecdsa: true, random: 32};
const wrong = Object.keys(expected).filter((k) => out[k] !== expected[k]).map((k) => `${k}=${out[k]}`);
if (wrong.length) { console.error("not FIPS-conformant: " + wrong.join(", ")); process.exit(1); }
"""


def node_probe(node: str) -> Probe:
    """Node reads the `nodejs_conf` section of openssl.cnf: FIPS only if the image configures it there."""
    return Probe(
        id="node-fips", group=NODE,
        description="crypto.getFips() is 1; SHA-256, ECDSA P-256, randomBytes work; MD5, X25519, ChaCha20 refused",
        commands=[[node, "-e", NODE_CHECKS]], expect=Expectation.SUCCEEDS,
        stdout_must_match=rf'^\{{"fips":1,"sha256":"{KAT_ABC["sha256"]}","md5_refused":true,'
        r'"x25519_refused":true,"chacha20_refused":true,"ecdsa":true,"random":32\}$',
    )  # fmt: skip
