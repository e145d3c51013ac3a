"""The compression statistic's byte count against libbzip2 itself, called as the reference tool calls it."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np
import pytest
from pydivsufsort import divsufsort

from fipsforge.entropy import _bzip2_kernels as bk
from fipsforge.entropy import bzip2_size, samples
from fipsforge.entropy.native import kernels

ORACLE = Path(__file__).resolve().parent / "data" / "entropy-oracle"
BLOCK = 100_000 * 5 - 19  # libbzip2's block at level 5, in bytes after its run-length stage


def _libbz2() -> ctypes.CDLL:
    name = ctypes.util.find_library("bz2") or "libbz2.so.1.0"
    return ctypes.CDLL(name)


def libbzip2_size(text: bytes, level: int = 5) -> int:
    """`BZ2_bzBuffToBuffCompress(dest, &destLen, source, len, level, 0, 0)`, as SP 800-90B's tool calls it."""
    library = _libbz2()
    capacity = ctypes.c_uint(len(text) + len(text) // 100 + 600)
    destination = ctypes.create_string_buffer(capacity.value)
    rc = library.BZ2_bzBuffToBuffCompress(destination, ctypes.byref(capacity), text, len(text), level, 0, 0)
    assert rc == 0, f"libbzip2 returned {rc}"
    return capacity.value


def ours(text: bytes, level: int = 5) -> int:
    return bzip2_size.compressed_size(np.frombuffer(text, dtype=np.uint8).copy(), level)


def _random_text(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 20_000))
    alphabet = int(rng.choice([1, 2, 3, 11, 40, 256]))
    if rng.random() < 0.5:  # runs of every length, so the run-length stage is exercised too
        values = rng.integers(0, alphabet, n // 8 + 1, dtype=np.uint8)
        lengths = rng.integers(1, 300, values.shape[0])
        return np.repeat(values, lengths)[: n * 4].tobytes()
    return rng.integers(0, alphabet, n, dtype=np.uint8).tobytes()


EDGES = {
    "empty": b"",
    "one byte": b"7",
    "periodic, short": b"ab" * 10 + b"a",
    "periodic, past the suffix tail": b"0 1 " * 20_000,
    "one byte repeated": b"\0" * 70_000,
    "run of 255 then 256": b"x" * 255 + b"y" * 256,
    "runs of 4 to 7": b"".join(bytes([65 + k]) * (4 + k % 4) for k in range(60)),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_cases_match_libbzip2(name: str) -> None:
    assert ours(EDGES[name]) == libbzip2_size(EDGES[name])


@pytest.mark.parametrize("seed", range(40))
def test_random_text_matches_libbzip2(seed: int) -> None:
    text = _random_text(seed)
    assert ours(text) == libbzip2_size(text)


@pytest.mark.parametrize("extra", [-2, -1, 0, 1, 2, 3, 4])
@pytest.mark.parametrize("run", [1, 3, 6])
def test_the_block_split_matches_libbzip2(extra: int, run: int) -> None:
    """Input ending at or just past a block boundary, with a run open across it: where libbzip2 moves
    an open run to the next block, or keeps it in the last one at the end of input."""
    rng = np.random.default_rng(run * 100 + extra)
    body = rng.integers(48, 58, BLOCK + extra - run, dtype=np.uint8).tobytes()
    text = body + bytes([body[-1] ^ 1]) * run + b"9 1 2"[: max(0, extra) % 3]
    assert ours(text) == libbzip2_size(text)
    assert ours(text * 2) == libbzip2_size(text * 2)  # and a boundary inside the input


@pytest.mark.parametrize("bits", [1, 4, 8])
def test_decimal_text_of_a_million_samples_matches_libbzip2(bits: int) -> None:
    raw = np.random.default_rng(bits).integers(0, 1 << bits, 1_000_000, dtype=np.uint8)
    text = kernels().decimal_text(raw)
    assert bzip2_size.compressed_size(text) == libbzip2_size(text.tobytes())


@pytest.mark.parametrize("path", sorted(ORACLE.glob("*.bin")), ids=lambda p: p.stem)
def test_oracle_files_match_libbzip2(path: Path) -> None:
    text = kernels().decimal_text(samples.load(path, None).raw)
    assert bzip2_size.compressed_size(text) == libbzip2_size(text.tobytes())


def test_negative_control_suffix_order_is_not_rotation_order() -> None:
    """A block's plain suffix array, taken as its rotation order, gives a size libbzip2 does not: the
    comparison above sees the sort, and the rotation fix-up is needed."""
    text = b"0 1 0 1 0 1 0 1"
    block = np.frombuffer(text, dtype=np.uint8).copy()
    plain = (bzip2_size.STREAM_BITS + int(bk.bzip2_block_bits(block, divsufsort(block))) + 7) // 8
    assert plain != libbzip2_size(text)
    assert ours(text) == libbzip2_size(text)


def test_negative_control_level_changes_the_split() -> None:
    """Over one block at level 1 the size differs from level 5's: the block split is really checked."""
    text = np.random.default_rng(0).integers(48, 50, 300_000, dtype=np.uint8).tobytes()
    assert libbzip2_size(text, 1) != libbzip2_size(text, 5)
    assert ours(text, 1) == libbzip2_size(text, 1)
    assert ours(text, 5) == libbzip2_size(text, 5)


def test_rotation_order_gives_up_on_periodic_text() -> None:
    """Where the prefix-suffix tail outgrows its budget the kernel says so instead of guessing."""
    block = np.frombuffer(b"01" * 5_000, dtype=np.uint8).copy()
    assert not bk.bzip2_rotation_order(block, divsufsort(block), block.shape[0])
    random_block = np.random.default_rng(1).integers(0, 3, 10_000, dtype=np.uint8)
    order = divsufsort(random_block)
    assert bk.bzip2_rotation_order(random_block, order, 10_000)
    rotations = sorted(range(10_000), key=lambda i: random_block[i:].tobytes() + random_block[:i].tobytes())
    assert order.tolist() == rotations


def _bwt(block: np.ndarray, order: np.ndarray) -> bytes:
    return bytes(block[(order.astype(np.int64) - 1) % block.shape[0]])


@pytest.mark.parametrize("seed", range(60))
def test_token_sort_gives_the_rotation_order(seed: int) -> None:
    """Decimal text cut anywhere (blocks start and end inside numbers): the order built from the token
    string's suffix array has the last column of the rotations sorted one by one."""
    rng = np.random.default_rng(seed)
    bits = int(rng.choice([1, 2, 3, 4, 8]))
    text = kernels().decimal_text(rng.integers(0, 1 << bits, int(rng.integers(3, 3000)), dtype=np.uint8))
    block = text[int(rng.integers(0, 4)) : text.shape[0] - int(rng.integers(0, 4))].copy()
    tokens, _ = kernels().bzip2_tokens(block)
    assert tokens.shape[0] > 0 or block.shape[0] < 8
    order = bzip2_size.block_rotations(block)
    assert sorted(order.tolist()) == list(range(block.shape[0]))
    rotations = sorted(range(block.shape[0]), key=lambda i: block[i:].tobytes() + block[:i].tobytes())
    assert _bwt(block, order) == _bwt(block, np.array(rotations))


def test_token_sort_leaves_the_ends_to_the_rotation_fix_up() -> None:
    """The partial numbers at both ends are not in the token order: without the fix-up the order
    would be incomplete, so both steps are exercised."""
    block = np.frombuffer(b"45 17 3 200 17 9 1 17 3 20", dtype=np.uint8).copy()
    tokens, starts = kernels().bzip2_tokens(block)
    assert tokens.shape[0] == 8 and starts[0] == 3
    suffixes, known = kernels().bzip2_token_suffixes(block, tokens, starts, divsufsort(tokens))
    assert 0 < known < block.shape[0]
    placed = set(suffixes[:known].tolist())
    assert {0, 1, 2}.isdisjoint(placed) and block.shape[0] - 1 not in placed


@pytest.mark.parametrize(
    "text",
    [
        b"12345 1 2 3 " * 50,  # a number longer than a token key
        b"1 2 x 3 " * 50,  # a byte that is neither digit nor space
        b" ".join(str(v).encode() for v in range(300)) + b" ",  # more than 256 distinct numbers
    ],
    ids=["long number", "other byte", "many numbers"],
)
def test_other_text_is_sorted_byte_by_byte(text: bytes) -> None:
    block = np.frombuffer(text, dtype=np.uint8).copy()
    assert kernels().bzip2_tokens(block)[0].shape[0] == 0
    assert ours(text) == libbzip2_size(text)
