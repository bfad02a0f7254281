"""The three programs every installation starts with, their rules approved at installation."""

from django.db import migrations


def forwards(apps, schema_editor):
    from rahdari.programs.services import programs_seed

    programs_seed()


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial"), ("core", "0005_outbox_sending")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
