"""Merkle tree hashing and proofs exactly as RFC 9162 (and RFC 6962): pure functions, no Django.

leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right); a tree of
n leaves splits at k, the largest power of two below n (RFC 9162 §2.1.1). Builders raise
ValueError on bad arguments; verifiers answer False for anything they cannot accept and
never raise, whatever a (possibly hostile) proof contains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE_PREFIX + left + right)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _check_hash(value: object, what: str) -> None:
    if not _is_hash(value):
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")


def _check_hashes(values: Iterable[object], what: str) -> None:
    for position, value in enumerate(values):
        if not _is_hash(value):
            raise ValueError(f"{what}[{position}] must be {HASH_SIZE} bytes")


def _valid_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(_LEAF_PREFIX + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    _check_hash(left, "left")
    _check_hash(right, "right")
    return _node(left, right)


def _mth(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) without argument checks.

    Pairing neighbours level by level, an odd last node carried up unchanged, builds the
    same tree as RFC 9162's split at the largest power of two, without recursion.
    """
    if start == end:
        return EMPTY_ROOT
    level = list(leaf_hashes[start:end])
    while len(level) > 1:
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def subtree_hash(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of leaves [start, end); a perfect subtree when end - start is a power of two."""
    if not 0 <= start <= end <= len(leaf_hashes):
        raise ValueError(f"range [{start}, {end}) is outside a tree of {len(leaf_hashes)}")
    _check_hashes(leaf_hashes[start:end], "leaf_hashes")
    return _mth(leaf_hashes, start, end)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]); the empty tree's root is SHA-256 of the empty string."""
    return subtree_hash(leaf_hashes, 0, len(leaf_hashes))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose hashes make PATH(index, D[size]), leaf first.

    Every range starts on a multiple of a power of two at least its length, so it is
    one perfect subtree or a run of them (:func:`perfect_subtrees`); a store that keeps
    those hashes answers any proof for any past size without recomputing the tree.
    """
    if not (_valid_size(index) and _valid_size(size) and index < size):
        raise ValueError(f"index {index} is outside a tree of {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split_point(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1).

    Defined for 0 < old_size <= new_size; equal sizes need no proof (no ranges).
    """
    if not (_valid_size(old_size) and _valid_size(new_size) and 0 < old_size <= new_size):
        raise ValueError(f"old size {old_size} must be in 1..{new_size}")
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split_point(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees, as (level, index), that make up leaves [start, end), left first.

    ``(level, index)`` is the subtree over leaves [index << level, (index + 1) << level).
    ``start`` must be a multiple of a power of two at least ``end - start`` (true of every
    range of a proof, and of [0, size)); the range's hash is then
    :func:`fold_subtrees` of these subtrees' hashes.
    """
    if not (_valid_size(start) and _valid_size(end) and start < end):
        raise ValueError(f"[{start}, {end}) is not a non-empty range")
    length = end - start
    if start and start & -start < length:
        raise ValueError(f"[{start}, {end}) is not aligned to a subtree boundary")
    subtrees: list[tuple[int, int]] = []
    position = start
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            subtrees.append((level, position >> level))
            position += 1 << level
    return subtrees


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its perfect subtrees' hashes (left first): the right
    border of an RFC 9162 tree folds from the right, smallest subtree deepest."""
    if not hashes:
        raise ValueError("a range has at least one subtree")
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = _node(h, r)
    return r


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1, ordered from the leaf up."""
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of {size}")
    _check_hashes(leaf_hashes, "leaf_hashes")
    return [_mth(leaf_hashes, start, end) for start, end in inclusion_ranges(index, size)]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) = SUBPROOF(old_size, D[n], true) of RFC 9162 §2.1.4.1.

    Defined for 0 < old_size <= n; equal sizes need no proof (an empty list).
    """
    size = len(leaf_hashes)
    if not 0 < old_size <= size:
        raise ValueError(f"old size {old_size} must be in 1..{size}")
    _check_hashes(leaf_hashes, "leaf_hashes")
    return [_mth(leaf_hashes, start, end) for start, end in consistency_ranges(old_size, size)]


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` show leaf `index` with `leaf_hash` under `root`?"""
    try:
        proof = list(proof)
    except TypeError:
        return False
    if not (_valid_size(index) and _valid_size(tree_size) and index < tree_size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of `old_size` with `old_root` a prefix of the new one?

    A proof from the empty tree proves nothing and is rejected; equal sizes need an empty
    proof and equal roots.
    """
    try:
        proof = list(proof)
    except TypeError:
        return False
    if not (_valid_size(old_size) and _valid_size(new_size) and 0 < old_size <= new_size):
        return False
    if old_size == new_size:
        return not proof and isinstance(old_root, bytes) and old_root == new_root
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        return False
    if not proof:
        return False
    if old_size & (old_size - 1) == 0:  # a perfect subtree: the verifier knows it already
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class CompactRange:
    """The roots of the perfect subtrees along the right border of a tree of `size` leaves.

    One hash per set bit of `size`, largest (leftmost) subtree first: what the ledger
    stores so that an append costs O(log n) hashes and the root needs no full recomputation
    (transparency-dev's "compact range" [0, size)).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild a range serialised as (size, hashes)."""
        if not _valid_size(size):
            raise ValueError("size must be a non-negative integer")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a range of size {size} has {size.bit_count()} hashes")
        _check_hashes(hashes, "hashes")
        compact = cls()
        compact._size = size
        compact._hashes = list(hashes)
        return compact

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        _check_hash(leaf_hash, "leaf_hash")
        node, size = leaf_hash, self._size
        while size & 1:  # each trailing set bit is a full subtree that now has a sibling
            node = _node(self._hashes.pop(), node)
            size >>= 1
        self._hashes.append(node)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def extend_with_nodes(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append leaves; return every perfect subtree above the leaves that they
        complete, as (level, index, hash) with level >= 1 — what a store keeps so that
        any later proof reads O(log n) stored hashes."""
        nodes: list[tuple[int, int, bytes]] = []
        hashes, size = self._hashes, self._size
        for leaf in leaf_hashes:
            _check_hash(leaf, "leaf_hash")
            node, rest, level = leaf, size, 0
            while rest & 1:
                node = _node(hashes.pop(), node)
                rest >>= 1
                level += 1
                nodes.append((level, size >> level, node))
            hashes.append(node)
            size += 1
        self._size = size
        return nodes

    def root(self) -> bytes:
        return fold_subtrees(self._hashes) if self._hashes else EMPTY_ROOT

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, hashes={len(self._hashes)})"


# Tiles (as Certificate Transparency's static logs and Go's sumdb store a tree): the
# nodes of one level band [band, band + TILE_HEIGHT) in blocks of TILE_WIDTH consecutive
# nodes of the band's bottom level. Only the bottom row is stored; the rows above it are
# hashed again from it (TILE_WIDTH - 1 node hashes for a whole tile).
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
TILE_BYTES = TILE_WIDTH * HASH_SIZE


def tile_of(level: int, index: int) -> tuple[int, int]:
    """The tile that holds perfect subtree (level, index), as (band, tile index): ``band``
    is the tile's bottom level (a multiple of TILE_HEIGHT)."""
    if not (_valid_size(level) and _valid_size(index)):
        raise ValueError(f"({level}, {index}) is not a subtree position")
    band = level - level % TILE_HEIGHT
    return band, (index << (level - band)) >> TILE_HEIGHT


def tile_rows(bottom: bytes) -> list[bytes]:
    """A tile's rows from its bottom row (concatenated hashes, up to TILE_WIDTH of them,
    a partial tile's being a prefix): row j holds the complete subtrees of 2**j bottom
    nodes, left first. Row j of a partial tile of width w holds w >> j of them."""
    if len(bottom) % HASH_SIZE or len(bottom) > TILE_BYTES:
        raise ValueError(f"a tile's bottom row is up to {TILE_WIDTH} hashes")
    rows = [bottom]
    row = bottom
    sha256, prefix = hashlib.sha256, _NODE_PREFIX
    while len(row) >= 2 * HASH_SIZE:
        row = b"".join(
            [sha256(prefix + row[i : i + 64]).digest() for i in range(0, len(row) - 63, 64)]
        )
        rows.append(row)
    return rows


def tile_hash(rows: Sequence[bytes], level: int, index: int) -> bytes | None:
    """Subtree (level, index) from the rows of the tile that holds it (:func:`tile_of`),
    or None when the tile does not reach that far (a partial tile)."""
    band, tile = tile_of(level, index)
    j = level - band
    if j >= len(rows):
        return None
    offset = (index - (tile << (TILE_HEIGHT - j))) * HASH_SIZE
    digest = rows[j][offset : offset + HASH_SIZE]
    return digest if len(digest) == HASH_SIZE else None


def tile_interior(bottom: bytes) -> bytes:
    """The nodes of a full tile above its bottom row, row by row upwards (TILE_WIDTH / 2
    of row 1, then TILE_WIDTH / 4, …, the tile's root last: TILE_WIDTH - 1 hashes):
    what a store keeps beside the bottom row so that reading a tile hashes nothing."""
    if len(bottom) != TILE_BYTES:
        raise ValueError(f"a full tile's bottom row is {TILE_WIDTH} hashes")
    return b"".join(tile_rows(bottom)[1:])


def interior_row_start(row: int) -> int:
    """Where row ``row`` (1 = the 128 nodes above the bottom, … 8 = the tile's root)
    begins in a tile's :func:`tile_interior`, in bytes."""
    return TILE_BYTES - (TILE_BYTES >> (row - 1))


def tile_rows_with_interior(bottom: bytes, interior: bytes) -> list[bytes]:
    """A full tile's rows (as :func:`tile_rows` gives them) from its bottom row and its
    :func:`tile_interior`, by slicing alone. The interior is taken as stored: the rows
    are the tile's only if it is (a store's reader trusts its rows, as for the bottom)."""
    if len(bottom) != TILE_BYTES or len(interior) != TILE_BYTES - HASH_SIZE:
        raise ValueError(f"a full tile has {TILE_WIDTH} + {TILE_WIDTH - 1} hashes")
    return [bottom] + [
        interior[interior_row_start(row) : interior_row_start(row + 1)]
        for row in range(1, TILE_HEIGHT + 1)
    ]
