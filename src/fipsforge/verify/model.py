"""The data `fipsforge verify` produces. `VerifyReport` is the JSON contract read by `fipsforge evidence`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from fipsforge.oci.tree import Severity

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")


def severity_rank(severity: Severity) -> int:
    """0 for critical … 4 for info."""
    return SEVERITIES.index(severity)


class Finding(BaseModel):
    rule_id: str
    severity: Severity
    message: str
    path: str


class Package(BaseModel):
    """An installed package, from an OS database, an SBOM or a language's metadata."""

    name: str
    version: str
    ecosystem: Literal["deb", "apk", "sbom", "python", "go", "java"]
    source: str


class CryptoLibrary(BaseModel):
    """A cryptographic library found in an ELF file (shared, or statically linked into another)."""

    family: str
    version: str | None
    path: str
    linkage: Literal["shared", "static", "vendored"]
    jitter: bool = False


class FipsModule(BaseModel):
    name: str
    version: str | None
    path: str
    cmvp_certificate: str | None
    cmvp_status: str
    integrity_ok: bool | None
    cmvp_sources: list[str] = Field(default_factory=list)
    jitter_inside: bool = False
    evidence: str = ""


class GoBinary(BaseModel):
    path: str
    go_version: str
    main_module: str
    settings: dict[str, str] = Field(default_factory=dict)
    crypto_packages: list[str] = Field(default_factory=list)
    fips140_module: str | None = None
    fips140_default: str | None = None
    crypto_backend: str
    cgo: bool = False
    cpu_jitter_entropy: bool = False


class OpenSSLConfig(BaseModel):
    """The effective OpenSSL configuration of the image, as far as it decides the FIPS boundary."""

    path: str | None
    files: list[str] = Field(default_factory=list)
    fips_activated: bool = False
    default_activated: bool = False
    base_activated: bool = False
    default_properties: str | None = None
    seed: str | None = None
    fips_section: dict[str, str] = Field(default_factory=dict)
    nodejs_conf: bool = False
    config_diagnostics: bool = False
    """`config_diagnostics = 1`: configuration errors are fatal where OpenSSL checks them."""
    parse_errors: list[str] = Field(default_factory=list)
    """`file:line` of lines OpenSSL cannot parse: it then discards the whole configuration."""
    activated_before_fips: list[str] = Field(default_factory=list)
    """Providers activated before fips: one of them turns off the default-provider fallback, so a fips
    that fails to load leaves no algorithm rather than the default provider."""


class CryptoEvidence(BaseModel):
    """Where a fingerprint was found: byte offset in the file (or `member` of a JAR), or a symbol."""

    fingerprint: str
    layout: str
    offset: int | None = None
    member: str | None = None
    found: int = 0
    of: int = 0
    source: str = ""
    symbols: list[str] = Field(default_factory=list)


class ImplementedAlgorithm(BaseModel):
    algorithm: str
    primitive: str
    security: bool
    boundary: Literal["inside", "outside"]
    severity: Severity | None = None
    """For security functions outside the boundary: the finding's severity (None inside or non-security)."""
    reach: str = ""
    evidence: list[CryptoEvidence] = Field(default_factory=list)


class CryptoImplementation(BaseModel):
    """One file that implements cryptographic algorithms, found by the constants it carries."""

    path: str
    module: str | None = None
    algorithms: list[ImplementedAlgorithm] = Field(default_factory=list)


class CertificateInfo(BaseModel):
    path: str
    subject: str
    issuer: str
    serial: str
    signature_algorithm: str
    key_algorithm: str
    key_size: int | None
    not_after: str
    problems: list[str] = Field(default_factory=list)


class PrivateKeyInfo(BaseModel):
    path: str
    algorithm: str
    key_size: int | None
    encrypted: bool


class CaBundle(BaseModel):
    """A trust store, summarised: how many certificates, by key algorithm, and the weak or expired ones."""

    path: str
    certificates: int
    key_algorithms: dict[str, int] = Field(default_factory=dict)
    sha1_signed: int = 0
    expired: int = 0
    earliest_expiry: str | None = None


class VerifyReport(BaseModel):
    image: str
    digest: str | None
    fips_modules: list[FipsModule]
    kernel_independent: Literal["yes", "no", "unknown"]
    kernel_independent_reasons: list[str]
    verdict: Literal["pass", "fail"]
    findings: list[Finding]
    packages: list[Package] = Field(default_factory=list)
    crypto_libraries: list[CryptoLibrary] = Field(default_factory=list)
    go_binaries: list[GoBinary] = Field(default_factory=list)
    openssl_config: OpenSSLConfig | None = None
    sboms: list[str] = Field(default_factory=list)
    complete: bool = True
    crypto_implementations: list[CryptoImplementation] = Field(default_factory=list)
    certificates: list[CertificateInfo] = Field(default_factory=list)
    private_keys: list[PrivateKeyInfo] = Field(default_factory=list)
    ca_bundles: list[CaBundle] = Field(default_factory=list)
