"""The byte length libbzip2 would give, from a suffix array instead of libbzip2's own block sort.

On the decimal text of binary samples ("0 1 1 0 ..."), libbzip2 spends most of each call sorting
rotations that share long prefixes; divsufsort sorts the same block's suffixes in a fraction of that
time. `_bzip2_kernels` turns that order into the rotation order libbzip2 sorts and counts, stage by
stage, the bits libbzip2 writes. The result equals `len(BZ2_bzBuffToBuffCompress(...))`; tests check it
against libbzip2 itself on the oracle files and on random and repetitive text.
"""

from __future__ import annotations

import numpy as np
from pydivsufsort import divsufsort

from fipsforge.entropy.native import kernels

STREAM_BITS = 32 + 48 + 32  # "BZh" and the level; the end-of-stream magic and the combined CRC


def block_rotations(block: np.ndarray) -> np.ndarray:
    """The block's rotations in sorted order (equal rotations in any order), as int32 offsets."""
    order: np.ndarray = divsufsort(block)
    if kernels().bzip2_rotation_order(block, order):
        return order
    # Periodic or highly repetitive block: the rotations are the first n suffixes of the block twice.
    doubled: np.ndarray = divsufsort(np.concatenate((block, block)))
    rotations: np.ndarray = doubled[doubled < block.shape[0]]
    return rotations


def compressed_size(text: np.ndarray, level: int = 5) -> int:
    """What `BZ2_bzBuffToBuffCompress` returns in `destLen` for `text` at `blockSize100k=level`."""
    coded, ends = kernels().bzip2_runs_and_blocks(text, 100_000 * level - 19)
    bits = STREAM_BITS
    start = 0
    for end in ends.tolist():
        block = coded[start:end]
        bits += int(kernels().bzip2_block_bits(block, block_rotations(block)))
        start = end
    return (bits + 7) // 8
