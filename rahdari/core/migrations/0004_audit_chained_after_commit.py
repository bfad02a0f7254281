"""Audit entries are chained after their transaction commits (see core/audit.py).

Existing entries keep their chain: their position is their rank in ``seq`` order,
which is the order they were chained in until now. The guards are reinstalled to
allow the one-time chaining update and nothing else.
"""

from django.db import migrations, models

from rahdari.core.dbguards import install_audit_guards, remove_audit_guards

NUMBER_EXISTING = """
UPDATE core_auditentry SET chain_pos = ranked.pos
FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS pos FROM core_auditentry) AS ranked
WHERE core_auditentry.seq = ranked.seq
"""


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    remove_audit_guards(connection)
    with connection.cursor() as cursor:
        cursor.execute(NUMBER_EXISTING)
    install_audit_guards(connection)


def backwards(apps, schema_editor):
    install_audit_guards(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_load_districts")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="chain_pos",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="entry_hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.RunPython(forwards, backwards),
    ]
