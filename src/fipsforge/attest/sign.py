"""`fipsforge push --sign-key`: check everything, push, then sign and attest the pushed digest with cosign.

The key, its password and the documents to attest are all checked before the first upload, so a bad key
or a wrong password leaves the registry untouched. The attestations carry the layout's own SBOMs and
provenance, byte for byte the documents that were built with the image.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from fipsforge.attest.cosign import (
    ATTESTATION_TYPES,
    SigningOptions,
    check_signing_key,
    cosign_binary,
    sign_and_attest,
)
from fipsforge.attest.provenance import PREDICATE_TYPE, STATEMENT_MEDIA_TYPE
from fipsforge.errors import FipsforgeError
from fipsforge.image.build import CYCLONEDX_TYPE, SPDX_TYPE
from fipsforge.oci.push import PushResult, Reference, layout_blob, layout_image, push_layout
from fipsforge.oci.writer import canonical_json

# The layout's referrer artifact types, and the cosign attestation type each becomes.
ARTIFACT_ATTESTATIONS = {
    SPDX_TYPE: "spdxjson",
    CYCLONEDX_TYPE: "cyclonedx",
    STATEMENT_MEDIA_TYPE: "slsaprovenance1",
}


def layout_predicates(layout: Path, tag: str) -> dict[str, bytes]:
    """cosign attestation type → predicate document, from the referrers of the layout's image."""
    found = layout_image(layout, tag)
    predicates: dict[str, bytes] = {}
    for descriptor in found.referrers:
        kind = ARTIFACT_ATTESTATIONS.get(descriptor["artifactType"])
        if kind is None:
            continue
        manifest = json.loads(layout_blob(layout, descriptor["digest"]))
        data = layout_blob(layout, manifest["layers"][0]["digest"])
        if kind == "slsaprovenance1":
            statement = json.loads(data)
            if statement.get("predicateType") != PREDICATE_TYPE:
                continue
            data = canonical_json(statement["predicate"])
        predicates[kind] = data
    missing = [kind for kind in ATTESTATION_TYPES if kind not in predicates]
    if missing:
        raise FipsforgeError(
            f"{layout}: no {', '.join(missing)} document to attest; rebuild it with `fipsforge build`"
        )
    return predicates


def push_signed(layout: Path, ref: str, options: SigningOptions) -> PushResult:
    """Push like `push_layout`, then sign the manifest digest and attest the SBOMs and provenance."""
    target = Reference.parse(ref)
    predicates = layout_predicates(layout, target.tag)
    cosign = cosign_binary()
    if options.key is not None:
        check_signing_key(cosign, options.key)
    result = push_layout(layout, ref)
    image = f"{target.host}/{target.repository}@{result.manifest_digest}"
    with tempfile.TemporaryDirectory(prefix="fipsforge-attest-") as scratch:
        files = {}
        for kind, data in predicates.items():
            files[kind] = Path(scratch) / f"{kind}.json"
            files[kind].write_bytes(data)
        attached = sign_and_attest(cosign, image, options, files)
    return result.model_copy(update={"signed": True, "attestations": attached})
