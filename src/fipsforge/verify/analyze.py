"""Static FIPS-boundary analysis of one image: inventory, findings, kernel independence and verdict."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from fipsforge import cmvp
from fipsforge.errors import FipsforgeError
from fipsforge.oci.reader import ImageSource, open_image
from fipsforge.oci.tree import ReadLimits, Severity, VirtualTree
from fipsforge.stack.integrity import DEFAULT_FIPS_KEY
from fipsforge.verify import certs, implementations, opensslconf, packages, runtimes
from fipsforge.verify.elfscan import ELF_MAGIC, ElfFacts, scan_elf
from fipsforge.verify.model import (
    CryptoLibrary,
    Finding,
    FipsModule,
    GoBinary,
    OpenSSLConfig,
    Package,
    VerifyReport,
    severity_rank,
)
from fipsforge.verify.versions import compare

OPENSSL_FIPS = "OpenSSL FIPS Provider"
# Wolfi/Chainguard: libcrypto3 seeds OpenSSL from the CPU-jitter source from this build on.
KERNEL_INDEPENDENT_LIBCRYPTO3 = "3.4.0-r2"
FIPS_PROVIDER_PACKAGES = ("openssl-provider-fips", "openssl-fips-provider", "openssl-fips")
SYSTEM_LIB_DIRS = ("usr/lib/", "lib/", "usr/lib64/", "lib64/", "usr/local/lib/", "usr/local/lib64/")
VENDOR_DIRS = ("site-packages/", "dist-packages/", "node_modules/", ".libs/")


def keep_for_analysis(path: str, head: bytes) -> bool:
    """Which file contents the tree keeps: ELF files and the small files the rules read."""
    return (
        head.startswith(ELF_MAGIC)
        or packages.wanted_path(path)
        or path.endswith((".cnf", ".conf", "/java.security", ".spdx", ".cdx"))
        or runtimes.wanted_path(path)
        or implementations.wanted_path(path, head)
        or certs.wanted_path(path, head)
    )


@dataclass
class _State:
    tree: VirtualTree
    env: dict[str, str]
    today: date
    fingerprints: bool = True
    findings: list[Finding] = field(default_factory=list)
    modules: list[FipsModule] = field(default_factory=list)
    libraries: list[CryptoLibrary] = field(default_factory=list)
    elves: dict[str, ElfFacts] = field(default_factory=dict)
    packages: list[Package] = field(default_factory=list)
    sboms: list[str] = field(default_factory=list)
    sbom_documents: list[tuple[str, bytes]] = field(default_factory=list)
    """The attached (or, with a key, the signed) SBOMs, to compare with the dpkg status."""
    yes: list[str] = field(default_factory=list)
    no: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)

    def add(self, rule_id: str, severity: Severity, message: str, path: str) -> None:
        self.findings.append(Finding(rule_id=rule_id, severity=severity, message=message, path=path))


def verify_image(
    ref: str,
    work_dir: Path,
    sbom_files: list[Path] | None = None,
    limits: ReadLimits | None = None,
    today: date | None = None,
    fingerprints: bool = True,
    key: Path | None = None,
    require_attestations: bool = False,
) -> VerifyReport:
    """Open `ref`, read its layers into a virtual tree and analyse it. Nothing is unpacked to disk.

    `fingerprints=False` skips the crypto-implementation detector (the benchmark's baseline). With `key`,
    the image's cosign signature and attestations are checked, and only the SBOMs of verified
    attestations are used.
    """
    with open_image(ref, work_dir) as image:
        tree = image.tree(limits=limits, keep=keep_for_analysis, work_dir=work_dir)
        try:
            state = _State(tree=tree, env=image.env, today=today or date.today(), fingerprints=fingerprints)
            if key is None:
                _attached_sboms(state, image)
            else:
                _signed_sboms(state, image, key, require_attestations)
            return analyze(state, ref, image.manifest_digest, sbom_files or [])
        finally:
            tree.close()


def _attached_sboms(state: _State, image: ImageSource) -> None:
    for referrer in image.referrers():
        for layer in referrer.layers:
            try:
                data = image.blob(layer)
            except FipsforgeError:
                continue
            found = packages.sbom_packages(data, f"referrer:{referrer.descriptor.digest}")
            if found is not None:
                state.packages += found
                state.sboms.append(f"{referrer.via}:{referrer.descriptor.digest} ({referrer.artifact_type})")
                state.sbom_documents.append((state.sboms[-1], data))


def _signed_sboms(state: _State, image: ImageSource, key: Path, require_attestations: bool) -> None:
    from fipsforge.verify.signatures import check_signatures

    check = check_signatures(image, key, require_attestations)
    for finding in check.findings:
        state.add(finding.rule_id, finding.severity, finding.message, "")
    for kind, data in check.sboms.items():
        found = packages.sbom_packages(data, f"signed attestation {kind}")
        if found is not None:
            state.packages += found
            state.sboms.append(f"signed attestation {kind}")
            state.sbom_documents.append((state.sboms[-1], data))


def analyze(state: _State, ref: str, digest: str | None, sbom_files: list[Path]) -> VerifyReport:
    tree = state.tree
    for refused in tree.findings:
        state.add(f"oci/{refused.rule_id}", refused.severity, f"{refused.message} (layer {refused.layer})",
                  refused.path)  # fmt: skip
    _inventory(state, sbom_files)
    _sboms_match_dpkg(state)
    for path, node in tree.files():
        data = tree.content(node)
        if data is not None and data.startswith(ELF_MAGIC):
            state.elves[path] = scan_elf(data)
    openssldir = _openssldir(state)
    config = opensslconf.effective_config(tree, state.env, openssldir) if _has_openssl(state) else None
    _openssl(state, config)
    _other_libraries(state)
    go = runtimes.go_binaries(state.elves)
    _go(state, go)
    for rule_id, severity, message, path in runtimes.python_findings(tree, state.elves):
        state.add(rule_id, severity, message, path)
    for rule_id, severity, message, path in runtimes.node_findings(tree, state.elves, config):
        state.add(rule_id, severity, message, path)
    java_modules, java_findings = runtimes.java(tree)
    for module in java_modules:
        _certify(state, module)
    for rule_id, severity, message, path in java_findings:
        state.add(rule_id, severity, message, path)
    _package_rules(state)
    found = _crypto_inventory(state, config, go)
    kernel = _kernel_independence(state)
    if not state.modules:
        state.add("FIPS001", "high", "no FIPS module found (OpenSSL fips.so, Go FIPS module, BC-FIPS)", "")
    if kernel == "no":
        state.add("KI001", "high", "not kernel-independent: " + "; ".join(state.no), "")
    blocking = any(severity_rank(f.severity) <= severity_rank("high") for f in state.findings)
    verdict = "pass" if state.modules and kernel == "yes" and not blocking else "fail"
    items: list[Finding | FipsModule | CryptoLibrary | GoBinary] = [*state.findings, *state.modules,
                                                                     *state.libraries, *go]  # fmt: skip
    for item in items:
        item.path = _image_path(item.path)
    state.findings.sort(key=lambda f: (severity_rank(f.severity), f.rule_id, f.path))
    return VerifyReport(
        image=ref,
        digest=digest,
        fips_modules=state.modules,
        kernel_independent=kernel,
        kernel_independent_reasons=state.yes if kernel == "yes" else state.no or state.yes,
        verdict=verdict,
        findings=state.findings,
        packages=state.packages,
        crypto_libraries=state.libraries,
        go_binaries=go,
        openssl_config=config,
        sboms=state.sboms,
        complete=tree.complete,
        **found,
    )


def _crypto_inventory(state: _State, config: OpenSSLConfig | None, go: list[GoBinary]) -> dict[str, Any]:
    """Implementations found by their constants, then certificates and keys: report fields and findings."""
    found: dict[str, Any] = {}
    if state.fingerprints:
        from fipsforge.verify.fingerprints import all_fingerprints
        from fipsforge.verify.fingerprints.scan import Matcher

        hits = implementations.scan_tree(state.tree, state.elves, Matcher(all_fingerprints()))
        boundary = implementations.boundary_of(state.tree, state.modules, go, config)
        found["crypto_implementations"], rule_hits = implementations.classify(hits, state.elves, boundary)
        for rule_id, severity, message, path in rule_hits:
            state.add(rule_id, severity, message, path)
    certificates, keys, bundles, rule_hits = certs.inventory(state.tree, state.today)
    for rule_id, severity, message, path in rule_hits:
        state.add(rule_id, severity, message, path)
    found.update(certificates=certificates, private_keys=keys, ca_bundles=bundles)
    return found


def _image_path(path: str) -> str:
    """Paths inside the image are shown absolute; empty and non-file evidence stays as it is."""
    return path if not path or path.startswith("/") or ":" in path.split("/")[0] else f"/{path}"


def _inventory(state: _State, sbom_files: list[Path]) -> None:
    state.packages += packages.dpkg_packages(state.tree) + packages.apk_packages(state.tree)
    for path, data in packages.image_sboms(state.tree):
        found = packages.sbom_packages(data, path)
        if found is not None:
            state.packages += found
            state.sboms.append(path)
    for sbom in sbom_files:
        try:
            data = sbom.read_bytes()
        except OSError as error:
            raise FipsforgeError(f"{sbom}: cannot read SBOM ({error.strerror})") from error
        found = packages.sbom_packages(data, str(sbom))
        if found is None:
            raise FipsforgeError(f"{sbom}: not an SPDX or CycloneDX JSON document")
        state.packages += found
        state.sboms.append(str(sbom))


def _sboms_match_dpkg(state: _State) -> None:
    from fipsforge.verify.signatures import sbom_disagreement

    installed = [p for p in state.packages if p.ecosystem == "deb"]
    for source, data in state.sbom_documents:
        disagreement = sbom_disagreement(data, installed)
        if disagreement:
            state.add("SBOM001", "high", f"the SBOM ({source}) disagrees with the image's dpkg status: "
                      f"{disagreement}", packages.DPKG_STATUS)  # fmt: skip


def _has_openssl(state: _State) -> bool:
    """Whether anything in the image is, carries, or links OpenSSL (so its configuration matters)."""
    return any(
        f.openssl_versions
        or f.fips_provider
        or (f.soname or "").startswith("libcrypto.so")
        or any(n.startswith("libcrypto.so") for n in f.needed)
        for f in state.elves.values()
    )


def _openssldir(state: _State) -> str | None:
    for path, facts in state.elves.items():
        if (facts.soname or "").startswith("libcrypto.so"):
            data = state.tree.read_bytes(path) or b""
            match = re.search(rb'OPENSSLDIR: "([^"]+)"', data)
            if match:
                return match.group(1).decode("utf-8", "replace")
    return None


def _certify(state: _State, module: FipsModule) -> None:
    """Fill in the CMVP fields from fipsforge's shipped data (exact version match only)."""
    certificate = cmvp.find_certificate(module.name, module.version) if module.version else None
    module.cmvp_certificate = certificate.certificate if certificate else None
    if certificate is not None:
        module.cmvp_sources = [
            f"{s.source} (retrieved {s.retrieved.isoformat()})" for s in certificate.sources
        ]
    module.cmvp_status = (
        cmvp.module_status(module.name, module.version, state.today) if module.version else cmvp.NOT_VALIDATED
    )
    if certificate is None:
        state.add("FIPS004", "medium", f"{module.name} {module.version or '(unknown version)'}: "
                  f"{cmvp.NOT_VALIDATED} (no CMVP certificate for this exact version)", module.path)  # fmt: skip
    else:
        for warning in cmvp.certificate_warnings(certificate, state.today):
            state.add("FIPS005", "medium", warning, module.path)
    state.modules.append(module)


def _jitter_seeded_libcrypto(state: _State, config: OpenSSLConfig | None) -> str | None:
    """The libcrypto whose JITTER seed source openssl.cnf selects (`[random] seed = JITTER`), if any."""
    if config is None or (config.seed or "").upper() != "JITTER":
        return None
    return next(
        (path for path, facts in state.elves.items()
         if (facts.soname or "").startswith("libcrypto.so") and facts.jitter and path.startswith(SYSTEM_LIB_DIRS)),
        None,
    )  # fmt: skip


def _openssl(state: _State, config: OpenSSLConfig | None) -> None:
    libcrypto_paths = []
    seeded_by = _jitter_seeded_libcrypto(state, config)
    for path, facts in state.elves.items():
        if facts.fips_provider or path.endswith("ossl-modules/fips.so"):
            _fips_module(state, path, facts, config, seeded_by)
            continue
        is_libcrypto = (facts.soname or "").startswith("libcrypto.so")
        if is_libcrypto or facts.openssl_versions:
            linked = any(n.startswith("libcrypto.so") for n in facts.needed)
            if linked and not is_libcrypto:
                continue
            in_vendor_dir = any(d in path for d in VENDOR_DIRS)
            if is_libcrypto:
                system = path.startswith(SYSTEM_LIB_DIRS) and not in_vendor_dir
                linkage: Literal["shared", "static", "vendored"] = "shared" if system else "vendored"
            else:
                linkage = "vendored" if in_vendor_dir else "static"
            version = facts.openssl_versions[0] if facts.openssl_versions else None
            state.libraries.append(CryptoLibrary(family="OpenSSL libcrypto", version=version, path=path,
                                                 linkage=linkage, jitter=facts.jitter))  # fmt: skip
            if linkage == "shared":
                libcrypto_paths.append(path)
            else:
                package = runtimes.python_package_of(path)
                owner = f" in Python package {package}" if package else ""
                state.add("CRYPTO001", "high", f"OpenSSL {version or '(unknown version)'} {linkage} copy{owner} "
                          "outside the FIPS module boundary: its algorithms bypass the FIPS provider", path)  # fmt: skip
        if (facts.soname or "").startswith("libssl.so"):
            state.libraries.append(
                CryptoLibrary(family="OpenSSL libssl", version=None, path=path, linkage="shared")
            )
        if "/ossl-modules/" in path and not path.endswith("/fips.so"):
            state.add("OSSL001", "medium", "non-FIPS OpenSSL provider module present", path)
    if not libcrypto_paths and not any(m.name == OPENSSL_FIPS for m in state.modules):
        return
    if config is None or config.path is None:
        state.add("CONF005", "high", "no openssl.cnf found: OpenSSL runs with the default provider", "")
        return
    where = config.path
    if config.parse_errors:
        state.add("CONF007", "high", "OpenSSL cannot parse the configuration (a line without '=' at "
                  f"{', '.join(config.parse_errors)}): it discards all of it and runs on the default provider",
                  where)  # fmt: skip
    if not config.fips_activated:
        state.add("CONF001", "high", "openssl.cnf does not activate the FIPS provider", where)
    if config.default_activated and not opensslconf.properties_require_fips(config.default_properties):
        state.add("CONF002", "high", "the default (non-FIPS) provider is active and default_properties "
                  "does not require fips=yes", where)  # fmt: skip
    elif config.fips_activated and not opensslconf.properties_require_fips(config.default_properties):
        state.add("CONF003", "medium", "default_properties does not require fips=yes", where)
    open_reasons = opensslconf.fails_closed(config) if config.fips_activated else []
    if open_reasons:
        state.add("CONF006", "medium", "openssl.cnf does not fail closed: " + "; ".join(open_reasons), where)
    if (config.seed or "").upper() == "JITTER" and seeded_by is None:
        state.add("CONF004", "high", "openssl.cnf asks for the JITTER seed source but libcrypto "
                      "was built without it", where)  # fmt: skip


def _fips_module(
    state: _State, path: str, facts: ElfFacts, config: OpenSSLConfig | None, seeded_by: str | None
) -> None:
    """One fips.so: version, integrity against the recorded module-mac, and where its seed comes from."""
    data = state.tree.read_bytes(path) or b""
    version = facts.bare_versions[0] if facts.bare_versions else None
    recorded = _recorded_mac(state, config)
    computed = hmac.new(DEFAULT_FIPS_KEY, data, hashlib.sha256).hexdigest()
    integrity: bool | None = None
    evidence = "no module-mac recorded in the effective configuration or a fipsmodule.cnf"
    if recorded:
        mac_path, mac = recorded
        integrity = hmac.compare_digest(mac, computed)
        evidence = (
            f"module-mac in {mac_path} {'matches' if integrity else 'does not match'} HMAC-SHA256(fips.so)"
        )
    module = FipsModule(name=OPENSSL_FIPS, version=version, path=path, cmvp_certificate=None,
                        cmvp_status=cmvp.NOT_VALIDATED, integrity_ok=integrity, jitter_inside=facts.jitter,
                        evidence=evidence)  # fmt: skip
    if integrity is False:
        state.add("FIPS002", "critical", f"fips.so integrity failure: {evidence}", path)
    elif integrity is None:
        state.add("FIPS003", "high", f"fips.so integrity cannot be checked: {evidence}", path)
    if facts.jitter:
        state.yes.append(f"{_image_path(path)} carries jitterentropy inside the module (enable-fips-jitter)")
    elif version is not None and _version_tuple(version) >= (3, 2):
        # 3.2+ modules ask the core for "user entropy"; libcrypto serves it from its seed source only once
        # that exists, and from the kernel before then, whatever openssl.cnf's seed says.
        state.add("KI002", "high", f"fips.so {version} has no jitter inside the module: it seeds from the "
                  "kernel (getrandom) even with seed = JITTER in openssl.cnf (the enable-fips-jitter trap)", path)  # fmt: skip
        state.no.append(f"{_image_path(path)} ({version}) has no jitter inside the module; 3.2+ modules seed from "
                        "the kernel through libcrypto regardless of openssl.cnf's seed")  # fmt: skip
    elif seeded_by is not None:
        # pre-3.2 modules call the legacy get_entropy upcall, which only a libcrypto built with
        # enable-fips-jitter answers from jitter; enable-jitter alone answers it from the kernel.
        state.undecided.append(
            f"{_image_path(path)} ({version or 'unknown version'}) is seeded through libcrypto's legacy "
            f"get_entropy upcall ({_image_path(seeded_by)} has the JITTER source); that is jitter only if "
            "libcrypto was built with enable-fips-jitter, which the binary does not show"
        )
    else:
        state.no.append(f"{_image_path(path)} has no jitter entropy source inside the module, and openssl.cnf "
                        "does not select libcrypto's JITTER seed source: it is seeded from the kernel")  # fmt: skip
    _certify(state, module)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def _recorded_mac(state: _State, config: OpenSSLConfig | None) -> tuple[str, str] | None:
    if config is not None and config.fips_section.get("module-mac"):
        where = next((f for f in config.files if f.endswith("fipsmodule.cnf")), config.path or "openssl.cnf")
        return where, _normal_mac(config.fips_section["module-mac"])
    for path, _node in state.tree.files():
        if path.endswith("fipsmodule.cnf"):
            for section in opensslconf.fips_sections(state.tree, path):
                return "/" + path, _normal_mac(section["module-mac"])
    return None


def _normal_mac(text: str) -> str:
    return text.replace(":", "").strip().lower()


def _other_libraries(state: _State) -> None:
    for path, facts in state.elves.items():
        for family, version in facts.others.items():
            shared = facts.soname is not None
            state.libraries.append(CryptoLibrary(family=family, version=version, path=path,
                                                 linkage="shared" if shared else "static"))  # fmt: skip
            state.add("CRYPTO002", "medium", f"{family} {version or ''} crypto library outside the FIPS "
                      "module boundary".replace("  ", " "), path)  # fmt: skip


def _go(state: _State, binaries: list[GoBinary]) -> None:
    for binary in binaries:
        if not binary.crypto_packages:
            continue
        if binary.fips140_module:
            module = FipsModule(name="Go Cryptographic Module", version=binary.fips140_module, path=binary.path,
                                cmvp_certificate=None, cmvp_status=cmvp.NOT_VALIDATED, integrity_ok=None,
                                jitter_inside=binary.cpu_jitter_entropy,
                                evidence=f"GOFIPS140={binary.fips140_module}")  # fmt: skip
            _certify(state, module)
            if binary.fips140_default not in ("on", "only"):
                state.add("GO002", "medium", "Go FIPS module linked but fips140 is not on by default "
                          "(GODEBUG fips140)", binary.path)  # fmt: skip
            if binary.cpu_jitter_entropy:
                state.yes.append(f"{binary.path}: Go FIPS module with its own CPU-jitter entropy source")
            else:
                state.no.append(
                    f"{binary.path}: Go FIPS module seeded from the kernel (no CPU-jitter source)"
                )
        elif binary.crypto_backend == "go-native":
            state.add("GO001", "high", f"Go binary ({binary.go_version}) uses Go's own crypto "
                      f"({len(binary.crypto_packages)} crypto packages) outside any FIPS module", binary.path)  # fmt: skip
        else:
            state.add("GO003", "info", f"Go crypto backend: {binary.crypto_backend}", binary.path)


def _package_rules(state: _State) -> None:
    """Rules that only package databases and SBOMs can answer (no ELF evidence needed)."""
    have_elf_module = any(m.name == OPENSSL_FIPS and m.integrity_ok is not None for m in state.modules)
    seen: set[tuple[str, str]] = set()
    for package in state.packages:
        key = (package.name, package.version)
        if key in seen:
            continue
        seen.add(key)
        ecosystem = "deb" if package.ecosystem == "deb" else "apk"
        if package.name in FIPS_PROVIDER_PACKAGES and not have_elf_module:
            upstream = package.version.split("-r")[0].split("-")[0]
            _certify(state, FipsModule(name=OPENSSL_FIPS, version=upstream, path=package.source,
                                       cmvp_certificate=None, cmvp_status=cmvp.NOT_VALIDATED, integrity_ok=None,
                                       evidence=f"package {package.name} {package.version}"))  # fmt: skip
        if package.name == "libcrypto3" and package.ecosystem in ("apk", "sbom"):
            try:
                newer = compare(ecosystem, package.version, KERNEL_INDEPENDENT_LIBCRYPTO3) >= 0
            except FipsforgeError:
                continue
            rule = f"libcrypto3 {package.version} ({package.source}) "
            if newer:
                state.yes.append(rule + f">= {KERNEL_INDEPENDENT_LIBCRYPTO3}: seeds OpenSSL from CPU jitter")
            else:
                state.no.append(rule + f"< {KERNEL_INDEPENDENT_LIBCRYPTO3}: seeds OpenSSL from the kernel")


def _kernel_independence(state: _State) -> str:
    if not state.modules:
        state.no.append("no FIPS module found, so nothing is seeded inside a module boundary")
        return "no"
    if state.no:
        return "no"
    if state.yes:
        return "yes" if state.tree.complete else "unknown"
    if state.undecided:
        state.no.extend(state.undecided)
        return "unknown"
    state.no.append(
        "the FIPS module is known only from package metadata, and no rule decides its seed source"
    )
    return "unknown"
