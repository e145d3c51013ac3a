"""A virtual file tree built from layer streams, without unpacking anything to disk.

Each layer is read once, as a stream, in order. Whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove what
lower layers put there. Hostile entries are never applied: absolute paths, `..`, entries reached
through a symlink, symlinks or hardlinks that leave the root, device nodes, and layers past the
configured size or entry count each become a `TreeFinding` and the entry is skipped (or the layer
abandoned). The contents of the files a caller asks to keep go to one anonymous blob file in the
work directory; no name from a tar is ever used for a path on disk. `materialize` writes a tree out
safely for callers that need real files.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.oci.limits import MAX_ENTRIES, MAX_TOTAL_BYTES

Severity = Literal["critical", "high", "medium", "low", "info"]
KeepPredicate = Callable[[str, bytes], bool]
HEAD_BYTES = 64
MAX_SYMLINK_HOPS = 40
_CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ReadLimits(BaseModel):
    """Bounds on what one image may make the reader do (tar-bomb protection)."""

    max_total_bytes: int = MAX_TOTAL_BYTES
    max_entries: int = MAX_ENTRIES
    max_kept_file_bytes: int = 1 << 30
    max_path_length: int = 4096


class TreeFinding(BaseModel):
    """A layer entry that was refused, or a layer that could not be read whole."""

    rule_id: str
    severity: Severity
    message: str
    path: str
    layer: str


class NodeKind(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"


@dataclass(slots=True)
class Node:
    """One entry of the tree. `blob` is (offset, size) in the blob store when the content was kept."""

    kind: NodeKind
    mode: int
    size: int
    layer: int
    target: str = ""
    blob: tuple[int, int] | None = None
    children: dict[str, Node] | None = None


def keep_everything(_path: str, _head: bytes) -> bool:
    return True


class _LimitExceededError(Exception):
    pass


class _LimitedReader(io.RawIOBase):
    """Raises once more than `limit` bytes have been read: bounds decompression bombs."""

    def __init__(self, inner: Readable, limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self._left -= len(data)
        if self._left < 0:
            raise _LimitExceededError
        buffer[: len(data)] = data
        return len(data)


def _decompressed(stream: Readable) -> Readable:
    """The layer as an uncompressed stream: gzip, xz or plain tar, told apart by magic bytes."""
    peekable = io.BufferedReader(_Passthrough(stream), buffer_size=_CHUNK)
    magic = peekable.peek(6)[:6]
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=peekable, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(peekable)
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        raise FipsforgeError("zstd-compressed layers are not supported")
    return peekable


class _Passthrough(io.RawIOBase):
    def __init__(self, inner: Readable) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def split_path(name: str) -> tuple[list[str], str | None]:
    """Components of a tar member name, or a problem: `absolute path` or `parent directory (..)`."""
    if name.startswith("/"):
        return [], "absolute path"
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        return [], "parent-directory component (..)"
    if any("\x00" in part for part in parts):
        return [], "NUL byte in name"
    return parts, None


class BlobStore:
    """An anonymous, append-only file in the work directory holding kept file contents."""

    def __init__(self, work_dir: Path | None) -> None:
        self._file = tempfile.TemporaryFile(dir=work_dir)  # noqa: SIM115 (lives as long as the tree)
        self._end = 0

    def append(self, chunks: Iterator[bytes]) -> tuple[int, int]:
        self._file.seek(self._end)
        start = self._end
        for chunk in chunks:
            self._file.write(chunk)
            self._end += len(chunk)
        return start, self._end - start

    def read(self, blob: tuple[int, int]) -> bytes:
        self._file.seek(blob[0])
        return self._file.read(blob[1])

    def close(self) -> None:
        self._file.close()


@dataclass
class VirtualTree:
    """The merged file system of an image's layers. Paths are `/`-separated, relative to the root."""

    limits: ReadLimits = field(default_factory=ReadLimits)
    keep: KeepPredicate = keep_everything
    work_dir: Path | None = None
    root: Node = field(default_factory=lambda: Node(NodeKind.DIR, 0o755, 0, -1, children={}))
    findings: list[TreeFinding] = field(default_factory=list)
    total_bytes: int = 0
    entries: int = 0
    complete: bool = True
    _store: BlobStore | None = None
    _layers: int = 0

    # -- building ------------------------------------------------------------------------------

    def add_layer(self, stream: Readable, layer_id: str) -> None:
        """Apply one layer (a tar, maybe gzip/xz-compressed) read as a stream, on top of the tree."""
        index = self._layers
        self._layers += 1
        # decompressed bytes allowed: the data still within the limit, plus room for the tar headers
        headers = 1536 * max(self.limits.max_entries - self.entries, 0)
        budget = self.limits.max_total_bytes - self.total_bytes + headers + (1 << 20)
        try:
            limited = io.BufferedReader(_LimitedReader(_decompressed(stream), budget), buffer_size=_CHUNK)
            with tarfile.open(fileobj=limited, mode="r|") as archive:
                for member in archive:
                    if not self._admit(member, layer_id):
                        return
                    self._apply(archive, member, index, layer_id)
        except _LimitExceededError:
            self._refuse_layer("layer-too-large", f"more than {self.limits.max_total_bytes} bytes", layer_id)
        except FipsforgeError as error:
            self._refuse_layer("layer-unreadable", str(error), layer_id)
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as error:
            self._refuse_layer("layer-unreadable", f"not a readable tar: {error}", layer_id)

    def _refuse_layer(self, rule_id: str, message: str, layer_id: str) -> None:
        self.complete = False
        self._finding(rule_id, "critical", f"layer abandoned: {message}", "", layer_id)

    def _finding(self, rule_id: str, severity: Severity, message: str, path: str, layer_id: str) -> None:
        self.findings.append(
            TreeFinding(rule_id=rule_id, severity=severity, message=message, path=path, layer=layer_id)
        )

    def _admit(self, member: tarfile.TarInfo, layer_id: str) -> bool:
        """Count the entry against the limits; False stops reading the layer."""
        self.entries += 1
        self.total_bytes += max(member.size, 0)
        if self.entries > self.limits.max_entries:
            self._refuse_layer(
                "layer-too-many-entries", f"more than {self.limits.max_entries} entries", layer_id
            )
            return False
        if self.total_bytes > self.limits.max_total_bytes:
            self._refuse_layer("layer-too-large", f"more than {self.limits.max_total_bytes} bytes", layer_id)
            return False
        return True

    def _apply(self, archive: tarfile.TarFile, member: tarfile.TarInfo, index: int, layer_id: str) -> None:
        name = member.name
        if len(name) > self.limits.max_path_length:
            self._finding("layer-path-too-long", "high", "entry name too long", name[:200], layer_id)
            return
        parts, problem = split_path(name)
        if problem:
            self._finding("layer-path-traversal", "critical", f"entry refused: {problem}", name, layer_id)
            return
        if not parts:
            return
        if member.ischr() or member.isblk():
            self._finding("layer-device-node", "critical", "device node refused", name, layer_id)
            return
        parent = self._parent_dir(parts[:-1], index, name, layer_id)
        if parent is None:
            return
        base = parts[-1]
        assert parent.children is not None
        if base.startswith(".wh."):
            self._whiteout(parent, base, index)
            return
        node = self._make_node(archive, member, parts, index, layer_id)
        if node is None:
            return
        existing = parent.children.get(base)
        if existing is not None and existing.kind == NodeKind.DIR and node.kind == NodeKind.DIR:
            existing.mode = node.mode
            existing.layer = index
            return
        parent.children[base] = node

    def _parent_dir(self, parts: list[str], index: int, name: str, layer_id: str) -> Node | None:
        node = self.root
        for part in parts:
            assert node.children is not None
            child = node.children.get(part)
            if child is None or child.kind in (NodeKind.FILE, NodeKind.OTHER):
                child = Node(NodeKind.DIR, 0o755, 0, index, children={})
                node.children[part] = child
            elif child.kind == NodeKind.SYMLINK:
                self._finding(
                    "layer-link-escape",
                    "critical",
                    "entry refused: its path goes through a symlink",
                    name,
                    layer_id,
                )
                return None
            node = child
        return node

    def _whiteout(self, parent: Node, base: str, index: int) -> None:
        assert parent.children is not None
        if base == ".wh..wh..opq":
            for child_name in [n for n, c in parent.children.items() if c.layer < index]:
                del parent.children[child_name]
            return
        victim = parent.children.get(base[4:])
        if victim is not None and victim.layer < index:
            del parent.children[base[4:]]

    def _make_node(
        self, archive: tarfile.TarFile, member: tarfile.TarInfo, parts: list[str], index: int, layer_id: str
    ) -> Node | None:
        mode = member.mode & 0o7777
        name = member.name
        if member.isdir():
            return Node(NodeKind.DIR, mode, 0, index, children={})
        if member.issym():
            if not member.linkname:
                self._finding("layer-bad-entry", "high", "symlink without a target refused", name, layer_id)
                return None
            if self.link_escapes(parts[:-1], member.linkname):
                self._finding(
                    "layer-link-escape",
                    "critical",
                    f"symlink to {member.linkname!r} leaves the root",
                    name,
                    layer_id,
                )
                return None
            return Node(NodeKind.SYMLINK, mode, 0, index, target=member.linkname)
        if member.islnk():
            return self._hardlink(member, index, layer_id)
        if member.isreg():
            return self._regular(archive, member, "/".join(parts), mode, index)
        return Node(NodeKind.OTHER, mode, 0, index)

    def _hardlink(self, member: tarfile.TarInfo, index: int, layer_id: str) -> Node | None:
        target_parts, problem = split_path(member.linkname)
        found = self.lookup("/".join(target_parts), follow=False) if not problem and target_parts else None
        if found is None or found.kind != NodeKind.FILE:
            why = problem or "target is not a regular file already in the image"
            self._finding(
                "layer-link-escape",
                "critical",
                f"hardlink to {member.linkname!r} refused: {why}",
                member.name,
                layer_id,
            )
            return None
        return Node(NodeKind.FILE, member.mode & 0o7777, found.size, index, blob=found.blob)

    def _regular(
        self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str, mode: int, index: int
    ) -> Node:
        node = Node(NodeKind.FILE, mode, member.size, index)
        if member.size > self.limits.max_kept_file_bytes or member.size == 0:
            return node
        stream = archive.extractfile(member)
        if stream is None:
            return node
        head = stream.read(HEAD_BYTES)
        if not self.keep(path, head):
            return node
        if self._store is None:
            self._store = BlobStore(self.work_dir)

        def chunks() -> Iterator[bytes]:
            yield head
            while block := stream.read(_CHUNK):
                yield block

        node.blob = self._store.append(chunks())
        return node

    # -- reading -------------------------------------------------------------------------------

    def link_escapes(self, parent_parts: list[str], target: str) -> bool:
        """Would a symlink in `parent_parts` pointing at `target` climb above the root?"""
        return self._walk([] if target.startswith("/") else list(parent_parts), target, 0, clamp=False)[1]

    def _walk(self, base: list[str], rest: str, hops: int, clamp: bool = True) -> tuple[list[str], bool]:
        """Resolve `rest` from directory `base`, following symlinks in directories; (parts, escaped).

        With `clamp`, `..` at the root stays there (chroot semantics); otherwise it is an escape."""
        stack = list(base)
        todo = [p for p in rest.split("/") if p not in ("", ".")]
        todo.reverse()
        while todo:
            part = todo.pop()
            if part == "..":
                if not stack:
                    if clamp:
                        continue
                    return [], True
                stack.pop()
                continue
            node = self._node_at([*stack, part])
            if node is not None and node.kind == NodeKind.SYMLINK and todo:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return [*stack, part], False
                resolved, escaped = self._walk(
                    [] if node.target.startswith("/") else stack, node.target, hops, clamp
                )
                if escaped:
                    return [], True
                stack = resolved
                continue
            stack.append(part)
        return stack, False

    def _node_at(self, parts: list[str]) -> Node | None:
        node = self.root
        for part in parts:
            if node.children is None:
                return None
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def lookup(self, path: str, follow: bool = True) -> Node | None:
        """The node at `path` (symlinks in the directories followed, chroot-style; the last one too
        when `follow`), or None."""
        parts, _ = self._walk([], path, 0)
        node = self._node_at(parts)
        hops = 0
        while follow and node is not None and node.kind == NodeKind.SYMLINK and hops < MAX_SYMLINK_HOPS:
            hops += 1
            parts, _ = self._walk([] if node.target.startswith("/") else parts[:-1], node.target, hops)
            node = self._node_at(parts)
        return node

    def realpath(self, path: str) -> str:
        """The path with every symlink resolved (chroot semantics), `/`-separated without a leading `/`."""
        parts, _ = self._walk([], path, 0)
        node = self._node_at(parts)
        hops = 0
        while node is not None and node.kind == NodeKind.SYMLINK and hops < MAX_SYMLINK_HOPS:
            hops += 1
            parts, _ = self._walk([] if node.target.startswith("/") else parts[:-1], node.target, hops)
            node = self._node_at(parts)
        return "/".join(parts)

    def exists(self, path: str) -> bool:
        return self.lookup(path) is not None

    def read_bytes(self, path: str) -> bytes | None:
        """Content of the regular file at `path` if it was kept, else None."""
        node = self.lookup(path)
        if node is None or node.kind != NodeKind.FILE:
            return None
        return self.content(node)

    def content(self, node: Node) -> bytes | None:
        if node.size == 0:
            return b""
        if node.blob is None or self._store is None:
            return None
        return self._store.read(node.blob)

    def walk(self) -> Iterator[tuple[str, Node]]:
        """Every entry as (path, node), parents before children, in sorted order."""
        pending: list[tuple[str, Node]] = [("", self.root)]
        while pending:
            prefix, node = pending.pop()
            assert node.children is not None
            for name in sorted(node.children, reverse=True):
                child = node.children[name]
                path = f"{prefix}{name}"
                if child.kind == NodeKind.DIR:
                    pending.append((f"{path}/", child))
            for name in sorted(node.children):
                yield f"{prefix}{name}", node.children[name]

    def files(self) -> Iterator[tuple[str, Node]]:
        return ((path, node) for path, node in self.walk() if node.kind == NodeKind.FILE)

    def listdir(self, path: str) -> list[str]:
        node = self.lookup(path)
        if node is None or node.children is None:
            return []
        return sorted(node.children)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- writing out ---------------------------------------------------------------------------

    def materialize(self, dest: Path) -> list[str]:
        """Write the tree under `dest` (which must not exist). Returns the paths skipped: files whose
        content was not kept, special files, and symlinks that would leave `dest`."""
        dest.mkdir(parents=True)
        skipped: list[str] = []
        links: list[tuple[str, Node]] = []
        for path, node in self.walk():
            target = dest.joinpath(*path.split("/"))
            if node.kind == NodeKind.DIR:
                target.mkdir(mode=0o700)
            elif node.kind == NodeKind.FILE:
                data = self.content(node)
                if data is None:
                    skipped.append(path)
                    continue
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.chmod(target, node.mode & 0o755)
            elif node.kind == NodeKind.SYMLINK:
                links.append((path, node))
            else:
                skipped.append(path)
        for path, node in links:
            parent = path.split("/")[:-1]
            if self.link_escapes(parent, node.target):
                skipped.append(path)
                continue
            link = node.target
            if link.startswith("/"):  # made relative, so it means the same inside and outside a chroot
                link = "/".join([".."] * len(parent) + [p for p in link.split("/") if p]) or "."
            os.symlink(link, dest.joinpath(*path.split("/")))
        for path, node in self.walk():
            if node.kind == NodeKind.DIR:
                os.chmod(dest.joinpath(*path.split("/")), (node.mode & 0o755) | stat.S_IRWXU)
        return skipped
