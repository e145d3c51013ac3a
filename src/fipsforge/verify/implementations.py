"""Which files implement which algorithms (by fingerprints), and whether each is inside a FIPS boundary.

Inside: a fips.so whose module-mac verifies, the approved algorithms of a Go binary built with
GOFIPS140, a BC-FIPS jar. Outside: everything else. A security function outside is a finding: high when
a runtime's default API reaches it (PHP's hash(), a Go binary's crypto/*, CPython's built-in hashes),
medium for a library the workload may load. The system libcrypto carries the default provider's
implementations: reachable only through providers (EVP) and through the deprecated low-level API
(MD5_Init, AES_encrypt, ...), which bypasses providers; medium when openssl.cnf activates only the FIPS
provider and requires fips=yes, high otherwise. PHP functions listed in the CLI's `disable_functions`
downgrade the php binary's algorithms they are the only way to, to low.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from fipsforge.oci.tree import Severity, VirtualTree
from fipsforge.verify.elfscan import ELF_MAGIC, ElfFacts
from fipsforge.verify.fingerprints.scan import SYMBOL_ONLY, Match, Matcher
from fipsforge.verify.model import (
    CryptoEvidence,
    CryptoImplementation,
    FipsModule,
    GoBinary,
    ImplementedAlgorithm,
    OpenSSLConfig,
)
from fipsforge.verify.opensslconf import properties_require_fips

RuleHit = tuple[str, Severity, str, str]

SCRIPT_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".php", ".rb", ".pl", ".pm", ".lua")
WASM_MAGIC = b"\x00asm"
CLASS_MAGIC = b"\xca\xfe\xba\xbe"
JAR_SUFFIXES = (".jar", ".war")
# Algorithms the Go Cryptographic Module (crypto/internal/fips140/...) implements.
GO_FIPS_ALGORITHMS = frozenset(
    {"AES", "SHA-256", "SHA-512", "SHA-3", "ECC P-256", "ECC P-384", "Ed25519/X25519"}
)
RUNTIME_APIS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:^|/)bin/php[\d.]*$"), "PHP's md5(), sha1(), hash() and crypt() in the php binary"),
    (re.compile(r"(?:^|/)lib/php/\d+/[^/]+\.so$"), "a PHP extension's functions"),
    (re.compile(r"/lib-dynload/_(?:md5|sha1|sha2|sha256|sha512|sha3|blake2)\."), "Python's hashlib fallback"),
    (re.compile(r"/ruby/.*digest[^/]*\.so$"), "Ruby's Digest"),
    (re.compile(r"/auto/Digest/"), "Perl's Digest::MD5 / Digest::SHA"),
    (re.compile(r"(?:^|/)bin/node(?:js)?$"), "Node's crypto module (its bundled implementation)"),
)
PYTHON_CORE = re.compile(r"(?:^|/)(?:libpython3[\d.]*\.so[\d.]*|bin/python3[\d.]*)$")
# PHP functions that reach each algorithm of the php binary (ext/standard and ext/hash, PHP 8.4).
PHP_HASH_API = ("hash", "hash_file", "hash_hmac", "hash_hmac_file", "hash_init", "hash_pbkdf2", "hash_hkdf")
PHP_REACH: dict[str, tuple[str, ...]] = {
    "MD5": ("md5", "md5_file", "crypt", *PHP_HASH_API),
    "SHA-1": ("sha1", "sha1_file", *PHP_HASH_API),
    "SHA-256": ("crypt", *PHP_HASH_API),
    "SHA-512": ("crypt", *PHP_HASH_API),
    "Blowfish": ("crypt", "password_hash", "password_verify"),
}
PHP_CLI_INI = re.compile(r"(?:^|/)etc/php/[^/]+/cli/(?:php\.ini|conf\.d/[^/]+\.ini)$")
DISABLE_FUNCTIONS = re.compile(r"^\s*disable_functions\s*=\s*\"?([^\";\n]*)", re.MULTILINE)


def wanted_path(path: str, head: bytes) -> bool:
    """Files the detector reads besides ELF: scripts, WebAssembly, class files and JARs, PHP ini files."""
    return (
        path.endswith(SCRIPT_SUFFIXES + JAR_SUFFIXES)
        or head.startswith((WASM_MAGIC, CLASS_MAGIC))
        or PHP_CLI_INI.search(path) is not None
    )


@dataclass
class Boundary:
    """What decides where a file's algorithms lie."""

    modules: dict[str, str] = field(default_factory=dict)  # path → validated module name
    go_fips: set[str] = field(default_factory=set)
    go_native: set[str] = field(default_factory=set)
    libcrypto_restricted: bool = False
    php_disabled: set[str] = field(default_factory=set)
    php_ini: str = ""


