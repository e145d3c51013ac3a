"""libbzip2's compressed size, computed without compressing: its exact pipeline over a given sort.

The IID track's compression statistic (SP 800-90B §5.1.11) is the byte length that
`BZ2_bzBuffToBuffCompress(..., blockSize100k=5, verbosity=0, workFactor=0)` returns. libbzip2 spends
most of that call sorting each block's rotations, slowly on the repetitive text of binary samples. The
sort is the only step whose result does not depend on how it is done, so these kernels take it from a
suffix array (divsufsort, in the caller) and redo every other stage as libbzip2 1.0.x defines it, from
its format (https://sourceware.org/bzip2/): the initial run-length coding and block split, the
move-to-front and zero-run coding, the choice of Huffman tables (its initial partition, four
refinement passes and its own heap-built code lengths, whose tie-breaks fix the lengths), and the bits
each field takes. No bits are written; each stage only counts them. Nothing here is a compressor.
"""

# Inside compiled kernels Python ints and numpy int64 scalars are the same machine type:
# mypy: disable-error-code="assignment,arg-type"

from __future__ import annotations

import numpy as np
from numba import njit

_jit = njit(cache=True, nogil=True)
_inline = njit(inline="always")

BLOCK_HEADER_BITS = 48 + 32 + 1 + 24  # block magic, block CRC, "randomised" flag, origPtr
GROUP = 50  # symbols coded with one table
ITERATIONS = 4
MAX_CODE_LENGTH = 17
GREATER_COST = 15
COST_BITS = 10  # a group's cost in one table is at most GROUP x MAX_CODE_LENGTH = 850 < 2^10
COST_MASK = (1 << COST_BITS) - 1
SPACE = 32
TOKEN_DIGITS = 4  # longer numbers: the block is sorted byte by byte
KEY_CHARACTERS = 8  # a token's text in one 32-bit key
KEY_MASK = (1 << (4 * KEY_CHARACTERS)) - 1
SUFFIX_TAIL = 1024  # problem suffixes handled by insertion; more falls back to a doubled sort


