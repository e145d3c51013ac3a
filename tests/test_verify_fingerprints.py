"""Each fingerprint against a real implementation from Debian (extracted .debs), each with a negative control.

The reference files are compiled C libraries (nettle, libgcrypt, libtomcrypt, libsodium, libxcrypt, zlib,
e2fsprogs, OpenSSL's libcrypto, libargon2), a Go program (mkcert: Go's crypto/des) and pure-language
code (pyaes, hash.js, des.js, passlib, and blakejs from npm): the values the fingerprints generate from
the standards must be the ones real code carries, in the layout it carries them.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from fipsforge.fsutil import atomic_dir
from fipsforge.oci.tree import VirtualTree
from fipsforge.verify.elfscan import scan_elf
from fipsforge.verify.fingerprints import aes, all_fingerprints, blowfish, curves, des, whirlpool
from fipsforge.verify.fingerprints.layouts import Fingerprint
from fipsforge.verify.fingerprints.scan import SYMBOL_ONLY, Matcher
from fipsforge.verify.implementations import Boundary, classify, scan_tree
from oci_fixtures import Entry, corpus_root, debian_rootfs, layer

LIB = "usr/lib/x86_64-linux-gnu/"
PACKAGES = ["libnettle8t64", "libhogweed6t64", "libgcrypt20", "libtomcrypt1", "libsodium23", "libcrypt1", "zlib1g",
            "libext2fs2t64", "python3-pyaes", "node-hash.js", "libssl3t64", "libargon2-1", "mkcert", "node-des.js",
            "python3-passlib"]  # fmt: skip
NPM = ("blakejs", "1.2.1")  # pure-JavaScript BLAKE2b and BLAKE2s
# fingerprint → (file in the extracted packages, layout real code uses there)
REFERENCES = {
    "aes-sbox": (LIB + "libnettle.so.8.10", "u8"),
    "aes-inverse-sbox": (LIB + "libgcrypt.so.20.5.0", "u8"),
    "aes-te0": (LIB + "libtomcrypt.so.1.0.1", "u32-le"),
    "aes-te1": (LIB + "libnettle.so.8.10", "u32-be"),  # nettle keeps its T-tables in the other byte order
    "aes-te2": (LIB + "libtomcrypt.so.1.0.1", "u32-le"),
    "aes-te3": (LIB + "libnettle.so.8.10", "u32-be"),
    "sha1-constants": (LIB + "libgcrypt.so.20.5.0", "u32-le-constants"),
    "sha256-k": (LIB + "libsodium.so.23.3.0", "u32-le-constants"),
    "sha512-k": (LIB + "libcrypt.so.1.1.0", "u64-le-constants"),
    "keccak-rc": (LIB + "libtomcrypt.so.1.0.1", "u64-le"),
    "md5-t": (LIB + "libcrypt.so.1.1.0", "u32-le-constants"),
    "ripemd160-k": (LIB + "libgcrypt.so.20.5.0", "u32-le-constants"),
    "chacha-salsa-sigma": (LIB + "libsodium.so.23.3.0", "u32-le-constants"),
    "poly1305-clamp": (LIB + "libsodium.so.23.3.0", "u64-le-constants"),
    "edwards25519-constants": (LIB + "libsodium.so.23.3.0", "radix-2^51"),
    "p-256-parameters": (LIB + "libhogweed.so.6.10", "le"),
    "p-384-parameters": (LIB + "libgcrypt.so.20.5.0", "hex"),
    "blowfish-p-array": (LIB + "libcrypt.so.1.1.0", "u32-le"),  # bcrypt
    "blowfish-s1": (LIB + "libgcrypt.so.20.5.0", "u32-le"),
    "camellia-sigma": (LIB + "libgcrypt.so.20.5.0", "u32-le-constants"),
    "sm3-constants": (LIB + "libgcrypt.so.20.5.0", "u32-le-constants"),
    "sm4-ck": (LIB + "libnettle.so.8.10", "u32-le"),
    "des-sbox": ("usr/bin/mkcert", "u8"),  # Go's crypto/des, which crypto/x509 imports
    "des-sp": (LIB + "libtomcrypt.so.1.0.1", "u32-le"),
    "des-sptrans": (LIB + "libcrypto.so.3", "u32-le"),
    "whirlpool-c0": (LIB + "libgcrypt.so.20.5.0", "u64-le"),
    "blake2b-sigma": (LIB + "libargon2.so.1", "u32-le"),
    "md4-rounds": (LIB + "libcrypt.so.1.1.0", "u32-le-constants"),  # the NT hash
    "crc32-table": (LIB + "libz.so.1.3.1", "u32-le"),
    "crc32c-table": (LIB + "libext2fs.so.2.4", "u32-le"),
    "siphash-init": (LIB + "libsodium.so.23.3.0", "u64-le-constants"),
}
SCRIPT_REFERENCES = {
    "aes-sbox": "usr/lib/python3/dist-packages/pyaes/aes.py",
    "aes-te0": "usr/lib/python3/dist-packages/pyaes/aes.py",
    "sha256-k": "usr/share/nodejs/hash.js/lib/hash/sha/256.js",
    "sha512-k": "usr/share/nodejs/hash.js/lib/hash/sha/512.js",  # 64-bit words as 32-bit halves
    "sha1-constants": "usr/share/nodejs/hash.js/lib/hash/sha/1.js",
    "ripemd160-k": "usr/share/nodejs/hash.js/lib/hash/ripemd.js",
    "des-sbox-by-input": "usr/share/nodejs/des.js/lib/des/utils.js",
    "md4-rounds": "usr/lib/python3/dist-packages/passlib/crypto/_md4.py",
    "blake2b-sigma": "npm/blakejs/blake2b.js",  # the IV as 32-bit halves
    "blake2s-sigma": "npm/blakejs/blake2s.js",
}
# Fingerprints of the weaker kind: exact function names (a file → fingerprints its symbols show).
SYMBOL_REFERENCES = {"rc4-symbols": LIB + "libnettle.so.8.10"}
# Where the layout real code uses differs between implementations, a second one.
MORE_REFERENCES = {
    "des-sp": (LIB + "libgcrypt.so.20.5.0", "u32-le"),
    "whirlpool-c0": (LIB + "libcrypto.so.3", "u64-be-doubled"),  # OpenSSL's assembly, rows twice
    "md4-rounds": (LIB + "libgcrypt.so.20.5.0", "u32-le-constants"),  # beside its SHA-1 and RIPEMD-160
}
# SHA-512's K words begin with SHA-256's: erasing SHA-256's erases SHA-512's too.
# MD4's two constants are SHA-1's first two.
SHARES_BYTES = {"sha256-k": {"sha512-k"}, "md4-rounds": {"sha1-constants"}, "sha1-constants": {"md4-rounds"}}
FINGERPRINTS = {f.id: f for f in all_fingerprints()}


def npm_package(name: str, version: str) -> Path:
    """An npm package's files (`npm pack`, unpacked; cached)."""
    target = corpus_root() / "npm" / f"{name}-{version}"
    if target.is_dir():
        return target
    with tempfile.TemporaryDirectory() as work, atomic_dir(target) as staging:
        subprocess.run(
            ["npm", "pack", "--silent", f"{name}@{version}"], cwd=work, check=True, capture_output=True
        )
        with tarfile.open(next(Path(work).glob("*.tgz"))) as archive:
            archive.extractall(staging, filter="data")
    return target