def boundary_of(tree: VirtualTree, modules: list[FipsModule], go: list[GoBinary],
                config: OpenSSLConfig | None) -> Boundary:  # fmt: skip
    inside = {
        m.path.lstrip("/"): m.name
        for m in modules
        if (m.name == "OpenSSL FIPS Provider" and m.integrity_ok) or m.name == "Bouncy Castle FIPS Java API"
    }
    restricted = bool(
        config is not None
        and config.fips_activated
        and not config.default_activated
        and properties_require_fips(config.default_properties)
    )
    disabled, ini = _php_disabled(tree)
    return Boundary(
        modules=inside,
        go_fips={b.path.lstrip("/") for b in go if b.fips140_module},
        go_native={
            b.path.lstrip("/") for b in go if not b.fips140_module and b.crypto_backend == "go-native"
        },
        libcrypto_restricted=restricted,
        php_disabled=disabled,
        php_ini=ini,
    )


def _php_disabled(tree: VirtualTree) -> tuple[set[str], str]:
    """The CLI's effective disable_functions: php.ini, then conf.d in name order; the last one wins."""
    inis = sorted((p for p, _n in tree.files() if PHP_CLI_INI.search(p)), key=lambda p: ("conf.d/" in p, p))
    value, where = "", ""
    for path in inis:
        text = (tree.read_bytes(path) or b"").decode("utf-8", "replace")
        for found in DISABLE_FUNCTIONS.findall(text):
            value, where = found, "/" + path
    return {name.strip().lower() for name in value.split(",") if name.strip()}, where


def _members(path: str, data: bytes) -> Iterator[tuple[str | None, bytes, bool]]:
    """(member, bytes, is_script) to scan: the file itself, or a JAR's class files."""
    if path.endswith(JAR_SUFFIXES):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as jar:
                for info in jar.infolist():
                    if info.filename.endswith(".class") and info.file_size < 16 << 20:
                        yield info.filename, jar.read(info), False
        except (zipfile.BadZipFile, OSError, ValueError):
            return
    elif path.endswith(SCRIPT_SUFFIXES) and not data.startswith(ELF_MAGIC):
        yield None, data, True
    else:
        yield None, data, False


def scan_tree(tree: VirtualTree, elves: dict[str, ElfFacts], matcher: Matcher) -> dict[str, list[tuple[str | None, Match]]]:  # fmt: skip
    """Every kept file that can carry an implementation, scanned once: path → (member, match)."""
    found: dict[str, list[tuple[str | None, Match]]] = {}
    for path, node in tree.files():
        if path not in elves and not path.endswith((*SCRIPT_SUFFIXES, *JAR_SUFFIXES, ".wasm", ".class")):
            continue
        data = tree.content(node)
        if data is None:
            continue
        hits = []
        for member, blob, script in _members(path, data):
            for match in matcher.scan_script(blob) if script else matcher.scan(blob):
                hits.append((member, match))
        if path in elves:  # algorithms without constants: their function names, the weaker evidence
            hits += [(None, match) for match in matcher.scan_symbols(elves[path].defined)]
        if hits:
            found[path] = hits
    return found


def classify(found: dict[str, list[tuple[str | None, Match]]], elves: dict[str, ElfFacts],
             boundary: Boundary) -> tuple[list[CryptoImplementation], list[RuleHit]]:  # fmt: skip
    implementations, hits = [], []
    for path, matches in sorted(found.items()):
        by_algorithm: dict[str, list[tuple[str | None, Match]]] = defaultdict(list)
        for member, match in matches:
            by_algorithm[match.fingerprint.algorithm].append((member, match))
        facts = elves.get(path)
        # One text of all defined symbols, searched by the C regex engine: a per-symbol Python loop cost
        # seconds on an image with a few libcrypto copies.
        symbols = "\n".join(sorted(facts.defined)) if facts else ""
        implementation = CryptoImplementation(path="/" + path, module=boundary.modules.get(path))
        for algorithm, evidence in by_algorithm.items():
            implementation.algorithms.append(_algorithm(path, algorithm, evidence, facts, symbols, boundary))
        implementations.append(implementation)
        hits += _findings(implementation)
    return implementations, hits


