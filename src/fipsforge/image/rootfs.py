"""Assemble a root filesystem: unpack .debs, trim documentation, write a truthful dpkg status.

Maintainer scripts are never run. What they would have generated and an image needs (the CA bundle,
`/etc/passwd`) is generated here from the packages' own files. Every path from a package is placed
by resolving it inside the root, so an absolute symlink shipped by one package can never make a later
entry land outside it.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from debian.deb822 import Deb822
from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.image.spec import UserSpec

# Whole trees dropped from every package: documentation, manuals and translations.
TRIM_TREES = (
    "/usr/share/man",
    "/usr/share/info",
    "/usr/share/locale",
    "/usr/share/lintian",
    "/usr/share/doc-base",
    "/usr/share/gtk-doc",
)
DOC_DIR = "/usr/share/doc"
MAX_SYMLINK_HOPS = 40


def trimmed(path: str) -> bool:
    """True for a package path the image leaves out. `/usr/share/doc/*/copyright` (licences) stays."""
    if any(path == tree or path.startswith(tree + "/") for tree in TRIM_TREES):
        return True
    if path.startswith(DOC_DIR + "/"):
        parts = path[len(DOC_DIR) + 1 :].split("/")
        return not (len(parts) == 1 or (len(parts) == 2 and parts[1] == "copyright"))
    return False


class InstalledPackage(BaseModel):
    """A package as unpacked: its control stanza, kept paths, and md5sums/conffiles for what was kept."""

    name: str
    control: str
    paths: list[str]
    md5sums: dict[str, str]
    conffiles: list[str]
    trimmed_count: int
    newest_mtime: int


def resolve_in_root(root: Path, path: str, follow_last: bool = False) -> Path:
    """The on-disk path for an in-image `path`, following symlinks as the image would (inside `root`)."""
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", ".")]
    current = root
    hops = 0
    pending = list(parts)
    while pending:
        part = pending.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        is_last = not pending
        if candidate.is_symlink() and (not is_last or follow_last):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise FipsforgeError(f"{path}: too many symlink levels inside the image")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = root
            pending = [p for p in PurePosixPath(target).parts if p not in ("/", ".")] + pending
            continue
        current = candidate
    return current


def _member_path(name: str) -> str:
    clean = PurePosixPath("/" + name.lstrip("./").lstrip("/")) if name not in (".", "./") else None
    return "/." if clean is None or str(clean) == "/" else str(clean)


def _place(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path, path: str) -> None:
    target = resolve_in_root(root, path)
    if member.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            return  # an aliased directory (merged /usr) stays a symlink, as dpkg keeps it
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            if target.is_dir() and not target.is_symlink():
                raise FipsforgeError(f"{path}: a package replaces a directory with a file")
            target.unlink()
        if member.issym():
            os.symlink(member.linkname, target)
            os.lchown(target, member.uid, member.gid)
            return
        if member.islnk():
            os.link(resolve_in_root(root, _member_path(member.linkname)), target)
            return
        if not member.isreg():
            raise FipsforgeError(f"{path}: unsupported tar entry type {member.type!r} in a package")
        source = tar.extractfile(member)
        assert source is not None
        with target.open("wb") as out:
            shutil.copyfileobj(source, out)
    os.chown(target, member.uid, member.gid)
    os.chmod(target, stat.S_IMODE(member.mode))


def _control_files(deb: Path) -> dict[str, bytes]:
    done = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True, check=False)
    if done.returncode != 0:
        raise FipsforgeError(f"{deb}: not a readable .deb ({done.stderr.decode(errors='replace').strip()})")
    files = {}
    with tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r|") as tar:
        for member in tar:
            if member.isreg() and (data := tar.extractfile(member)) is not None:
                files[member.name.lstrip("./")] = data.read()
    return files


def unpack_deb(deb: Path, root: Path, trim: bool = True) -> InstalledPackage:
    """Unpack one .deb into `root`, leaving out trimmed paths (with `trim`); returns what dpkg records."""
    control_files = _control_files(deb)
    control = Deb822(control_files.get("control", b"").decode())
    name = control.get("Package")
    if not name:
        raise FipsforgeError(f"{deb}: no Package field in its control file")
    process = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    kept: list[str] = []
    dropped = 0
    newest = 0
    with tarfile.open(fileobj=process.stdout, mode="r|") as tar:
        for member in tar:
            newest = max(newest, int(member.mtime))
            path = _member_path(member.name)
            if path == "/.":
                kept.append(path)
                continue
            if trim and trimmed(path):
                dropped += 1
                continue
            _place(tar, member, root, path)
            kept.append(path)
    if process.wait() != 0:
        raise FipsforgeError(f"{deb}: dpkg-deb could not read the package contents")
    kept_set = set(kept)
    md5sums = {}
    for line in control_files.get("md5sums", b"").decode().splitlines():
        digest, _, rel = line.partition(" ")
        rel = rel.strip()
        if "/" + rel in kept_set:
            md5sums["/" + rel] = digest
    conffiles = [
        c.split()[-1] if c.startswith("remove-on-upgrade") else c.strip()
        for c in control_files.get("conffiles", b"").decode().splitlines()
        if c.strip()
    ]
    return InstalledPackage(
        name=name,
        control=control.dump(),
        paths=kept,
        md5sums=md5sums,
        conffiles=[c for c in conffiles if c in kept_set],
        trimmed_count=dropped,
        newest_mtime=newest,
    )


def _info_name(control: Deb822) -> str:
    name = str(control["Package"])
    return f"{name}:{control['Architecture']}" if control.get("Multi-Arch") == "same" else name


def write_dpkg_status(root: Path, packages: Iterable[InstalledPackage]) -> None:
    """`/var/lib/dpkg/status` and `info/*.list|md5sums` for exactly the packages unpacked."""
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for package in sorted(packages, key=lambda p: p.name):
        control = Deb822(package.control)
        stanza = Deb822()
        stanza["Package"] = control["Package"]
        stanza["Status"] = "install ok installed"
        for key, value in control.items():
            if key not in ("Package", "Status"):
                stanza[key] = value
        if package.conffiles:
            lines = [
                f" {c} {hashlib.md5(resolve_in_root(root, c).read_bytes(), usedforsecurity=False).hexdigest()}"
                for c in package.conffiles
                if resolve_in_root(root, c).is_file()
            ]
            if lines:
                stanza["Conffiles"] = "\n" + "\n".join(lines)
        stanzas.append(stanza.dump())
        name = _info_name(control)
        (info / f"{name}.list").write_text("".join(f"{p}\n" for p in package.paths))
        if package.md5sums:
            (info / f"{name}.md5sums").write_text(
                "".join(f"{digest}  {path.lstrip('/')}\n" for path, digest in sorted(package.md5sums.items()))
            )
    (root / "var/lib/dpkg/status").write_text("\n".join(stanzas))
    for name in ("available", "diversions", "statoverride"):
        (root / "var/lib/dpkg" / name).touch()


def write_users(root: Path, user: UserSpec) -> None:
    """`/etc/passwd`, `/etc/group` with root, nobody and the image user, and the user's home."""
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    passwd = [
        "root:x:0:0:root:/root:/usr/sbin/nologin",
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    ]
    group = ["root:x:0:", "nogroup:x:65534:"]
    if user.uid not in (0, 65534):
        passwd.append(f"{user.name}:x:{user.uid}:{user.gid}:{user.name}:{user.home}:/usr/sbin/nologin")
    if user.gid not in (0, 65534):
        group.append(f"{user.name}:x:{user.gid}:")
    (etc / "passwd").write_text("\n".join(passwd) + "\n")
    (etc / "group").write_text("\n".join(group) + "\n")
    home = resolve_in_root(root, user.home)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, user.uid, user.gid)
    os.chmod(home, 0o700)
    for sub, mode in (("root", 0o700), ("tmp", 0o1777)):
        (root / sub).mkdir(exist_ok=True)
        os.chmod(root / sub, mode)


