"""cosign, from Debian trixie's `cosign` package, and the signing and checking fipsforge does with it.

fipsforge runs cosign itself rather than re-implementing Sigstore's formats, so what lands in the
registry is exactly what `cosign verify` and `cosign verify-attestation` check: a simple-signing
signature under the `sha256-<digest>.sig` tag and DSSE-enveloped in-toto statements under `.att`. The
.deb comes through the image builder's private apt root (hash-checked against the signed index, like
every package) and its binary is cached under `cache_root()/tools/cosign`. Debian's cosign links only
glibc (>= 2.34), so the trixie binary runs on a bookworm host too.

Signing with a key works offline (`--tlog-upload=false`); keyless signing (Fulcio certificate, Rekor
transparency log) needs the network and an OIDC identity, and passes the caller's flags through.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from debian.deb822 import Deb822
from pydantic import BaseModel

from fipsforge.apt import DebianMirrors
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir, cache_root, exclusive_lock, sha256_file
from fipsforge.oci.push import Reference

PACKAGE = "cosign"
PASSWORD_VARIABLE = "COSIGN_PASSWORD"
# `cosign attest --type` names, and the predicate types they stand for.
ATTESTATION_TYPES = {
    "spdxjson": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
}
KEY_SCHEMES = ("awskms://", "gcpkms://", "azurekms://", "hashivault://", "k8s://", "pkcs11:")


class Cosign(BaseModel):
    """The cached cosign binary and the Debian package it came from."""

    path: Path
    debian_version: str
    deb_sha256: str
    sha256: str


class SigningOptions(BaseModel):
    """How `fipsforge push` signs: with a key pair (offline), or keyless (Fulcio/Rekor, online)."""

    key: str | None = None
    """A cosign private key file (or a KMS URI cosign understands); None for keyless."""
    cosign_args: list[str] = []
    """Extra flags for `cosign sign` and `cosign attest` (e.g. `--fulcio-url`, `--rekor-url`)."""


def cosign_binary(mirrors: DebianMirrors | None = None) -> Cosign:
    """cosign from the cache, or fetched once from Debian trixie through the private apt root."""
    entry = cache_root() / "tools" / PACKAGE
    with exclusive_lock(entry.with_name(f".{PACKAGE}.lock")):
        if not (entry / "cosign.json").is_file():
            _install(entry, mirrors)
    record = Cosign.model_validate_json((entry / "cosign.json").read_text())
    record = record.model_copy(update={"path": entry / "cosign"})
    if sha256_file(record.path) != record.sha256:
        raise FipsforgeError(f"{record.path}: SHA-256 does not match the one recorded when it was unpacked")
    return record


def _install(entry: Path, mirrors: DebianMirrors | None) -> None:
    from fipsforge.image.resolve import DebPackage, apt_root, fetch

    root = apt_root(mirrors)
    root.update()
    (stanza,) = Deb822.iter_paragraphs(
        root.run("apt-cache", "show", "--no-all-versions", PACKAGE).splitlines()
    )
    package = DebPackage(
        name=PACKAGE, version=stanza["Version"], architecture=stanza["Architecture"],
        source=stanza.get("Source", PACKAGE).split()[0], source_version=stanza["Version"],
        sha256=stanza["SHA256"], size=int(stanza["Size"]), filename=stanza["Filename"],
    )  # fmt: skip
    deb = fetch([package], root)[PACKAGE]
    with atomic_dir(entry) as staging, tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["dpkg-deb", "-x", str(deb), scratch], check=True, capture_output=True)
        shutil.copy2(Path(scratch) / "usr/bin/cosign", staging / "cosign")
        record = Cosign(
            path=staging / "cosign", debian_version=package.version, deb_sha256=package.sha256,
            sha256=sha256_file(staging / "cosign"),
        )  # fmt: skip
        (staging / "cosign.json").write_text(record.model_dump_json(indent=2) + "\n")


def run_cosign(cosign: Cosign, args: list[str], what: str) -> str:
    """Run cosign (never on a terminal: a missing password fails instead of prompting); returns stdout."""
    done = subprocess.run(
        [str(cosign.path), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise FipsforgeError(f"{what}: {cosign_error(done.stderr)}")
    return done.stdout


def cosign_error(stderr: str) -> str:
    """cosign's own reason, from its `Error: ...` line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    return (errors or lines or ["cosign failed"])[-1]


def check_signing_key(cosign: Cosign, key: str) -> None:
    """Open the private key as cosign will (so push refuses before anything is uploaded)."""
    if key.startswith(KEY_SCHEMES):
        return
    if not Path(key).is_file():
        raise FipsforgeError(f"{key}: no such key file (--sign-key)")
    if PASSWORD_VARIABLE not in os.environ:
        raise FipsforgeError(f"{PASSWORD_VARIABLE}: not set; it holds the password of {key}")
    done = subprocess.run(
        [str(cosign.path), "public-key", "--key", key],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode == 0:
        return
    reason = cosign_error(done.stderr)
    if "decryption failed" in reason:
        raise FipsforgeError(f"{key}: wrong password ({PASSWORD_VARIABLE})")
    raise FipsforgeError(f"{key}: not a cosign private key ({reason})")


def _registry_flags(reference: str) -> list[str]:
    host = reference.split("/", 1)[0]
    return ["--allow-http-registry"] if Reference.is_loopback(host) else []


def sign_and_attest(
    cosign: Cosign, image: str, options: SigningOptions, predicates: dict[str, Path]
) -> list[str]:
    """Sign `image` (HOST/REPO@sha256:...) and attach one attestation per `predicates` entry (type → file).

    Returns the attestation types attached.
    """
    signer = ["--key", options.key, "--tlog-upload=false"] if options.key is not None else []
    common = [*signer, "--yes", *_registry_flags(image), *options.cosign_args]
    run_cosign(cosign, ["sign", *common, image], f"cosign sign {image}")
    for kind, predicate in predicates.items():
        run_cosign(cosign, ["attest", *common, "--type", kind, "--predicate", str(predicate), image],
                   f"cosign attest --type {kind} {image}")  # fmt: skip
    return list(predicates)


def verify_flags(reference: str, key: str) -> list[str]:
    """Key-based checks: no transparency log (signed offline), plain HTTP only on loopback."""
    return ["--key", key, "--insecure-ignore-tlog=true", *_registry_flags(reference)]


def verified_signature(cosign: Cosign, reference: str, key: str, local: bool = False) -> list[dict[str, Any]]:
    """The simple-signing payloads whose signature verifies with `key` (raises when there is none)."""
    where = ["--local-image"] if local else []
    out = run_cosign(cosign, ["verify", *verify_flags(reference, key), *where, "--output", "json", reference],
                     f"cosign verify {reference}")  # fmt: skip
    payloads: list[dict[str, Any]] = json.loads(out)
    return payloads


def verified_attestations(
    cosign: Cosign, reference: str, key: str, kind: str, local: bool = False
) -> list[dict[str, Any]]:
    """The in-toto statements of type `kind` whose DSSE signature verifies with `key` (raises when none)."""
    where = ["--local-image"] if local else []
    out = run_cosign(
        cosign, ["verify-attestation", *verify_flags(reference, key), *where, "--type", kind, reference],
        f"cosign verify-attestation --type {kind} {reference}",
    )  # fmt: skip
    statements = []
    for line in out.splitlines():
        if line.strip():
            envelope = json.loads(line)
            statements.append(json.loads(base64.b64decode(envelope["payload"])))
    return statements
