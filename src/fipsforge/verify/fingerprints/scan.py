"""One pass over a file's bytes for every fingerprint at once.

All pieces of all fingerprints go into one Aho-Corasick automaton (ahocorasick_rs, a compiled matcher:
pyahocorasick measured 5 MB/s on a libcrypto here, too slow for a 1 GB image, ahocorasick_rs ~50 MB/s).
Script sources are first turned into their literal stream (every integer literal as an 8-byte
big-endian word), matched by a second automaton of the literal layouts.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections import defaultdict
from dataclasses import dataclass

import ahocorasick_rs

from fipsforge.verify.fingerprints.layouts import LITERAL_WIDTH, Fingerprint, Layout

_LITERAL = re.compile(rb"(?<![\w.])(?:0[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}))(?![\w.])")
_WORD = (1 << 64) - 1
SYMBOL_ONLY = "symbol-only"


@dataclass(frozen=True)
class Match:
    fingerprint: Fingerprint
    layout: str
    offset: int  # start of the table, or of the first constant found; in the literal stream: literal index
    found: int
    pieces: int


@dataclass(frozen=True)
class _Ref:
    fingerprint: int
    layout: int
    piece: int


def script_literals(text: bytes) -> bytes:
    """Every integer literal of a source text, in order, as 8-byte big-endian words."""
    out = bytearray()
    for match in _LITERAL.finditer(text):
        hex_digits, decimal = match.groups()
        value = int(hex_digits, 16) if hex_digits else int(decimal)
        if value <= _WORD:
            out += value.to_bytes(LITERAL_WIDTH, "big")
    return bytes(out)


class _Automaton:
    def __init__(self, fingerprints: list[Fingerprint], literal: bool) -> None:
        self.fingerprints = fingerprints
        refs: dict[bytes, list[_Ref]] = defaultdict(list)
        for f_index, fingerprint in enumerate(fingerprints):
            for l_index, layout in enumerate(fingerprint.layouts):
                if layout.literal != literal:
                    continue
                # pieces 0..n-1, then the `near` pieces n.., and the `away` pieces as -1, -2, ...
                indexed = [*enumerate((*layout.pieces, *layout.near))]
                indexed += [(-1 - k, piece) for k, piece in enumerate(layout.away)]
                for p_index, piece in indexed:
                    if piece:
                        refs[piece].append(_Ref(f_index, l_index, p_index))
        self.patterns = list(refs)
        self.refs = [refs[p] for p in self.patterns]
        self.matcher = ahocorasick_rs.BytesAhoCorasick(self.patterns) if self.patterns else None
        index = {f.id: i for i, f in enumerate(fingerprints)}
        self.shadowed_by = {
            i: index[f.shadowed_by] for i, f in enumerate(fingerprints) if f.shadowed_by in index
        }

    def _shadows(self, occurrences: list[tuple[int, int, int]]) -> dict[int, list[tuple[int, int]]]:
        """For each shadowed fingerprint, the sorted intervals its shadowing fingerprint's pieces occupy."""
        if not self.shadowed_by:
            return {}
        wanted = set(self.shadowed_by.values())
        spans: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for pattern, start, end in occurrences:
            for owner in {ref.fingerprint for ref in self.refs[pattern]} & wanted:
                spans[owner].append((start, end))
        return {
            shadowed: sorted(spans[owner]) for shadowed, owner in self.shadowed_by.items() if owner in spans
        }

    def matches(self, data: bytes) -> list[Match]:
        if self.matcher is None:
            return []
        occurrences = self.matcher.find_matches_as_indexes(data, overlapping=True)
        shadows = self._shadows(occurrences)
        found: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for pattern, start, end in occurrences:
            for ref in self.refs[pattern]:
                shadow = shadows.get(ref.fingerprint)
                if shadow is None or not _inside(shadow, start, end):
                    found[(ref.fingerprint, ref.layout)].append((start, ref.piece))
        hits: dict[int, Match] = {}
        for (f_index, l_index), located in found.items():
            fingerprint = self.fingerprints[f_index]
            layout = fingerprint.layouts[l_index]
            pieces = _found_pieces(located, layout)
            if len(pieces) < layout.required:
                continue
            match = Match(fingerprint, layout.name, _offset(layout, pieces), len(pieces), _countable(layout))
            best = hits.get(f_index)
            if best is None or match.found / match.pieces > best.found / best.pieces:
                hits[f_index] = match
        return [hits[i] for i in sorted(hits)]


