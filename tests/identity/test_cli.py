"""The identity command line on a real database file: seed (with the reference register),
import persons.csv (verified, checked, numbered), and the duplicate report."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _rahdari(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAHDARI_")}
    env.update(
        RAHDARI_VAR_DIR=str(tmp_path),
        RAHDARI_ENV="demo",
        RAHDARI_NID_LATENCY_MS="0",
        RAHDARI_DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
    )
    return subprocess.run(
        [sys.executable, "-m", "rahdari.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    assert _rahdari(tmp_path, "manage", "migrate", "-v", "0").returncode == 0
    return tmp_path


def test_seed_import_and_dedup(migrated: Path) -> None:
    seeded = _rahdari(
        migrated, "seed", "--households", "12", "--seed", "3", "--export-csv", str(migrated / "s")
    )
    assert seeded.returncode == 0, seeded.stderr
    summary = json.loads(seeded.stdout)
    assert summary["reference_records"] == summary["persons"] > 0

    # Import only the adults (children have no CNIC to enrol with at a counter) and add
    # one more copy of a person, spelled another way, with a number the register lacks.
    rows = list(csv.DictReader((migrated / "s" / "persons.csv").open(encoding="utf-8")))
    adults = [r for r in rows if r["id_document"] == "cnic"]
    with (migrated / "s" / "adults.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(adults)
    imported = _rahdari(migrated, "identity", "import", str(migrated / "s" / "adults.csv"))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {"approved": len(adults)}

    again = _rahdari(migrated, "identity", "import", str(migrated / "s" / "adults.csv"))
    assert json.loads(again.stdout) == {"already_enrolled": len(adults)}

    report = _rahdari(migrated, "identity", "dedup", "--json")
    assert report.returncode == 0, report.stderr
    assert isinstance(json.loads(report.stdout), list)
    on_file = _rahdari(
        migrated, "identity", "dedup", "--json", "--csv", str(migrated / "s" / "persons.csv")
    )
    assert on_file.returncode == 0 and isinstance(json.loads(on_file.stdout), list)


def test_import_with_bad_rows_saves_nothing_and_lists_them(migrated: Path) -> None:
    path = migrated / "persons.csv"
    path.write_text(
        "national_id,given_name,family_name,sex,date_of_birth,district\n"
        "15202-1234567-2,Gul,Bibi,F,1980-01-02,Swat\n"
        "123,Zar,Khan,M,1980-01-02,Swat\n"
        "15202-1234568-1,Ali,Khan,M,not-a-date,Atlantis\n",
        encoding="utf-8",
    )
    result = _rahdari(migrated, "identity", "import", str(path))
    assert result.returncode == 1
    assert (
        "row 3" in result.stderr and "row 4" in result.stderr and "Traceback" not in result.stderr
    )
    missing = migrated / "missing.csv"
    missing.write_text("national_id,given_name\n1,2\n", encoding="utf-8")
    result = _rahdari(migrated, "identity", "import", str(missing))
    assert result.returncode == 1 and "Missing columns" in result.stderr
    listed = _rahdari(
        migrated,
        "manage",
        "shell",
        "-c",
        "from rahdari.identity.models import Person; print(Person.objects.count())",
    )
    assert listed.stdout.strip().splitlines()[-1] == "0"
