"""`rahdari seed` loads the households into the registry; `rahdari registry import DIR`
run again adds nothing (a real database file, the command line as a user runs it)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _rahdari(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAHDARI_")}
    env.update(
        RAHDARI_VAR_DIR=str(tmp_path),
        RAHDARI_ENV="demo",
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


def test_seed_loads_the_registry_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    assert _rahdari(tmp_path, "manage", "migrate", "-v", "0").returncode == 0
    out = tmp_path / "s"
    seeded = _rahdari(
        tmp_path,
        "seed",
        "--households",
        "25",
        "--seed",
        "3",
        "--export-csv",
        str(out),
        "--no-reference",
    )
    assert seeded.returncode == 0, seeded.stderr
    summary = json.loads(seeded.stdout)
    assert summary["registry"] == {
        "households": 25,
        "members": summary["persons"],
        "skipped_existing": 0,
        "linked_persons": 0,
    }
    again = _rahdari(tmp_path, "registry", "import", str(out))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped_existing"] == 25
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM registry_household").fetchone() == (25,)
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "national_id_active_in_one_household" in indexes

    skipped = _rahdari(
        tmp_path,
        "seed",
        "--households",
        "5",
        "--seed",
        "4",
        "--export-csv",
        str(tmp_path / "t"),
        "--no-reference",
        "--no-registry",
    )
    assert skipped.returncode == 0 and "registry" not in json.loads(skipped.stdout)
    missing = _rahdari(tmp_path, "registry", "import", str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "households.csv" in missing.stderr
