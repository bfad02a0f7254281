"""The audit log: every write done by a service appends one entry, hash-chained.

Call `audit_record` inside the service's transaction, so the entry and the change
commit or roll back together. The entry is inserted without a lock; it is chained
(given its place and hashes) right after the commit by `audit_chain`, under one
short lock, together with whatever else committed meanwhile. Entries left unchained
by a crash are chained by the worker within a minute and before every verification.
So a long transaction never holds up everybody else's writes (it used to hold a
global lock from its first entry until its commit), and the chain's order is the
order in which entries became visible.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from rahdari.core import hashchain
from rahdari.core.models import AuditEntry

# A safety net under the rule "no plaintext PII in the audit diff": anything that
# looks like a CNIC or a phone number is masked even if a caller forgets.
_PII_PATTERNS = [
    re.compile(r"\b\d{5}-?\d{7}-?\d\b"),  # CNIC / CRC
    re.compile(r"(?:\+?92|0)3\d{2}[ -]?\d{7}\b"),  # Pakistani mobile
]
logger = logging.getLogger(__name__)
_ADVISORY_LOCK_ID = 7_202_611  # any constant; serialises chaining on PostgreSQL
_CHAIN_BATCH = 2000


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        for pattern in _PII_PATTERNS:
            value = pattern.sub("[redacted]", value)
        return value
    if isinstance(value, Mapping):
        return {str(k): _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def _hashed_fields(
    at: Any,
    actor_id: Any,
    actor_label: str,
    action: str,
    subject_type: str,
    subject_id: str,
    changes: Any,
) -> dict[str, Any]:
    """What an entry's hash covers (its ``seq`` and chain position are not in it)."""
    return {
        "at": at.isoformat(),
        "actor": str(actor_id) if actor_id else None,
        "actor_label": actor_label,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "changes": changes,
    }


def _payload(entry: AuditEntry) -> dict[str, Any]:
    return _hashed_fields(
        entry.at,
        entry.actor_id,
        entry.actor_label,
        entry.action,
        entry.subject_type,
        entry.subject_id,
        entry.changes,
    )


def subject_of(obj: models.Model | tuple[str, str]) -> tuple[str, str]:
    if isinstance(obj, tuple):
        return obj
    return obj._meta.label_lower, str(obj.pk)


def audit_record(
    *,
    actor: Any,
    action: str,
    subject: models.Model | tuple[str, str],
    changes: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry (actor may be None for the system). Joins the caller's transaction;
    the entry is chained once that transaction commits."""
    subject_type, subject_id = subject_of(subject)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    entry = AuditEntry(
        at=timezone.now(),
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else "system")[:150],
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        changes=_redact(dict(changes or {})),
    )
    entry.save(force_insert=True)
    _chain_after_commit()
    return entry


_last_chained = [0.0]  # when this process last chained (monotonic seconds)


def _chain_after_commit() -> None:
    """Register one chaining per transaction, however many entries it writes."""
    if any(callback[1] is _chain_quietly for callback in connection.run_on_commit):
        return
    transaction.on_commit(_chain_quietly)


def _chain_quietly() -> None:
    # After the commit the entries are safe; a failure to chain them now (or another
    # process holding the lock) only delays chaining until the next commit or the worker.
    # Under load one chaining every RAHDARI_AUDIT_CHAIN_INTERVAL_SECONDS per process
    # takes the entries of every commit since, instead of one chaining per commit.
    now = time.monotonic()
    if now - _last_chained[0] < settings.RAHDARI_AUDIT_CHAIN_INTERVAL_SECONDS:
        return
    _last_chained[0] = now
    try:
        audit_chain(wait=False)
    except DatabaseError:
        logger.exception("audit entries left for the next chaining")


_HASHED_COLUMNS = (
    "at",
    "actor_id",
    "actor_label",
    "action",
    "subject_type",
    "subject_id",
    "changes",
)


def audit_chain(*, wait: bool = True) -> int:
    """Give every committed, unchained entry its place in the chain, in commit order
    (``seq`` order among those waiting); returns how many were chained. With
    ``wait=False`` it returns 0 at once if another process is chaining.

    Runs after most requests that write, so it avoids the ORM's per-object cost: one
    read of the waiting rows, one of the chain's head, one batched UPDATE.
    """
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    chained = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                if wait:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])
                else:
                    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])
                    if not cursor.fetchone()[0]:
                        return chained
            waiting = list(
                AuditEntry.objects.filter(chain_pos=None)
                .order_by("seq")
                .values_list("seq", *_HASHED_COLUMNS)[:_CHAIN_BATCH]
            )
            if not waiting:
                return chained
            cursor.execute(
                f"SELECT chain_pos, entry_hash FROM {table} "  # noqa: S608 (our table name)
                "WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1"
            )
            head = cursor.fetchone()
            pos, prev = (int(head[0]), str(head[1])) if head else (0, hashchain.GENESIS)
            rows = []
            for seq, *fields in waiting:
                pos += 1
                digest = hashchain.entry_hash(prev, _hashed_fields(*fields))
                rows.append((pos, prev, digest, seq))
                prev = digest
            cursor.executemany(
                f"UPDATE {table} SET chain_pos = %s, prev_hash = %s, entry_hash = %s "  # noqa: S608
                "WHERE seq = %s",
                rows,
            )
            chained += len(rows)
        if len(waiting) < _CHAIN_BATCH:
            return chained


def audit_record_read(
    *, actor: Any, subject: models.Model | tuple[str, str], purpose: str, fields: list[str]
) -> AuditEntry:
    """A staff member or partner read a person's data: the person will see this entry."""
    subject_type, _ = subject_of(subject)
    return audit_record(
        actor=actor,
        action=f"{subject_type}.viewed",
        subject=subject,
        changes={"purpose": purpose, "fields": fields},
    )


def _rows() -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    entries = AuditEntry.objects.exclude(chain_pos=None).order_by("chain_pos")
    for entry in entries.iterator(chunk_size=5000):
        yield entry.seq, entry.prev_hash or "", entry.entry_hash or "", _payload(entry)


def audit_verify() -> hashchain.ChainReport:
    """Chain what is waiting, then re-check the whole chain from the first entry, and that
    no position is missing. (Entries committed while the check runs wait for the next
    chaining: normal on a live system.)"""
    audit_chain()
    report = hashchain.verify_chain(_rows())
    if not report.ok:
        return report
    top = AuditEntry.objects.aggregate(top=Max("chain_pos"))["top"] or 0
    if top != report.checked:
        return hashchain.ChainReport(report.checked, False, None, "a chain position is missing")
    return report
