# Inside compiled kernels Python ints and numpy int64 scalars are the same machine type:
# mypy: disable-error-code="assignment,arg-type"
"""Compiled inner loops of the SP 800-90B estimators (numba, cached on disk, GIL released).

Each kernel takes plain numpy arrays and returns counts; the formulas that turn counts into
probabilities and entropies live in `estimators.py`. The sequential predictors (§6.3.7-§6.3.10) are
simulated step by step exactly as SP 800-90B describes them, including the dictionary size limits,
so their counts equal the reference tool's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fipsforge.entropy._bits import leading_zeros, popcount

_jit = njit(cache=True, nogil=True)

U64 = np.uint64
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)


@njit(inline="always")
def _tally(hit: bool, correct: int, run: int, longest: int) -> tuple[int, int, int]:
    """Count one prediction: (correct predictions, current run of correct ones, longest run)."""
    if hit:
        run += 1
        return correct + 1, run, max(longest, run)
    return correct, 0, longest


# ----------------------------------------------------------------------------------------------
# §6.3.2 collision estimate (binary data)


@_jit
def collision_counts(bits: np.ndarray) -> tuple[int, int, int]:
    """Walk the sequence to successive collisions; return (v, sum t_i, sum t_i^2)."""
    n = bits.shape[0]
    i = 0
    v = 0
    s2 = 0
    while i < n - 1:
        if bits[i] == bits[i + 1]:
            t = 2
        elif i < n - 2:
            t = 3
        else:
            break
        v += 1
        s2 += t * t
        i += t
    return v, i, s2


# ----------------------------------------------------------------------------------------------
# §6.3.4 compression estimate (binary data, 6-bit blocks)


@_jit
def compression_log_distances(blocks: np.ndarray, d: int) -> tuple[float, float]:
    """Maurer-style distances log2(D_i) for blocks after the first d; Kahan sums of log2 D and its square."""
    last = np.zeros(64, dtype=np.int64)
    for i in range(d):
        last[blocks[i]] = i + 1
    s = 0.0
    sc = 0.0
    q = 0.0
    qc = 0.0
    for i in range(d, blocks.shape[0]):
        b = blocks[i]
        lg = np.log2(float(i + 1 - last[b]))
        y = lg - sc
        t = s + y
        sc = (t - s) - y
        s = t
        y = lg * lg - qc
        t = q + y
        qc = (t - q) - y
        q = t
        last[b] = i + 1
    return s, q


@_jit
def compression_g(z: float, d: int, nblocks: int) -> float:
    """G(z) of §6.3.4, summed in O(L): each inner term log2(u) z^2 (1-z)^(u-1) is counted once per t > u."""
    v = nblocks - d
    w = 1.0 - z
    power = 1.0  # (1-z)^(u-1)
    first = 0.0
    tail = 0.0
    for u in range(1, nblocks + 1):
        a = np.log2(float(u)) * power
        if u <= nblocks - 1:
            mult = nblocks - d if u <= d else nblocks - u
            first += a * mult
        if u >= d + 1:
            tail += a
        power *= w
        if power < 1e-300 or (u > d and a * (nblocks - u) < 1e-18 * first):
            break
    return z * (z * first + tail) / v


# ----------------------------------------------------------------------------------------------
# §6.3.5 t-tuple and §6.3.6 LRS estimates from an LCP array


@_jit
def tuple_statistics(adjacent_lcp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From the LCP of neighbouring suffixes in sorted order, for every length W = 1..v:
    the largest number of occurrences of any W-tuple, and sum over W-tuples of C(count, 2)."""
    n = adjacent_lcp.shape[0] + 1
    v = 0
    for x in adjacent_lcp:
        if x > v:
            v = x
    best_at = np.zeros(v + 2, dtype=np.int64)
    pair_diff = np.zeros(v + 3, dtype=np.int64)
    stack_l = np.zeros(v + 2, dtype=np.int64)
    stack_b = np.zeros(v + 2, dtype=np.int64)
    top = 0  # stack_l[0] = 0 sentinel
    for i in range(1, n + 1):
        cur = adjacent_lcp[i - 1] if i < n else 0
        lb = i - 1
        while stack_l[top] > cur:
            ell = stack_l[top]
            lb = stack_b[top]
            top -= 1
            size = i - lb
            parent = stack_l[top] if stack_l[top] > cur else cur
            if size > best_at[ell]:
                best_at[ell] = size
            pairs = size * (size - 1) // 2
            pair_diff[parent + 1] += pairs
            pair_diff[ell + 1] -= pairs
        if stack_l[top] < cur:
            top += 1
            stack_l[top] = cur
            stack_b[top] = lb
    most = np.ones(v + 1, dtype=np.int64)
    run = 1
    for w in range(v, 0, -1):
        if best_at[w] > run:
            run = best_at[w]
        most[w] = run
    pairs_by_len = np.zeros(v + 1, dtype=np.int64)
    acc = 0
    for w in range(1, v + 1):
        acc += pair_diff[w]
        pairs_by_len[w] = acc
    return most, pairs_by_len


