"""The byte length libbzip2 would give, from a suffix array instead of libbzip2's own block sort.

libbzip2 spends most of each call sorting a block's rotations, slowly on the repetitive text of binary
samples ("0 1 1 0 ..."). The sort's result does not depend on how it is done, so here it comes from
divsufsort: over the block's numbers, one byte per distinct number, where the block is decimal text
(`_bzip2_kernels.bzip2_tokens`), else over its bytes; `_bzip2_kernels` then turns that order into the
rotation order libbzip2 sorts and counts, stage by stage, the bits libbzip2 writes. The result equals
what `BZ2_bzBuffToBuffCompress` returns; tests check it against libbzip2 itself on the oracle files
and on random, repetitive and cut-anywhere text.
"""

from __future__ import annotations

import numpy as np
from pydivsufsort import divsufsort

from fipsforge.entropy.native import kernels

STREAM_BITS = 32 + 48 + 32  # "BZh" and the level; the end-of-stream magic and the combined CRC


def block_bytes(level: int = 5) -> int:
    """How many bytes libbzip2 takes into a block (after its run-length stage) at `blockSize100k`."""
    return 100_000 * level - 19


def block_suffixes(block: np.ndarray) -> tuple[np.ndarray, int]:
    """Most of the block's suffixes in order, and how many: decimal text is sorted as a string of
    tokens (numbers with their space), a quarter to a half as long; other text byte by byte."""
    tokens, starts = kernels().bzip2_tokens(block)
    if tokens.shape[0]:
        suffixes, known = kernels().bzip2_token_suffixes(block, tokens, starts, divsufsort(tokens))
        if known:
            return suffixes, int(known)
    return divsufsort(block), block.shape[0]


def block_rotations(block: np.ndarray) -> np.ndarray:
    """The block's rotations in sorted order (equal rotations in any order), as int32 offsets."""
    order, known = block_suffixes(block)
    if kernels().bzip2_rotation_order(block, order, known):
        return order
    # Periodic or highly repetitive block: the rotations are the first n suffixes of the block twice.
    doubled: np.ndarray = divsufsort(np.concatenate((block, block)))
    rotations: np.ndarray = doubled[doubled < block.shape[0]]
    return rotations


def compressed_size(text: np.ndarray, level: int = 5) -> int:
    """What `BZ2_bzBuffToBuffCompress` returns in `destLen` for `text` at `blockSize100k=level`."""
    coded, ends = kernels().bzip2_runs_and_blocks(text, block_bytes(level))
    bits = STREAM_BITS
    start = 0
    for end in ends.tolist():
        block = coded[start:end]
        bits += int(kernels().bzip2_block_bits(block, block_rotations(block)))
        start = end
    return (bits + 7) // 8
