"""The audit log in the database: chained, append-only (also at the database), no PII."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from rahdari.core.audit import audit_record, audit_record_read, audit_verify
from rahdari.core.models import AuditEntry


@pytest.mark.django_db
def test_entries_chain_and_verify() -> None:
    for i in range(5):
        audit_record(
            actor=None, action="test.did", subject=("test.thing", str(i)), changes={"i": i}
        )
    entries = list(AuditEntry.objects.order_by("seq"))
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))
    report = audit_verify()
    assert report.ok and report.checked == AuditEntry.objects.count()


@pytest.mark.django_db
def test_model_refuses_update_and_delete() -> None:
    entry = audit_record(actor=None, action="test.did", subject=("t", "1"))
    entry.action = "test.changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "statement", ["UPDATE core_auditentry SET action = 'x'", "DELETE FROM core_auditentry"]
)
def test_database_refuses_update_and_delete(statement: str) -> None:
    audit_record(actor=None, action="test.did", subject=("t", "1"))
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEntry.objects.filter(action="test.did").exists()
    assert audit_verify().ok


@pytest.mark.django_db
def test_pii_in_changes_is_redacted() -> None:
    entry = audit_record(
        actor=None,
        action="test.did",
        subject=("t", "1"),
        changes={"note": "cnic 17301-1234567-1 phone 03001234567", "nested": ["+923451234567"]},
    )
    text = str(entry.changes)
    assert "1234567" not in text
    assert text.count("[redacted]") == 3


@pytest.mark.django_db
def test_read_entry_names_actor_purpose_and_fields(make_staff: Any, make_citizen: Any) -> None:
    from rahdari.accounts.roles import Role

    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    citizen = make_citizen()
    entry = audit_record_read(actor=officer, subject=citizen, purpose="check", fields=["phone"])
    assert entry.action == "accounts.user.viewed"
    assert entry.actor == officer
    assert entry.subject_id == str(citizen.pk)
    assert entry.changes == {"purpose": "check", "fields": ["phone"]}
