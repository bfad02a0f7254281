"""Database-level guards: the audit log refuses UPDATE and DELETE from any client.

The one change allowed is chaining: an entry inserted without its hashes receives
``chain_pos``, ``prev_hash`` and ``entry_hash`` exactly once, and nothing else of it
may change at the same time.
"""

from __future__ import annotations

from typing import Any

_UNCHANGED = " AND ".join(
    f"NEW.{column} IS NOT DISTINCT FROM OLD.{column}"
    for column in (
        "seq",
        "at",
        "actor_id",
        "actor_label",
        "action",
        "subject_type",
        "subject_id",
        "changes",
    )
)
_CHAINING = (
    "OLD.entry_hash IS NULL AND OLD.chain_pos IS NULL AND OLD.prev_hash IS NULL"
    " AND NEW.entry_hash IS NOT NULL AND NEW.chain_pos IS NOT NULL"
    f" AND NEW.prev_hash IS NOT NULL AND {_UNCHANGED}"
)
PG_INSTALL = [
    """CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit entries are append-only'; END;
       $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION core_auditentry_chain_once() RETURNS trigger AS $$
       BEGIN
         IF {_CHAINING} THEN RETURN NEW; END IF;
         RAISE EXCEPTION 'audit entries are append-only';
       END;
       $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER core_auditentry_no_update BEFORE UPDATE
       ON core_auditentry FOR EACH ROW EXECUTE FUNCTION core_auditentry_chain_once()""",
    """CREATE OR REPLACE TRIGGER core_auditentry_no_delete BEFORE DELETE
       ON core_auditentry FOR EACH ROW EXECUTE FUNCTION core_auditentry_append_only()""",
    """CREATE OR REPLACE TRIGGER core_auditentry_no_truncate BEFORE TRUNCATE
       ON core_auditentry FOR EACH STATEMENT EXECUTE FUNCTION core_auditentry_append_only()""",
]
PG_REMOVE = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update ON core_auditentry",
    "DROP TRIGGER IF EXISTS core_auditentry_no_delete ON core_auditentry",
    "DROP TRIGGER IF EXISTS core_auditentry_no_truncate ON core_auditentry",
]
SQLITE_INSTALL = [
    f"""CREATE TRIGGER IF NOT EXISTS core_auditentry_no_update BEFORE UPDATE ON core_auditentry
       WHEN NOT ({_CHAINING.replace("IS NOT DISTINCT FROM", "IS")})
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_delete BEFORE DELETE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update",
    "DROP TRIGGER IF EXISTS core_auditentry_no_delete",
]


# Before migration core 0004 the table has no chain columns and no update is allowed.
# SQLite checks every trigger's columns whenever any table is rebuilt, so a trigger that
# names ``chain_pos`` before the column exists breaks the next migration that rebuilds a
# table (which one runs in between depends on how Django orders the apps' migrations).
SQLITE_INSTALL_UNCHAINED = [
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_update BEFORE UPDATE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    SQLITE_INSTALL[1],
]


def _statements(vendor: str, install: bool) -> list[str]:
    if vendor == "postgresql":
        return PG_INSTALL if install else PG_REMOVE
    if vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_REMOVE
    return []


def _chain_columns(connection: Any) -> bool:
    with connection.cursor() as cursor:
        described = connection.introspection.get_table_description(cursor, "core_auditentry")
    return any(column.name == "chain_pos" for column in described)


def install_audit_guards(connection: Any) -> None:
    statements = _statements(connection.vendor, True)
    if connection.vendor == "sqlite" and not _chain_columns(connection):
        statements = SQLITE_INSTALL_UNCHAINED
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def remove_audit_guards(connection: Any) -> None:
    """Only for emptying a whole test or restore database; never in normal operation."""
    with connection.cursor() as cursor:
        for statement in _statements(connection.vendor, False):
            cursor.execute(statement)


def _append_only_statements(vendor: str, table: str, install: bool) -> list[str]:
    message = f"{table} is append-only"
    if vendor == "postgresql":
        if not install:
            return [
                f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            ]
        return [
            f"""CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
               BEGIN RAISE EXCEPTION '{message}'; END;
               $$ LANGUAGE plpgsql""",
            f"""CREATE OR REPLACE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE
               ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_append_only()""",
            f"""CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE
               ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()""",
        ]
    if vendor == "sqlite":
        if not install:
            return [
                f"DROP TRIGGER IF EXISTS {table}_no_update",
                f"DROP TRIGGER IF EXISTS {table}_no_delete",
            ]
        return [
            f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table}
               BEGIN SELECT RAISE(ABORT, '{message}'); END"""
            for verb in ("UPDATE", "DELETE")
        ]
    return []


def install_append_only(connection: Any, tables: list[str]) -> None:
    """Make whole tables refuse UPDATE, DELETE (and TRUNCATE) from any client."""
    with connection.cursor() as cursor:
        for table in tables:
            for statement in _append_only_statements(connection.vendor, table, True):
                cursor.execute(statement)


def remove_append_only(connection: Any, tables: list[str]) -> None:
    """Only for emptying a whole test or restore database; never in normal operation."""
    with connection.cursor() as cursor:
        for table in tables:
            for statement in _append_only_statements(connection.vendor, table, False):
                cursor.execute(statement)
