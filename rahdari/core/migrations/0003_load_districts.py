"""Load the districts of Khyber Pakhtunkhwa shipped with the package (reference data).

A deployment loads its own administrative units later with the districts_load service.
"""

import csv
from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parent.parent / "data" / "kp_districts.csv"


def forwards(apps, schema_editor):
    District = apps.get_model("core", "District")
    with CSV.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            District.objects.update_or_create(
                name=row["district"].strip(),
                defaults={
                    "name_ur": row["district_ur"].strip(),
                    "division": row["division"].strip(),
                    "merged_area": row["merged_area"].strip().lower() == "yes",
                    "cnic_prefix": row["cnic_prefix"].strip(),
                },
            )


def backwards(apps, schema_editor):
    apps.get_model("core", "District").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
