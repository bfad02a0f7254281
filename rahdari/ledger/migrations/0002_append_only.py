"""The log's leaves, subtree hashes and tree heads refuse UPDATE and DELETE from any client."""

from django.db import migrations

from rahdari.core.dbguards import install_append_only, remove_append_only

APPEND_ONLY_TABLES = ["ledger_logentry", "ledger_treenode", "ledger_signedtreehead"]


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    install_append_only(schema_editor.connection, APPEND_ONLY_TABLES)


def remove(apps, schema_editor):  # type: ignore[no-untyped-def]
    remove_append_only(schema_editor.connection, APPEND_ONLY_TABLES)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