@_jit
def window_keys(data: np.ndarray, width: int) -> np.ndarray:
    """For each position, the next 64 // width symbols packed first-symbol-highest (zero-padded at the end)."""
    n = data.shape[0]
    per_key = 64 // width
    keys = np.empty(n, dtype=np.uint64)
    key = U64(0)
    top = U64(width * (per_key - 1))
    for i in range(n - 1, -1, -1):
        key = (key >> U64(width)) | (U64(data[i]) << top)
        keys[i] = key
    return keys


@_jit
def radix_sorted(keys: np.ndarray) -> np.ndarray:
    """The keys in ascending order: a least-significant-digit radix sort, one byte per pass, that
    skips the bytes every key shares (the zero top bits of narrow windows). On 8M 64-bit windows of
    a bitstring it takes about 0.4x the time of numpy's comparison sort on this kind of machine."""
    n = keys.shape[0]
    counts = np.zeros((8, 256), dtype=np.int64)
    for x in keys:
        for p in range(8):
            counts[p, (x >> U64(8 * p)) & U64(255)] += 1
    source = keys.copy()
    target = np.empty_like(keys)
    starts = np.empty(256, dtype=np.int64)
    for p in range(8):
        if counts[p].max() == n:
            continue
        total = 0
        for digit in range(256):
            starts[digit] = total
            total += counts[p, digit]
        shift = U64(8 * p)
        for x in source:
            b = (x >> shift) & U64(255)
            target[starts[b]] = x
            starts[b] += 1
        source, target = target, source
    return source


@_jit
def adjacent_lcp_of_windows(
    full: np.ndarray, short: np.ndarray, where: np.ndarray, lengths: np.ndarray, width: int
) -> tuple[np.ndarray, bool]:
    """LCP (in symbols) of neighbouring windows: the sorted full windows with the short ones (the
    last few positions) inserted before index `where[j]`. False when two full windows are equal (the
    LCP may then exceed a window and the caller needs a suffix array)."""
    per_key = 64 // width
    unused = 64 - width * per_key  # windows are right-aligned: the top bits are always zero
    total = full.shape[0] + short.shape[0]
    out = np.empty(max(total - 1, 0), dtype=np.int64)
    emitted = 0
    prev_key = U64(0)
    prev_len = 0
    j = 0
    for i in range(full.shape[0] + 1):
        while True:
            if j < short.shape[0] and where[j] == i:
                key = short[j]
                length = lengths[j]
                j += 1
            elif i < full.shape[0]:
                key = full[i]
                length = per_key
            else:
                break
            if emitted > 0:
                common = (int(leading_zeros(prev_key ^ key)) - unused) // width
                if common >= per_key and length == per_key and prev_len == per_key:
                    return out, False
                if length < common:
                    common = length
                if prev_len < common:
                    common = prev_len
                out[emitted - 1] = common
            emitted += 1
            prev_key = key
            prev_len = length
            if length == per_key:
                break
    return out, True


# ----------------------------------------------------------------------------------------------
# §6.3.7 MultiMCW prediction estimate


@_jit
def multi_mcw(data: np.ndarray, k: int) -> tuple[int, int]:
    windows = np.array([63, 255, 1023, 4095], dtype=np.int64)
    nw = 4
    n = data.shape[0]
    counts = np.zeros((nw, k), dtype=np.int64)
    poses = np.zeros((nw, k), dtype=np.int64)
    best = np.zeros(nw, dtype=np.int64)
    frequent = np.zeros(nw, dtype=np.int64)
    score = np.zeros(nw, dtype=np.int64)
    for i in range(windows[nw - 1]):
        s = data[i]
        for j in range(nw):
            if i < windows[j]:
                counts[j, s] += 1
                if best[j] <= counts[j, s]:
                    best[j] = counts[j, s]
                    frequent[j] = s
                poses[j, s] = i
    winner = 0
    correct = 0
    run = 0
    longest = 0
    for i in range(windows[0], n):
        s = data[i]
        correct, run, longest = _tally(frequent[winner] == s, correct, run, longest)
        for j in range(nw):
            if i >= windows[j] and frequent[j] == s:
                score[j] += 1
                if score[j] >= score[winner]:
                    winner = j
        for j in range(nw):
            w = windows[j]
            if i >= w:
                old = data[i - w]
                counts[j, old] -= 1
                counts[j, s] += 1
                poses[j, s] = i
                if old != frequent[j] and best[j] <= counts[j, s]:
                    best[j] = counts[j, s]
                    frequent[j] = s
                elif old == frequent[j]:
                    best[j] -= 1
                    at = i - w
                    for c in range(k):
                        if best[j] < counts[j, c] or (best[j] == counts[j, c] and at <= poses[j, c]):
                            best[j] = counts[j, c]
                            frequent[j] = c
                            at = poses[j, c]
    return correct, longest


