"""Open a container image wherever it lives and hand out its manifest, config and layer streams.

Sources: an OCI image layout directory (`oci:DIR[:TAG]` or a bare path), a `docker save` tar
(`docker-archive:FILE` or a bare path), or a registry reference (`docker://HOST/NAME:TAG`), which is
copied with skopeo into the work directory and then read as a layout. Blobs are addressed only by
validated digests, streamed, and checked against their digest as they are read.

    with open_image("oci:/tmp/img", work_dir) as image:
        tree = image.tree()          # the merged file system, whiteouts applied
        image.referrers()            # OCI 1.1 artifacts whose `subject` is this image
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field

from fipsforge.errors import FipsforgeError
from fipsforge.oci.tree import KeepPredicate, ReadLimits, TreeFinding, VirtualTree, keep_everything

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = {
    OCI_INDEX,
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MAX_JSON_BYTES = 16 << 20
_REFERENCE = re.compile(
    r"^[a-z0-9][a-z0-9._-]*(?::[0-9]+)?(?:/[a-z0-9._-]+)+(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$"
)
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")

SourceKind = Literal["oci-layout", "docker-archive", "registry"]


class Descriptor(BaseModel):
    """An OCI content descriptor."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    media_type: str = Field(default="", alias="mediaType")
    digest: str = ""
    size: int = -1
    artifact_type: str | None = Field(default=None, alias="artifactType")
    annotations: dict[str, str] = Field(default_factory=dict)
    platform: dict[str, Any] | None = None


class Referrer(BaseModel):
    """An artifact attached to the image: an OCI 1.1 referrer, or a cosign `.sbom`/`.att` tag."""

    via: Literal["oci-subject", "cosign-tag"]
    descriptor: Descriptor
    artifact_type: str
    manifest: dict[str, Any]
    layers: list[Descriptor]


class _VerifyingStream:
    """Wraps a blob stream; hashes what is read so the digest can be checked at the end."""

    def __init__(self, inner: BinaryIO, digest: str | None) -> None:
        self._inner = inner
        self._expected = digest
        algorithm = digest.split(":", 1)[0] if digest else "sha256"
        self._hash = hashlib.new(algorithm)

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._hash.update(data)
        return data

    def digest_ok(self) -> bool | None:
        """Drain the rest and compare; None when no digest was expected."""
        while self.read(1 << 20):
            pass
        if self._expected is None:
            return None
        return f"{self._expected.split(':', 1)[0]}:{self._hash.hexdigest()}" == self._expected


def _hexdigest(digest: str, data: bytes) -> str:
    return hashlib.new(digest.split(":", 1)[0], data).hexdigest()


def _check_digest(digest: str, where: str) -> str:
    if not _DIGEST.match(digest):
        raise FipsforgeError(f"{where}: invalid digest {digest[:80]!r}")
    return digest


