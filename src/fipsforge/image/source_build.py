"""What fipsforge's own builds of Debian source packages share (CPython, libsodium).

Each builds one Debian source package (fetched through the private apt root and checked against the
signed Sources index), against the FIPS stack, into a cache entry keyed by its recipe and inputs, and is
laid over the Debian rootfs as an `Overlay`. The build steps differ; the plumbing here does not.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from debian.changelog import Changelog

from fipsforge.apt import AptRoot
from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import atomic_dir, cache_root

LIBDIR = "usr/lib/x86_64-linux-gnu"


class SourceBuild:
    """One source package's build: its files, their digests, and a log, for the steps to share."""

    def __init__(
        self, package: str, version: str, files: dict[str, Path], sources: dict[str, str], log: Path
    ) -> None:
        self.package = package
        self.version = version
        self.files = files
        self.sources = sources
        """File name → SHA-256, as the cache key hashed them (computed once: the tarballs are large)."""
        self.log = log

    def run(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        """Run one build step, its output appended to the log; a failure names the log and its last line."""
        with self.log.open("a") as out:
            done = subprocess.run(
                command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False
            )
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:]
            raise FipsforgeError(
                f"{command[0]} failed (exit {done.returncode}) building {self.package}, see {self.log}: {tail}"
            )

    def make(self, tree: Path, env: dict[str, str]) -> None:
        """`make` on both cores (the machines this runs on have two)."""
        self.run(["make", f"-j{min(os.cpu_count() or 2, 2)}"], tree, env)

    def extract(self, work: Path, env: dict[str, str]) -> Path:
        """The source tree with Debian's patches applied (dpkg-source; apt already checked the files)."""
        dsc = next((path for name, path in self.files.items() if name.endswith(".dsc")), None)
        if dsc is None:
            raise FipsforgeError(
                f"source package {self.package}={self.version}: no .dsc downloaded; dpkg-source needs it"
            )
        tree = work / "src"
        self.run(["dpkg-source", "--no-check", "-x", str(dsc), str(tree)], work, env)
        return tree

    def build_flag(self, name: str, tree: Path, env: dict[str, str]) -> str:
        """Debian's default build flags (`dpkg-buildflags`, hardening included) for this host."""
        done = subprocess.run(["dpkg-buildflags", "--get", name], cwd=tree, capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip
        if done.returncode != 0:
            raise FipsforgeError(f"dpkg-buildflags --get {name}: {done.stderr.strip() or 'failed'}")
        return done.stdout.strip()

    def strip_debug(self, tree: Path, env: dict[str, str]) -> None:
        """Drop debug sections from every ELF file, as Debian's packaging does (`-g` output is large and
        carries build paths)."""
        elves = sorted(
            str(path)
            for path in tree.rglob("*")
            if path.is_file() and not path.is_symlink() and _is_elf(path)
        )
        if elves:
            self.run(["strip", "--strip-debug", "--remove-section=.comment", *elves], tree, env)


def source_digests(files: dict[str, Path]) -> dict[str, str]:
    """File name → SHA-256 of a downloaded source package, as manifests and cache keys record them."""
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in sorted(files.items())}


def _is_elf(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(4) == b"\x7fELF"


def changelog_epoch(tree: Path) -> int:
    """SOURCE_DATE_EPOCH of a Debian source tree: its newest changelog entry's date."""
    changelog = Changelog((tree / "debian/changelog").read_text(), max_blocks=1)
    return int(email.utils.parsedate_to_datetime(changelog.date).timestamp())


def build_env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}


def fetch_source(root: AptRoot, package: str, version: str) -> dict[str, Path]:
    return root.download_source(package, version, cache_root() / "sources" / f"{package}_{version}")


BuildSteps = Callable[[SourceBuild, Path, Path, Path, str], None]
"""`steps(source, tree, entry, work, key)`: build the extracted `tree` (inside the scratch directory
`work`) into the staged cache `entry`, writing its `manifest.json` last."""


def build_from_source(
    kind: str, package: str, version: str, root: AptRoot, stack_key: str, recipe: dict[str, object],
    steps: BuildSteps,
) -> Path:  # fmt: skip
    """The cache entry `cache_root()/kind/<key>` of `package`=`version` built by `steps` against the stack.

    The key hashes the recipe, the source files and the stack's compile key. An entry without a manifest
    is rebuilt, and a failed build leaves nothing (the entry is staged and renamed)."""
    files = fetch_source(root, package, version)
    sources = source_digests(files)
    inputs = {**recipe, "sources": sources, "stack": stack_key}
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]
    entry = cache_root() / kind / key
    if not (entry / "manifest.json").is_file():
        logs = cache_root() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{kind}-{key}.log"
        log.write_text("")
        source = SourceBuild(package, version, files, sources, log)
        with atomic_dir(entry) as staging_entry, tempfile.TemporaryDirectory(prefix=f".{kind}-") as scratch:
            work = Path(scratch)
            steps(source, source.extract(work, build_env()), staging_entry, work, key)
    return entry
