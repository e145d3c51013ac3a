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

STREAM_BITS = 32 + 48 + 32  # "BZh5", then the end-of-stream magic and the combined CRC
BLOCK_HEADER_BITS = 48 + 32 + 1 + 24  # block magic, block CRC, "randomised" flag, origPtr
GROUP = 50  # symbols coded with one table
ITERATIONS = 4
MAX_CODE_LENGTH = 17
GREATER_COST = 15
COST_BITS = 10  # a group's cost in one table is at most GROUP x MAX_CODE_LENGTH = 850 < 2^10
COST_MASK = (1 << COST_BITS) - 1
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
def bzip2_rotation_order(block: np.ndarray, suffixes: np.ndarray) -> bool:
    """Reorder the block's suffix array, in place, into the order libbzip2 sorts its rotations.

    Two rotations sort like their suffixes unless one suffix is a prefix of the other. Such a suffix
    sits just before the ones it prefixes in the suffix array, and if the suffix at j is one, so is the
    one at j + 1: the problem suffixes are a tail of the block, usually a few dozen bytes. They are
    taken out and put back where their rotations belong (equal rotations give the same output in any
    order). Returns False, the array then undefined, when the tail or the comparisons grow past a
    budget, as on periodic text; the caller then sorts the doubled block instead."""
    n = block.shape[0]
    tail = min(n, SUFFIX_TAIL)
    rank = np.full(tail, -1, dtype=np.int64)
    for r in range(n):
        p = np.int64(suffixes[r])
        if p >= n - tail:
            rank[p - (n - tail)] = r
    first = n
    for j in range(n - 1, n - tail - 1, -1):
        r = rank[j - (n - tail)]
        if r + 1 >= n:
            break
        q = np.int64(suffixes[r + 1])
        length = n - j
        if n - q < length:
            break
        prefix = True
        for t in range(length):
            if block[j + t] != block[q + t]:
                prefix = False
                break
        if not prefix:
            break
        first = j
    if first == n:
        return True
    if first <= n - tail:
        return False
    kept = 0  # the other suffixes keep their order, packed to the front
    for r in range(n):
        p = suffixes[r]
        if p < first:
            suffixes[kept] = p
            kept += 1
    moved = n - first
    budget = np.full(1, 16 * n + 4096, dtype=np.int64)
    slot = np.empty(moved, dtype=np.int64)
    for m in range(moved):
        low = 0
        high = kept
        while low < high:
            middle = (low + high) // 2
            less = _rotation_less(block, np.int64(suffixes[middle]), first + m, budget)
            if less < 0:
                return False
            if less == 1:
                low = middle + 1
            else:
                high = middle
        slot[m] = low
    # The moved rotations in (slot, rotation) order, by insertion: there are few of them.
    ordered = np.arange(first, n, dtype=np.int64)
    for a in range(1, moved):
        p = ordered[a]
        b = a - 1
        while b >= 0:
            q = ordered[b]
            if slot[q - first] < slot[p - first]:
                break
            if slot[q - first] == slot[p - first]:
                less = _rotation_less(block, p, q, budget)
                if less < 0:
                    return False
                if less == 0:
                    break
            ordered[b + 1] = q
            b -= 1
        ordered[b + 1] = p
    # Merge from the back, so the kept suffixes move right in place.
    source = kept - 1
    target = n - 1
    for m in range(moved - 1, -1, -1):
        p = ordered[m]
        while source >= slot[p - first]:
            suffixes[target] = suffixes[source]
            target -= 1
            source -= 1
        suffixes[target] = p
        target -= 1
    return True


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
    position = np.arange(in_use, dtype=np.int64)
    count = 0
    zeros = 0
    for i in range(n):
        j = order[i] - 1
        if j < 0:
            j += n
        byte = seq[block[j]]
        k = position[byte]
        if k == 0:
            zeros += 1
            continue
        if zeros > 0:
            count = _zero_run(symbols, frequency, count, zeros)
            zeros = 0
        for v in range(in_use):
            position[v] += position[v] < k
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