@_jit
def multi_mcw_binary(bits: np.ndarray) -> tuple[int, int]:
    """§6.3.7 on binary data. The windows (63, 255, 1023, 4095) are odd, so a full window's most
    common value is its strict majority; window j predicts only once it is full."""
    windows = np.array([63, 255, 1023, 4095], dtype=np.int64)
    n = bits.shape[0]
    ones = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        ones[i + 1] = ones[i] + bits[i]
    score = np.zeros(4, dtype=np.int64)
    winner = 0
    correct = 0
    run = 0
    longest = 0
    for i in range(windows[0], n):
        s = bits[i]
        w = windows[winner]
        predicted = 1 if 2 * (ones[i] - ones[i - w]) > w else 0
        correct, run, longest = _tally(predicted == s, correct, run, longest)
        for j in range(4):
            w = windows[j]
            if i >= w and (1 if 2 * (ones[i] - ones[i - w]) > w else 0) == s:
                score[j] += 1
                if score[j] >= score[winner]:
                    winner = j
    return correct, longest


# ----------------------------------------------------------------------------------------------
# §6.3.8 lag prediction estimate


@_jit
def lag_predictor(data: np.ndarray) -> tuple[int, int]:
    """§6.3.8 with D = 128. Each step scores every lag whose prediction would have been right; the
    winner becomes the largest lag reaching the high score (the order the reference updates in)."""
    depth = 128
    n = data.shape[0]
    rev = data[::-1].copy()  # data[i - o - 1] == rev[n - i + o]: the lags of step i are contiguous
    score = np.zeros(depth, dtype=np.int32)
    high = 0
    winner = 0
    correct = 0
    run = 0
    longest = 0
    for i in range(1, n):
        s = data[i]
        correct, run, longest = _tally(s == data[i - winner - 1], correct, run, longest)
        reach = depth if i >= depth else i
        base = n - i
        top = np.int32(0)
        for o in range(reach):
            h = rev[base + o] == s
            sc = score[o] + np.int32(h)
            score[o] = sc
            v = sc if h else np.int32(0)
            top = v if v > top else top
        if top > 0 and top >= high:
            w = -1
            for o in range(reach):
                if rev[base + o] == s and score[o] == top:
                    w = o
            winner = w
            high = top
    return correct, longest


