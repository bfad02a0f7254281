"""Consistent online backups of the database, and verified restores.

A backup is one gzip'd tar archive with two members, in this order:

- ``manifest.json``: format and version, when (UTC), database vendor, the latest applied
  migration of each app, the row count of every table, the audit chain head (last seq and
  entry_hash), and the size and SHA-256 of the database member. The facts come from the
  same snapshot as the data, so a restore can check that it got exactly what was saved.
- ``database.sqlite3`` (a page copy made with SQLite's online backup API, safe while the
  platform runs) or ``database.pgdump`` (``pg_dump --format=custom`` from an exported
  snapshot).

The master key is never in a backup. The personal data in it is ciphertext under data
keys that are themselves wrapped by the master key, so a stolen backup is unreadable
without the key, which is kept separately (docs/operations.md). A restore checks that the
configured master key opens the restored data keys.

Restores go into an empty database only (unless ``force``): the audit log's triggers refuse
UPDATE and DELETE, so a restore replaces the database (SQLite: a new file moved into place;
PostgreSQL: ``pg_restore --clean`` drops and recreates every table in one transaction).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from contextlib import closing
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.db import connection, connections, transaction

from rahdari.core.errors import ApplicationError

FORMAT = "rahdari-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
AUDIT_TABLE = "core_auditentry"
# A database "has data" when someone has used it: a user exists or anything was audited.
DATA_TABLES = ("core_auditentry", "accounts_user")
CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
PG_LOCK_TIMEOUT = "60s"  # a restore waits this long for other sessions, then fails cleanly
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Cursor(Protocol):
    """What this module needs of a DB-API cursor (sqlite3, psycopg or Django's wrapper)."""

    def execute(self, sql: str) -> Any: ...

    def fetchall(self) -> Any: ...


class _WriteError(ApplicationError):
    code = "restore_failed"


def _corrupt(detail: str) -> ApplicationError:
    return ApplicationError(
        f"The backup archive is damaged or not a Rahdari backup: {detail}.",
        code="backup_corrupt",
    )


# --- Facts about a database -------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_names(cursor: _Cursor, vendor: str) -> list[str]:
    if vendor == "sqlite":
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    else:
        cursor.execute(
            "SELECT tablename FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() ORDER BY tablename"
        )
    return [row[0] for row in cursor.fetchall()]


def _count(cursor: _Cursor, table: str) -> int:
    # The name comes from the catalogue and is quoted as an identifier.
    cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608
    return int(cursor.fetchall()[0][0])


def _facts(cursor: _Cursor, vendor: str) -> dict[str, Any]:
    """Row counts of every table, latest migration per app, audit chain head."""
    tables = _table_names(cursor, vendor)
    counts = {table: _count(cursor, table) for table in tables}
    migrations: dict[str, str] = {}
    if "django_migrations" in counts:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        for app, name in cursor.fetchall():
            migrations[app] = name
    head = None
    if AUDIT_TABLE in counts:
        cursor.execute(
            f"SELECT seq, entry_hash FROM {AUDIT_TABLE} "  # noqa: S608
            "WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1"
        )
        rows = cursor.fetchall()
        if rows:
            head = {"seq": int(rows[0][0]), "entry_hash": str(rows[0][1])}
    return {"tables": counts, "migrations": migrations, "audit_head": head}


def _vendor() -> str:
    vendor = connection.vendor
    if vendor not in MEMBERS:
        raise ApplicationError(
            f"Backups support SQLite and PostgreSQL, not {vendor}.", code="backup_unsupported"
        )
    return vendor


def _sqlite_path() -> Path:
    name = str(settings.DATABASES["default"]["NAME"])
    if name in ("", ":memory:") or name.startswith("file:"):
        raise ApplicationError(
            "The configured SQLite database is not a file; nothing to back up or restore.",
            code="backup_unsupported",
        )
    return Path(name)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- PostgreSQL client programs -------------------------------------------------------


def _version_key(path: Path) -> tuple[int, ...]:
    version = path.parent.parent.name  # /usr/lib/postgresql/<version>/bin/<program>
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _pg_program(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=_version_key)
    if candidates:
        return str(candidates[-1])
    raise ApplicationError(
        f"{name} was not found; install the PostgreSQL client programs "
        "(Debian: apt-get install postgresql-client).",
        code="postgres_client_missing",
    )


def _pg_env() -> dict[str, str]:
    """libpq environment for pg_dump/pg_restore: secrets never go on a command line."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    options: Mapping[str, Any] = db.get("OPTIONS") or {}
    for option, var in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
        ("connect_timeout", "PGCONNECT_TIMEOUT"),
        ("service", "PGSERVICE"),
        ("passfile", "PGPASSFILE"),
    ):
        if options.get(option):
            env[var] = str(options[option])
    return env


def _run_pg(command: list[str], *, env: Mapping[str, str], code: str, what: str) -> None:
    result = subprocess.run(  # noqa: S603 - a fixed program and arguments, no shell
        command, env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        # Keep the error lines only: DETAIL lines may quote row values (personal data).
        lines = [
            line.strip()
            for line in result.stderr.splitlines()
            if line.strip() and not line.lstrip().startswith(("DETAIL", "CONTEXT", "Command"))
        ]
        errors = [line for line in lines if "error" in line.lower()] or lines
        detail = errors[0][:300] if errors else f"exit status {result.returncode}"
        raise ApplicationError(f"{what} failed: {detail}", code=code)


# --- Backup -------------------------------------------------------------------------------


def _sqlite_snapshot(dest: Path) -> dict[str, Any]:
    source = _sqlite_path()
    if not source.is_file():
        raise ApplicationError(
            f"The SQLite database {source} does not exist; run `rahdari manage migrate` first.",
            code="database_missing",
        )
    with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(dest)) as dst:
        # One step (pages=-1) is one read transaction: a consistent snapshot that includes
        # what is committed in the WAL, while writers carry on.
        src.backup(dst)
        # The copy is self-contained: no -wal beside it. Restore turns WAL back on.
        dst.execute("PRAGMA journal_mode=DELETE")
        facts = _facts(dst.cursor(), "sqlite")
        dst.commit()
    return facts


def _pg_snapshot(dest: Path) -> dict[str, Any]:
    import psycopg

    pg_dump = _pg_program("pg_dump")
    params = connection.get_connection_params()
    with psycopg.connect(**params) as raw:
        # pg_dump reads the snapshot this transaction exports, so the manifest's counts
        # and audit head describe exactly the dumped data.
        raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        raw.read_only = True
        with raw.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            row = cursor.fetchone()
            assert row is not None
            _run_pg(
                [
                    pg_dump,
                    "--format=custom",
                    "--compress=0",  # the archive is gzip'd as a whole
                    f"--snapshot={row[0]}",
                    "--no-password",
                    f"--file={dest}",
                ],
                env=_pg_env(),
                code="backup_failed",
                what="pg_dump",
            )
            facts = _facts(cursor, "postgresql")
        raw.rollback()
    return facts


def _rahdari_version() -> str:
    try:
        return metadata.version("rahdari")
    except metadata.PackageNotFoundError:
        return "unknown"


def _write_archive(out: Path, manifest: dict[str, Any], member: Path) -> None:
    """Write to a temporary file beside `out`, then rename: never a half-written backup."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                body = json.dumps(manifest, indent=2, sort_keys=True).encode()
                tar.addfile(_tarinfo(MANIFEST, len(body)), io.BytesIO(body))
                with member.open("rb") as handle:
                    tar.addfile(_tarinfo(member.name, member.stat().st_size), handle)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(datetime.now(tz=UTC).timestamp())
    return info


def backup_create(*, out: Path) -> dict[str, Any]:
    """Write a consistent backup of the configured database to `out` (one .tar.gz file).

    Safe while the platform runs. The archive is created with mode 0600 and holds no key.
    Side effect: an audit entry "core.backup_created" (after the snapshot, so not in it).
    """
    from rahdari.core.audit import audit_chain, audit_record

    vendor = _vendor()
    audit_chain()  # so the manifest's audit head is the latest entry
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    created_at = datetime.now(tz=UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix=".rahdari-backup-", dir=out.parent) as work:
        member = Path(work) / MEMBERS[vendor]
        facts = _sqlite_snapshot(member) if vendor == "sqlite" else _pg_snapshot(member)
        sha256 = _sha256_file(member)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": created_at,
            "rahdari_version": _rahdari_version(),
            "vendor": vendor,
            "database": {
                "name": member.name,
                "bytes": member.stat().st_size,
                "sha256": sha256,
            },
            "master_key_included": False,
            **facts,
        }
        _write_archive(out, manifest, member)
    archive_sha256 = _sha256_file(out)
    audit_record(
        actor=None,
        action="core.backup_created",
        subject=("core.backup", sha256[:16]),
        changes={
            "vendor": vendor,
            "created_at": created_at,
            "audit_head_seq": (facts["audit_head"] or {}).get("seq"),
            "archive_sha256": archive_sha256,
        },
    )
    return {
        "path": str(out),
        "bytes": out.stat().st_size,
        "vendor": vendor,
        "created_at": created_at,
        "tables": facts["tables"],
        "audit_head": facts["audit_head"],
        "sha256": sha256,
        "archive_sha256": archive_sha256,
    }


