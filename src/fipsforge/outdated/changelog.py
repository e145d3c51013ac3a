"""A binary package's `changelog.Debian.gz`, read from its `.deb` and parsed by `debian.changelog`.

Parsed changelogs are cached by the `.deb`'s SHA-256 (which the signed index gives before any
download), so a warm run neither fetches nor opens a `.deb` it has seen. Many binary packages ship
their doc dir, or the changelog in it, as a symlink into a sibling package of the same source
(`/usr/share/doc/libfoo1 -> libfoo-common`): that link is followed to the sibling's `.deb`.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import tarfile
from email.utils import parsedate_to_datetime
from pathlib import Path

from debian.changelog import Changelog, ChangelogParseError
from debian.debfile import DebError, DebFile
from pydantic import BaseModel

from fipsforge.errors import FipsforgeError
from fipsforge.fsutil import write_text_atomic
from fipsforge.outdated.model import ChangelogEntry

CVE = re.compile(r"\bCVE-\d{4}-\d{4,}\b")


class DebChangelog(BaseModel):
    """What one `.deb` says about its changelog: the entries, or the sibling package that holds them."""

    entries: list[ChangelogEntry] | None = None
    points_to: str | None = None


def cached(cache: Path, sha256: str) -> DebChangelog | None:
    path = cache / f"{sha256}.json"
    return DebChangelog.model_validate_json(path.read_text()) if path.is_file() else None


def read_deb(deb: Path, package: str, sha256: str, cache: Path) -> DebChangelog:
    """The changelog of `package` in `deb`, parsed and cached under `cache/<sha256>.json`."""
    result = _read(deb, package)
    cache.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cache / f"{sha256}.json", result.model_dump_json())
    return result


def _read(deb: Path, package: str) -> DebChangelog:
    doc_dir = f"usr/share/doc/{package}"
    try:
        with DebFile(str(deb)) as archive:
            data = archive.data.tgz()
            members = {str(m.name).lstrip("./"): m for m in data.getmembers()}
            link = members.get(doc_dir)
            if link is not None and link.issym():
                return DebChangelog(points_to=posixpath.basename(link.linkname.rstrip("/")))
            member = members.get(f"{doc_dir}/changelog.Debian.gz")
            if member is not None and member.issym():
                target = posixpath.normpath(posixpath.join(doc_dir, member.linkname))
                parts = target.split("/")
                return DebChangelog(points_to=parts[3] if parts[:3] == ["usr", "share", "doc"] else None)
            if member is None:
                return DebChangelog(entries=[])
            stream = data.extractfile(member)
            text = gzip.decompress(stream.read()).decode("utf-8", "replace") if stream else ""
    except (DebError, tarfile.TarError, OSError, EOFError) as error:
        raise FipsforgeError(f"{deb}: cannot read the changelog ({error})") from error
    return DebChangelog(entries=parse(text, str(deb)))


def parse(text: str, origin: str) -> list[ChangelogEntry]:
    """Entries of a Debian changelog, newest first, with the CVE IDs each names."""
    try:
        changelog = Changelog(text, strict=False)
    except ChangelogParseError as error:
        raise FipsforgeError(f"{origin}: not a Debian changelog ({error})") from error
    entries = []
    for block in changelog:
        if block.version is None or not block.date:
            continue
        try:
            when = parsedate_to_datetime(block.date).date()
        except (TypeError, ValueError):
            continue
        body = "\n".join(block.changes())
        entries.append(
            ChangelogEntry(
                version=str(block.version), date=when, urgency=(block.urgency or "medium").lower(),
                distributions=block.distributions or "", cves=sorted(set(CVE.findall(body))),
            )
        )  # fmt: skip
    return entries
