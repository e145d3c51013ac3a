"""apk and Debian version comparison against their published ordering rules."""

from __future__ import annotations

import itertools

import pytest

from fipsforge.errors import FipsforgeError
from fipsforge.verify.versions import apk_compare, apk_valid, debian_compare

# Each chain is strictly increasing under apk's rules (apk-tools' documented token order).
APK_CHAINS = [
    ["3.4.0-r1", "3.4.0-r2", "3.4.0-r10", "3.4.1", "3.4.1-r0", "3.5.0_rc1", "3.5.0"],
    ["1.0_alpha", "1.0_alpha1", "1.0_beta", "1.0_pre2", "1.0_rc1", "1.0_rc2", "1.0", "1.0-r1"],
    ["1.0", "1.0_cvs", "1.0_svn", "1.0_git", "1.0_hg", "1.0_p1", "1.0_p2"],
    ["1.0", "1.0a", "1.0b", "1.0.1", "1.1", "1.10", "2"],
    ["1.001", "1.01", "1.1"],
    ["1.0-r9", "1.0_p1-r0"],
    ["2.0_rc1-r5", "2.0-r0"],
    ["0.9.9", "0.10", "1"],
]


@pytest.mark.parametrize("chain", APK_CHAINS, ids=lambda c: c[0])
def test_apk_ordering(chain: list[str]) -> None:
    for older, newer in itertools.pairwise(chain):
        assert apk_compare(older, newer) == -1, (older, newer)
        assert apk_compare(newer, older) == 1, (newer, older)
        assert apk_compare(older, older) == 0


def test_apk_equal_and_hash_ignored() -> None:
    assert apk_compare("1.2.3-r4", "1.2.3-r4") == 0
    assert apk_compare("1.2.3~abc123-r4", "1.2.3-r4") == 0
    assert apk_compare("1.0-r0", "1.0") == 1  # an explicit revision sorts after none


def test_apk_rejects_invalid() -> None:
    for bad in ("", "abc", "1.0-rc", "1.0_foo", "1..0", "-r1"):
        assert not apk_valid(bad)
        with pytest.raises(FipsforgeError, match="apk version"):
            apk_compare(bad, "1.0")


# Debian Policy 5.6.12: `~` sorts before everything, even the end; letters before non-letters; epochs first.
DEBIAN_CHAINS = [
    ["1.0~rc1", "1.0", "1.0-1", "1.0-1+b1", "1.0+dfsg", "1.0.1", "1:0.1"],
    ["3.5.9-1~deb13u1", "3.5.9-1", "3.5.9-1deb13u1", "3.5.10-1"],
    ["1~~", "1~~a", "1~", "1", "1a"],
    ["1.0~~", "1.0~", "1.0", "1.0a", "1.0+"],
]


@pytest.mark.parametrize("chain", DEBIAN_CHAINS, ids=lambda c: c[0])
def test_debian_ordering(chain: list[str]) -> None:
    for older, newer in itertools.pairwise(chain):
        assert debian_compare(older, newer) == -1, (older, newer)
        assert debian_compare(newer, older) == 1, (newer, older)
    assert debian_compare("2:1.0-1", "2:1.0-1") == 0
    assert debian_compare("1.0-1", "0:1.0-1") == 0  # epoch 0 is the default


def test_debian_rejects_invalid() -> None:
    with pytest.raises(FipsforgeError, match="Debian version"):
        debian_compare("not a version!", "1.0")
