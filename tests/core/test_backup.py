"""Backups and restores, end to end through the `rahdari` command line.

pytest-django's SQLite test database lives in memory, so these tests run the CLI in
subprocesses against database files of their own (and, on PostgreSQL, against databases
of their own on the test server): backup, restore into an empty database, refuse a
database with data, refuse a damaged archive, and check the master key.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_MASTER_KEY = base64.b64encode(bytes(range(32, 64))).decode()
ENTRIES = 5
SEED = f"""
from rahdari.accounts.models import User
from rahdari.core.audit import audit_record
User.objects.create_user(username='officer1', password='correct-horse-9', full_name='Gul Bano')
for i in range({ENTRIES}):
    audit_record(actor=None, action='test.backup', subject=('test', str(i)), changes={{'n': i}})
"""
FULL_NAME = "from rahdari.accounts.models import User; print(User.objects.get().full_name)"


def _env(var_dir: Path, db_url: str, master_key: str = MASTER_KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAHDARI_")}
    env.update(
        RAHDARI_ENV="demo",
        RAHDARI_VAR_DIR=str(var_dir),
        RAHDARI_DATABASE_URL=db_url,
        RAHDARI_MASTER_KEY=master_key,
    )
    return env


def rahdari(*args: str, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "rahdari.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A refusal is a non-zero exit and a short message naming the problem, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def _manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        handle = tar.extractfile("manifest.json")
        assert handle is not None
        manifest: dict[str, Any] = json.loads(handle.read())
    return manifest


def _archive(path: Path, members: list[tuple[str, bytes]]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def _audit_count(db_file: Path) -> int:
    with closing(sqlite3.connect(db_file)) as db:  # an open connection would block a restore
        return int(db.execute("SELECT COUNT(*) FROM core_auditentry").fetchone()[0])


@pytest.fixture(scope="module")
def sqlite_backup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A migrated SQLite database with a user and audit entries, and its backup."""
    var = tmp_path_factory.mktemp("source")
    env = _env(var, f"sqlite:///{var / 'source.sqlite3'}")
    rahdari("manage", "migrate", "--no-input", "-v", "0", env=env)
    rahdari("manage", "shell", "-c", SEED, env=env)
    # Migrations write entries of their own (e.g. the programs seeded at installation).
    entries = _audit_count(var / "source.sqlite3")
    archive = var / "backups" / "rahdari.tar.gz"
    created = _json(rahdari("backup", "--out", str(archive), env=env))
    return {"var": var, "env": env, "archive": archive, "created": created, "entries": entries}


def _fresh(tmp_path: Path, name: str = "restored", master_key: str = MASTER_KEY) -> dict[str, str]:
    return _env(tmp_path, f"sqlite:///{tmp_path / name}.sqlite3", master_key)


