"""Write OCI image layouts byte-for-byte reproducibly: layers, configs, manifests, referrers.

A layer is a tar of a directory with entries in sorted order, a fixed mtime, numeric owners and no
user or group names, compressed by gzip with no name and no timestamp in its header. JSON documents
are serialised canonically (sorted keys, no spaces). The same inputs give the same blobs, so the same
manifest digest.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from pydantic import BaseModel, ConfigDict, Field

from fipsforge.errors import FipsforgeError

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
REF_NAME = "org.opencontainers.image.ref.name"
GZIP_LEVEL = 6


class Descriptor(BaseModel):
    """An OCI content descriptor."""

    model_config = ConfigDict(populate_by_name=True)

    media_type: str = Field(alias="mediaType")
    digest: str
    size: int
    artifact_type: str | None = Field(default=None, alias="artifactType")
    annotations: dict[str, str] | None = None
    platform: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Hashing:
    """A write-only stream that hashes and counts what passes through to `sink`."""

    def __init__(self, sink: BinaryIO | gzip.GzipFile) -> None:
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.sink.write(data)

    def flush(self) -> None:
        self.sink.flush()


class Layer(BaseModel):
    """A written layer: its compressed blob descriptor and its uncompressed diff ID and size."""

    descriptor: Descriptor
    diff_id: str
    uncompressed_size: int
    entries: int


def _walk_sorted_under(directory: Path) -> Iterator[Path]:
    """Every path under `directory`, parents first, siblings in byte order of their names."""
    for entry in sorted(os.scandir(directory), key=lambda e: e.name.encode()):
        path = Path(entry.path)
        yield path
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_sorted_under(path)


def _tarinfo(root: Path, path: Path, mtime: int, links: dict[tuple[int, int], str]) -> tarfile.TarInfo:
    st = path.lstat()
    name = path.relative_to(root).as_posix()
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            info.type = tarfile.LNKTYPE
            info.linkname = links[key]
        else:
            if st.st_nlink > 1:
                links[key] = name
            info.type = tarfile.REGTYPE
            info.size = st.st_size
    else:
        raise FipsforgeError(f"{path}: special files cannot go into an image layer")
    return info


def write_layer(root: Path, blob_dir: Path, mtime: int) -> Layer:
    """Tar+gzip `root` reproducibly into `blob_dir/<sha256>`; returns descriptor and diff ID."""
    blob_dir.mkdir(parents=True, exist_ok=True)
    partial = blob_dir / ".layer.partial"
    links: dict[tuple[int, int], str] = {}
    entries = 0
    with partial.open("wb") as raw_out:
        compressed = _Hashing(raw_out)
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=cast(BinaryIO, compressed), mtime=0, compresslevel=GZIP_LEVEL
        ) as gz:
            uncompressed = _Hashing(gz)
            with tarfile.open(
                fileobj=cast(BinaryIO, uncompressed), mode="w|", format=tarfile.PAX_FORMAT
            ) as tar:
                for path in _walk_sorted_under(root):
                    info = _tarinfo(root, path, mtime, links)
                    entries += 1
                    if info.type == tarfile.REGTYPE:
                        with path.open("rb") as data:
                            tar.addfile(info, data)
                    else:
                        tar.addfile(info)
    digest = compressed.sha.hexdigest()
    partial.rename(blob_dir / digest)
    return Layer(
        descriptor=Descriptor(media_type=MEDIA_LAYER_GZIP, digest=f"sha256:{digest}", size=compressed.size),
        diff_id=f"sha256:{uncompressed.sha.hexdigest()}",
        uncompressed_size=uncompressed.size,
        entries=entries,
    )


class LayoutWriter:
    """Builds an OCI image layout in `path` (an empty, usually temporary, directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.blobs = path / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
        self.manifests: list[Descriptor] = []

    def add_blob(self, data: bytes, media_type: str, **extra: Any) -> Descriptor:
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        return Descriptor(media_type=media_type, digest=f"sha256:{digest}", size=len(data), **extra)

    def add_json(self, value: Any, media_type: str, **extra: Any) -> Descriptor:
        return self.add_blob(canonical_json(value), media_type, **extra)

    def add_layer(self, root: Path, mtime: int) -> Layer:
        return write_layer(root, self.blobs, mtime)

    def add_image(
        self,
        config: dict[str, Any],
        layers: list[Layer],
        annotations: dict[str, str],
        ref_name: str,
    ) -> Descriptor:
        """Write config and manifest; the manifest is listed in index.json under `ref_name`."""
        config_desc = self.add_json(config, MEDIA_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": config_desc.to_json(),
            "layers": [layer.descriptor.to_json() for layer in layers],
            "annotations": annotations,
        }
        desc = self.add_json(manifest, MEDIA_MANIFEST)
        listed = desc.model_copy(
            update={
                "annotations": {REF_NAME: ref_name},
                "platform": {"architecture": config["architecture"], "os": config["os"]},
            }
        )
        self.manifests.append(listed)
        return desc

    def add_referrer(
        self, subject: Descriptor, artifact_type: str, payload: bytes, title: str, annotations: dict[str, str]
    ) -> Descriptor:
        """An OCI 1.1 artifact manifest whose `subject` is `subject`, carrying one blob (an SBOM)."""
        empty = self.add_blob(EMPTY_JSON, MEDIA_EMPTY)
        blob = self.add_blob(payload, artifact_type, annotations={"org.opencontainers.image.title": title})
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "artifactType": artifact_type,
            "config": empty.to_json(),
            "layers": [blob.to_json()],
            "subject": Descriptor(
                media_type=subject.media_type, digest=subject.digest, size=subject.size
            ).to_json(),
            "annotations": annotations,
        }
        desc = self.add_json(manifest, MEDIA_MANIFEST, artifact_type=artifact_type)
        self.manifests.append(desc.model_copy(update={"annotations": annotations}))
        return desc

    def finish(self) -> Descriptor:
        """Write index.json; returns its descriptor (the index is not itself a blob)."""
        index = {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [m.to_json() for m in self.manifests],
        }
        data = canonical_json(index)
        (self.path / "index.json").write_bytes(data)
        return Descriptor(
            media_type=MEDIA_INDEX, digest=f"sha256:{hashlib.sha256(data).hexdigest()}", size=len(data)
        )


def write_docker_archive(layout: Path, ref_name: str, repo_tag: str, out: Path) -> None:
    """A `docker load`-able tar of the image, converted by skopeo from the layout."""
    if shutil.which("skopeo") is None:
        raise FipsforgeError("skopeo: not installed; it writes the docker-archive (apt-get install skopeo)")
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    done = subprocess.run(
        ["skopeo", "copy", "--quiet", f"oci:{layout}:{ref_name}", f"docker-archive:{partial}:{repo_tag}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        lines = done.stderr.strip().splitlines()
        raise FipsforgeError(f"{out}: docker-archive failed: {lines[-1] if lines else 'skopeo failed'}")
    partial.replace(out)
