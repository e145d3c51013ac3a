"""Test helpers: raw tar layers (hostile ones included), OCI layouts, docker archives, and the verify corpus."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import io
import json
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fipsforge.apt import AptRoot
from fipsforge.fsutil import atomic_dir, cache_root

LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"


@dataclass
class Entry:
    """One tar member: kind is file, dir, symlink, hardlink, chr, blk or fifo."""

    name: str
    kind: str = "file"
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    size: int | None = None  # header size override (for bombs); data is then a generator of zeros


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def tar_bytes(entries: list[Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = _TYPES[entry.kind]
            info.mode = entry.mode if entry.kind != "dir" else 0o755
            info.linkname = entry.linkname
            if entry.kind == "file":
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
            else:
                archive.addfile(info)
    return out.getvalue()


def layer(entries: list[Entry], compress: bool = True) -> bytes:
    raw = tar_bytes(entries)
    return gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw


def zero_bomb_layer(size: int) -> bytes:
    """A gzip layer with one entry whose header claims `size` bytes of zeros (compresses to ~size/1000)."""
    header = tarfile.TarInfo("bomb")
    header.size = size
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as packed:
        packed.write(header.tobuf(format=tarfile.GNU_FORMAT))
        chunk = bytes(1 << 20)
        left = size
        while left > 0:
            packed.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
        packed.write(bytes(1024))
    return raw.getvalue()


def tree_entries(root: Path, prefix: str = "") -> list[Entry]:
    """Entries for every file, dir and symlink under `root` (a staged tree), paths relative to it."""
    entries: list[Entry] = []
    for path in sorted(root.rglob("*")):
        name = prefix + path.relative_to(root).as_posix()
        if path.is_symlink():
            entries.append(Entry(name, "symlink", linkname=str(path.readlink())))
        elif path.is_dir():
            entries.append(Entry(name, "dir"))
        elif path.is_file():
            entries.append(Entry(name, "file", path.read_bytes(), mode=path.stat().st_mode & 0o777))
    return entries


def _gz(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass
class Layout:
    """An OCI image layout being written: blobs plus index entries."""

    root: Path
    index: list[dict[str, Any]] = field(default_factory=list)

    def blob(self, data: bytes) -> str:
        digest = _digest(data)
        target = self.root / "blobs" / "sha256" / digest.split(":")[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return digest

    def add_image(
        self,
        layers: list[bytes],
        env: list[str] | None = None,
        tag: str | None = "latest",
    ) -> str:
        diff_ids = [_digest(gzip.decompress(x) if _gz(x) else x) for x in layers]
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": env or ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        config_bytes = json.dumps(config).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": self.blob(config_bytes), "size": len(config_bytes)},
            "layers": [
                {"mediaType": LAYER_GZIP if _gz(x) else LAYER_TAR, "digest": self.blob(x), "size": len(x)}
                for x in layers
            ],
        }
        return self._add_manifest(manifest, tag)

    def add_artifact(self, subject: str, artifact_type: str, payload: bytes, media_type: str) -> str:
        """An OCI 1.1 artifact (e.g. an SBOM) whose `subject` is the image manifest `subject`."""
        empty = self.blob(b"{}")
        subject_size = (self.root / "blobs" / "sha256" / subject.split(":")[1]).stat().st_size
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": media_type, "digest": self.blob(payload), "size": len(payload)}],
            "subject": {"mediaType": MANIFEST, "digest": subject, "size": subject_size},
        }
        return self._add_manifest(manifest, None, artifact_type)

    def _add_manifest(
        self, manifest: dict[str, Any], tag: str | None, artifact_type: str | None = None
    ) -> str:
        data = json.dumps(manifest).encode()
        digest = self.blob(data)
        entry: dict[str, Any] = {"mediaType": MANIFEST, "digest": digest, "size": len(data)}
        if tag:
            entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        if artifact_type:
            entry["artifactType"] = artifact_type
        self.index.append(entry)
        self.write_index()
        return digest

    def add_index(self, manifests: list[dict[str, Any]], tag: str) -> str:
        """An image index (e.g. the OCI 1.1 referrers-tag index) listing `manifests`, tagged `tag`."""
        data = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}).encode()
        digest = self.blob(data)
        self.index.append({"mediaType": INDEX, "digest": digest, "size": len(data),
                           "annotations": {"org.opencontainers.image.ref.name": tag}})  # fmt: skip
        self.write_index()
        return digest

    def write_index(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": self.index}
        (self.root / "index.json").write_text(json.dumps(index))


def write_layout(root: Path, layers: list[bytes], env: list[str] | None = None) -> tuple[Layout, str]:
    layout = Layout(root)
    return layout, layout.add_image(layers, env)


def write_docker_archive(path: Path, layers: list[bytes], env: list[str] | None = None) -> None:
    """A `docker save`-style tar: manifest.json, config JSON and `<n>/layer.tar` members."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": env or []},
        "rootfs": {"diff_ids": []},
    }
    members: dict[str, bytes] = {"config.json": json.dumps(config).encode()}
    names = []
    for number, data in enumerate(layers):
        names.append(f"{number}/layer.tar")
        members[names[-1]] = data
    members["manifest.json"] = json.dumps(
        [{"Config": "config.json", "RepoTags": [], "Layers": names}]
    ).encode()
    with tarfile.open(path, "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def snapshot(root: Path) -> set[str]:
    """Every path under `root` (to show nothing new appeared)."""
    return {str(p) for p in root.rglob("*")}


# -- the verify test corpus: registry packages cached under cache_root()/test-corpus --------------------

PYTHON_DEBS = ["python3.13-minimal", "libpython3.13-minimal", "libpython3.13-stdlib", "libssl3t64"]
GO_DEBS = ["mkcert"]  # a small Go program that links Go's own crypto


def corpus_root() -> Path:
    return cache_root() / "test-corpus"


def _debs(names: list[str]) -> list[Path]:
    dest = corpus_root() / "debs"
    have = [next(iter(sorted(dest.glob(f"{name}_*.deb"))), None) for name in names]
    if all(have):
        return [p for p in have if p is not None]
    apt = AptRoot.create(corpus_root() / "apt")
    apt.update()
    return apt.download(names, dest)


def debian_rootfs(key: str, names: list[str]) -> Path:
    """The named .debs extracted into one tree, with a dpkg status listing them (cached)."""
    target = corpus_root() / "rootfs" / key
    if target.is_dir():
        return target
    debs = _debs(names)
    with atomic_dir(target) as staging:
        stanzas = []
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
            fields = subprocess.run(
                ["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture"],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            stanzas.append(fields.strip() + "\nStatus: install ok installed\n")
        status = staging / "var/lib/dpkg/status"
        status.parent.mkdir(parents=True, exist_ok=True)
        status.write_text("\n".join(stanzas))
    return target


def wheel_tree(project: str) -> Path:
    """A PyPI binary wheel for `project`, unpacked under usr/lib/python3/dist-packages (cached)."""
    target = corpus_root() / "wheels" / project
    if target.is_dir():
        return target
    download = corpus_root() / "wheel-downloads" / project
    download.mkdir(parents=True, exist_ok=True)
    if not list(download.glob("*.whl")):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", project,
             "-d", str(download)],
            check=True, capture_output=True,
        )  # fmt: skip
    wheel = sorted(download.glob("*.whl"))[-1]
    with atomic_dir(target) as staging, zipfile.ZipFile(wheel) as archive:
        archive.extractall(staging / "usr/lib/python3/dist-packages")
    return target