def _algorithm(path: str, algorithm: str, evidence: list[tuple[str | None, Match]], facts: ElfFacts | None,
               symbols: str, boundary: Boundary) -> ImplementedAlgorithm:  # fmt: skip
    first = evidence[0][1].fingerprint
    records = []
    for member, match in evidence:
        names = match.fingerprint.symbols
        found = sorted(
            {s for n in names for s in re.findall(rf"^.*{re.escape(n)}.*$", symbols, re.MULTILINE)}
        )
        offset = None if match.layout == SYMBOL_ONLY else match.offset
        records.append(CryptoEvidence(fingerprint=match.fingerprint.id, layout=match.layout, offset=offset,
                                      member=member, found=match.found, of=match.pieces,
                                      source=match.fingerprint.source, symbols=found[:5]))  # fmt: skip
    inside, severity, reach = _place(path, algorithm, facts, boundary)
    return ImplementedAlgorithm(
        algorithm=algorithm,
        primitive=first.primitive,
        security=first.security,
        boundary="inside" if inside else "outside",
        severity=None if inside or not first.security else severity,
        reach=reach if first.security else f"not a security use: {first.notes or first.source}",
        evidence=records,
    )


def _place(
    path: str, algorithm: str, facts: ElfFacts | None, boundary: Boundary
) -> tuple[bool, Severity, str]:
    if path in boundary.modules:
        return True, "info", f"inside {boundary.modules[path]}"
    if path in boundary.go_fips:
        if algorithm in GO_FIPS_ALGORITHMS:
            return True, "info", "inside the Go Cryptographic Module (GOFIPS140)"
        return False, "high", "Go standard library crypto outside crypto/internal/fips140"
    if path in boundary.go_native:
        return False, "high", "Go's crypto/* standard library (no FIPS module)"
    if path.endswith("ossl-modules/fips.so"):
        return False, "high", "a fips.so whose module-mac is not verified is no module boundary"
    if facts is not None and (facts.soname or "").startswith("libcrypto.so"):
        if boundary.libcrypto_restricted:
            return False, "medium", ("libcrypto's built-in default provider (not activated: openssl.cnf requires "
                                     "fips=yes) and its deprecated low-level API, which bypasses providers")  # fmt: skip
        return False, "high", "libcrypto's default provider, which openssl.cnf lets EVP fetch"
    for pattern, api in RUNTIME_APIS:
        if pattern.search(path):
            return _php_gate(path, algorithm, api, boundary)
    if PYTHON_CORE.search(path):
        if facts is not None and facts.py_builtin_hashes:
            return False, "high", "CPython's built-in hash modules (hashlib falls back to them)"
        return False, "medium", "CPython's core (no built-in hash module exposes it)"
    if path.endswith(SCRIPT_SUFFIXES):
        return False, "medium", "a pure-language implementation the workload may import"
    return False, "medium", "a library the workload may load"


def _php_gate(path: str, algorithm: str, api: str, boundary: Boundary) -> tuple[bool, Severity, str]:
    if "/bin/php" not in "/" + path:
        return False, "high", api
    reach = PHP_REACH.get(algorithm, PHP_HASH_API)
    if boundary.php_disabled.issuperset(reach):
        return False, "low", f"{api}; every function reaching it is in disable_functions ({boundary.php_ini})"
    open_ = sorted(set(reach) - boundary.php_disabled)
    return False, "high", f"{api} (enabled: {', '.join(open_)})"


RULES: dict[Severity, str] = {"high": "IMPL001", "medium": "IMPL002", "low": "IMPL003"}


def _findings(implementation: CryptoImplementation) -> list[RuleHit]:
    """One finding per file and severity, naming the algorithms and how they are reached."""
    grouped: dict[Severity, list[ImplementedAlgorithm]] = defaultdict(list)
    for algorithm in implementation.algorithms:
        if algorithm.severity is not None and algorithm.boundary == "outside":
            grouped[algorithm.severity].append(algorithm)
    hits: list[RuleHit] = []
    for severity, algorithms in grouped.items():
        names = ", ".join(sorted(a.algorithm for a in algorithms))
        reach = "; ".join(sorted({a.reach for a in algorithms}))
        hits.append((RULES.get(severity, "IMPL001"), severity,
                     f"implements {names} outside the FIPS module boundary: {reach}", implementation.path))  # fmt: skip
    return hits
