"""The audit log: every write done by a service appends one entry, hash-chained.

Call `audit_record` inside the service's transaction, so the entry and the change
commit or roll back together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from rahdari.core import hashchain
from rahdari.core.models import AuditEntry

# A safety net under the rule "no plaintext PII in the audit diff": anything that
# looks like a CNIC or a phone number is masked even if a caller forgets.
_PII_PATTERNS = [
    re.compile(r"\b\d{5}-?\d{7}-?\d\b"),  # CNIC / CRC
    re.compile(r"(?:\+?92|0)3\d{2}[ -]?\d{7}\b"),  # Pakistani mobile
]
_ADVISORY_LOCK_ID = 7_202_611  # any constant; serialises appends on PostgreSQL


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


def _payload(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": str(entry.actor_id) if entry.actor_id else None,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "changes": entry.changes,
    }


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
    """Append one entry (actor may be None for the system). Joins the caller's transaction."""
    subject_type, subject_id = subject_of(subject)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])
        last = AuditEntry.objects.order_by("-seq").values_list("entry_hash", flat=True).first()
        entry = AuditEntry(
            at=timezone.now(),
            actor=actor if is_user else None,
            actor_label=(actor.get_username() if is_user else "system")[:150],
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            changes=_redact(dict(changes or {})),
            prev_hash=last or hashchain.GENESIS,
        )
        entry.entry_hash = hashchain.entry_hash(entry.prev_hash, _payload(entry))
        entry.save(force_insert=True)
    return entry


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
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=5000):
        yield entry.seq, entry.prev_hash, entry.entry_hash, _payload(entry)


def audit_verify() -> hashchain.ChainReport:
    """Re-check the whole chain from the first entry."""
    return hashchain.verify_chain(_rows())