def spdx_document(libcrypto3: str) -> bytes:
    """A minimal SPDX 2.3 document naming libcrypto3 at `libcrypto3` and the FIPS provider package."""
    packages = [("libcrypto3", libcrypto3), ("openssl-provider-fips", "3.1.2-r0")]
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "wolfi-style",
        "documentNamespace": "https://example.invalid/spdx/wolfi-style",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: fipsforge-tests"]},
        "packages": [
            {"name": n, "SPDXID": f"SPDXRef-{n}", "versionInfo": v, "downloadLocation": "NOASSERTION",
             "filesAnalyzed": False}
            for n, v in packages
        ],
    }  # fmt: skip
    return json.dumps(document).encode()


@contextlib.contextmanager
def loopback_registry(root: Path) -> Iterator[str]:
    """Debian's docker-registry on a free 127.0.0.1 port, storing under `root`; yields `127.0.0.1:PORT`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root / 'store'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    with (root / "log").open("w") as log:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=log
        )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"docker-registry did not start: {(root / 'log').read_text()[-300:]}")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def extend_layout(source: Path, dest: Path, extra: bytes) -> str:
    """A copy of the image in layout `source` with one more layer on top, written as layout `dest`."""
    shutil.copytree(source, dest)
    index = json.loads((dest / "index.json").read_text())
    descriptor = next(m for m in index["manifests"] if "artifactType" not in m)
    blobs = dest / "blobs" / "sha256"
    manifest = json.loads((blobs / descriptor["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    layout = Layout(dest, [])
    config["rootfs"]["diff_ids"].append(_digest(gzip.decompress(extra) if _gz(extra) else extra))
    config_bytes = json.dumps(config).encode()
    manifest["config"] = {
        **manifest["config"],
        "digest": layout.blob(config_bytes),
        "size": len(config_bytes),
    }
    manifest["layers"].append({"mediaType": LAYER_GZIP if _gz(extra) else LAYER_TAR, "digest": layout.blob(extra),
                               "size": len(extra)})  # fmt: skip
    manifest.pop("annotations", None)
    return layout._add_manifest(manifest, "tampered")


@contextlib.contextmanager
def layout_registry(root: Path, referrers_api: bool = True) -> Iterator[str]:
    """A read-only registry on 127.0.0.1 serving the OCI layout `root` under any repository name, with the
    OCI 1.1 referrers API (`/v2/<name>/referrers/<digest>`) when `referrers_api`. Yields `127.0.0.1:PORT`."""
    index = json.loads((root / "index.json").read_text())
    tags = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]
            if "org.opencontainers.image.ref.name" in m.get("annotations", {})}  # fmt: skip

    def blob(digest: str) -> bytes | None:
        path = root / "blobs" / "sha256" / digest.removeprefix("sha256:")
        return path.read_bytes() if digest.startswith("sha256:") and path.is_file() else None

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def _send(self, status: int, body: bytes = b"", media_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            if status == 200 and body:
                self.send_header("Docker-Content-Digest", _digest(body))
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["v2"]:
                return self._send(200, b"{}")
            if len(parts) < 4 or parts[0] != "v2":
                return self._send(404)
            kind, ref = parts[-2], parts[-1]
            if kind == "manifests":
                entry = tags.get(ref) or {"digest": ref, "mediaType": MANIFEST}
                data = blob(entry["digest"])
                if data is None:
                    return self._send(404)
                return self._send(200, data, json.loads(data).get("mediaType", entry["mediaType"]))
            if kind == "blobs":
                data = blob(ref)
                return self._send(404) if data is None else self._send(200, data, "application/octet-stream")
            if kind == "referrers" and referrers_api:
                found = []
                for entry in index["manifests"]:
                    manifest = json.loads(blob(entry["digest"]) or b"{}")
                    if (manifest.get("subject") or {}).get("digest") == ref:
                        found.append({**entry, "artifactType": manifest.get("artifactType", "")})
                body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": found}).encode()
                return self._send(200, body, INDEX)
            return self._send(404)

        do_HEAD = do_GET

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
