"""Tiles: the stored tree answers every proof exactly as the pure module does, for every
size, with tiles full and partial, in every band, cached or not, and after migrating an
installation that stored one row per node."""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, transaction

from rahdari.ledger import merkle, selectors, services
from rahdari.ledger.models import LogEntry, Tile, TreeNode
from tests.ledger.conftest import payment_event

pytestmark = pytest.mark.django_db

migration_0005 = importlib.import_module("rahdari.ledger.migrations.0005_tiles")


@pytest.fixture
def tile_height(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Small tiles put a few hundred leaves across several bands (a tile of height 2
    holds 4 nodes; 300 leaves reach band 8)."""
    height = int(request.param)
    monkeypatch.setattr(merkle, "TILE_HEIGHT", height)
    monkeypatch.setattr(merkle, "TILE_WIDTH", 1 << height)
    monkeypatch.setattr(merkle, "TILE_BYTES", (1 << height) * merkle.HASH_SIZE)
    return height


@pytest.fixture
def tile_cache(settings: Any) -> Iterator[selectors._TileCache]:
    settings.RAHDARI_HOT_CACHE_SECONDS = 5
    selectors.TILE_CACHE.clear()
    yield selectors.TILE_CACHE
    selectors.TILE_CACHE.clear()


def _leaves() -> list[bytes]:
    return [
        bytes(h)
        for h in LogEntry.objects.order_by("leaf_index").values_list("leaf_hash", flat=True)
    ]


def _grow(chunks: list[int], batch: int = 50_000) -> list[int]:
    """Submit and sequence ``chunks`` of entries, signing a head after each."""
    sizes = []
    for chunk in chunks:
        services.ledger_submit_many(events=[payment_event() for _ in range(chunk)])
        services.ledger_integrate(batch=batch)
        services.tree_head_sign()  # (outside a transaction the commit may have signed)
        head = selectors.latest_tree_head()
        assert head is not None
        sizes.append(head.tree_size)
    return sizes


def _check_every_size(leaves: list[bytes], rng: random.Random, samples: int = 4) -> None:
    """Root, inclusion and consistency proofs at every size up to the tree's, from the
    store, against the pure module over the same leaves."""
    for size in range(1, len(leaves) + 1):
        prefix = leaves[:size]
        assert selectors.root_at(size) == merkle.root_hash(prefix), size
        assert selectors.compact_range(size).root() == merkle.root_hash(prefix), size
        for index in {0, size - 1, *rng.sample(range(size), min(size, samples))}:
            proof = selectors.inclusion_proof(index=index, tree_size=size)
            assert proof == merkle.inclusion_proof(prefix, index), (index, size)
        for first in {1, size, *rng.sample(range(1, size + 1), min(size, samples))}:
            proof = selectors.consistency_proof(first=first, second=size)
            assert proof == merkle.consistency_proof(prefix, first), (first, size)


def _stored_layout(leaves: list[bytes]) -> None:
    """Every full tile holds its 256 (TILE_WIDTH) nodes; the partial ones are node rows."""
    width, height = merkle.TILE_WIDTH, merkle.TILE_HEIGHT
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        row = levels[-1]
        levels.append([merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)])
    tiles = {t.id: bytes(t.hashes) for t in Tile.objects.all()}
    expected_tiles = {}
    for band in range(0, len(levels), height):
        row = levels[band]
        for tile in range(len(row) // width):
            expected_tiles[band << 48 | tile] = b"".join(row[tile * width : (tile + 1) * width])
        for index in range(len(row) // width * width, len(row)):
            stored = TreeNode.objects.get(id=band << 48 | index)
            assert bytes(stored.hash) == row[index]
    assert tiles == expected_tiles


@pytest.mark.parametrize("tile_height", [2, 3, 8], indirect=True)
def test_every_size_one_to_three_hundred_grown_in_odd_batches(tile_height: int) -> None:
    rng = random.Random(tile_height)
    chunks = [1, 1, 2, 3, 1, 9, 16, 4, 31, 64, 1, 100, 7, 60]
    sizes = _grow(chunks, batch=rng.choice([5, 13, 50_000]))
    assert sizes[-1] == sum(chunks) == 300
    leaves = _leaves()
    _stored_layout(leaves)
    _check_every_size(leaves, rng)


@pytest.mark.parametrize("tile_height", [2], indirect=True)
def test_one_leaf_at_a_time_and_a_whole_tile_at_once(tile_height: int) -> None:
    _grow([1] * 9 + [4, 16, 3])  # fills tiles leaf by leaf, then exactly, then across
    leaves = _leaves()
    assert len(leaves) == 32
    _stored_layout(leaves)
    _check_every_size(leaves, random.Random(1), samples=32)


@pytest.mark.parametrize("tile_height", [2], indirect=True)
def test_proofs_for_old_sizes_after_their_tiles_completed(tile_height: int) -> None:
    """A head signed while a tile was partial keeps its proofs once the tile is full:
    the subtrees it needs are the same hashes, now read from the tile's row."""
    _grow([6])
    old = selectors.tree_head_at(6)
    assert old is not None
    before = (
        selectors.inclusion_proof(index=5, tree_size=6),
        selectors.consistency_proof(first=3, second=6),
    )
    _grow([200])
    assert Tile.objects.filter(id=1).exists()  # leaves 4…7's tile, partial at size 6
    assert selectors.inclusion_proof(index=5, tree_size=6) == before[0]
    assert selectors.consistency_proof(first=3, second=6) == before[1]
    assert selectors.root_at(6) == bytes(old.root_hash)


@pytest.mark.parametrize("tile_height", [2, 8], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_the_cache_holds_only_full_tiles_as_the_tree_grows(
    tile_height: int, tile_cache: selectors._TileCache
) -> None:
    rng = random.Random(5)
    for chunk in (3, 5, 250, 1, 40):
        _grow([chunk])
        leaves = _leaves()
        size = len(leaves)
        for index in rng.sample(range(size), min(size, 20)):
            proof = selectors.inclusion_proof(index=index, tree_size=size)
            assert proof == merkle.inclusion_proof(leaves, index)
        for first in rng.sample(range(1, size + 1), min(size, 20)):
            proof = selectors.consistency_proof(first=first, second=size)
            assert proof == merkle.consistency_proof(leaves, first)
        # Every cached tile is a stored full tile or a true prefix of the right edge.
        for key, rows in list(tile_cache._items.items()):
            band, index = key >> 48, key & ((1 << 48) - 1)
            level = [leaves[:]]
            while len(level) <= band:
                row = level[-1]
                level.append(
                    [merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
                )
            width = merkle.TILE_WIDTH
            bottom = b"".join(level[band][index * width : (index + 1) * width])
            assert bottom.startswith(rows[0]) and rows == merkle.tile_rows(rows[0])
            if len(rows[0]) == len(bottom) == merkle.TILE_BYTES:
                assert Tile.objects.filter(id=key).exists()
    assert len(tile_cache) > 0
    # Proofs inside a transaction neither use nor fill the cache (a rollback could
    # take back what they read).
    tile_cache.clear()
    tile_cache.warm = True
    with transaction.atomic():
        selectors.inclusion_proof(index=0, tree_size=len(_leaves()))
    assert len(tile_cache) == 0


@pytest.mark.parametrize("tile_height", [2], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_the_cache_starts_with_the_upper_tiles(
    tile_height: int, tile_cache: selectors._TileCache
) -> None:
    _grow([40])
    tile_cache.clear()
    selectors.inclusion_proof(index=0, tree_size=40)
    upper = set(Tile.objects.filter(id__gte=2 << 48).values_list("id", flat=True))
    assert upper and upper <= set(tile_cache._items)


def test_the_node_table_stays_small_and_tiles_are_append_only() -> None:
    from django.db import DatabaseError

    _grow([300])  # one batch: the full tile, then the edge (44 leaves, 1 node of level 8)
    assert Tile.objects.count() == 1 and TreeNode.objects.count() == 300 - 256 + 1
    # Batches of 64 from 300 to 600: the rows of leaves 300…491, written while tile 1
    # was partial, stay; then the edge: leaves 512…599 and level 8's node 1.
    _grow([300], batch=64)
    assert Tile.objects.count() == 2 and TreeNode.objects.count() == 45 + 192 + 88 + 1
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE ledger_tile SET hashes = hashes")


def _old_layout(leaves: list[bytes]) -> None:
    """The store as it was before migration 0005: one row per node of every level."""
    rows = [(index, leaf) for index, leaf in enumerate(leaves)]
    nodes = merkle.CompactRange().extend_with_nodes(leaves)
    rows += [(level << 48 | index, digest) for level, index, digest in nodes]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_tile")
        cursor.execute("DELETE FROM ledger_treenode")
        cursor.executemany("INSERT INTO ledger_treenode (id, hash) VALUES (%s, %s)", rows)


@pytest.mark.parametrize("tile_height", [2, 8], indirect=True)
def test_the_migration_builds_the_tiles_from_the_old_rows(tile_height: int) -> None:
    from rahdari.core.dbguards import install_append_only, remove_append_only

    _grow([300])
    leaves = _leaves()
    remove_append_only(connection, ["ledger_tile", "ledger_treenode"])
    try:
        _old_layout(leaves)
        editor = SimpleNamespace(connection=connection)
        migration_0005.build_tiles(None, editor)
        tiles = {t.id: bytes(t.hashes) for t in Tile.objects.all()}
        width = merkle.TILE_WIDTH
        assert len(tiles) == sum(
            (len(leaves) >> band) // width for band in range(0, 10, tile_height)
        )
        _check_every_size(leaves, random.Random(3), samples=2)
        _grow([77])  # the log goes on from the migrated store
        leaves = _leaves()
        _check_every_size(leaves, random.Random(4), samples=1)

        # A wrong node is refused rather than built into a tile.
        remove_append_only(connection, ["ledger_tile", "ledger_treenode"])
        _old_layout(leaves)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE ledger_treenode SET hash = %s WHERE id = 5", [b"\x07" * 32])
        with pytest.raises(RuntimeError, match="does not hash to its node"):
            migration_0005.build_tiles(None, editor)
    finally:
        install_append_only(connection, ["ledger_tile", "ledger_treenode"])