def _found_pieces(located: list[tuple[int, int]], layout: Layout) -> dict[int, int]:
    """piece → start of the layout's own pieces that count: all, or (with a span) the best window's;
    none if the `near` pieces are missing around them or an `away` piece lies within reach."""
    count = len(layout.pieces)
    own = [(start, piece) for start, piece in located if 0 <= piece < count]
    away = sorted(start for start, piece in located if piece < 0)
    pieces = _within_span(own, layout, away)
    if not layout.near or not pieces:
        return pieces
    low, high = min(pieces.values()) - layout.reach, max(pieces.values()) + layout.reach
    near = {piece for start, piece in located if piece >= count and low <= start <= high}
    return pieces if len(near) >= layout.near_required else {}


def _within_span(located: list[tuple[int, int]], layout: Layout, away: list[int]) -> dict[int, int]:
    """piece → first start; with a span, only the pieces of the best window of that many bytes that
    has no `away` start within `reach` bytes of it."""
    if not layout.span:
        first: dict[int, int] = {}
        for start, piece in located:
            first.setdefault(piece, start)
        if first and away and _near_any(away, min(first.values()), max(first.values()), layout.reach):
            return {}
        return first
    located.sort()
    best: dict[int, int] = {}
    low = 0
    for high in range(len(located)):
        while located[high][0] - located[low][0] > layout.span:
            low += 1
        if away and _near_any(away, located[low][0], located[high][0], layout.reach):
            continue
        window: dict[int, int] = {}
        for start, piece in located[low : high + 1]:
            window.setdefault(piece, start)
        if len(window) > len(best):
            best = window
    return best


def _near_any(starts: list[int], low: int, high: int, reach: int) -> bool:
    """Whether one of the sorted `starts` lies in [low - reach, high + reach]."""
    index = bisect.bisect_left(starts, low - reach)
    return index < len(starts) and starts[index] <= high + reach


def _inside(intervals: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) lies within one of the sorted, short `intervals`."""
    index = bisect.bisect_right(intervals, (start, sys.maxsize))
    return any(a <= start and end <= b for a, b in intervals[max(0, index - 4) : index])


def _countable(layout: Layout) -> int:
    return sum(1 for piece in layout.pieces if piece)


def _offset(layout: Layout, pieces: dict[int, int]) -> int:
    if layout.stride:
        return min(start - index * layout.stride for index, start in pieces.items())
    return min(pieces.values())


class Matcher:
    """The compiled fingerprints; build once per verify run, then `scan` each file."""

    def __init__(self, fingerprints: list[Fingerprint]) -> None:
        self._binary = _Automaton(fingerprints, literal=False)
        self._literal = _Automaton(fingerprints, literal=True)
        self._symbol_only = [f for f in fingerprints if f.symbol_only]

    def scan(self, data: bytes) -> list[Match]:
        return self._binary.matches(data)

    def scan_symbols(self, defined: set[str]) -> list[Match]:
        """The symbol-only fingerprints whose function names the file defines (no offset: layout
        `symbol-only`, found = how many of its names)."""
        hits = []
        for fingerprint in self._symbol_only:
            names = [name for name in fingerprint.symbols if name in defined]
            if names:
                hits.append(Match(fingerprint, SYMBOL_ONLY, -1, len(names), len(fingerprint.symbols)))
        return hits

    def scan_script(self, text: bytes) -> list[Match]:
        """Tables in source text; offsets are literal indexes in the text's literal stream."""
        stream = script_literals(text)
        return [
            Match(m.fingerprint, m.layout, m.offset // LITERAL_WIDTH, m.found, m.pieces)
            for m in self._literal.matches(stream)
        ]
