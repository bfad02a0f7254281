"""Faster appends at ten million leaves: the leaf index holds an 8-byte key of the leaf
hash instead of the whole hash (and no index on kind); a queued entry carries its kind
and its share of the totals, so sequencing never parses the JSON again.

Existing rows are filled in place, with the append-only guard lifted for the duration.
"""

import json

from django.db import migrations, models

from rahdari.core.dbguards import install_append_only, remove_append_only
from rahdari.ledger import entries


def _key(leaf_hash: bytes) -> int:
    return int.from_bytes(bytes(leaf_hash)[:8], "big", signed=True)


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    remove_append_only(connection, ["ledger_logentry"])
    LogEntry = apps.get_model("ledger", "LogEntry")
    for index, leaf_hash in LogEntry.objects.values_list("leaf_index", "leaf_hash").iterator():
        LogEntry.objects.filter(leaf_index=index).update(leaf_key=_key(leaf_hash))
    install_append_only(connection, ["ledger_logentry"])
    PendingEntry = apps.get_model("ledger", "PendingEntry")
    for pending in PendingEntry.objects.all().iterator():
        entry = json.loads(bytes(pending.body))
        pending.kind = entry["kind"]
        pending.totals = "\n".join(
            "\t".join([*key, kind, str(count), str(amount)])
            for key, kind, count, amount in entries.entry_totals(entry)
        )
        pending.save(update_fields=["kind", "totals"])


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_append_only")]

    operations = [
        migrations.RemoveIndex(model_name="logentry", name="ledger_entry_kind"),
        migrations.AlterField(
            model_name="logentry", name="leaf_hash", field=models.BinaryField(max_length=32)
        ),
        migrations.AlterField(
            model_name="pendingentry", name="leaf_hash", field=models.BinaryField(max_length=32)
        ),
        migrations.AddField(
            model_name="logentry",
            name="leaf_key",
            field=models.BigIntegerField(db_index=True, default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="pendingentry",
            name="kind",
            field=models.CharField(default="", max_length=40),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="pendingentry",
            name="totals",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
