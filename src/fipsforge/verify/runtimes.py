"""Language runtimes: Go build info, Python packages with their own crypto, Node's OpenSSL, Java providers."""

from __future__ import annotations

import re

from fipsforge.oci.tree import Severity, VirtualTree
from fipsforge.verify.elfscan import ElfFacts
from fipsforge.verify.model import FipsModule, GoBinary, OpenSSLConfig

RuleHit = tuple[str, Severity, str, str]

PY_OWN_CRYPTO = re.compile(
    r"(?:^|/)(?:site|dist)-packages/(pycryptodomex?|pycrypto|tinyec|pyaes|rsa|ecdsa)-[^/]*\.(?:dist|egg)-info/"
    r"(?:METADATA|PKG-INFO)$"
)
PY_BUILTIN_HASH_MODULE = re.compile(
    r"/lib-dynload/(_md5|_sha1|_sha2|_sha256|_sha512|_sha3|_blake2)\.[^/]*\.so$"
)
PY_PACKAGE = re.compile(r"(?:site|dist)-packages/([^/]+)/")
BC_FIPS_JAR = re.compile(r"(?:^|/)bc-?fips-(\d+(?:\.\d+)+)\.jar$")
JAVA_PROVIDER = re.compile(r"^security\.provider\.(\d+)\s*=\s*(\S+)", re.MULTILINE)


def wanted_path(path: str) -> bool:
    return path.endswith("/java.security")


def python_package_of(path: str) -> str | None:
    match = PY_PACKAGE.search(path)
    return match.group(1) if match else None


def go_binaries(elves: dict[str, ElfFacts]) -> list[GoBinary]:
    found = []
    for path, facts in sorted(elves.items()):
        if facts.go is None:
            continue
        settings = facts.go.settings
        experiment = settings.get("GOEXPERIMENT", "")
        fips = settings.get("GOFIPS140")
        godebug = dict(
            item.split("=", 1) for item in settings.get("DefaultGODEBUG", "").split(",") if "=" in item
        )
        packages = facts.go_crypto_packages
        if "boringcrypto" in experiment:
            backend = "boringcrypto (BoringSSL via cgo)"
        elif any(word in experiment for word in ("systemcrypto", "opensslcrypto")) or any(
            p.startswith(("github.com/golang-fips/openssl", "github.com/microsoft/go-crypto"))
            for p in packages
        ):
            backend = "openssl (golang-fips / Microsoft Go backend)"
        else:
            backend = "go-native"
        found.append(
            GoBinary(
                path=path,
                go_version=facts.go.go_version,
                main_module=facts.go.path or facts.go.main_module,
                settings=settings,
                crypto_packages=packages,
                fips140_module=fips if fips and fips != "off" else None,
                fips140_default=godebug.get("fips140"),
                crypto_backend=backend,
                cgo=settings.get("CGO_ENABLED") == "1",
                cpu_jitter_entropy=facts.go_jitter_entropy,
            )
        )
    return found


def python_findings(tree: VirtualTree, elves: dict[str, ElfFacts]) -> list[RuleHit]:
    hits: list[RuleHit] = []
    builtin_paths = []
    for path, _node in tree.walk():
        match = PY_OWN_CRYPTO.search(path)
        if match:
            hits.append(("PY001", "high", f"Python package {match.group(1)} carries its own cryptography "
                         "outside the FIPS module", path))  # fmt: skip
        if PY_BUILTIN_HASH_MODULE.search(path):
            builtin_paths.append(path)
    for path, facts in elves.items():
        if facts.py_builtin_hashes:
            hits.append(("PY002", "medium", "CPython's built-in hash modules (" + ", ".join(facts.py_builtin_hashes)
                         + ") are compiled in; hashlib can use them instead of OpenSSL", path))  # fmt: skip
    for path in builtin_paths:
        hits.append(("PY002", "medium", "CPython built-in hash module outside OpenSSL", path))
    return hits


def node_findings(
    tree: VirtualTree, elves: dict[str, ElfFacts], config: OpenSSLConfig | None
) -> list[RuleHit]:
    hits: list[RuleHit] = []
    for path, facts in elves.items():
        if not path.endswith(("/node", "/nodejs")):
            continue
        if any(n.startswith("libcrypto.so") for n in facts.needed):
            hits.append(("NODE001", "info", "Node uses the shared system OpenSSL", path))
            if config is not None and config.path and not config.nodejs_conf:
                hits.append(("NODE002", "high", "openssl.cnf has no nodejs_conf section: Node does not apply "
                             "its FIPS settings unless run with --openssl-shared-config", config.path))  # fmt: skip
        elif facts.openssl_versions:
            hits.append(
                ("NODE003", "high", f"Node bundles its own OpenSSL {facts.openssl_versions[0]}", path)
            )
    return hits


def java(tree: VirtualTree) -> tuple[list[FipsModule], list[RuleHit]]:
    modules: list[FipsModule] = []
    hits: list[RuleHit] = []
    for path, _node in tree.files():
        match = BC_FIPS_JAR.search(path)
        if match:
            modules.append(FipsModule(name="Bouncy Castle FIPS Java API", version=match.group(1), path=path,
                                      cmvp_certificate=None, cmvp_status="", integrity_ok=None,
                                      evidence=f"jar {path.rsplit('/', 1)[-1]}"))  # fmt: skip
    for path, node in tree.files():
        if not path.endswith("/java.security"):
            continue
        text = (tree.content(node) or b"").decode("utf-8", "replace")
        providers = sorted((int(n), name) for n, name in JAVA_PROVIDER.findall(text))
        first = providers[0][1] if providers else ""
        if "BouncyCastleFipsProvider" not in first:
            severity: Severity = "medium" if modules else "high"
            hits.append(("JAVA001", severity, f"java.security's first provider is {first or 'none'}, not BC-FIPS",
                         path))  # fmt: skip
    return modules, hits