@njit(inline="always")
def _block_scoreboard(depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores, one block's hit masks, and the candidate list and flags, for `depth` predictors."""
    return (
        np.zeros(depth, dtype=np.int64),
        np.zeros(depth, dtype=np.uint64),
        np.zeros(depth, dtype=np.int64),
        np.zeros(depth, dtype=np.bool_),
    )


@njit(inline="always")
def _block_candidates(
    hits: np.ndarray, score: np.ndarray, high: int, candidate: np.ndarray, is_candidate: np.ndarray
) -> int:
    """Of predictors with these hit masks for a block of 64 steps, those that could reach the high
    score within the block (listed in `candidate`, in order); returns how many."""
    count = 0
    for o in range(hits.shape[0]):
        pc = int(popcount(hits[o]))
        is_candidate[o] = pc > 0 and score[o] + pc >= high
        if is_candidate[o]:
            candidate[count] = o
            count += 1
    return count


@njit(inline="always")
def _step_candidates(
    hits: np.ndarray, j: int, candidate: np.ndarray, count: int, score: np.ndarray, high: int, winner: int
) -> tuple[int, int]:
    """Step j of the block for the candidates only: score each hit; the last predictor (in order) to
    reach the high score becomes the winner. Returns (high score, winner)."""
    for c in range(count):
        o = candidate[c]
        if (hits[o] >> U64(j)) & U64(1):
            score[o] += 1
            if score[o] >= high:
                high = score[o]
                winner = o
    return high, winner


@njit(inline="always")
def _settle_block(hits: np.ndarray, score: np.ndarray, is_candidate: np.ndarray) -> None:
    """The block's end for the predictors that were not stepped: add their hits at once."""
    for o in range(hits.shape[0]):
        if not is_candidate[o]:
            score[o] += int(popcount(hits[o]))


@_jit
def lag_predictor_binary(bits: np.ndarray) -> tuple[int, int]:
    """§6.3.8 with D = 128 on binary data, 64 steps at a time.

    For each block of 64 steps the hits of all 128 lags are computed as bit masks. A lag whose score
    at the block start plus its hits in the block stays below the high score cannot become the winner
    or move the high score during the block, so only the other lags ("candidates") are simulated step
    by step; the rest just add their hit counts. The result is exactly that of stepping every lag.
    """
    depth = 128
    n = bits.shape[0]
    words = np.zeros((n + 63) // 64 + 2, dtype=np.uint64)
    for t in range(n):
        words[t >> 6] |= U64(bits[t]) << U64(t & 63)
    score, hits, candidate, is_candidate = _block_scoreboard(depth)
    high = 0
    winner = 0
    correct = 0
    run = 0
    longest = 0
    for block in range((n + 63) // 64):
        t0 = block * 64
        steps = min(64, n - t0)
        step_mask = ~U64(0) if steps == 64 else (U64(1) << U64(steps)) - U64(1)
        current = words[block]
        for o in range(depth):
            start = t0 - o - 1  # position compared with step t0
            if start >= 0:
                k = start >> 6
                r = start & 63
                other = words[k] >> U64(r)
                if r != 0:
                    other |= words[k + 1] << U64(64 - r)
                valid = step_mask
            else:
                shift = -start
                if shift >= 64:
                    hits[o] = U64(0)
                    continue
                other = words[0] << U64(shift)
                valid = step_mask & ~((U64(1) << U64(shift)) - U64(1))
            hits[o] = ~(current ^ other) & valid
        count = _block_candidates(hits, score, high, candidate, is_candidate)
        for j in range(steps):
            t = t0 + j
            if t >= 1:
                correct, run, longest = _tally(bits[t] == bits[t - winner - 1], correct, run, longest)
            high, winner = _step_candidates(hits, j, candidate, count, score, high, winner)
        _settle_block(hits, score, is_candidate)
    return correct, longest


# ----------------------------------------------------------------------------------------------
# Hash tables for the multi-symbol dictionaries of §6.3.9 and §6.3.10.
# A context is up to 16 symbols of at most 8 bits: two 64-bit words plus its order.


@njit(inline="always")
def _mix(a: np.uint64, b: np.uint64, c: np.uint64) -> np.uint64:
    h = a * _M1 ^ b * _M2 ^ c * _M3
    h ^= h >> U64(31)
    h *= _M1
    h ^= h >> U64(29)
    return h


@njit(inline="always")
def _ctx_find(table: np.ndarray, a: np.uint64, b: np.uint64, order: int) -> np.int64:
    """Look up context (a, b) of `order` in an open-addressing table of rows (a, b, order + 1, id).
    Returns its id, or -1 - slot of the empty slot where it would go."""
    mask = U64(table.shape[0] - 1)
    tag = U64(order + 1)
    slot = _mix(a, b, tag) & mask
    while True:
        o = table[slot, 2]
        if o == U64(0):
            return -1 - np.int64(slot)
        if o == tag and table[slot, 0] == a and table[slot, 1] == b:
            return np.int64(table[slot, 3])
        slot = (slot + U64(1)) & mask


@njit(inline="always")
def _ctx_get_or_insert(
    table: np.ndarray, a: np.uint64, b: np.uint64, order: int, fresh: int
) -> tuple[np.int64, bool]:
    """The id of context (a, b) of `order`, inserting it with id `fresh` if absent; True if inserted."""
    r = _ctx_find(table, a, b, order)
    if r >= 0:
        return r, False
    slot = -1 - r
    table[slot, 0] = a
    table[slot, 1] = b
    table[slot, 2] = U64(order + 1)
    table[slot, 3] = U64(fresh)
    return np.int64(fresh), True


@njit(inline="always")
def _push(lo: np.uint64, hi: np.uint64, symbol: int) -> tuple[np.uint64, np.uint64]:
    """Shift a symbol into the 16-symbol history (newest in the lowest byte of `lo`)."""
    return (lo << U64(8)) | U64(symbol), (hi << U64(8)) | (lo >> U64(56))


@njit(inline="always")
def _binary_offsets(depth: int) -> np.ndarray:
    """Start of each order's table of (context, bit) counts: order d has 2^(d+1) contexts x 2 bits."""
    offsets = np.zeros(depth + 1, dtype=np.int64)
    for d in range(depth):
        offsets[d + 1] = offsets[d] + (1 << (d + 2))
    return offsets


@njit(inline="always")
def _context_key(lo: np.uint64, hi: np.uint64, length: int) -> tuple[np.uint64, np.uint64]:
    if length >= 8:
        if length == 16:
            return lo, hi
        return lo, hi & ((U64(1) << U64(8 * (length - 8))) - U64(1))
    return lo & ((U64(1) << U64(8 * length)) - U64(1)), U64(0)


@njit(inline="always")
def _pair_slot(pairs: np.ndarray, key: np.int64) -> np.int64:
    """Slot of `key` (or the empty slot for it) in an open-addressing table of rows (key, count)."""
    mask = U64(pairs.shape[0] - 1)
    slot = _mix(U64(key), U64(0x5BD1E995), U64(7)) & mask
    while True:
        k = pairs[slot, 0]
        if k == 0 or k == key:
            return np.int64(slot)
        slot = (slot + U64(1)) & mask


@njit(inline="always")
def _mmc_increment(
    ctx: int,
    y: int,
    make_new: bool,
    tables: tuple[np.ndarray, np.ndarray, int, int],
    best_count: np.ndarray,
    best_symbol: np.ndarray,
) -> bool:
    """Count symbol y after context ctx; True when a new (context, symbol) entry was made.

    `tables` is (pairs, direct counts, direct contexts, k): contexts numbered below `direct contexts`
    keep their counts in a dense (context, symbol) array, the rest in a hash table of pairs."""
    pairs, direct, direct_contexts, k = tables
    made = False
    if ctx < direct_contexts:
        at = np.int64(ctx) * k + y
        c = direct[at]
        if c == 0:
            if not make_new:
                return False
            made = True
        c += 1
        direct[at] = c
    else:
        key = np.int64(ctx) * 256 + y + 1
        slot = _pair_slot(pairs, key)
        if pairs[slot, 0] == key:
            pairs[slot, 1] += 1
        elif make_new:
            pairs[slot, 0] = key
            pairs[slot, 1] = 1
            made = True
        else:
            return False
        c = pairs[slot, 1]
    if c > best_count[ctx] or (c == best_count[ctx] and y > best_symbol[ctx]):
        best_count[ctx] = c
        best_symbol[ctx] = y
    return made


@_jit
def multi_mmc_literal(data: np.ndarray, k: int, max_entries: int) -> tuple[int, int]:
    """§6.3.9 with D = 16 on symbols of up to 8 bits. Returns (correct predictions, longest run).

    Orders whose contexts number at most 2^16 index their contexts directly; longer contexts go
    through a hash table. (context, next symbol) counts are hashed for every order. The first hashed
    order has at most 2^24 possible contexts: a bitmap of those present answers most of its lookups
    (misses, on data with entropy) without probing the large hash table."""
    depth = 16
    n = data.shape[0]
    dense_levels = 0
    dense_base = np.zeros(depth + 1, dtype=np.int64)
    size = k
    while dense_levels < depth and size <= 65536:
        dense_base[dense_levels + 1] = dense_base[dense_levels] + size
        dense_levels += 1
        size *= k
    dense_total = dense_base[dense_levels]
    present = np.zeros((size + 63) // 64 if dense_levels < depth else 1, dtype=np.uint64)
    hashed_contexts = min((depth - dense_levels) * (max_entries + 2), depth * (n + 1))
    cap = 1
    while 3 * cap < 4 * hashed_contexts:  # load at most 3/4: fewer pages to touch
        cap *= 2
    ctx_table = np.zeros((cap, 4), dtype=np.uint64)
    best_count = np.zeros(dense_total + hashed_contexts, dtype=np.int64)
    best_symbol = np.zeros(dense_total + hashed_contexts, dtype=np.int64)
    direct_levels = 0
    while direct_levels < dense_levels and dense_base[direct_levels + 1] * k <= 1 << 25:
        direct_levels += 1
    direct_contexts = dense_base[direct_levels]
    pair_cap = 1
    while 3 * pair_cap < 4 * min((depth - direct_levels) * (max_entries + 2), depth * (n + 1)):
        pair_cap *= 2
    tables = (
        np.zeros((pair_cap, 2), dtype=np.int64),
        np.zeros(direct_contexts * k, dtype=np.int32),
        direct_contexts,
        k,
    )
    entries = np.zeros(depth, dtype=np.int64)
    score = np.zeros(depth, dtype=np.int64)
    nctx = dense_total

    # initial counts: context data[0..d] followed by data[d+1]
    for d in range(depth):
        if d < n - 2:
            if d < dense_levels:
                r = dense_base[d]
                weight = 1
                for t in range(d + 1):
                    r += np.int64(data[d - t]) * weight
                    weight *= k
            else:
                a = U64(0)
                b = U64(0)
                index = np.int64(0)
                weight = 1
                for t in range(d + 1):  # newest symbol in the lowest byte
                    sym = U64(data[d - t])
                    index += np.int64(data[d - t]) * weight
                    weight *= k
                    if t < 8:
                        a |= sym << U64(8 * t)
                    else:
                        b |= sym << U64(8 * (t - 8))
                r, made = _ctx_get_or_insert(ctx_table, a, b, d, nctx)
                nctx += made
                if d == dense_levels:
                    present[index >> 6] |= U64(1) << U64(index & 63)
            _mmc_increment(r, data[d + 1], True, tables, best_count, best_symbol)
            entries[d] = 1

    winner = 0
    correct = 0
    run = 0
    longest = 0
    # history of the symbols before index i: lo holds data[i-1..i-8], hi holds data[i-9..i-16]
    lo = (U64(data[0]) << U64(8)) | U64(data[1]) if n > 1 else U64(0)
    hi = U64(0)
    for i in range(2, n):
        found = False
        cur_winner = winner
        s = data[i]
        ctx = np.int64(-1)
        compact = np.int64(0)
        weight = np.int64(1)
        top = depth if i - 2 >= depth - 1 else i - 1
        for d in range(top):
            dense = d < dense_levels
            if dense:
                compact += np.int64(data[i - 1 - d]) * weight
                weight *= k
                if d == 0 or found:
                    ctx = dense_base[d] + compact
                    found = best_count[ctx] > 0
            elif found:
                if d == dense_levels:
                    index = compact + np.int64(data[i - 1 - d]) * weight
                    found = (present[index >> 6] >> U64(index & 63)) & U64(1) != U64(0)
                if found:
                    a, b = _context_key(lo, hi, d + 1)
                    ctx = _ctx_find(ctx_table, a, b, d)
                    found = ctx >= 0
            if found:
                if d == cur_winner:
                    correct, run, longest = _tally(best_symbol[ctx] == s, correct, run, longest)
                if best_symbol[ctx] == s:
                    score[d] += 1
                    if score[d] >= score[winner]:
                        winner = d
                if _mmc_increment(ctx, s, entries[d] < max_entries, tables, best_count, best_symbol):
                    entries[d] += 1
            elif entries[d] < max_entries:
                if dense:
                    r = dense_base[d] + compact
                else:
                    a, b = _context_key(lo, hi, d + 1)
                    r, made = _ctx_get_or_insert(ctx_table, a, b, d, nctx)
                    nctx += made
                    if d == dense_levels:
                        index = compact + np.int64(data[i - 1 - d]) * weight
                        present[index >> 6] |= U64(1) << U64(index & 63)
                _mmc_increment(r, s, True, tables, best_count, best_symbol)
                entries[d] += 1
        lo, hi = _push(lo, hi, s)
    return correct, longest


_LOW = np.int64(0xFFFFFFFF)


@njit(inline="always")
def _mmc_binary_order(
    bits: np.ndarray, d: int, table: np.ndarray, max_entries: int, found_row: np.ndarray, hit_row: np.ndarray
) -> None:
    """One order of §6.3.9 on binary data: its dictionary (contexts of d + 1 bits, one 64-bit word each:
    the count of a following 0 in the low half, of a following 1 in the high half) evolves on its own.
    For every step i it records whether the context was present (bit i of `found_row`) and whether
    its prediction, the more frequent bit, 1 on ties, was right (bit i of `hit_row`)."""
    n = bits.shape[0]
    mask = (np.int64(2) << d) - 1
    pattern = np.int64(0)
    for t in range(d + 1):
        pattern = (pattern << 1) | np.int64(bits[t])
    table[pattern & mask] = np.int64(1) << (32 * np.int64(bits[d + 1]))
    entries = 1
    capped = (np.int64(4) << d) > max_entries
    pattern = (pattern << 1) | np.int64(bits[d + 1])  # the context before step d + 2
    i = d + 2
    while i < n:
        end = min(n, (i | 63) + 1)
        found = U64(0)
        hit = U64(0)
        for t in range(i, end):
            s = np.int64(bits[t])
            at = pattern & mask
            v = table[at]
            zeros = v & _LOW
            ones = v >> 32
            present = v != 0
            found |= U64(present) << U64(t & 63)
            hit |= U64(present & ((zeros <= ones) == (s == 1))) << U64(t & 63)
            if capped:  # only orders with more possible entries than the cap test it, without branches
                seen = ones if s == 1 else zeros
                count = np.int64((seen != 0) | (entries < max_entries))
                table[at] = v + (count << (32 * s))
                entries += count & np.int64(seen == 0)
            else:
                table[at] = v + (np.int64(1) << (32 * s))
            pattern = (pattern << 1) | s
        found_row[i >> 6] = found
        hit_row[i >> 6] = hit
        i = end


@_jit
def multi_mmc_binary(bits: np.ndarray, max_entries: int) -> tuple[int, int]:
    """§6.3.9 with D = 16 on binary data, in two passes.

    Each order's dictionary depends on the data alone, not on the other orders, so the first pass
    runs one order at a time over the whole input (no branches on the data, the order's table hot in
    cache) and keeps, per step, its presence and hit bits. The second pass replays the scoreboard
    64 steps at a time, as `lag_predictor_binary` does: an order is predicting only when every shorter
    context is present too, as in the reference loop, which stops at the first absent one.

    That the orders are independent needs a cap of at least 2^16 entries: then no order below the
    top one (at most 2^16 entries) is ever full, so a context absent there is absent above too and
    the reference's skipped lookups change no count."""
    depth = 16
    if max_entries < 1 << 16:
        raise ValueError("multi_mmc_binary: the orders are independent only with max_entries >= 2^16")
    n = bits.shape[0]
    words = (n + 63) // 64
    offsets = _binary_offsets(depth) // 2
    table = np.zeros(offsets[depth], dtype=np.int64)
    found_words = np.zeros((depth, words), dtype=np.uint64)
    hit_words = np.zeros((depth, words), dtype=np.uint64)
    for d in range(depth):
        _mmc_binary_order(
            bits, d, table[offsets[d] : offsets[d + 1]], max_entries, found_words[d], hit_words[d]
        )
    score, hits, candidate, is_candidate = _block_scoreboard(depth)
    found = np.zeros(depth, dtype=np.uint64)
    high = 0
    winner = 0
    correct = 0
    run = 0
    longest = 0
    for block in range(words):
        t0 = block * 64
        chain = ~U64(0)
        for d in range(depth):
            chain &= found_words[d, block]
            found[d] = chain
            hits[d] = hit_words[d, block] & chain
        count = _block_candidates(hits, score, high, candidate, is_candidate)
        for j in range(max(0, 2 - t0), min(64, n - t0)):
            if (found[winner] >> U64(j)) & U64(1):
                hit = (hits[winner] >> U64(j)) & U64(1) != U64(0)
                correct, run, longest = _tally(hit, correct, run, longest)
            high, winner = _step_candidates(hits, j, candidate, count, score, high, winner)
        _settle_block(hits, score, is_candidate)
    return correct, longest


@njit(inline="always")
def _count_symbol(
    counts: np.ndarray, best_count: np.ndarray, best_symbol: np.ndarray, ctx: int, y: int
) -> None:
    """Count y after context ctx; the prediction is the most frequent symbol, the largest on ties."""
    counts[ctx, y] += 1
    c = counts[ctx, y]
    if c > best_count[ctx] or (c == best_count[ctx] and y > best_symbol[ctx]):
        best_count[ctx] = c
        best_symbol[ctx] = y


@_jit
def lz78y_literal(data: np.ndarray, k: int, max_dict: int) -> tuple[int, int]:
    """§6.3.10 with B = 16 on symbols of up to 8 bits. Returns (correct predictions, longest run).

    Until the dictionary is full every step looks up all 16 contexts (longest first) and adds the
    missing ones. After that nothing is added, and a context of order j+1 in the dictionary has its
    order-j suffix there too, except for contexts added by the step that filled the dictionary (any
    earlier step added all of its contexts' suffixes as well). So a full-dictionary step looks up
    orders 1, 2, ... up to the first miss, plus the few contexts that filling step added: the same
    contexts, counts and prediction (the largest count, the longest context on ties) as looking
    up all 16."""
    depth = 16
    n = data.shape[0]
    nmax = min(max_dict + depth, depth * (n + 1))
    cap = 1
    while cap < 2 * nmax:
        cap *= 2
    ctx_table = np.zeros((cap, 4), dtype=np.uint64)
    counts = np.zeros((nmax, k), dtype=np.int32)
    best_count = np.zeros(nmax, dtype=np.int64)
    best_symbol = np.zeros(nmax, dtype=np.int64)
    # contexts added by the latest step, longest first: order, key and id
    added_order = np.zeros(depth, dtype=np.int64)
    added_a = np.zeros(depth, dtype=np.uint64)
    added_b = np.zeros(depth, dtype=np.uint64)
    added_id = np.zeros(depth, dtype=np.int64)
    added = 0
    nctx = 0
    size = 0
    lo = U64(0)
    hi = U64(0)
    for t in range(depth):  # history before index B
        sym = U64(data[depth - 1 - t])
        if t < 8:
            lo |= sym << U64(8 * t)
        else:
            hi |= sym << U64(8 * (t - 8))
    y0 = data[depth]
    for j in range(1, depth + 1):
        a, b = _context_key(lo, hi, j)
        r, made = _ctx_get_or_insert(ctx_table, a, b, j - 1, nctx)
        nctx += made
        _count_symbol(counts, best_count, best_symbol, r, y0)
        size += 1
    lo, hi = _push(lo, hi, y0)
    correct = 0
    run = 0
    longest = 0
    i = depth + 1
    while i < n and size < max_dict:
        s = data[i]
        have = False
        pred = 0
        most = 0
        added = 0
        for j in range(depth, 0, -1):
            a, b = _context_key(lo, hi, j)
            r = _ctx_find(ctx_table, a, b, j - 1)
            if r >= 0:
                if best_count[r] > most:
                    most = best_count[r]
                    pred = best_symbol[r]
                    have = True
            elif size < max_dict:
                r, made = _ctx_get_or_insert(ctx_table, a, b, j - 1, nctx)
                nctx += made
                size += 1
                added_order[added] = j
                added_a[added] = a
                added_b[added] = b
                added_id[added] = r
                added += 1
            else:
                continue
            _count_symbol(counts, best_count, best_symbol, r, s)
        correct, run, longest = _tally(have and pred == s, correct, run, longest)
        lo, hi = _push(lo, hi, s)
        i += 1
    while i < n:
        s = data[i]
        pred = 0
        most = 0
        miss = depth + 1
        for j in range(1, depth + 1):
            a, b = _context_key(lo, hi, j)
            r = _ctx_find(ctx_table, a, b, j - 1)
            if r < 0:
                miss = j
                break
            if best_count[r] >= most:  # ascending orders: ">=" keeps the longest on ties
                most = best_count[r]
                pred = best_symbol[r]
            _count_symbol(counts, best_count, best_symbol, r, s)
        for e in range(added - 1, -1, -1):  # ascending orders
            j = added_order[e]
            if j > miss:
                a, b = _context_key(lo, hi, j)
                if a == added_a[e] and b == added_b[e]:
                    r = added_id[e]
                    if best_count[r] >= most:
                        most = best_count[r]
                        pred = best_symbol[r]
                    _count_symbol(counts, best_count, best_symbol, r, s)
        correct, run, longest = _tally(most > 0 and pred == s, correct, run, longest)
        lo, hi = _push(lo, hi, s)
        i += 1
    return correct, longest


@_jit
def lz78y_binary(bits: np.ndarray, max_dict: int) -> tuple[int, int]:
    """§6.3.10 with B = 16 on binary data; dictionaries as in `multi_mmc_binary` (both counts of a
    context in one 64-bit word)."""
    depth = 16
    n = bits.shape[0]
    offsets = _binary_offsets(depth) // 2
    table = np.zeros(offsets[depth], dtype=np.int64)
    size = 0
    pattern = np.int64(0)
    for j in range(depth):
        pattern |= np.int64(bits[depth - j - 1]) << j
        table[offsets[j] + pattern] = np.int64(1) << (32 * np.int64(bits[depth]))
        size += 1
    pattern = np.int64(0)
    for t in range(depth):
        pattern = (pattern << 1) | np.int64(bits[t + 1])
    correct = 0
    run = 0
    longest = 0
    i = depth + 1
    while i < n and size < max_dict:
        s = np.int64(bits[i])
        step = np.int64(1) << (32 * s)
        pred = 0
        most = np.int64(0)
        for j in range(depth, 0, -1):
            at = offsets[j - 1] + (pattern & ((1 << j) - 1))
            v = table[at]
            e0 = v & _LOW
            e1 = v >> 32
            cnt = e0 if e0 > e1 else e1
            better = cnt > most
            pred = (0 if e0 > e1 else 1) if better else pred
            most = cnt if better else most
            if v != 0 or size < max_dict:
                table[at] = v + step
                if v == 0:
                    size += 1
        correct, run, longest = _tally(most > 0 and pred == s, correct, run, longest)
        pattern = ((pattern << 1) | s) & 0xFFFF
        i += 1
    # The dictionary is full: only contexts already in it (non-zero words) are counted. The same
    # steps without branches on the data (absent contexts at the long orders are unpredictable).
    while i < n:
        s = np.int64(bits[i])
        step = np.int64(1) << (32 * s)
        pred = np.int64(0)
        most = np.int64(0)
        for j in range(depth, 0, -1):
            at = offsets[j - 1] + (pattern & ((np.int64(1) << j) - 1))
            v = table[at]
            e0 = v & _LOW
            e1 = v >> 32
            cnt = e1 if e1 >= e0 else e0
            better = cnt > most
            pred = np.int64(e1 >= e0) if better else pred  # ties predict 1, as above
            most = cnt if better else most
            table[at] = v + (step & -np.int64(v != 0))
        correct, run, longest = _tally((most > 0) & (pred == s), correct, run, longest)
        pattern = ((pattern << 1) | s) & 0xFFFF
        i += 1
    return correct, longest
