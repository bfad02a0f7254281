"""Tiles: the tree's hashes in rows of 256 consecutive nodes of one level (8 KB), so a
proof at ten million leaves reads three or four rows instead of ~24.

Existing installations keep every row they have (``ledger_treenode`` is append-only);
this builds the tiles that are already full from those rows, checking that each tile's
bottom row is complete and that the hash of its 256 nodes is the stored node above them
(for tiles below the top). The new table is append-only too.
"""

from django.db import migrations, models

from rahdari.core.dbguards import install_append_only, remove_append_only
from rahdari.ledger import merkle

SHIFT = 48
TILES_PER_QUERY = 256


def build_tiles(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    width, height = merkle.TILE_WIDTH, merkle.TILE_HEIGHT
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(leaf_index) FROM ledger_logentry")
        last = cursor.fetchone()[0]
        size = 0 if last is None else int(last) + 1
        band = 0
        while (size >> band) >= width:
            full = (size >> band) // width
            for first in range(0, full, TILES_PER_QUERY):
                end = min(first + TILES_PER_QUERY, full)
                cursor.execute(
                    "SELECT id, hash FROM ledger_treenode WHERE id >= %s AND id < %s ORDER BY id",
                    [band << SHIFT | first * width, band << SHIFT | end * width],
                )
                rows = cursor.fetchall()
                expected = band << SHIFT | first * width
                for position, _ in rows:
                    if int(position) != expected:
                        raise RuntimeError(f"ledger_treenode lacks node {band}/{expected}")
                    expected += 1
                if len(rows) != (end - first) * width:
                    raise RuntimeError(f"ledger_treenode lacks nodes of level {band}")
                hashes = [bytes(h) for _, h in rows]
                tiles = []
                for k in range(end - first):
                    bottom = b"".join(hashes[k * width : (k + 1) * width])
                    tiles.append(((band << SHIFT) | (first + k), bottom))
                # The node above each tile, where the old layout stored it: the tile
                # must hash to it (a wrong or reordered row would not).
                above = band + height
                cursor.execute(
                    "SELECT id, hash FROM ledger_treenode WHERE id >= %s AND id < %s",
                    [above << SHIFT | first, above << SHIFT | end],
                )
                parents = {int(i) & ((1 << SHIFT) - 1): bytes(h) for i, h in cursor.fetchall()}
                for position, bottom in tiles:
                    parent = parents.get(position & ((1 << SHIFT) - 1))
                    if parent is not None and merkle.tile_rows(bottom)[-1] != parent:
                        raise RuntimeError(f"tile {band}/{position} does not hash to its node")
                cursor.executemany("INSERT INTO ledger_tile (id, hashes) VALUES (%s, %s)", tiles)
            band += height
    install_append_only(connection, ["ledger_tile"])


def drop_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    remove_append_only(schema_editor.connection, ["ledger_tile"])


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_leaves_in_the_node_table")]

    operations = [
        migrations.CreateModel(
            name="Tile",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("hashes", models.BinaryField(max_length=8192)),
            ],
            options={"ordering": ["id"]},
        ),
        # Backwards drops the derived tiles; every node row stays.
        migrations.RunPython(build_tiles, drop_guard),
    ]
