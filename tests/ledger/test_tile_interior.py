"""Tiles keep their interior (migration 0007): a tile read for a proof is sliced, not
hashed again. The interior is exactly the tile's own rows; a tile without one (built
before 0007) is still read correctly; 0007 fills it in and puts the guard back; the
cached hashes of right-edge ranges are the ranges' hashes."""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from rahdari.core.dbguards import install_append_only, remove_append_only
from rahdari.ledger import merkle, selectors
from rahdari.ledger.models import Tile
from tests.ledger.test_tiles import _check_every_size, _grow, _leaves

pytestmark = pytest.mark.django_db

migration_0007 = importlib.import_module("rahdari.ledger.migrations.0007_tile_interior")


@pytest.fixture
def tile_height(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
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


def test_interior_is_the_rows_of_the_tile() -> None:
    bottom = os.urandom(merkle.TILE_BYTES)
    rows = merkle.tile_rows(bottom)
    interior = merkle.tile_interior(bottom)
    assert len(interior) == merkle.TILE_BYTES - merkle.HASH_SIZE == 8160
    assert interior == b"".join(rows[1:]) and interior[-32:] == rows[-1][:32]
    assert merkle.tile_rows_with_interior(bottom, interior) == rows
    with pytest.raises(ValueError, match="full tile"):
        merkle.tile_interior(bottom[:-32])
    with pytest.raises(ValueError, match="full tile"):
        merkle.tile_rows_with_interior(bottom, interior[:-32])


@pytest.mark.parametrize(
    ("tile_height", "batch"),
    [(2, 1), (2, 5), (3, 37), (8, 37), (8, 50_000)],
    indirect=["tile_height"],
)
def test_every_stored_tile_carries_its_interior(tile_height: int, batch: int) -> None:
    """The append builds the interior from the nodes it hashed anyway (and the old edge's
    hashed again): exactly the tile's rows, whatever the batches."""
    _grow([3, 300, 1, 60, 700 if tile_height == 8 else 17], batch=batch)
    tiles = list(Tile.objects.all())
    assert tiles
    for tile in tiles:
        assert tile.interior is not None
        assert bytes(tile.interior) == merkle.tile_interior(bytes(tile.hashes)), tile.id


def _forget_interiors() -> None:
    """The store as migration 0005 left it: tiles without their interior."""
    remove_append_only(connection, ["ledger_tile"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE ledger_tile SET interior = NULL")
    finally:
        install_append_only(connection, ["ledger_tile"])


@pytest.mark.parametrize("tile_height", [2], indirect=True)
def test_tiles_without_interior_still_answer_and_0007_fills_it(tile_height: int) -> None:
    _grow([150])
    leaves = _leaves()
    _forget_interiors()
    assert not Tile.objects.filter(interior__isnull=False).exists()
    _check_every_size(leaves, random.Random(7), samples=2)  # hashed again on reading

    migration_0007.fill_interiors(None, SimpleNamespace(connection=connection))
    tiles = list(Tile.objects.all())
    assert tiles and all(bytes(t.interior) == merkle.tile_interior(bytes(t.hashes)) for t in tiles)
    _check_every_size(leaves, random.Random(8), samples=2)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE ledger_tile SET interior = interior")


@pytest.mark.parametrize("tile_height", [2, 8], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_cached_ranges_are_the_hashes_of_their_leaves(
    tile_height: int, tile_cache: selectors._TileCache
) -> None:
    rng = random.Random(11)
    for chunk in (5, 70, 300):
        _grow([chunk])
        leaves = _leaves()
        size = len(leaves)
        for _round in range(2):  # the second round reads the cached ranges
            for index in rng.sample(range(size), min(size, 25)):
                proof = selectors.inclusion_proof(index=index, tree_size=size)
                assert proof == merkle.inclusion_proof(leaves, index)
            for first in rng.sample(range(1, size + 1), min(size, 25)):
                proof = selectors.consistency_proof(first=first, second=size)
                assert proof == merkle.consistency_proof(leaves, first)
        assert tile_cache._ranges or size == 5  # at 5 every range is one subtree
        for (start, end), digest in tile_cache._ranges.items():
            assert digest == merkle.subtree_hash(leaves, start, end), (start, end)


@pytest.mark.django_db(transaction=True)
def test_a_leaf_tile_is_read_as_slices_on_postgresql(tile_cache: selectors._TileCache) -> None:
    """On PostgreSQL a proof reads from a full leaf tile only the slices that hold its
    nodes (the row is 16 KB out of line) and keeps no partial copy; SQLite reads the
    row whole and caches it. Either way the proofs are the pure module's."""
    from django.test.utils import CaptureQueriesContext

    _grow([700])  # two full leaf tiles and a partial one
    leaves = _leaves()
    size = len(leaves)
    selectors.inclusion_proof(index=size - 1, tree_size=size)  # warms the upper tiles
    rng = random.Random(5)
    for index in [0, 1, 255, 256, 300, 511, *rng.sample(range(512), 20)]:
        selectors.TILE_CACHE.clear()
        selectors.inclusion_proof(index=size - 1, tree_size=size)
        with CaptureQueriesContext(connection) as queries:
            proof = selectors.inclusion_proof(index=index, tree_size=size)
        assert proof == merkle.inclusion_proof(leaves, index)
        assert len(queries) == 1
        sql = queries[0]["sql"]
        tile = index // merkle.TILE_WIDTH
        if connection.vendor == "postgresql":
            assert "substring(hashes" in sql and "substring(interior" in sql
            assert tile_cache.get(tile, merkle.TILE_WIDTH) is None
        else:
            assert "substring" not in sql
            assert tile_cache.get(tile, merkle.TILE_WIDTH) is not None
    for first in [1, 2, 256, 257, 400, 512, *rng.sample(range(1, size + 1), 20)]:
        proof = selectors.consistency_proof(first=first, second=size)
        assert proof == merkle.consistency_proof(leaves, first)
