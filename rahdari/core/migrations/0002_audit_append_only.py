"""The audit log is append-only in the database itself: UPDATE and DELETE are refused."""

from django.db import migrations

from rahdari.core.dbguards import install_audit_guards, remove_audit_guards


def forwards(apps, schema_editor):
    install_audit_guards(schema_editor.connection)


def backwards(apps, schema_editor):
    remove_audit_guards(schema_editor.connection)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS core_auditentry_append_only()")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