@pytest.fixture(scope="module")
def references() -> Path:
    """The packages, extracted into a tree keyed by their names (a new package list is a new tree)."""
    key = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]
    root = debian_rootfs(f"verify-fingerprints-{key}", PACKAGES)
    npm = root / "npm" / NPM[0]
    if not npm.exists():
        npm.parent.mkdir(exist_ok=True)
        npm.symlink_to(npm_package(*NPM) / "package")
    return root


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(all_fingerprints())


def _erase(data: bytes, fingerprint: Fingerprint) -> bytes:
    """The file with every piece of `fingerprint` zeroed: the same file, minus the evidence."""
    for layout in fingerprint.layouts:
        for piece in layout.pieces:
            if piece:
                data = data.replace(piece, bytes(len(piece)))
    return data


def test_every_fingerprint_has_a_reference_implementation() -> None:
    assert set(FINGERPRINTS) == set(REFERENCES) | set(SCRIPT_REFERENCES) | set(SYMBOL_REFERENCES)
    assert {f.id for f in FINGERPRINTS.values() if f.symbol_only} == set(SYMBOL_REFERENCES)


@pytest.mark.parametrize(
    ("fingerprint_id", "reference"),
    [(f, REFERENCES[f]) for f in sorted(REFERENCES)]
    + [(f, MORE_REFERENCES[f]) for f in sorted(MORE_REFERENCES)],
)
def test_detected_in_a_real_implementation(
    fingerprint_id: str, reference: tuple[str, str], references: Path, matcher: Matcher
) -> None:
    path, layout = reference
    data = (references / path).read_bytes()
    hits = {m.fingerprint.id: m for m in matcher.scan(data)}
    assert fingerprint_id in hits, f"{fingerprint_id} not found in {path}"
    assert hits[fingerprint_id].layout == layout
    # negative control: the same file without the fingerprint's bytes is not flagged for it, and nothing
    # else it carries is lost (the erasure is specific)
    erased = {m.fingerprint.id for m in matcher.scan(_erase(data, FINGERPRINTS[fingerprint_id]))}
    assert erased == set(hits) - {fingerprint_id} - SHARES_BYTES.get(fingerprint_id, set())


