"""A CycloneDX 1.6 cryptography bill of materials (CBOM) from a `VerifyReport`, via cyclonedx-python-lib.

One `file` component per file that implements algorithms, one `cryptographic-asset` component per
algorithm and boundary (FIPS 140-3 L1 only inside a module with a CMVP certificate; otherwise none) with
every occurrence (file and byte offset) as evidence, and a dependency from each file to the
algorithms it implements. Certificates and private keys found in the image are assets as well.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.crypto import (
    AlgorithmProperties,
    CertificateProperties,
    CryptoAssetType,
    CryptoCertificationLevel,
    CryptoExecutionEnvironment,
    CryptoPrimitive,
    CryptoProperties,
    RelatedCryptoMaterialProperties,
    RelatedCryptoMaterialType,
)
from cyclonedx.output.json import JsonV1Dot6

from fipsforge import __version__
from fipsforge.verify.model import VerifyReport


def cbom(report: VerifyReport) -> str:
    """The CBOM as CycloneDX 1.6 JSON text."""
    bom = Bom()
    bom.metadata.component = Component(name=report.image, type=ComponentType.CONTAINER,
                                       version=report.digest or None, bom_ref="image")  # fmt: skip
    bom.metadata.properties.add(Property(name="fipsforge:verify:verdict", value=report.verdict))
    bom.metadata.properties.add(Property(name="fipsforge:version", value=__version__))
    assets: dict[str, Component] = {}
    occurrences: dict[str, list[Occurrence]] = defaultdict(list)
    depends: dict[str, set[str]] = defaultdict(set)
    files: dict[str, Component] = {}
    # A boundary is claimed as certified only for a module with a CMVP certificate for its exact version.
    certified = {m.path for m in report.fips_modules if m.cmvp_certificate}
    for implementation in report.crypto_implementations:
        file_ref = f"file:{implementation.path}"
        files[file_ref] = Component(name=implementation.path, type=ComponentType.FILE, bom_ref=file_ref)
        for algorithm in implementation.algorithms:
            ref = f"crypto/algorithm/{algorithm.algorithm}@{algorithm.boundary}"
            if ref not in assets:
                inside = algorithm.boundary == "inside" and implementation.path in certified
                level = CryptoCertificationLevel.FIPS140_3_L1 if inside else CryptoCertificationLevel.NONE
                assets[ref] = Component(
                    name=algorithm.algorithm, type=ComponentType.CRYPTOGRAPHIC_ASSET, bom_ref=ref,
                    crypto_properties=CryptoProperties(
                        asset_type=CryptoAssetType.ALGORITHM,
                        algorithm_properties=AlgorithmProperties(
                            primitive=CryptoPrimitive(algorithm.primitive),
                            execution_environment=CryptoExecutionEnvironment.SOFTWARE_PLAIN_RAM,
                            certification_levels=[level])))  # fmt: skip
                assets[ref].properties.add(Property(name="fipsforge:boundary", value=algorithm.boundary))
                assets[ref].properties.add(
                    Property(name="fipsforge:security", value=str(algorithm.security).lower())
                )
            depends[file_ref].add(ref)
            for evidence in algorithm.evidence:
                location = implementation.path + (f"!/{evidence.member}" if evidence.member else "")
                occurrences[ref].append(Occurrence(location=location, offset=evidence.offset,
                                                   symbol=evidence.symbols[0] if evidence.symbols else None,
                                                   additional_context=f"fingerprint {evidence.fingerprint} "
                                                   f"({evidence.layout}, {evidence.found}/{evidence.of}): {evidence.source}"))  # fmt: skip
    for ref, component in assets.items():
        component.evidence = ComponentEvidence(occurrences=occurrences[ref])
    for index, cert in enumerate(report.certificates):
        ref = f"crypto/certificate/{index}"
        assets[ref] = Component(name=cert.subject or cert.path, type=ComponentType.CRYPTOGRAPHIC_ASSET, bom_ref=ref,
                                crypto_properties=CryptoProperties(asset_type=CryptoAssetType.CERTIFICATE,
                                    certificate_properties=CertificateProperties(
                                        subject_name=cert.subject, issuer_name=cert.issuer,
                                        not_valid_after=datetime.fromisoformat(cert.not_after),
                                        certificate_format="X.509")),
                                evidence=ComponentEvidence(occurrences=[Occurrence(location=cert.path)]))  # fmt: skip
        assets[ref].properties.add(Property(name="fipsforge:signature", value=cert.signature_algorithm))
        assets[ref].properties.add(
            Property(name="fipsforge:key", value=f"{cert.key_algorithm}-{cert.key_size}")
        )
    for index, key in enumerate(report.private_keys):
        ref = f"crypto/private-key/{index}"
        assets[ref] = Component(name=f"{key.algorithm} private key", type=ComponentType.CRYPTOGRAPHIC_ASSET,
                                bom_ref=ref, crypto_properties=CryptoProperties(
                                    asset_type=CryptoAssetType.RELATED_CRYPTO_MATERIAL,
                                    related_crypto_material_properties=RelatedCryptoMaterialProperties(
                                        type=RelatedCryptoMaterialType.PRIVATE_KEY, size=key.key_size)),
                                evidence=ComponentEvidence(occurrences=[Occurrence(location=key.path)]))  # fmt: skip
    for component in [*files.values(), *assets.values()]:
        bom.components.add(component)
    for file_ref, refs in depends.items():
        bom.register_dependency(files[file_ref], [assets[r] for r in sorted(refs)])
    bom.register_dependency(bom.metadata.component, list(files.values()))
    return str(JsonV1Dot6(bom).output_as_string(indent=2))