# --- Restore ------------------------------------------------------------------------------


def _check_manifest(manifest: Any, vendor: str) -> dict[str, Any]:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _corrupt("its manifest is not a Rahdari backup manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ApplicationError(
            f"The backup has format version {version!r}; this version of Rahdari reads "
            f"version {FORMAT_VERSION}. Restore it with the Rahdari version that wrote it "
            f"({manifest.get('rahdari_version', 'unknown')}).",
            code="backup_format_unsupported",
        )
    if manifest.get("vendor") != vendor:
        raise ApplicationError(
            f"The backup is of a {manifest.get('vendor')} database but the configured database "
            f"is {vendor}; point RAHDARI_DATABASE_URL at a {manifest.get('vendor')} database.",
            code="backup_vendor_mismatch",
        )
    database = manifest.get("database")
    if (
        not isinstance(database, dict)
        or database.get("name") != MEMBERS[vendor]
        or not isinstance(database.get("bytes"), int)
        or not _SHA256.match(str(database.get("sha256", "")))
        or not isinstance(manifest.get("tables"), dict)
        or not isinstance(manifest.get("migrations"), dict)
    ):
        raise _corrupt("its manifest is incomplete")
    return manifest


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    handle = tar.extractfile(info)
    if handle is None:
        raise _corrupt(f"{info.name} is not a file")
    return handle


