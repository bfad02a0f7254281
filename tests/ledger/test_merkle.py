"""RFC 9162 Merkle tree: transparency-dev vectors, reference roots and hypothesis properties."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rahdari.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    consistency_ranges,
    fold_subtrees,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_hash,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "merkle"
needs_vectors = pytest.mark.skipif(
    not VECTORS.is_dir(), reason=f"transparency-dev Merkle vectors not found at {VECTORS}"
)

# The certificate-transparency reference tree (RFC 6962 test data): its 8 leaves and the
# root of each prefix, the same roots the transparency-dev vectors carry.
REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
REFERENCE_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _cases(kind: str) -> list[tuple[str, dict[str, Any]]]:
    if not VECTORS.is_dir():
        return []
    return [
        (str(path.relative_to(VECTORS)), json.loads(path.read_text()))
        for path in sorted((VECTORS / kind).rglob("*.json"))
    ]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


INCLUSION = _cases("inclusion")
CONSISTENCY = _cases("consistency")


@needs_vectors
def test_vectors_are_all_there() -> None:
    """transparency-dev commit 417fb0c: 98 cases each, 6 of them valid."""
    for cases in (INCLUSION, CONSISTENCY):
        assert len(cases) == 98
        assert sum(not case["wantErr"] for _, case in cases) == 6
    assert any(name.startswith("inclusion/single-entry/") for name, _ in INCLUSION)
    assert any(name.startswith("consistency/additional/") for name, _ in CONSISTENCY)


@needs_vectors
@pytest.mark.parametrize(("name", "case"), INCLUSION, ids=[name for name, _ in INCLUSION])
def test_inclusion_vector(name: str, case: dict[str, Any]) -> None:
    ok = verify_inclusion(
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        [_b64(p) for p in case["proof"] or []],
        _b64(case["root"]),
    )
    assert ok is not case["wantErr"], case["desc"]


@needs_vectors
@pytest.mark.parametrize(("name", "case"), CONSISTENCY, ids=[name for name, _ in CONSISTENCY])
def test_consistency_vector(name: str, case: dict[str, Any]) -> None:
    ok = verify_consistency(
        case["size1"],
        case["size2"],
        _b64(case["root1"]),
        _b64(case["root2"]),
        [_b64(p) for p in case["proof"] or []],
    )
    assert ok is not case["wantErr"], case["desc"]


@needs_vectors
def test_reference_roots_match_the_vectors() -> None:
    """The vectors' happy paths prove against the reference tree's roots."""
    happy = {name: case for name, case in INCLUSION + CONSISTENCY if not case["wantErr"]}
    assert _b64(happy["inclusion/1/happy-path.json"]["root"]).hex() == REFERENCE_ROOTS[8]
    consistency = happy["consistency/3/happy-path.json"]
    assert _b64(consistency["root1"]).hex() == REFERENCE_ROOTS[consistency["size1"]]
    assert _b64(consistency["root2"]).hex() == REFERENCE_ROOTS[consistency["size2"]]


def test_reference_roots() -> None:
    hashes = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
    assert root_hash([]) == EMPTY_ROOT == bytes.fromhex(REFERENCE_ROOTS[0])
    assert root_hash(hashes[:1]) == leaf_hash(b"")
    for size, expected in enumerate(REFERENCE_ROOTS):
        assert root_hash(hashes[:size]).hex() == expected
    assert node_hash(hashes[0], hashes[1]).hex() == REFERENCE_ROOTS[2]


def test_reference_proofs() -> None:
    """RFC 6962 / certificate-transparency reference paths for the 8-leaf tree."""
    hashes = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
    assert [p.hex() for p in inclusion_proof(hashes, 0)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [p.hex() for p in consistency_proof(hashes[:5], 2)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]
    assert consistency_proof(hashes, 8) == []
    assert inclusion_proof(hashes[:1], 0) == []


def test_builders_reject_bad_arguments() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(5)]
    for index in (-1, 5):
        with pytest.raises(ValueError):
            inclusion_proof(hashes, index)
    for old_size in (0, 6):
        with pytest.raises(ValueError):
            consistency_proof(hashes, old_size)
    with pytest.raises(ValueError):
        subtree_hash(hashes, 3, 6)
    with pytest.raises(ValueError):
        root_hash([*hashes, b"short"])
    with pytest.raises(ValueError):
        node_hash(hashes[0], hashes[1][:31])
    with pytest.raises(ValueError):
        CompactRange().append(b"")
    with pytest.raises(ValueError):
        CompactRange.from_hashes(3, hashes[:1])


def test_verifiers_never_raise_on_garbage() -> None:
    h = leaf_hash(b"x")
    garbage: list[Any] = [None, "text", [None], [b"\x00" * 31], 5, [[b"x"]]]
    for proof in garbage:
        assert verify_inclusion(h, 0, 2, proof, h) is False
        assert verify_consistency(1, 2, h, h, proof) is False
    assert verify_inclusion(h, True, 2, [h], h) is False
    assert verify_inclusion(h, 0, 1.0, [], h) is False  # type: ignore[arg-type]
    assert verify_consistency(-1, 2, h, h, [h]) is False
    assert verify_consistency(1, 1, None, None, []) is False  # type: ignore[arg-type]


# -- properties over random trees ----------------------------------------------------------

trees = st.integers(min_value=0, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.binary(min_size=4, max_size=4))
)


def _tree(n: int, salt: bytes) -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def _flip(value: bytes, position: int) -> bytes:
    position %= len(value)
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


@settings(max_examples=60, deadline=None)
@given(tree=trees, data=st.data())
def test_inclusion_proofs_verify_and_tampering_fails(tree: tuple[int, bytes], data: Any) -> None:
    n, salt = tree
    hashes = _tree(n, salt)
    root = root_hash(hashes)
    if n == 0:
        assert not verify_inclusion(leaf_hash(b""), 0, 0, [], root)
        return
    index = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(hashes, index)
    assert verify_inclusion(hashes[index], index, n, proof, root)
    position = data.draw(st.integers(0, 10_000))
    assert not verify_inclusion(hashes[index], index, n, proof, _flip(root, position))
    assert not verify_inclusion(_flip(hashes[index], position), index, n, proof, root)
    if proof:
        k = position % len(proof)
        bad = [*proof[:k], _flip(proof[k], position // 7), *proof[k + 1 :]]
        assert not verify_inclusion(hashes[index], index, n, bad, root)
        assert not verify_inclusion(hashes[index], index, n, proof[:-1], root)
        assert not verify_inclusion(hashes[index], index, n, [*proof, proof[0]], root)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda i: i != index))
        assert not verify_inclusion(hashes[index], other, n, proof, root)
    assert not verify_inclusion(hashes[index], index, index, proof, root)
    size = data.draw(st.integers(index + 1, 2 * n + 1).filter(lambda s: s != n))
    if len(inclusion_proof(_tree(size, salt), index)) != len(proof):
        # A size whose path has another shape fails. Sizes with the same path shape
        # (index 0 in trees of 17 and 18 leaves) cannot be told apart by the proof: the
        # signed tree head binds the size to the root.
        assert not verify_inclusion(hashes[index], index, size, proof, root)


@settings(max_examples=60, deadline=None)
@given(tree=trees, data=st.data())
def test_consistency_proofs_verify_and_tampering_fails(tree: tuple[int, bytes], data: Any) -> None:
    n, salt = tree
    if n == 0:
        return
    hashes = _tree(n, salt)
    m = data.draw(st.integers(1, n))
    old_root, new_root = root_hash(hashes[:m]), root_hash(hashes)
    proof = consistency_proof(hashes, m)
    assert verify_consistency(m, n, old_root, new_root, proof)
    position = data.draw(st.integers(0, 10_000))
    assert not verify_consistency(m, n, _flip(old_root, position), new_root, proof)
    assert not verify_consistency(m, n, old_root, _flip(new_root, position), proof)
    if proof:
        k = position % len(proof)
        bad = [*proof[:k], _flip(proof[k], position // 7), *proof[k + 1 :]]
        assert not verify_consistency(m, n, old_root, new_root, bad)
        assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
        assert not verify_consistency(m, n, old_root, new_root, [*proof, proof[0]])
    if m < n:
        assert not verify_consistency(n, m, new_root, old_root, proof)
        # As for inclusion, only sizes whose proof has another shape are caught by the
        # proof alone; the signed tree heads bind sizes to roots.
        other = data.draw(st.integers(1, 2 * n).filter(lambda s: s != m))
        if other > n or len(consistency_proof(hashes, other)) != len(proof):
            assert not verify_consistency(other, n, old_root, new_root, proof)
        size = data.draw(st.integers(m, 2 * n).filter(lambda s: s != n))
        if len(consistency_proof(_tree(size, salt), m)) != len(proof):
            assert not verify_consistency(m, size, old_root, new_root, proof)


@settings(max_examples=40, deadline=None)
@given(tree=trees)
def test_compact_range_tracks_root_hash(tree: tuple[int, bytes]) -> None:
    n, salt = tree
    hashes = _tree(n, salt)
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for size, h in enumerate(hashes, start=1):
        compact.append(h)
        assert compact.size == size
        assert len(compact.hashes) == size.bit_count()
        assert compact.root() == root_hash(hashes[:size])
    assert CompactRange.from_hashes(compact.size, compact.hashes) == compact


@settings(max_examples=40, deadline=None)
@given(tree=trees, data=st.data())
def test_compact_range_holds_the_perfect_subtrees(tree: tuple[int, bytes], data: Any) -> None:
    """Each stored hash is subtree_hash over the matching power-of-two span, left to right."""
    n, salt = tree
    hashes = _tree(n, salt)
    m = data.draw(st.integers(0, n))
    compact = CompactRange()
    compact.extend(hashes[:m])
    assert compact.root() == root_hash(hashes[:m])
    start, spans = 0, []
    for bit in reversed(range(m.bit_length())):
        if m >> bit & 1:
            spans.append(subtree_hash(hashes, start, start + (1 << bit)))
            start += 1 << bit
    assert compact.hashes == spans


@settings(max_examples=40, deadline=None)
@given(tree=trees, data=st.data())
def test_stored_subtrees_answer_every_proof(tree: tuple[int, bytes], data: Any) -> None:
    """What the ledger stores — leaves and the nodes extend_with_nodes reports — answers
    any proof for any past size through the ranges and their perfect subtrees."""
    n, salt = tree
    hashes = _tree(n, salt)
    split = data.draw(st.integers(0, n))
    compact = CompactRange()
    nodes = compact.extend_with_nodes(hashes[:split]) + compact.extend_with_nodes(hashes[split:])
    assert compact.root() == root_hash(hashes)
    stored = {(0, i): h for i, h in enumerate(hashes)}
    for level, index, digest in nodes:
        assert level >= 1 and (level, index) not in stored
        assert digest == subtree_hash(hashes, index << level, (index + 1) << level)
        stored[(level, index)] = digest
    assert len(nodes) == n - n.bit_count()
    if n == 0:
        return

    def stored_range(start: int, end: int) -> bytes:
        return fold_subtrees([stored[p] for p in perfect_subtrees(start, end)])

    size = data.draw(st.integers(1, n))
    assert stored_range(0, size) == root_hash(hashes[:size])
    index = data.draw(st.integers(0, size - 1))
    path = [stored_range(a, b) for a, b in inclusion_ranges(index, size)]
    assert path == inclusion_proof(hashes[:size], index)
    old = data.draw(st.integers(1, size))
    proof = [stored_range(a, b) for a, b in consistency_ranges(old, size)]
    assert proof == consistency_proof(hashes[:size], old)


def test_perfect_subtrees_need_an_aligned_range() -> None:
    assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_subtrees(8, 13) == [(2, 2), (0, 12)]
    for start, end in ((3, 5), (0, 0), (5, 4), (-1, 3)):
        with pytest.raises(ValueError):
            perfect_subtrees(start, end)
    with pytest.raises(ValueError):
        fold_subtrees([])
    with pytest.raises(ValueError):
        inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        consistency_ranges(0, 3)
