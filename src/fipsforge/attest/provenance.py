"""SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) for a built image, as an in-toto Statement v1.

`resolvedDependencies` names every input by SHA-256: the spec text and its `files:`, the source files of
each fipsforge-built component (the Debian source packages, OpenSSL's upstream tarball and its
signature, CPython's source) exactly as their build manifests record them, and every `.deb`. The
document has no timestamps, so it is as reproducible as the image it describes. The statement and
predicate are built with the in-toto attestation framework's own protobuf models, which validate them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement

from fipsforge import __version__
from fipsforge.fsutil import sha256_file
from fipsforge.image.resolve import DebPackage
from fipsforge.image.sbom import Component, deb_purl
from fipsforge.image.spec import ImageSpec

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
STATEMENT_MEDIA_TYPE = "application/vnd.in-toto+json"
BUILD_TYPE = "urn:fipsforge:build:image:v1"
BUILDER_ID = f"pkg:pypi/fipsforge@{__version__}"


def _descriptor(name: str, sha256: str, **fields: Any) -> Any:
    descriptor = ResourceDescriptor(name=name, digest={"sha256": sha256}, **fields)
    descriptor.validate()
    return descriptor.pb


def _spec_files(spec: ImageSpec) -> Iterator[tuple[str, Path]]:
    """(image path, source file) for every regular file the spec's `files:` copies in."""
    for target, source in spec.file_sources().items():
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield f"{target.rstrip('/')}/{path.relative_to(source).as_posix()}", path
        else:
            yield target, source


def resolved_dependencies(
    spec: ImageSpec, spec_text: str, packages: list[DebPackage], components: list[Component]
) -> list[Any]:
    found = [
        _descriptor("spec", hashlib.sha256(spec_text.encode()).hexdigest(), media_type="application/yaml")
    ]
    found += [_descriptor(f"files:{target}", sha256_file(path)) for target, path in _spec_files(spec)]
    seen: set[tuple[str, str]] = set()
    for component in components:
        for name, sha256 in sorted(component.sources.items()):
            if (name, sha256) not in seen:
                seen.add((name, sha256))
                found.append(_descriptor(name, sha256, annotations={"component": component.name}))
    found += [_descriptor(p.deb_name, p.sha256, uri=deb_purl(p, spec.suite)) for p in packages]
    return found


def provenance_statement(
    spec: ImageSpec,
    spec_text: str,
    packages: list[DebPackage],
    components: list[Component],
    manifest_digest: str,
    internal: dict[str, Any],
) -> dict[str, Any]:
    """The in-toto Statement (as a JSON-ready dict) whose subject is the image manifest."""
    provenance = provenance_pb2.Provenance()
    definition = provenance.build_definition
    definition.build_type = BUILD_TYPE
    definition.external_parameters.update({"spec": spec_text})
    definition.internal_parameters.update(internal)
    definition.resolved_dependencies.extend(resolved_dependencies(spec, spec_text, packages, components))
    provenance.run_details.builder.id = BUILDER_ID
    provenance.run_details.builder.version["fipsforge"] = __version__
    subject = ResourceDescriptor(name=spec.name, digest={"sha256": manifest_digest.split(":", 1)[1]})
    statement = Statement([subject.pb], PREDICATE_TYPE, json_format.MessageToDict(provenance))
    statement.validate()
    document: dict[str, Any] = json_format.MessageToDict(statement.pb)
    return document
