"""What one ELF file says about cryptography: its dynamic section, symbols, version strings, Go build info.

Parsing goes through pyelftools; version texts are found with byte patterns over the whole file,
which also finds libraries statically linked into other programs.
"""

from __future__ import annotations

import io
import re
import struct

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from pydantic import BaseModel, Field

ELF_MAGIC = b"\x7fELF"

OPENSSL_TEXT = re.compile(rb"OpenSSL (\d+\.\d+\.\d+[a-z]?)(?:[-+][\w.]+)? +\d{1,2} [A-Z][a-z]{2} \d{4}")
FIPS_PROVIDER_NAME = b"OpenSSL FIPS Provider"
BARE_VERSION = re.compile(rb"\x00(\d\.\d{1,2}\.\d{1,2})\x00")
GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"
GO_CRYPTO_PACKAGE = re.compile(
    rb"((?:vendor/)?(?:crypto|golang\.org/x/crypto|github\.com/golang-fips/openssl(?:/v\d)?"
    rb"|github\.com/microsoft/go-crypto-[a-z]+)(?:/[a-z0-9_]+)*)\.(?!go\x00|s\x00)[(A-Za-z_*]"
)
GO_JITTER_ENTROPY = b"crypto/internal/entropy/v1"

# family → (sonames prefixes, byte patterns that betray a static copy, version pattern)
OTHER_FAMILIES: dict[str, tuple[tuple[str, ...], tuple[bytes, ...], bytes | None]] = {
    "libgcrypt": (("libgcrypt.so",), (b"gcry_check_version",), rb"Libgcrypt (\d+\.\d+\.\d+)"),
    "nettle": (("libnettle.so", "libhogweed.so"), (b"nettle_sha256_init",), None),
    "gnutls": (("libgnutls.so",), (b"gnutls_global_init",), rb"GnuTLS (\d+\.\d+\.\d+)"),
    "nss": (
        ("libnss3.so", "libsoftokn3.so", "libfreebl3.so", "libfreeblpriv3.so"),
        (b"NSS_Initialize",),
        None,
    ),
    "mbedtls": (
        ("libmbedcrypto.so", "libmbedtls.so"),
        (b"mbedtls_sha256_starts",),
        rb"[Mm]bed TLS (\d+\.\d+\.\d+)",
    ),
    "wolfssl": (("libwolfssl.so",), (b"wolfSSL_Init",), rb"wolfSSL (\d+\.\d+\.\d+)"),
    "boringssl": ((), (b"BoringSSL",), None),
    "aws-lc": (("libcrypto.so",), (b"AWS-LC",), rb"AWS-LC (?:FIPS )?(\d+\.\d+\.\d+)"),
    "libsodium": (("libsodium.so",), (b"sodium_init",), None),
}
JITTER_MARKERS = (b"jent_entropy_init", b"jent_read_entropy", b"jent_entropy_collector_alloc")
PY_BUILTIN_HASHES = ("PyInit__md5", "PyInit__sha1", "PyInit__sha2", "PyInit__sha256", "PyInit__sha512",
                     "PyInit__sha3", "PyInit__blake2")  # fmt: skip


class GoBuildInfo(BaseModel):
    go_version: str
    path: str = ""
    main_module: str = ""
    settings: dict[str, str] = Field(default_factory=dict)
    deps: list[str] = Field(default_factory=list)


class ElfFacts(BaseModel):
    soname: str | None = None
    needed: list[str] = Field(default_factory=list)
    defined: set[str] = Field(default_factory=set)
    openssl_versions: list[str] = Field(default_factory=list)
    fips_provider: bool = False
    bare_versions: list[str] = Field(default_factory=list)
    jitter: bool = False
    others: dict[str, str | None] = Field(default_factory=dict)
    go: GoBuildInfo | None = None
    go_crypto_packages: list[str] = Field(default_factory=list)
    go_jitter_entropy: bool = False
    py_builtin_hashes: list[str] = Field(default_factory=list)
    parse_error: str | None = None


def _uvarint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while offset < len(data) and shift < 64:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7
    raise ValueError("truncated varint")


