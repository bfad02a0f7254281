"""Tiles keep their interior: beside the 256 hashes of a tile's bottom row, the 255
nodes above them (row by row up to the tile's root, 8,160 bytes), so that reading a
tile for a proof slices stored hashes instead of hashing 255 nodes again.

The interior is derived from the bottom row alone. Tiles stored before this migration
get theirs here, once (the append-only guard of ``ledger_tile`` is lifted for this
migration only and put back; no bottom row changes). Backwards drops the column.
"""

from django.db import migrations, models

from rahdari.core.dbguards import install_append_only, remove_append_only
from rahdari.ledger import merkle

TILES_PER_QUERY = 256


def fill_interiors(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    remove_append_only(connection, ["ledger_tile"])
    with connection.cursor() as cursor:
        last = -1
        while True:
            cursor.execute(
                "SELECT id, hashes FROM ledger_tile WHERE id > %s AND interior IS NULL "
                "ORDER BY id LIMIT %s",
                [last, TILES_PER_QUERY],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            updates = []
            for position, hashes in rows:
                bottom = bytes(hashes)
                if len(bottom) != merkle.TILE_BYTES:
                    raise RuntimeError(f"tile {position} does not hold {merkle.TILE_WIDTH} nodes")
                updates.append((merkle.tile_interior(bottom), int(position)))
            cursor.executemany("UPDATE ledger_tile SET interior = %s WHERE id = %s", updates)
            last = int(rows[-1][0])
    install_append_only(connection, ["ledger_tile"])


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_pending_leaf_key")]

    operations = [
        migrations.AddField(
            model_name="tile",
            name="interior",
            field=models.BinaryField(max_length=8160, null=True),
        ),
        migrations.RunPython(fill_interiors, migrations.RunPython.noop),
    ]