def _off_by_one(literal: re.Match[bytes]) -> bytes:
    text = literal.group(1)
    if text[:2] in (b"0x", b"0X"):
        return hex(int(text, 16) + 1).encode()
    return str(int(text) + 1).encode()


@pytest.mark.parametrize("fingerprint_id", sorted(SCRIPT_REFERENCES))
def test_detected_in_pure_language_code(fingerprint_id: str, references: Path, matcher: Matcher) -> None:
    text = (references / SCRIPT_REFERENCES[fingerprint_id]).read_bytes()
    assert fingerprint_id in {m.fingerprint.id for m in matcher.scan_script(text)}
    # negative control: the same source with every integer literal off by one carries no table
    shifted = re.sub(rb"(?<![\w.])(0[xX][0-9a-fA-F]+|[0-9]+)(?![\w.])", _off_by_one, text)
    assert fingerprint_id not in {m.fingerprint.id for m in matcher.scan_script(shifted)}
    assert not matcher.scan_script(
        b"x = [" + b", ".join(str(i * 7919 % 65521).encode() for i in range(400)) + b"]"
    )


def test_a_file_without_crypto_is_not_flagged(references: Path, matcher: Matcher) -> None:
    """zlib carries a CRC table and nothing else; the CRC is on the explicit non-security list."""
    hits = matcher.scan((references / LIB / "libz.so.1.3.1").read_bytes())
    assert [(m.fingerprint.id, m.fingerprint.security) for m in hits] == [("crc32-table", False)]


def test_short_constants_alone_do_not_make_a_hit(matcher: Matcher) -> None:
    """A few words of a table, or one constant of a set, are not enough."""
    sbox = bytes(aes.sbox())
    assert not matcher.scan(b"\x00" * 100 + sbox[:40] + b"\x00" * 100)
    assert "aes-sbox" in {m.fingerprint.id for m in matcher.scan(b"\x00" * 100 + sbox + b"\x00" * 100)}
    # ChaCha's words are ASCII: spread over a binary's strings they are not an implementation
    words = [b"\0expand_user", b"\0and 3 more", b"\0a 2-byte code", b"\0write key"]
    assert not matcher.scan(b"".join(w + bytes(4096) for w in words))
    assert "chacha-salsa-sigma" in {
        m.fingerprint.id for m in matcher.scan(bytes(64) + b"expand 32-byte k" + bytes(64))
    }
    one = (0xD76AA478).to_bytes(4, "little") + (0xE8C7B756).to_bytes(4, "little")
    assert not matcher.scan(one * 50)