def parse_go_buildinfo(section: bytes) -> GoBuildInfo | None:
    """The Go version and module info from a `.go.buildinfo` section (Go 1.18+ inline format)."""
    if not section.startswith(GO_BUILDINFO_MAGIC) or len(section) < 32:
        return None
    flags = section[15]
    if not flags & 0x2:
        return GoBuildInfo(go_version="unknown (pre-1.18 build info)")
    try:
        length, offset = _uvarint(section, 32)
        version = section[offset : offset + length].decode("utf-8", "replace")
        length, offset = _uvarint(section, offset + length)
        modinfo = section[offset : offset + length]
    except ValueError:
        return None
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    info = GoBuildInfo(go_version=version)
    for line in modinfo.decode("utf-8", "replace").splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "path":
            info.path = rest
        elif kind == "mod":
            info.main_module = " ".join(rest.split("\t")[:2])
        elif kind == "dep":
            info.deps.append(" ".join(rest.split("\t")[:2]))
        elif kind == "build":
            key, _, value = rest.partition("=")
            info.settings[key] = value
    return info


def _defined_symbols(elf: ELFFile, section: SymbolTableSection) -> set[str]:
    """Names of the symbols a table defines. Decoded with struct rather than pyelftools' per-symbol parser,
    which costs ~0.2 ms a symbol (seconds for a libcrypto); the layout is the ELF standard's Elf32/64_Sym."""
    order = "<" if elf.little_endian else ">"
    layout, shndx_at = (f"{order}IBBHQQ", 3) if elf.elfclass == 64 else (f"{order}IIIBBH", 5)
    size = struct.calcsize(layout)
    table = section.data()
    strings = elf.get_section(section["sh_link"]).data()
    names = set()
    for entry in struct.iter_unpack(layout, table[: len(table) // size * size]):
        offset = entry[0]
        if offset and entry[shndx_at] != 0 and offset < len(strings):
            names.add(strings[offset : strings.find(b"\0", offset)].decode("utf-8", "replace"))
    return names


def scan_elf(data: bytes) -> ElfFacts:
    """Everything crypto-relevant in one ELF image (already known to start with the ELF magic)."""
    facts = ElfFacts()
    try:
        elf = ELFFile(io.BytesIO(data))
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        facts.needed.append(str(getattr(tag, "needed", "")))
                    elif tag.entry.d_tag == "DT_SONAME":
                        facts.soname = str(getattr(tag, "soname", ""))
            elif isinstance(section, SymbolTableSection):
                facts.defined.update(_defined_symbols(elf, section))
            elif section.name == ".go.buildinfo":
                facts.go = parse_go_buildinfo(section.data())
    except (ELFError, ValueError, KeyError, AssertionError, IndexError, TypeError) as error:
        facts.parse_error = str(error)[:200]
    facts.openssl_versions = sorted({m.group(1).decode() for m in OPENSSL_TEXT.finditer(data)})
    facts.fips_provider = FIPS_PROVIDER_NAME in data and "OSSL_provider_init" in facts.defined
    if facts.fips_provider:
        counts: dict[str, int] = {}
        for match in BARE_VERSION.finditer(data):
            counts[match.group(1).decode()] = counts.get(match.group(1).decode(), 0) + 1
        facts.bare_versions = sorted(counts, key=lambda v: -counts[v])
    facts.jitter = any(marker in data for marker in JITTER_MARKERS) or any(
        name.startswith("jent_") for name in facts.defined
    )
    for family, (sonames, markers, version_pattern) in OTHER_FAMILIES.items():
        by_name = facts.soname is not None and facts.soname.startswith(sonames) and family != "aws-lc"
        by_marker = any(marker in data for marker in markers)
        if by_name or by_marker:
            version = None
            if version_pattern is not None and (found := re.search(version_pattern, data)):
                version = found.group(1).decode()
            facts.others[family] = version
    if facts.go is not None:
        facts.go_crypto_packages = sorted(
            {m.group(1).decode().removeprefix("vendor/") for m in GO_CRYPTO_PACKAGE.finditer(data)}
        )
        facts.go_jitter_entropy = GO_JITTER_ENTROPY in data
    facts.py_builtin_hashes = sorted(
        name.removeprefix("PyInit_") for name in PY_BUILTIN_HASHES if name in facts.defined
    )
    return facts