def _parse_json(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FipsforgeError(f"{where}: not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise FipsforgeError(f"{where}: expected a JSON object")
    return value


@dataclass
class ImageSource:
    """One image opened for reading. Use as a context manager; `close()` releases the files."""

    ref: str
    kind: SourceKind
    manifest: dict[str, Any]
    manifest_digest: str | None
    config: dict[str, Any]
    layer_descriptors: list[Descriptor]
    _blobs: _BlobAccess
    _index_manifests: list[Descriptor] = field(default_factory=list)
    _extra_referrers: list[Referrer] = field(default_factory=list)

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._blobs.close()

    @property
    def env(self) -> dict[str, str]:
        """The image config's environment (`Env`), as a dict."""
        entries = (self.config.get("config") or {}).get("Env") or []
        return dict(entry.split("=", 1) for entry in entries if isinstance(entry, str) and "=" in entry)

    def layers(self) -> Iterator[tuple[Descriptor, _VerifyingStream]]:
        """Each layer in order, as a stream that checks its digest (call `digest_ok()` after reading)."""
        for descriptor in self.layer_descriptors:
            with self._blobs.open(descriptor) as raw:
                yield descriptor, _VerifyingStream(raw, self._blobs.expected_digest(descriptor))

    def blob(self, descriptor: Descriptor, limit: int = MAX_JSON_BYTES) -> bytes:
        """A small blob, read whole and checked against its digest."""
        with self._blobs.open(descriptor) as raw:
            data = raw.read(limit + 1)
        if len(data) > limit:
            raise FipsforgeError(f"{self.ref}: blob {descriptor.digest} larger than {limit} bytes")
        expected = self._blobs.expected_digest(descriptor)
        if (
            expected
            and f"sha256:{hashlib.sha256(data).hexdigest()}" != expected
            and expected.startswith("sha256:")
        ):
            raise FipsforgeError(f"{self.ref}: blob {descriptor.digest} does not match its digest")
        return data

    def tree(
        self,
        limits: ReadLimits | None = None,
        keep: KeepPredicate = keep_everything,
        work_dir: Path | None = None,
    ) -> VirtualTree:
        """The merged file system. Refused entries and digest mismatches are in `tree.findings`."""
        tree = VirtualTree(limits=limits or ReadLimits(), keep=keep, work_dir=work_dir)
        for descriptor, stream in self.layers():
            layer_id = descriptor.digest or "layer"
            tree.add_layer(stream, layer_id)
            if stream.digest_ok() is False:
                tree.complete = False
                tree.findings.append(
                    tree_finding(
                        "layer-digest-mismatch", f"layer content does not match {layer_id}", layer_id
                    )
                )
        return tree

    def referrers(self) -> list[Referrer]:
        """Artifacts in the layout whose `subject` is this manifest, plus cosign-tag artifacts."""
        found = list(self._extra_referrers)
        if self.manifest_digest is None:
            return found
        for descriptor in self._index_manifests:
            if descriptor.digest == self.manifest_digest:
                continue
            try:
                manifest = _parse_json(self.blob(descriptor), f"{self.ref}: manifest {descriptor.digest}")
            except FipsforgeError:
                continue
            subject = manifest.get("subject") or {}
            if subject.get("digest") != self.manifest_digest:
                continue
            found.append(_referrer("oci-subject", descriptor, manifest))
        return found


def tree_finding(rule_id: str, message: str, layer_id: str) -> TreeFinding:
    return TreeFinding(rule_id=rule_id, severity="critical", message=message, path="", layer=layer_id)


def _referrer(
    via: Literal["oci-subject", "cosign-tag"], descriptor: Descriptor, manifest: dict[str, Any]
) -> Referrer:
    layers = [Descriptor.model_validate(layer) for layer in manifest.get("layers") or []]
    config_type = (manifest.get("config") or {}).get("mediaType", "")
    if via == "cosign-tag" and layers:  # cosign's config is a generic one: the payload's type says more
        config_type = layers[0].media_type
    artifact = manifest.get("artifactType") or descriptor.artifact_type or config_type
    return Referrer(
        via=via, descriptor=descriptor, artifact_type=str(artifact), manifest=manifest, layers=layers
    )


class _BlobAccess:
    """Opens blobs by descriptor; subclasses know where blobs live."""

    def open(self, descriptor: Descriptor) -> BinaryIO:
        raise NotImplementedError

    def expected_digest(self, descriptor: Descriptor) -> str | None:
        return descriptor.digest or None

    def close(self) -> None:
        return None


class _LayoutBlobs(_BlobAccess):
    def __init__(self, root: Path) -> None:
        self.root = root

    def open(self, descriptor: Descriptor) -> BinaryIO:
        algorithm, hexdigest = _check_digest(descriptor.digest, str(self.root)).split(":", 1)
        path = self.root / "blobs" / algorithm / hexdigest
        if not path.is_file():
            raise FipsforgeError(f"{path}: blob missing from the OCI layout")
        return path.open("rb")


class _ArchiveBlobs(_BlobAccess):
    """Blobs of a docker-archive, addressed by member name (the descriptor's `digest` holds it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.archive = tarfile.open(path, mode="r:")  # noqa: SIM115 (closed by close())
        except (tarfile.TarError, OSError) as error:
            raise FipsforgeError(f"{path}: not a docker-archive tar ({error})") from error
        self.members = {m.name.removeprefix("./"): m for m in self.archive}

    def member(self, name: str) -> BinaryIO:
        info = self.members.get(name)
        stream = self.archive.extractfile(info) if info is not None and info.isreg() else None
        if stream is None:
            raise FipsforgeError(f"{self.path}: member {name!r} missing")
        return stream  # type: ignore[return-value]

    def open(self, descriptor: Descriptor) -> BinaryIO:
        return self.member(descriptor.annotations["member"])

    def expected_digest(self, descriptor: Descriptor) -> str | None:
        name = descriptor.annotations["member"]
        match = re.fullmatch(r"blobs/(sha256)/([0-9a-f]{64})", name)
        return f"{match.group(1)}:{match.group(2)}" if match else None

    def close(self) -> None:
        self.archive.close()


def _pick_manifest(index: dict[str, Any], tag: str | None, where: str) -> Descriptor:
    manifests = [Descriptor.model_validate(m) for m in index.get("manifests") or []]
    if not manifests:
        raise FipsforgeError(f"{where}: index lists no manifests")
    if tag is not None:
        tagged = [m for m in manifests if m.annotations.get("org.opencontainers.image.ref.name") == tag]
        if not tagged:
            raise FipsforgeError(f"{where}: no manifest tagged {tag!r}")
        return tagged[0]
    for manifest in manifests:
        platform = manifest.platform or {}
        linux = platform.get("os", "linux") == "linux"
        if linux and platform.get("architecture", "amd64") == "amd64" and manifest.artifact_type is None:
            return manifest
    return manifests[0]


def _open_layout(ref: str, root: Path, tag: str | None, kind: SourceKind) -> ImageSource:
    index_path = root / "index.json"
    if not index_path.is_file():
        raise FipsforgeError(f"{root}: not an OCI image layout (no index.json)")
    index = _parse_json(index_path.read_bytes()[: MAX_JSON_BYTES + 1], str(index_path))
    index_manifests = [Descriptor.model_validate(m) for m in index.get("manifests") or []]
    blobs = _LayoutBlobs(root)
    descriptor = _pick_manifest(index, tag, str(index_path))
    for _ in range(4):  # nested indexes
        data = _read_checked(blobs, descriptor, str(root))
        manifest = _parse_json(data, f"{root}: manifest {descriptor.digest}")
        if manifest.get("mediaType") not in INDEX_TYPES and "manifests" not in manifest:
            break
        descriptor = _pick_manifest(manifest, None, f"{root}: index {descriptor.digest}")
    else:
        raise FipsforgeError(f"{root}: image indexes nested too deeply")
    config_descriptor = Descriptor.model_validate(manifest.get("config") or {})
    config = _parse_json(_read_checked(blobs, config_descriptor, str(root)), f"{root}: config")
    layers = [Descriptor.model_validate(layer) for layer in manifest.get("layers") or []]
    return ImageSource(
        ref=ref,
        kind=kind,
        manifest=manifest,
        manifest_digest=descriptor.digest,
        config=config,
        layer_descriptors=layers,
        _blobs=blobs,
        _index_manifests=index_manifests,
    )


def _read_checked(blobs: _BlobAccess, descriptor: Descriptor, where: str) -> bytes:
    with blobs.open(descriptor) as stream:
        data = stream.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise FipsforgeError(f"{where}: blob {descriptor.digest} too large for a manifest or config")
    expected = blobs.expected_digest(descriptor)
    if expected is not None:
        algorithm, hexdigest = expected.split(":", 1)
        if hashlib.new(algorithm, data).hexdigest() != hexdigest:
            raise FipsforgeError(f"{where}: blob {expected} does not match its digest")
    return data


def _open_archive(ref: str, path: Path) -> ImageSource:
    blobs = _ArchiveBlobs(path)
    try:
        listing = json.loads(blobs.member("manifest.json").read(MAX_JSON_BYTES))
        if not isinstance(listing, list) or not listing or not isinstance(listing[0], dict):
            raise FipsforgeError(f"{path}: manifest.json lists no images")
        entry = listing[0]
        config_name = str(entry.get("Config", ""))
        config = _parse_json(blobs.member(config_name).read(MAX_JSON_BYTES), f"{path}: {config_name}")
        layers = [
            Descriptor(digest=_archive_digest(str(name)), annotations={"member": str(name)})
            for name in entry.get("Layers") or []
        ]
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        blobs.close()
        raise FipsforgeError(f"{path}: manifest.json is not valid JSON ({error})") from error
    except FipsforgeError:
        blobs.close()
        raise
    return ImageSource(
        ref=ref,
        kind="docker-archive",
        manifest=entry,
        manifest_digest=None,
        config=config,
        layer_descriptors=layers,
        _blobs=blobs,
    )


def _archive_digest(member: str) -> str:
    match = re.fullmatch(r"blobs/sha256/([0-9a-f]{64})", member)
    return f"sha256:{match.group(1)}" if match else member


def _skopeo_copy(source: str, dest: Path, tag: str, all_manifests: bool = False) -> bool:
    if shutil.which("skopeo") is None:
        raise FipsforgeError("skopeo: not installed (needed to read registry references)")
    extra = ["--all"] if all_manifests else []
    done = subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", *extra, source, f"oci:{dest}:{tag}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        if tag == "image":
            raise FipsforgeError(f"{source}: cannot copy from the registry: {last[:300]}")
        return False
    return True


def _open_registry(ref: str, reference: str, work_dir: Path) -> ImageSource:
    layout = Path(tempfile.mkdtemp(prefix="registry-", dir=work_dir))
    _skopeo_copy(f"docker://{reference}", layout, "image")
    image = _open_layout(ref, layout, "image", "registry")
    if image.manifest_digest is None:
        return image
    repository = reference.rsplit("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: repository.rfind(":")]
    tag_base = image.manifest_digest.replace(":", "-")
    # OCI 1.1 referrers tag schema: an index tagged `<alg>-<hex>` lists the artifacts whose subject is the image
    if _skopeo_copy(f"docker://{repository}:{tag_base}", layout, "referrers", all_manifests=True):
        index = _tagged_index(layout, "referrers")
        image._index_manifests += [Descriptor.model_validate(m) for m in index.get("manifests") or []]
    known = {m.digest for m in image._index_manifests}
    for number, descriptor in enumerate(_referrers_api(repository, image.manifest_digest)):
        if descriptor.digest in known or not _DIGEST.match(descriptor.digest):
            continue
        if _skopeo_copy(f"docker://{repository}@{descriptor.digest}", layout, f"referrer-{number}"):
            image._index_manifests.append(descriptor)
    for suffix in ("sbom", "att"):  # cosign's legacy tags
        tag = f"cosign-{suffix}"
        if _skopeo_copy(f"docker://{repository}:{tag_base}.{suffix}", layout, tag):
            attached = _open_layout(ref, layout, tag, "registry")
            attached.close()
            descriptor = Descriptor(
                mediaType=str(attached.manifest.get("mediaType", "")),
                digest=attached.manifest_digest or "",
                annotations={"tag": f"{tag_base}.{suffix}"},
            )
            image._extra_referrers.append(_referrer("cosign-tag", descriptor, attached.manifest))
    return image


def _referrers_api(repository: str, digest: str) -> list[Descriptor]:
    """The OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`), where the registry has it.

    Like skopeo with `--src-tls-verify=false`, https is tried without certificate checks, then http.
    A registry without the API (404), or one that cannot be reached, has no referrers to offer here."""
    host, _, name = repository.partition("/")
    if not name:
        return []
    for scheme in ("https", "http"):
        request = urllib.request.Request(
            f"{scheme}://{host}/v2/{name}/referrers/{digest}", headers={"Accept": OCI_INDEX}
        )
        context = None
        if scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                data = response.read(MAX_JSON_BYTES + 1)
        except urllib.error.HTTPError:
            return []
        except (urllib.error.URLError, OSError, ValueError):
            continue
        try:
            index = _parse_json(data[:MAX_JSON_BYTES], f"{repository}: referrers of {digest}")
        except FipsforgeError:
            return []
        return [Descriptor.model_validate(m) for m in index.get("manifests") or [] if isinstance(m, dict)]
    return []


def _tagged_index(layout: Path, tag: str) -> dict[str, Any]:
    """The image index that `tag` names in a layout (empty when the tag names a single manifest)."""
    index = _parse_json((layout / "index.json").read_bytes(), str(layout / "index.json"))
    blobs = _LayoutBlobs(layout)
    descriptor = _pick_manifest(index, tag, str(layout / "index.json"))
    data = _parse_json(_read_checked(blobs, descriptor, str(layout)), f"{layout}: {tag}")
    return data if "manifests" in data else {}


def open_image(ref: str, work_dir: Path) -> ImageSource:
    """Open `ref`: `oci:DIR[:TAG]`, `docker-archive:FILE`, `docker://REF`, a bare path, or a bare
    `host/name:tag` reference (read from the registry when no such path exists)."""
    if ref.startswith("docker://"):
        return _open_registry(ref, ref.removeprefix("docker://"), work_dir)
    if ref.startswith("oci:"):
        body = ref.removeprefix("oci:")
        path, tag = Path(body), None
        if not path.is_dir() and ":" in body:
            head, _, tag = body.rpartition(":")
            path = Path(head)
        return _open_layout(ref, path, tag, "oci-layout")
    if ref.startswith("docker-archive:"):
        return _open_archive(ref, Path(ref.removeprefix("docker-archive:")))
    path = Path(ref)
    if path.is_dir():
        return _open_layout(ref, path, None, "oci-layout")
    if path.is_file():
        return _open_archive(ref, path)
    if _REFERENCE.match(ref):  # `registry/name:tag` as Kubernetes manifests write it
        return _open_registry(ref, ref, work_dir)
    raise FipsforgeError(f"{ref}: no such OCI layout or docker-archive (use docker://REF for a registry)")