def _read_archive(path: Path, work: Path, vendor: str) -> tuple[dict[str, Any], Path]:
    """Check the manifest and extract the database into `work`, verifying size and SHA-256."""
    target = work / MEMBERS[vendor]
    digest = hashlib.sha256()
    try:
        handle = target.open("wb")
    except OSError as exc:
        raise _WriteError(f"Could not write {target}: {exc.strerror or exc}.") from exc
    try:
        # gzip.open, not tarfile's own "r|gz": GzipFile checks the CRC at the end of the stream.
        with (
            handle,
            gzip.open(path, "rb") as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            info = tar.next()
            if info is None or info.name != MANIFEST or not info.isfile():
                raise _corrupt("manifest.json is missing")
            if info.size > MAX_MANIFEST_BYTES:
                raise _corrupt("manifest.json is too large")
            manifest = _check_manifest(json.loads(_read_member(tar, info).read()), vendor)
            expected = manifest["database"]
            info = tar.next()
            if info is None or info.name != expected["name"] or not info.isfile():
                raise _corrupt(f"{expected['name']} is missing")
            source = _read_member(tar, info)
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                _write(handle, chunk, target)
            handle.flush()
            os.fsync(handle.fileno())
            while stream.read(CHUNK):  # to the end, so that gzip checks CRC and length
                pass
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _corrupt(
            f"its compressed data is cut short or damaged ({type(exc).__name__})"
        ) from exc
    except tarfile.TarError as exc:
        raise _corrupt(f"it is not a readable archive ({type(exc).__name__})") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _corrupt("manifest.json is not valid JSON") from exc
    except OSError as exc:
        raise ApplicationError(
            f"Could not read {path}: {exc.strerror or exc}.", code="backup_unreadable"
        ) from exc
    if target.stat().st_size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
        raise _corrupt("the database does not match the checksum in its manifest")
    return manifest, target


def _write(handle: IO[bytes], chunk: bytes, target: Path) -> None:
    try:
        handle.write(chunk)
    except OSError as exc:  # disk full: not the archive's fault
        raise _WriteError(f"Could not write {target}: {exc.strerror or exc}.") from exc


def _check_migrations_known(manifest: dict[str, Any]) -> None:
    from django.db.migrations.loader import MigrationLoader

    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = sorted(
        f"{app}.{name}" for app, name in manifest["migrations"].items() if (app, name) not in known
    )
    if unknown:
        raise ApplicationError(
            "The backup's schema has migrations this version of Rahdari does not know ("
            + ", ".join(unknown[:5])
            + f"); restore it with the version that wrote it ({manifest.get('rahdari_version')}).",
            code="backup_migrations_unknown",
        )


def _database_has_data() -> bool:
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        for table in DATA_TABLES:
            if table in existing:
                cursor.execute(f"SELECT 1 FROM {_quote(table)} LIMIT 1")  # noqa: S608
                if cursor.fetchone():
                    return True
    return False


def _sqlite_check(candidate: Path) -> None:
    with closing(sqlite3.connect(candidate)) as db:
        try:
            result = db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise _corrupt(f"the database does not open ({exc})") from exc
    if not result or result[0] != "ok":
        raise _corrupt("the database fails SQLite's integrity check")


def _sqlite_restore(candidate: Path) -> None:
    target = _sqlite_path()
    connections.close_all()
    if target.exists():
        # Leaving WAL mode checkpoints and removes the -wal file; SQLite allows it only
        # when no other connection is open, which tells us the platform is stopped.
        with closing(sqlite3.connect(target, timeout=5)) as old:
            try:
                old.execute("PRAGMA journal_mode=DELETE").fetchall()
            except sqlite3.OperationalError as exc:
                raise ApplicationError(
                    f"The database {target} is in use ({exc}); stop the web and worker "
                    "processes, then restore.",
                    code="database_in_use",
                ) from exc
        shutil.copymode(target, candidate)
    os.replace(candidate, target)
    # A stale -wal beside the new file would be replayed into it: remove any leftovers.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    _fsync_dir(target.parent)


def _pg_restore(dump: Path, manifest: dict[str, Any]) -> list[str]:
    """pg_restore --clean in one transaction: on any error the database is left untouched."""
    pg_restore = _pg_program("pg_restore")
    # Tables that are not in the backup (from newer migrations) would survive --clean and
    # make the restored schema disagree with its django_migrations rows: drop them.
    with transaction.atomic(), connection.cursor() as cursor:
        extra = sorted(set(connection.introspection.table_names(cursor)) - set(manifest["tables"]))
        for table in extra:
            cursor.execute(f"DROP TABLE IF EXISTS {_quote(table)} CASCADE")
    connections.close_all()
    env = _pg_env()
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c lock_timeout={PG_LOCK_TIMEOUT}".strip()
    _run_pg(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            # The name only (not secret); host, user and password come from the environment.
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(dump),
        ],
        env=env,
        code="restore_failed",
        what="pg_restore",
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # pg_restore leaves the planner without statistics
    return extra


def _master_key_opens_data_keys() -> bool | None:
    from rahdari.core import crypto
    from rahdari.core.models import DataKey

    rows = DataKey.objects.exclude(status=DataKey.Status.RETIRED).values_list(
        "key_id", "wrapped_key"
    )
    opened = None
    for key_id, wrapped in rows:
        try:
            crypto.unwrap_key(settings.RAHDARI_MASTER_KEY, key_id, bytes(wrapped))
        except crypto.DecryptionError:
            return False
        opened = True
    return opened


def _pending_migrations() -> int:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def backup_restore(*, path: Path, force: bool = False) -> dict[str, Any]:
    """Restore a backup made by `backup_create` into the configured database.

    Refuses a damaged archive, another vendor's backup, and (unless force) a database that
    has data. Afterwards checks row counts and audit head against the manifest, re-verifies
    the audit chain, checks the master key, and appends "core.backup_restored".
    Stop the web and worker processes first.
    """
    from django.contrib.contenttypes.models import ContentType

    from rahdari.core.audit import audit_record, audit_verify
    from rahdari.core.keyring import keyring

    vendor = _vendor()
    path = Path(path)
    if not path.is_file():
        raise ApplicationError(f"There is no backup file at {path}.", code="backup_not_found")
    work_parent = _sqlite_path().parent if vendor == "sqlite" else None
    if work_parent is not None:
        work_parent.mkdir(parents=True, exist_ok=True)
    dropped: list[str] = []
    # For SQLite the work directory sits beside the database, so the final rename is atomic.
    with tempfile.TemporaryDirectory(prefix=".rahdari-restore-", dir=work_parent) as work:
        manifest, member = _read_archive(path, Path(work), vendor)
        _check_migrations_known(manifest)
        if vendor == "sqlite":
            _sqlite_check(member)
        if not force and _database_has_data():
            raise ApplicationError(
                "The configured database already has data (users or audit entries); "
                "restore into an empty database, or pass --force to replace it.",
                code="database_not_empty",
            )
        if vendor == "sqlite":
            _sqlite_restore(member)
        else:
            dropped = _pg_restore(member, manifest)

    connections.close_all()
    keyring().clear()
    ContentType.objects.clear_cache()
    with connection.cursor() as cursor:
        facts = _facts(cursor, vendor)
    report = audit_verify()
    problems = []
    if facts["tables"] != manifest["tables"]:
        differ = sorted(
            t
            for t in set(facts["tables"]) | set(manifest["tables"])
            if facts["tables"].get(t) != manifest["tables"].get(t)
        )
        problems.append("row counts differ in " + ", ".join(differ[:5]))
    if facts["audit_head"] != manifest.get("audit_head"):
        problems.append("the audit chain head differs from the manifest")
    if not report.ok:
        problems.append(f"the audit chain is broken at seq {report.first_bad_seq}")
    if problems:
        raise ApplicationError(
            "The backup was restored but does not verify: " + "; ".join(problems) + ".",
            code="restore_verification_failed",
        )
    master_key_ok = _master_key_opens_data_keys()
    entry = audit_record(
        actor=None,
        action="core.backup_restored",
        subject=("core.backup", manifest["database"]["sha256"][:16]),
        changes={
            "vendor": vendor,
            "backup_created_at": manifest["created_at"],
            "audit_head_seq": (manifest.get("audit_head") or {}).get("seq"),
            "forced": force,
        },
    )
    if master_key_ok is False:
        raise ApplicationError(
            "The backup was restored, but the configured RAHDARI_MASTER_KEY does not open its "
            "data keys, so personal data cannot be decrypted; configure the master key that "
            "was in use when the backup was taken.",
            code="master_key_mismatch",
        )
    return {
        "path": str(path),
        "vendor": vendor,
        "backup_created_at": manifest["created_at"],
        "tables": facts["tables"],
        "counts_match": True,
        "audit_head": facts["audit_head"],
        "audit_ok": report.ok,
        "checked": report.checked,
        "master_key_ok": master_key_ok,
        "pending_migrations": _pending_migrations(),
        "dropped_tables": dropped,
        "restore_audit_seq": entry.seq,
    }
