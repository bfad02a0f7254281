"""Database-level guards: the audit log refuses UPDATE and DELETE from any client."""

from __future__ import annotations

from typing import Any

PG_INSTALL = [
    """CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit entries are append-only'; END;
       $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER core_auditentry_no_update BEFORE UPDATE OR DELETE
       ON core_auditentry FOR EACH ROW EXECUTE FUNCTION core_auditentry_append_only()""",
    """CREATE OR REPLACE TRIGGER core_auditentry_no_truncate BEFORE TRUNCATE
       ON core_auditentry FOR EACH STATEMENT EXECUTE FUNCTION core_auditentry_append_only()""",
]
PG_REMOVE = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update ON core_auditentry",
    "DROP TRIGGER IF EXISTS core_auditentry_no_truncate ON core_auditentry",
]
SQLITE_INSTALL = [
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_update BEFORE UPDATE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_delete BEFORE DELETE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update",
    "DROP TRIGGER IF EXISTS core_auditentry_no_delete",
]


def _statements(vendor: str, install: bool) -> list[str]:
    if vendor == "postgresql":
        return PG_INSTALL if install else PG_REMOVE
    if vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_REMOVE
    return []


def install_audit_guards(connection: Any) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(connection.vendor, True):
            cursor.execute(statement)


def remove_audit_guards(connection: Any) -> None:
    """Only for emptying a whole test or restore database; never in normal operation."""
    with connection.cursor() as cursor:
        for statement in _statements(connection.vendor, False):
            cursor.execute(statement)