@_jit
def bzip2_runs_and_blocks(text: np.ndarray, block_max: int) -> tuple[np.ndarray, np.ndarray]:
    """libbzip2's first stage and block split, as one finishing call sees the input.

    Runs of 4 to 255 equal bytes become the byte four times and a count byte. A run is written to
    the block when a different byte ends it, so a run open when the block fills moves to the next
    block; input is taken while the block holds fewer than `block_max` bytes (100,000 x level - 19);
    at the end of input the open run joins the last block, full or not. Returns the coded bytes and
    each block's end offset in them."""
    n = text.shape[0]
    long_runs = False
    for i in range(3, n):
        long_runs |= (text[i] == text[i - 1]) & (text[i - 1] == text[i - 2]) & (text[i - 2] == text[i - 3])
    if not long_runs:
        return text, _block_ends_without_runs(text, block_max)
    out = np.empty(n + n // 4 + 8, dtype=np.uint8)
    ends = np.empty((n + n // 4) // max(block_max, 1) + 2, dtype=np.int64)
    blocks = 0
    written = 0
    block_start = 0
    run_byte = -1
    run_length = 0
    for i in range(n):
        if written - block_start >= block_max:
            ends[blocks] = written
            blocks += 1
            block_start = written
        byte = np.int64(text[i])
        if byte == run_byte and run_length < 255:
            run_length += 1
            continue
        if run_byte >= 0:
            written = _write_run(out, written, run_byte, run_length)
        run_byte = byte
        run_length = 1
    if run_byte >= 0:
        written = _write_run(out, written, run_byte, run_length)
    if written > block_start:
        ends[blocks] = written
        blocks += 1
    return out[:written], ends[:blocks].copy()


@_inline
def _block_ends_without_runs(text: np.ndarray, block_max: int) -> np.ndarray:
    """The same split when no run reaches 4 bytes, so the coded bytes are the text: a block ends at
    the first run start at least `block_max` past its own start, if a byte follows that start."""
    n = text.shape[0]
    ends = np.empty(n // max(block_max, 1) + 2, dtype=np.int64)
    blocks = 0
    start = 0
    while n - start > block_max:
        end = start + block_max
        while end < n - 1 and text[end] == text[end - 1]:
            end += 1
        if end >= n - 1:
            break
        ends[blocks] = end
        blocks += 1
        start = end
    if n > start:
        ends[blocks] = n
        blocks += 1
    return ends[:blocks].copy()


@_inline
def _write_run(out: np.ndarray, at: int, byte: int, length: int) -> int:
    for _ in range(min(length, 4)):
        out[at] = byte
        at += 1
    if length >= 4:
        out[at] = length - 4
        at += 1
    return at


@_inline
def _rotation_less(block: np.ndarray, a: int, b: int, budget: np.ndarray) -> int:
    """1 if rotation a sorts before rotation b, 0 if after or equal, -1 when the budget ran out."""
    n = block.shape[0]
    for t in range(n):
        budget[0] -= 1
        if budget[0] < 0:
            return -1
        x = block[(a + t) % n]
        y = block[(b + t) % n]
        if x != y:
            return 1 if x < y else 0
    return 0


@_jit
def bzip2_rotation_order(block: np.ndarray, suffixes: np.ndarray, known: int) -> bool:
    """Complete the block's suffix order, in place, into the order libbzip2 sorts its rotations.

    `suffixes[:known]` holds some of the block's positions in suffix order; the array has room for
    all of them, and the positions it lacks (at most a few dozen) are placed here. Two rotations sort
    like their suffixes unless one suffix is a prefix of the other. Such a suffix sits just before the
    ones it prefixes in the suffix array, and if the suffix at j is one, so is the one at j + 1: the
    problem suffixes are a tail of the block, usually a few dozen bytes. They and the missing
    positions are put where their rotations belong (equal rotations give the same output in any
    order). Returns False, the array then undefined, when the tail or the comparisons grow past a
    budget, as on periodic text; the caller then sorts the doubled block instead."""
    n = block.shape[0]
    if n - known > SUFFIX_TAIL:
        return False
    present = np.zeros(n, dtype=np.bool_)
    for r in range(known):
        present[suffixes[r]] = True
    missing = np.flatnonzero(~present)
    first = _prefix_tail(block, suffixes, known, present, missing)  # kept ones from here on move too
    if first < 0:
        return False
    if first == n and known == n:  # nothing to move: suffix order is rotation order
        return True
    kept = 0  # the other suffixes keep their order, packed to the front
    for r in range(known):
        p = suffixes[r]
        if p < first:
            suffixes[kept] = p
            kept += 1
    moved = np.empty(n - kept, dtype=np.int64)
    m = 0
    for p in range(n):
        if p >= first or not present[p]:
            moved[m] = p
            m += 1
    budget = np.full(1, 16 * n + 4096, dtype=np.int64)
    slot = np.empty(n - kept, dtype=np.int64)
    for m in range(n - kept):
        low = 0
        high = kept
        while low < high:
            middle = (low + high) // 2
            less = _rotation_less(block, np.int64(suffixes[middle]), moved[m], budget)
            if less < 0:
                return False
            if less == 1:
                low = middle + 1
            else:
                high = middle
        slot[m] = low
    # The moved rotations in (slot, rotation) order, by insertion: there are few of them.
    for a in range(1, n - kept):
        p = moved[a]
        at = slot[a]
        b = a - 1
        while b >= 0:
            if slot[b] < at:
                break
            if slot[b] == at:
                less = _rotation_less(block, p, moved[b], budget)
                if less < 0:
                    return False
                if less == 0:
                    break
            moved[b + 1] = moved[b]
            slot[b + 1] = slot[b]
            b -= 1
        moved[b + 1] = p
        slot[b + 1] = at
    # Merge from the back, so the kept suffixes move right in place.
    source = kept - 1
    target = n - 1
    for m in range(n - kept - 1, -1, -1):
        while source >= slot[m]:
            suffixes[target] = suffixes[source]
            target -= 1
            source -= 1
        suffixes[target] = moved[m]
        target -= 1
    return True


@_inline
def _prefix_tail(
    text: np.ndarray, suffixes: np.ndarray, known: int, present: np.ndarray, missing: np.ndarray
) -> int:
    """Where the suffixes that are proper prefixes of other suffixes begin (the text's length if there
    are none), or -1 when they fill the window searched. They are a tail of the text: if the suffix at j
    is a prefix of another, so is the one at j + 1. A suffix in `suffixes[:known]` is a prefix of
    another there only if it is one of the next suffix in that order; the `missing` positions (not in
    that order) are compared directly."""
    n = text.shape[0]
    window = min(n, SUFFIX_TAIL)
    rank = np.full(window, -1, dtype=np.int64)
    for r in range(known):
        p = np.int64(suffixes[r])
        if p >= n - window:
            rank[p - (n - window)] = r
    first: int = n
    for j in range(n - 1, n - window - 1, -1):
        if not present[j]:
            continue
        r = rank[j - (n - window)]
        problem = r + 1 < known and _is_prefix(text, j, np.int64(suffixes[r + 1]))
        for q in missing:
            if problem or q >= j:
                break
            problem = _is_prefix(text, j, q)
        if not problem:
            return first
        first = j
    return first if window == n else -1


@_inline
def _is_prefix(text: np.ndarray, j: int, q: int) -> bool:
    """Whether the suffix at j is a proper prefix of the suffix at q."""
    n = text.shape[0]
    length = n - j
    if q == j or n - q < length:
        return False
    for t in range(length):  # noqa: SIM110 - a loop numba compiles without a generator
        if text[j + t] != text[q + t]:
            return False
    return True


@_jit
def bzip2_tokens(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal text as a string of tokens, one byte each: the block's whole tokens (up to four digits
    and their space) between its first and last space, each as the rank of its text among the
    distinct tokens, and where each token starts (one more entry: where the last one ends).

    Each token ends in a space and the space sorts below every digit, so a suffix of tokens compares
    as its text does, token by token; a suffix array of this string (a quarter to a half the length)
    orders the text's suffixes that start at a token. Empty when the block is not such text, or has
    more than 256 distinct tokens or fewer than two whole ones."""
    n = block.shape[0]
    none = (np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int32))
    first = 0
    while first < n and block[first] != SPACE:
        first += 1
    # Token id by digit count and value: index 10^0 + ... + 10^(d-1) + value for d digits.
    offset = np.zeros(TOKEN_DIGITS + 2, dtype=np.int64)
    for d in range(1, TOKEN_DIGITS + 2):
        offset[d] = offset[d - 1] + 10 ** (d - 1)
    ids = np.full(offset[TOKEN_DIGITS + 1], -1, dtype=np.int64)
    key_of = np.empty(256, dtype=np.int64)
    kinds = 0
    # Small types: these are as long as the block, and each fresh page costs a fault on first touch.
    token = np.empty(max(n - first, 0) + 1, dtype=np.uint8)
    starts = np.empty(max(n - first, 0) + 2, dtype=np.int32)
    count = 0
    digits = 0
    value = 0
    start = first + 1
    for i in range(first + 1, n):
        c = np.int64(block[i])
        if c != SPACE:
            if c < 48 or c > 57 or digits == TOKEN_DIGITS:
                digits = TOKEN_DIGITS + 1  # not a token: fine in the tail, refused otherwise
                continue
            value = 10 * value + c - 48
            digits += 1
            continue
        if digits > TOKEN_DIGITS:
            return none
        index = offset[digits] + value
        if ids[index] < 0:
            if kinds == 256:
                return none
            ids[index] = kinds
            key_of[kinds] = _text_key(block, start, i + 1)
            kinds += 1
        token[count] = ids[index]
        starts[count] = start
        count += 1
        start = i + 1
        digits = 0
        value = 0
    if count < 2:
        return none
    starts[count] = start
    rank_of = np.empty(kinds, dtype=np.int64)
    rank_of[np.argsort(key_of[:kinds])] = np.arange(kinds)
    for t in range(count):
        token[t] = rank_of[token[t]]
    return token[:count], starts[: count + 1]


@_inline
def _text_key(block: np.ndarray, start: int, end: int) -> int:
    """block[start:end] packed 4 bits a character, first character highest, so that keys compare as
    the texts do: 0 pads, 1 is the space, 2-11 the digits."""
    key = 0
    for i in range(start, end):
        c = block[i]
        key = (key << 4) | (1 if c == SPACE else c - 46)
    return key << (4 * (KEY_CHARACTERS - (end - start)))


@_jit
def bzip2_token_suffixes(
    block: np.ndarray, ranks: np.ndarray, starts: np.ndarray, token_suffixes: np.ndarray
) -> tuple[np.ndarray, int]:
    """The text's suffixes in order, from the suffix array of its token string: all but a few
    positions, which `bzip2_rotation_order` places (it is told how many are known).

    A suffix starting inside a token is the rest of that token (a text ending in a space, so no two
    such rests are prefixes of one another) followed by a suffix of tokens. Suffixes therefore sort by
    that rest first, then by the token suffix after it: positions are dealt into one bucket per rest,
    visiting the token suffixes in order. Left for `bzip2_rotation_order`: the partial tokens at both
    ends of the block, and the last tokens, whose order among the token suffixes holds only within
    the token string (one token suffix being a prefix of another)."""
    n = block.shape[0]
    count = ranks.shape[0]
    # Token suffixes from `settled` on may be prefixes of others: their preceding tokens are left out.
    settled = _prefix_tail(
        ranks, token_suffixes, count, np.ones(count, dtype=np.bool_), np.empty(0, dtype=np.int64)
    )
    if settled < 0:  # a periodic token string: the caller sorts the block byte by byte
        return np.empty(n, dtype=np.int32), 0
    placed_tokens = max(settled - 1, 0)  # tokens before settled - 1 precede a settled token suffix
    # One bucket per distinct rest of a token (token rank, offset), ordered by the rest's text.
    width = KEY_CHARACTERS
    unused = np.int64(1) << 62
    rest_key = np.full(256 * width, unused, dtype=np.int64)
    length_of = np.zeros(256, dtype=np.int64)
    tokens_of = np.zeros(256, dtype=np.int64)
    for t in range(placed_tokens):
        rank = np.int64(ranks[t])
        tokens_of[rank] += 1
        if length_of[rank] == 0:
            length_of[rank] = starts[t + 1] - starts[t]
            key = _text_key(block, starts[t], starts[t + 1])
            for o in range(length_of[rank]):
                rest_key[rank * width + o] = (key << (4 * o)) & KEY_MASK
    order = np.argsort(rest_key)
    bucket = np.empty(256 * width, dtype=np.int64)
    buckets = 0
    previous = -1
    for i in order:
        if rest_key[i] == unused:
            break
        if rest_key[i] != previous:
            buckets += 1
            previous = rest_key[i]
        bucket[i] = buckets - 1
    fill = np.zeros(buckets + 1, dtype=np.int64)
    for rank in range(256):
        for o in range(length_of[rank]):
            fill[bucket[rank * width + o] + 1] += tokens_of[rank]
    for b in range(buckets):
        fill[b + 1] += fill[b]
    known = fill[buckets]
    out = np.empty(n, dtype=np.int32)
    for r in range(count):
        j = np.int64(token_suffixes[r])
        t = j - 1
        if t < 0 or t >= placed_tokens:
            continue
        base = np.int64(ranks[t]) * width
        for o in range(starts[t + 1] - starts[t]):
            b = bucket[base + o]
            out[fill[b]] = starts[t] + o
            fill[b] += 1
    return out, known


@_jit
def code_lengths(frequencies: np.ndarray, lengths: np.ndarray, alphabet: int) -> None:
    """libbzip2's Huffman code lengths (at most 17 bits): a binary heap whose weights carry the
    subtree depth in their low byte as a tie-break, and while a code is too long, every weight halved
    (plus one) and the tree rebuilt. The exact heap order decides lengths among equal weights."""
    weight = np.zeros(2 * alphabet + 2, dtype=np.int64)
    parent = np.zeros(2 * alphabet + 2, dtype=np.int64)
    heap = np.zeros(alphabet + 2, dtype=np.int64)
    for i in range(alphabet):
        weight[i + 1] = max(frequencies[i], 1) << 8
    while True:
        nodes = alphabet
        size = 0
        heap[0] = 0
        weight[0] = 0
        parent[0] = -2
        for i in range(1, alphabet + 1):
            parent[i] = -1
            size += 1
            heap[size] = i
            _sift_up(heap, weight, size)
        while size > 1:
            n1 = heap[1]
            heap[1] = heap[size]
            size -= 1
            _sift_down(heap, weight, size)
            n2 = heap[1]
            heap[1] = heap[size]
            size -= 1
            _sift_down(heap, weight, size)
            nodes += 1
            parent[n1] = nodes
            parent[n2] = nodes
            a = weight[n1]
            b = weight[n2]
            weight[nodes] = ((a & ~0xFF) + (b & ~0xFF)) | (1 + max(a & 0xFF, b & 0xFF))
            parent[nodes] = -1
            size += 1
            heap[size] = nodes
            _sift_up(heap, weight, size)
        too_long = False
        for i in range(1, alphabet + 1):
            depth = 0
            k = i
            while parent[k] >= 0:
                k = parent[k]
                depth += 1
            lengths[i - 1] = depth
            if depth > MAX_CODE_LENGTH:
                too_long = True
        if not too_long:
            return
        for i in range(1, alphabet + 1):
            weight[i] = (1 + (weight[i] >> 8) // 2) << 8


@_inline
def _sift_up(heap: np.ndarray, weight: np.ndarray, at: int) -> None:
    node = heap[at]
    while weight[node] < weight[heap[at >> 1]]:
        heap[at] = heap[at >> 1]
        at >>= 1
    heap[at] = node


@_inline
def _sift_down(heap: np.ndarray, weight: np.ndarray, size: int) -> None:
    at = 1
    node = heap[at]
    while True:
        child = at << 1
        if child > size:
            break
        if child < size and weight[heap[child + 1]] < weight[heap[child]]:
            child += 1
        if weight[node] < weight[heap[child]]:
            break
        heap[at] = heap[child]
        at = child
    heap[at] = node


@_jit
def bzip2_block_bits(block: np.ndarray, order: np.ndarray) -> int:
    """The bits libbzip2 writes for one block whose rotations sort in `order`."""
    n = block.shape[0]
    used = np.zeros(256, dtype=np.bool_)
    for i in range(n):
        used[block[i]] = True
    seq = np.zeros(256, dtype=np.int64)
    in_use = 0
    ranges = 0
    for i in range(256):
        if used[i]:
            seq[i] = in_use
            in_use += 1
    for r in range(16):
        if used[16 * r : 16 * r + 16].any():
            ranges += 1
    alphabet = in_use + 2
    end_of_block = in_use + 1

    # Move-to-front over the last column, zero runs written in bijective base 2 (RUNA=0, RUNB=1).
    # The list is kept as each byte's position in it: the alphabet is small (decimal text: 11), and
    # moving one byte to the front is one pass over it without a data-dependent branch.
    symbols = np.empty(n + 1, dtype=np.uint16)
    frequency = np.zeros(alphabet, dtype=np.int64)
    lanes = (in_use + 15) // 16 * 16  # whole vectors of byte lanes; the spare lanes stay at 255
    position = np.full(lanes, 255, dtype=np.uint8)
    position[:in_use] = np.arange(in_use).astype(np.uint8)
    count = 0
    zeros = 0
    last = np.empty(n, dtype=np.uint8)  # the last column first: its random reads then overlap
    for i in range(n):
        j = order[i] - 1
        j += n * (j < 0)
        last[i] = seq[block[j]]
    for i in range(n):
        byte = last[i]
        k = np.int64(position[byte])
        if k == 0:
            zeros += 1
            continue
        if zeros > 0:
            count = _zero_run(symbols, frequency, count, zeros)
            zeros = 0
        below = np.uint8(k)
        for v in range(lanes):
            position[v] += np.uint8(position[v] < below)
        position[byte] = 0
        symbols[count] = k + 1
        frequency[k + 1] += 1
        count += 1
    if zeros > 0:
        count = _zero_run(symbols, frequency, count, zeros)
    symbols[count] = end_of_block
    frequency[end_of_block] += 1
    count += 1

    tables = 2 if count < 200 else 3 if count < 600 else 4 if count < 1200 else 5 if count < 2400 else 6
    lengths = np.full((tables, alphabet), GREATER_COST, dtype=np.int64)
    # Initial tables: contiguous symbol ranges of about equal frequency, each cheap on its range.
    parts = tables
    remaining = count
    start = 0
    while parts > 0:
        target = remaining // parts
        end = start - 1
        taken = 0
        while taken < target and end < alphabet - 1:
            end += 1
            taken += frequency[end]
        if end > start and parts != tables and parts != 1 and (tables - parts) % 2 == 1:
            taken -= frequency[end]
            end -= 1
        for v in range(alphabet):
            lengths[parts - 1, v] = 0 if start <= v <= end else GREATER_COST
        parts -= 1
        start = end + 1
        remaining -= taken

    groups = (count + GROUP - 1) // GROUP
    selector = np.zeros(groups, dtype=np.int64)
    chosen = np.zeros((tables, alphabet), dtype=np.int64)
    packed = np.zeros(alphabet, dtype=np.int64)
    for _ in range(ITERATIONS):
        chosen[:, :] = 0
        # Each symbol's code length in every table, 10 bits a table: a group of 50 costs at most
        # 50 x 17 in any table, so one sum per group gives all the tables' costs at once.
        packed[:] = 0
        for t in range(tables):
            for v in range(alphabet):
                packed[v] |= lengths[t, v] << (COST_BITS * t)
        for g in range(groups):
            low = g * GROUP
            high = min(low + GROUP, count)
            total = 0
            for i in range(low, high):
                total += packed[symbols[i]]
            best = 0
            best_cost = total & COST_MASK
            for t in range(1, tables):
                cost = (total >> (COST_BITS * t)) & COST_MASK
                if cost < best_cost:
                    best = t
                    best_cost = cost
            selector[g] = best
            for i in range(low, high):
                chosen[best, symbols[i]] += 1
        for t in range(tables):
            code_lengths(chosen[t], lengths[t], alphabet)

    bits = BLOCK_HEADER_BITS + 16 + 16 * ranges + 3 + 15
    recent = np.arange(tables, dtype=np.int64)  # selectors are sent move-to-front coded, in unary
    for g in range(groups):
        k = 0
        while recent[k] != selector[g]:
            k += 1
        for m in range(k, 0, -1):
            recent[m] = recent[m - 1]
        recent[0] = selector[g]
        bits += k + 1
    for t in range(tables):
        bits += 5
        current = lengths[t, 0]
        for v in range(alphabet):
            bits += 2 * abs(lengths[t, v] - current) + 1
            current = lengths[t, v]
        for v in range(alphabet):
            bits += lengths[t, v] * chosen[t, v]
    return bits


@_inline
def _zero_run(symbols: np.ndarray, frequency: np.ndarray, count: int, zeros: int) -> int:
    zeros -= 1
    while True:
        digit = zeros & 1
        symbols[count] = digit
        frequency[digit] += 1
        count += 1
        if zeros < 2:
            return count
        zeros = (zeros - 2) // 2
