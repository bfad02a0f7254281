"""SQL pieces the apps share."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction


def among(column: str, ids: Sequence[Any]) -> tuple[str, Any]:
    """``column`` among any number of ids as one parameter — a PostgreSQL array, a JSON
    array on SQLite (UUIDs as the 32 hex digits SQLite stores) — and that parameter:
    10,000 parameters cost more to send than the query to run, and SQLite allows at
    most 32,766."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", list(ids)
    values = [i.hex if isinstance(i, uuid.UUID) else i for i in ids]
    return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(values)  # noqa: S608


def refresh_statistics(table: str) -> None:
    """ANALYZE ``table`` on PostgreSQL, after a job has written or changed a large part
    of it and before it reads it again. Autovacuum analyses a table a minute or more
    after such a change; until then the planner works from the old statistics — say,
    that no payment is waiting — and the payment batch UPDATE read every waiting
    payment of the cycle through the (cycle, status, channel) index, testing each
    against the batch's ids, instead of looking the ids up by primary key: 4.4 s
    instead of 0.4 s for a batch of 9,800 in a cycle of 100,000. ANALYZE reads a
    sample of 30,000 rows: 0.7 s for the payments of a million (autovacuum's log).
    (SQLite gathers no statistics unless asked, so none go stale.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


_COLUMN_TYPES: dict[tuple[str, str, tuple[str, ...]], list[int]] = {}


def copy_rows(
    cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Rows into ``table`` by PostgreSQL's binary COPY (``cursor`` is Django's; the
    caller's transaction). Binary skips what the text form costs on both sides — a
    UUID or a time written out as text by Python and parsed again by the server — a few
    microseconds a row, seconds at a million. The column types are read from the
    catalogue once per process (binary values must match them exactly). Errors arrive
    as Django's (IntegrityError and the rest)."""
    key = (connection.settings_dict["NAME"], table, tuple(columns))
    types = _COLUMN_TYPES.get(key)
    if types is None:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [table],
        )
        by_name = dict(cursor.fetchall())
        types = _COLUMN_TYPES.setdefault(key, [by_name[name] for name in columns])
    names = ", ".join(columns)
    with (
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def insert_rows(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_existing: bool = False,
) -> None:
    """Many rows in the caller's transaction: binary COPY on PostgreSQL, one prepared
    INSERT on SQLite. With ``skip_existing`` a row whose unique key is already there is
    left out (as ``bulk_create(ignore_conflicts=True)``): on PostgreSQL the COPY goes
    straight in when none is there yet (the usual case) and, if one is, fails whole
    inside a savepoint and the rows go through a temporary table and INSERT … ON
    CONFLICT DO NOTHING. The values must be ready: nothing may query the connection
    while a COPY is open on it."""
    if not rows:
        return
    names = ", ".join(columns)
    conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
    if connection.vendor != "postgresql":
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}",  # noqa: S608
            rows,
        )
        return
    if not skip_existing:
        copy_rows(cursor, table, columns, rows)
        return
    try:
        with transaction.atomic():
            copy_rows(cursor, table, columns, rows)
        return
    except IntegrityError:
        pass
    incoming = f"{table}_incoming"
    cursor.execute(
        f"CREATE TEMPORARY TABLE {incoming} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {names} FROM {table} WITH NO DATA"
    )
    copy_rows(cursor, incoming, columns, rows)
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {incoming}{conflict}"  # noqa: S608
    )
    cursor.execute(f"DROP TABLE {incoming}")