def test_backup_holds_manifest_and_database_but_never_the_master_key(
    sqlite_backup: dict[str, Any],
) -> None:
    archive: Path = sqlite_backup["archive"]
    created = sqlite_backup["created"]
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive, "r:gz") as tar:
        assert tar.getnames() == ["manifest.json", "database.sqlite3"]
        database = tar.extractfile("database.sqlite3")
        assert database is not None
        content = database.read()
    manifest = _manifest(archive)
    assert manifest["format"] == "rahdari-backup" and manifest["format_version"] == 1
    assert manifest["vendor"] == "sqlite" and manifest["created_at"].endswith("+00:00")
    assert manifest["master_key_included"] is False
    assert {"core", "accounts", "auth"} <= set(manifest["migrations"])
    assert manifest["tables"]["core_auditentry"] == sqlite_backup["entries"]
    assert manifest["tables"]["accounts_user"] == 1
    assert manifest["audit_head"]["seq"] == sqlite_backup["entries"]
    assert manifest["database"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert manifest["database"]["bytes"] == len(content)
    assert created["sha256"] == manifest["database"]["sha256"]
    assert created["bytes"] == archive.stat().st_size
    assert created["tables"] == manifest["tables"]
    assert created["audit_head"] == manifest["audit_head"]
    raw_key = base64.b64decode(MASTER_KEY)
    for blob in (content, archive.read_bytes(), json.dumps(manifest).encode()):
        assert raw_key not in blob and MASTER_KEY.encode() not in blob
    assert b"Gul Bano" not in content, "personal data is ciphertext in the backup"


def test_taking_a_backup_is_audited(sqlite_backup: dict[str, Any]) -> None:
    report = _json(rahdari("audit", "verify", env=sqlite_backup["env"]))
    assert report["ok"] and report["checked"] == sqlite_backup["entries"] + 1
    with closing(sqlite3.connect(sqlite_backup["var"] / "source.sqlite3")) as db:
        last = db.execute("SELECT action FROM core_auditentry ORDER BY seq DESC").fetchone()
    assert last == ("core.backup_created",)


def test_restore_into_an_empty_database_verifies_counts_and_audit_chain(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    env = _fresh(tmp_path)
    restored = _json(rahdari("restore", str(sqlite_backup["archive"]), env=env))
    manifest = _manifest(sqlite_backup["archive"])
    assert restored["audit_ok"] is True and restored["checked"] == sqlite_backup["entries"]
    assert restored["tables"] == manifest["tables"] and restored["counts_match"] is True
    assert restored["audit_head"] == manifest["audit_head"]
    assert restored["master_key_ok"] is True
    assert restored["pending_migrations"] == 0
    # The restore itself is the next entry of the chain, and the chain still verifies.
    report = _json(rahdari("audit", "verify", env=env))
    checked = sqlite_backup["entries"] + 1
    assert report == {"ok": True, "checked": checked, "first_bad_seq": None, "problem": ""}
    assert rahdari("manage", "shell", "-c", FULL_NAME, env=env).stdout.strip().endswith("Gul Bano")
    leftovers = {p.name for p in tmp_path.iterdir()} - {"restored.sqlite3", "secret_key"}
    assert not {n for n in leftovers if n.startswith(".rahdari-restore")}


def test_restore_refuses_a_database_with_data_unless_forced(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    env = _fresh(tmp_path)
    rahdari("restore", str(sqlite_backup["archive"]), env=env)
    before = _audit_count(tmp_path / "restored.sqlite3")

    _refused(rahdari("restore", str(sqlite_backup["archive"]), env=env, ok=False), "--force")
    assert _audit_count(tmp_path / "restored.sqlite3") == before

    forced = _json(rahdari("restore", "--force", str(sqlite_backup["archive"]), env=env))
    assert forced["audit_ok"] and forced["checked"] == sqlite_backup["entries"]
    assert _audit_count(tmp_path / "restored.sqlite3") == sqlite_backup["entries"] + 1


def _flip(offset: Callable[[int], int]) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        at = offset(len(data))
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_flip(lambda n: n // 2), id="byte-flipped-in-the-middle"),
        pytest.param(_flip(lambda n: 40), id="byte-flipped-near-the-start"),
        pytest.param(_flip(lambda n: n - 3), id="byte-flipped-in-the-gzip-trailer"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"not a backup at all\n" * 50, id="not-an-archive"),
    ],
)
def test_restore_refuses_a_damaged_archive(
    sqlite_backup: dict[str, Any], tmp_path: Path, mutate: Callable[[bytes], bytes]
) -> None:
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(mutate(sqlite_backup["archive"].read_bytes()))
    result = rahdari("restore", str(damaged), env=_fresh(tmp_path), ok=False)
    _refused(result, "damaged")
    assert len(result.stderr.strip().splitlines()) == 1, "one line, not a dump"
    assert not (tmp_path / "restored.sqlite3").exists(), "nothing is touched"


def test_restore_refuses_archives_it_does_not_understand(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    manifest = _manifest(sqlite_backup["archive"])
    env = _fresh(tmp_path)

    no_manifest = _archive(tmp_path / "a.tar.gz", [("database.sqlite3", b"x")])
    _refused(rahdari("restore", str(no_manifest), env=env, ok=False), "manifest.json is missing")

    future = _archive(
        tmp_path / "b.tar.gz",
        [("manifest.json", json.dumps({**manifest, "format_version": 99}).encode())],
    )
    _refused(rahdari("restore", str(future), env=env, ok=False), "format version 99")

    lying = _archive(
        tmp_path / "c.tar.gz",
        [("manifest.json", json.dumps(manifest).encode()), ("database.sqlite3", b"tampered")],
    )
    _refused(rahdari("restore", str(lying), env=env, ok=False), "checksum")

    _refused(rahdari("restore", str(tmp_path / "nope.tar.gz"), env=env, ok=False), "no backup")
    assert not (tmp_path / "restored.sqlite3").exists()


def test_restore_refuses_a_backup_of_another_database_vendor(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    # Port 9 has no server: the refusal comes before any connection is attempted.
    env = _env(tmp_path, "postgres://nobody@127.0.0.1:9/nowhere")
    result = rahdari("restore", str(sqlite_backup["archive"]), env=env, ok=False)
    _refused(result, "sqlite", "postgresql")


def test_restore_with_another_master_key_says_personal_data_is_unreadable(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    env = _fresh(tmp_path, master_key=OTHER_MASTER_KEY)
    result = rahdari("restore", str(sqlite_backup["archive"]), env=env, ok=False)
    _refused(result, "RAHDARI_MASTER_KEY")
    # The data itself is back and its audit chain intact; only decryption needs the key.
    assert _json(rahdari("audit", "verify", env=env))["ok"] is True


def test_backup_taken_while_the_platform_writes_is_consistent(tmp_path: Path) -> None:
    source = tmp_path / "busy"
    source.mkdir()
    env = _env(source, f"sqlite:///{source / 'busy.sqlite3'}")
    rahdari("manage", "migrate", "--no-input", "-v", "0", env=env)
    stop = tmp_path / "stop"
    writer_script = (
        "import os\n"
        "from rahdari.core.audit import audit_record\n"
        "i = 0\n"
        f"while not os.path.exists({str(stop)!r}):\n"
        "    audit_record(actor=None, action='test.busy', subject=('test', str(i)))\n"
        "    i += 1\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-m", "rahdari.cli", "manage", "shell", "-c", writer_script],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _audit_count(source / "busy.sqlite3") < 50:
            assert writer.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        archive = tmp_path / "busy.tar.gz"
        created = _json(rahdari("backup", "--out", str(archive), env=env))
    finally:
        stop.touch()
        _, stderr = writer.communicate(timeout=60)
    assert writer.returncode == 0, stderr
    assert created["tables"]["core_auditentry"] >= 50

    target = tmp_path / "target"
    target.mkdir()
    restored = _json(rahdari("restore", str(archive), env=_fresh(target)))
    assert restored["audit_ok"] and restored["checked"] == created["tables"]["core_auditentry"]
    assert restored["audit_head"] == created["audit_head"]


# --- PostgreSQL ---------------------------------------------------------------------------

PG_URL = os.environ.get("RAHDARI_DATABASE_URL", "")


@pytest.fixture
def pg_databases() -> Iterator[Callable[[], str]]:
    """Make throw-away databases on the test server; drop them afterwards."""
    import psycopg
    from psycopg import sql

    made: list[str] = []
    base = PG_URL.rsplit("/", 1)[0]

    def make() -> str:
        name = f"rahdari_backup_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return f"{base}/{name}"

    yield make
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.mark.postgres_only
@pytest.mark.skipif(
    not PG_URL.startswith("postgres"), reason="needs RAHDARI_DATABASE_URL=postgres…"
)
def test_postgres_backup_and_restore(pg_databases: Callable[[], str], tmp_path: Path) -> None:
    import psycopg

    source = _env(tmp_path, pg_databases())
    rahdari("manage", "migrate", "--no-input", "-v", "0", env=source)
    rahdari("manage", "shell", "-c", SEED, env=source)
    count = "from rahdari.core.models import AuditEntry; print(AuditEntry.objects.count())"
    entries = int(rahdari("manage", "shell", "-c", count, env=source).stdout.split()[-1])
    archive = tmp_path / "pg.tar.gz"
    created = _json(rahdari("backup", "--out", str(archive), env=source))
    manifest = _manifest(archive)
    with tarfile.open(archive, "r:gz") as tar:
        assert tar.getnames() == ["manifest.json", "database.pgdump"]
    assert manifest["vendor"] == created["vendor"] == "postgresql"
    assert manifest["tables"]["core_auditentry"] == entries
    assert manifest["audit_head"]["seq"] == entries

    target_url = pg_databases()
    target = _env(tmp_path, target_url)
    # An empty database may hold a table the backup does not know (a newer migration):
    # the restore drops it so the schema matches the restored django_migrations.
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE zz_leftover (id integer)")
    restored = _json(rahdari("restore", str(archive), env=target))
    assert restored["audit_ok"] and restored["checked"] == entries
    assert restored["tables"] == manifest["tables"]
    assert restored["audit_head"] == manifest["audit_head"]
    assert restored["master_key_ok"] is True
    assert restored["dropped_tables"] == ["zz_leftover"]

    _refused(rahdari("restore", str(archive), env=target, ok=False), "--force")

    # --force replaces a database whose audit table refuses UPDATE, DELETE and TRUNCATE.
    forced = _json(rahdari("restore", "--force", str(archive), env=target))
    assert forced["audit_ok"] and forced["checked"] == entries
    report = _json(rahdari("audit", "verify", env=target))
    assert report["ok"] and report["checked"] == entries + 1  # plus the restore's own entry
    assert (
        rahdari("manage", "shell", "-c", FULL_NAME, env=target).stdout.strip().endswith("Gul Bano")
    )
