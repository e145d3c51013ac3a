"""Each fingerprint against a real implementation from Debian (extracted .debs), each with a negative control.

The reference files are compiled C libraries (nettle, libgcrypt, libtomcrypt, libsodium, libxcrypt, zlib,
e2fsprogs) and pure-language code (pyaes, hash.js): the values the fingerprints generate from the
standards must be the ones real code carries, in the layout it carries them.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pytest

from fipsforge.oci.tree import VirtualTree
from fipsforge.verify.fingerprints import aes, all_fingerprints, blowfish, curves
from fipsforge.verify.fingerprints.layouts import Fingerprint
from fipsforge.verify.fingerprints.scan import Matcher
from fipsforge.verify.implementations import scan_tree
from oci_fixtures import Entry, debian_rootfs, layer

LIB = "usr/lib/x86_64-linux-gnu/"
PACKAGES = ["libnettle8t64", "libhogweed6t64", "libgcrypt20", "libtomcrypt1", "libsodium23", "libcrypt1", "zlib1g",
            "libext2fs2t64", "python3-pyaes", "node-hash.js"]  # fmt: skip
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
}
# SHA-512's K words begin with SHA-256's: erasing SHA-256's erases SHA-512's too.
SHARES_BYTES = {"sha256-k": {"sha512-k"}}
FINGERPRINTS = {f.id: f for f in all_fingerprints()}


@pytest.fixture(scope="module")
def references() -> Path:
    return debian_rootfs("verify-fingerprints", PACKAGES)


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
    assert set(FINGERPRINTS) == set(REFERENCES)


@pytest.mark.parametrize("fingerprint_id", sorted(REFERENCES))
def test_detected_in_a_real_implementation(fingerprint_id: str, references: Path, matcher: Matcher) -> None:
    path, layout = REFERENCES[fingerprint_id]
    data = (references / path).read_bytes()
    hits = {m.fingerprint.id: m for m in matcher.scan(data)}
    assert fingerprint_id in hits, f"{fingerprint_id} not found in {path}"
    assert hits[fingerprint_id].layout == layout
    # negative control: the same file without the fingerprint's bytes is not flagged for it, and nothing
    # else it carries is lost (the erasure is specific)
    erased = {m.fingerprint.id for m in matcher.scan(_erase(data, FINGERPRINTS[fingerprint_id]))}
    assert erased == set(hits) - {fingerprint_id} - SHARES_BYTES.get(fingerprint_id, set())


@pytest.mark.parametrize("fingerprint_id", sorted(SCRIPT_REFERENCES))
def test_detected_in_pure_language_code(fingerprint_id: str, references: Path, matcher: Matcher) -> None:
    text = (references / SCRIPT_REFERENCES[fingerprint_id]).read_bytes()
    assert fingerprint_id in {m.fingerprint.id for m in matcher.scan_script(text)}
    # negative control: the same source with every hexadecimal literal off by one carries no table
    shifted = re.sub(rb"0x([0-9a-fA-F]+)", lambda m: hex(int(m.group(1), 16) + 1).encode(), text)
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
