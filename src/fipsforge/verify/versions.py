"""Package version comparison: apk (Alpine, Wolfi, Chainguard) and Debian.

apk versions follow `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`. They are compared token by
token: numbers numerically, except that a dotted component with leading zeros sorts below any
component without them (`1.01 < 1.1`, `1.001 < 1.01`); a letter by its character; `_alpha < _beta <
_pre < _rc` sort before the bare version and `_cvs < _svn < _git < _hg < _p` after it; the `-rN`
revision last. When one version runs out of tokens first, it is the smaller one, except that a
pre-release suffix on the longer one makes the longer one smaller. A `~hash` is not compared.

Debian versions (`[epoch:]upstream[-revision]`, Policy 5.6.12) are compared by python-debian.
"""

from __future__ import annotations

import re
from enum import IntEnum

from debian.debian_support import Version as DebianVersion

from fipsforge.errors import FipsforgeError


class _Tok(IntEnum):
    # the order matters: at a point where two versions differ in kind, the greater kind is the smaller version
    DOT_DIGIT = 0
    DIGIT = 1
    LETTER = 2
    SUFFIX = 3
    SUFFIX_NO = 4
    REVISION = 5
    END = 6


_PRE = ("alpha", "beta", "pre", "rc")
_POST = ("cvs", "svn", "git", "hg", "p")
_APK = re.compile(
    r"(?P<first>\d+)(?P<dots>(?:\.\d+)*)(?P<letter>[a-z]?)"
    r"(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)"
    r"(?:~[0-9a-f]+)?(?:-r(?P<rev>\d+))?"
)


def _apk_tokens(version: str) -> list[tuple[_Tok, int]]:
    match = _APK.fullmatch(version)
    if match is None:
        raise FipsforgeError(f"apk version {version!r}: not a valid apk version")
    tokens = [(_Tok.DIGIT, int(match["first"]))]
    for component in match["dots"].split(".")[1:]:
        stripped = component.lstrip("0")
        if len(stripped) < len(component):  # leading zeros: a negative count, then the rest as a number
            tokens.append((_Tok.DOT_DIGIT, -(len(component) - len(stripped))))
            if stripped:
                tokens.append((_Tok.DIGIT, int(stripped)))
        else:
            tokens.append((_Tok.DOT_DIGIT, int(component)))
    if match["letter"]:
        tokens.append((_Tok.LETTER, ord(match["letter"])))
    for suffix in re.findall(r"_([a-z]+)(\d*)", match["suffixes"]):
        name, number = suffix
        rank = _PRE.index(name) - len(_PRE) if name in _PRE else _POST.index(name)
        tokens.append((_Tok.SUFFIX, rank))
        if number:
            tokens.append((_Tok.SUFFIX_NO, int(number)))
    if match["rev"] is not None:
        tokens.append((_Tok.REVISION, int(match["rev"])))
    tokens.append((_Tok.END, 0))
    return tokens


def apk_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as apk version `a` is older than, equal to or newer than `b`."""
    left, right = _apk_tokens(a), _apk_tokens(b)
    for (kind_a, value_a), (kind_b, value_b) in zip(left, right, strict=False):
        if kind_a != kind_b:
            if kind_a == _Tok.SUFFIX and value_a < 0:
                return -1
            if kind_b == _Tok.SUFFIX and value_b < 0:
                return 1
            return -1 if kind_a > kind_b else 1
        if kind_a == _Tok.END:
            return 0
        if value_a != value_b:
            return -1 if value_a < value_b else 1
    return 0


def apk_valid(version: str) -> bool:
    return _APK.fullmatch(version) is not None


def debian_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version `a` is older than, equal to or newer than `b`."""
    try:
        left, right = DebianVersion(a), DebianVersion(b)
    except ValueError as error:
        raise FipsforgeError(f"Debian version: {error}") from error
    return (left > right) - (left < right)


def compare(ecosystem: str, a: str, b: str) -> int:
    """Compare in the rules of `ecosystem` (`apk` or `deb`); other ecosystems use apk rules."""
    return debian_compare(a, b) if ecosystem == "deb" else apk_compare(a, b)
