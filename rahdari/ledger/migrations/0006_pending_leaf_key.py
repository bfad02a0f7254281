"""A queued entry carries its leaf key, so the sequencer copies it into the log inside
the database (no body travels to Python and back). Entries waiting now get theirs."""

from django.db import migrations, models


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    PendingEntry = apps.get_model("ledger", "PendingEntry")
    for pending in PendingEntry.objects.all().iterator():
        pending.leaf_key = int.from_bytes(bytes(pending.leaf_hash)[:8], "big", signed=True)
        pending.save(update_fields=["leaf_key"])


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_tiles")]

    operations = [
        migrations.AddField(
            model_name="pendingentry",
            name="leaf_key",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