def test_sha512_alone_is_not_sha256(references: Path, matcher: Matcher) -> None:
    """SHA-512's K words begin with SHA-256's; a SHA-512-only table must not report SHA-256."""
    data = (references / LIB / "libcrypt.so.1.1.0").read_bytes()
    sha512 = next(m for m in matcher.scan(data) if m.fingerprint.id == "sha512-k")
    table = data[sha512.offset - 16 : sha512.offset + 80 * 8 + 16]
    assert [m.fingerprint.id for m in matcher.scan(table)] == ["sha512-k"]


def test_java_class_files_in_a_jar() -> None:
    """Bouncy Castle's jar: javac puts int and long constants in the class's constant pool, big-endian."""
    jar = debian_rootfs("verify-java", ["libbcprov-java"]) / "usr/share/java/bcprov-1.80.jar"
    tree = VirtualTree()
    tree.add_layer(io.BytesIO(layer([Entry("usr/share/java/bcprov.jar", data=jar.read_bytes())])), "l0")
    found = scan_tree(tree, {}, Matcher(all_fingerprints()))["usr/share/java/bcprov.jar"]
    by_member: dict[str | None, set[str]] = {}
    for member, match in found:
        by_member.setdefault(member, set()).add(match.fingerprint.id)
    digests = "org/bouncycastle/crypto/digests/"
    assert "md5-t" in by_member[digests + "MD5Digest.class"]
    assert "sha1-constants" in by_member[digests + "SHA1Digest.class"]
    assert "sm3-constants" in by_member[digests + "SM3Digest.class"]
    assert "camellia-sigma" in by_member["org/bouncycastle/crypto/engines/CamelliaEngine.class"]
    # negative control: SHA-512's class holds SHA-256's words only as the high halves of its own
    assert by_member[digests + "LongDigest.class"] == {"sha512-k"}
    assert "md5-t" not in by_member[digests + "SHA1Digest.class"]


def test_generated_tables_match_their_definitions() -> None:
    forward = aes.sbox()
    assert sorted(forward) == list(range(256)) and forward[0] == 0x63  # FIPS 197 Figure 7
    assert [aes.inverse_sbox(forward)[s] for s in forward] == list(range(256))
    assert abs(3 + blowfish.pi_words(2)[0] / 2**32 - math.pi) < 1e-9
    assert curves.on_curve("P-256") and curves.on_curve("P-384")
    p, b, x, y = curves.NIST["P-256"]
    curves.NIST["P-256"] = (p, b + 1, x, y)
    try:
        assert not curves.on_curve("P-256")  # a typo in a parameter puts G off the curve
    finally:
        curves.NIST["P-256"] = (p, b, x, y)


def test_md4_is_not_sha1_or_ripemd(references: Path, matcher: Matcher) -> None:
    """SHA-1 and RIPEMD-160 carry MD4's two constants too; code with them and no MD4 is not MD4."""
    go = {m.fingerprint.id for m in matcher.scan((references / "usr/bin/mkcert").read_bytes())}
    assert "sha1-constants" in go and "md4-rounds" not in go  # Go's crypto/sha1, no MD4 in the std library
    sha1 = (references / SCRIPT_REFERENCES["sha1-constants"]).read_bytes()
    ripemd = (references / SCRIPT_REFERENCES["ripemd160-k"]).read_bytes()
    assert "md4-rounds" not in {m.fingerprint.id for m in matcher.scan_script(sha1 + ripemd)}
    # MD4's rounds with one SHA-1 round 3 constant put just after them are no longer MD4
    k2, k3, sha1_k3 = (v.to_bytes(4, "little") for v in (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC))
    code = bytes(64) + (k2 + bytes(26)) * 16 + (k3 + bytes(26)) * 16
    assert "md4-rounds" in {m.fingerprint.id for m in matcher.scan(code + bytes(4096))}
    assert "md4-rounds" not in {m.fingerprint.id for m in matcher.scan(code + bytes(1200) + sha1_k3)}