def write_ca_bundle(root: Path) -> int:
    """What `update-ca-certificates` makes: the PEM bundle, `ca-certificates.conf` and `.pem` links."""
    shared = root / "usr/share/ca-certificates"
    if not shared.is_dir():
        return 0
    certs = sorted(p.relative_to(shared).as_posix() for p in shared.rglob("*.crt"))
    ssl_certs = root / "etc/ssl/certs"
    ssl_certs.mkdir(parents=True, exist_ok=True)
    bundle = []
    for rel in certs:
        text = (shared / rel).read_text()
        bundle.append(text if text.endswith("\n") else text + "\n")
        link = ssl_certs / (Path(rel).stem.replace(" ", "_") + ".pem")
        if not link.is_symlink():
            os.symlink(f"/usr/share/ca-certificates/{rel}", link)
    (ssl_certs / "ca-certificates.crt").write_text("".join(bundle))
    (root / "etc/ca-certificates.conf").write_text("".join(f"{rel}\n" for rel in certs))
    return len(certs)


def overlay(
    source: Path, root: Path, skip_trees: Iterable[str] = (), skip_suffixes: Iterable[str] = ()
) -> list[str]:
    """Copy a staged tree over `root` (replacing files, keeping aliased dirs); returns in-image paths."""
    skipped = tuple(skip_trees) + TRIM_TREES
    suffixes = tuple(skip_suffixes)
    laid: list[str] = []
    for directory, dirnames, filenames in os.walk(source):
        dirnames.sort()
        rel_dir = "/" + Path(directory).relative_to(source).as_posix().lstrip(".").lstrip("/")
        rel_dir = rel_dir.rstrip("/") or ""
        kept_dirs = []
        for name in dirnames:
            path = f"{rel_dir}/{name}"
            full = Path(directory) / name
            if any(path == s or path.startswith(s + "/") for s in skipped):
                continue
            if full.is_symlink():
                filenames.append(name)
                continue
            target = resolve_in_root(root, path)
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, stat.S_IMODE(full.stat().st_mode))
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            path = f"{rel_dir}/{name}"
            if any(path == s or path.startswith(s + "/") for s in skipped) or path.endswith(suffixes):
                continue
            full = Path(directory) / name
            target = resolve_in_root(root, path)
            if target.is_symlink() or target.exists():
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            if full.is_symlink():
                os.symlink(os.readlink(full), target)
            else:
                shutil.copy2(full, target)
                os.chown(target, 0, 0)
            laid.append(path)
    return laid


def replace_with_symlink(root: Path, path: str, target: str) -> None:
    """Make in-image `path` a symlink to `target`, replacing what was there."""
    place = resolve_in_root(root, path)
    place.parent.mkdir(parents=True, exist_ok=True)
    if place.is_symlink() or place.is_file():
        place.unlink()
    elif place.is_dir():
        shutil.rmtree(place)
    os.symlink(target, place)