def test_blake2s_is_not_blake2b(references: Path, matcher: Matcher) -> None:
    """BLAKE2s' IV is the high halves of BLAKE2b's, its SIGMA rows the first ten of BLAKE2b's."""
    argon2 = {
        m.fingerprint.id for m in matcher.scan((references / REFERENCES["blake2b-sigma"][0]).read_bytes())
    }
    assert "blake2b-sigma" in argon2 and "blake2s-sigma" not in argon2
    b2b = {
        m.fingerprint.id
        for m in matcher.scan_script((references / SCRIPT_REFERENCES["blake2b-sigma"]).read_bytes())
    }
    assert b2b == {"blake2b-sigma"}
    # negative control: SIGMA with no IV near is neither (BLAKE's, or a table alone)
    table = bytes(v for row in range(10) for v in (list(range(16)) if row == 0 else [0] * 16))
    assert not {"blake2b-sigma", "blake2s-sigma"} & {m.fingerprint.id for m in matcher.scan(table)}
    sigma_only = (references / REFERENCES["blake2b-sigma"][0]).read_bytes()
    for word in FINGERPRINTS["blake2b-sigma"].layouts[1].near:
        sigma_only = sigma_only.replace(word, bytes(len(word)))
    assert "blake2b-sigma" not in {m.fingerprint.id for m in matcher.scan(sigma_only)}


def test_symbol_only_evidence(references: Path, matcher: Matcher) -> None:
    """RC4 has no constants: nettle's exported arcfour functions name it, reported as `symbol-only`."""
    path = SYMBOL_REFERENCES["rc4-symbols"]
    data = (references / path).read_bytes()
    tree = VirtualTree()
    tree.add_layer(io.BytesIO(layer([Entry(path, data=data)])), "l0")
    found = scan_tree(tree, {path: scan_elf(data)}, matcher)
    [implementation], _hits = classify(found, {path: scan_elf(data)}, Boundary())
    [rc4] = [a for a in implementation.algorithms if a.algorithm == "RC4"]
    [evidence] = rc4.evidence
    assert evidence.layout == SYMBOL_ONLY and evidence.offset is None
    assert "nettle_arcfour_set_key" in evidence.symbols
    # the constants found in the same file keep their offsets
    assert all(
        e.offset is not None for a in implementation.algorithms if a.algorithm != "RC4" for e in a.evidence
    )
    # negative control: a library without RC4 (libsodium) defines none of the names
    sodium = (references / LIB / "libsodium.so.23.3.0").read_bytes()
    assert not matcher.scan_symbols(scan_elf(sodium).defined)
    assert "rc4-symbols" not in {m.fingerprint.id for m in matcher.scan(data)}  # never from bytes


def test_derived_tables_match_their_definitions() -> None:
    """DES: each S-box row a permutation of 0..15, SP = P∘S so each SP table sets only its 4 bits;
    Whirlpool: the S-box a permutation and E the powers of its generator."""
    boxes = des.printed()
    assert all(sorted(boxes[i : i + 16]) == list(range(16)) for i in range(0, 512, 16))
    for table in (des.outerbridge_sp(), des.openssl_sptrans()):
        for box in range(8):
            words = table[64 * box : 64 * box + 64]
            assert bin(_or(words)).count("1") == 4 and len(set(words)) == 16
    assert sorted(des.openssl_bit_positions().values()) == list(range(32))
    assert sorted(whirlpool.sbox()) == list(range(256))
    assert sorted(whirlpool.mini_e()[:15]) == list(range(1, 16))


def _or(values: list[int]) -> int:
    total = 0
    for value in values:
        total |= value
    return total
