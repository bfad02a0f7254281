"""The audit log in the database: chained, append-only (also at the database), no PII."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from rahdari.core.audit import audit_chain, audit_record, audit_record_read, audit_verify
from rahdari.core.models import AuditEntry


@pytest.mark.django_db
def test_entries_chain_and_verify() -> None:
    for i in range(5):
        audit_record(
            actor=None, action="test.did", subject=("test.thing", str(i)), changes={"i": i}
        )
    assert audit_chain() == 5  # the migrations' own entries were chained already
    assert not AuditEntry.objects.filter(chain_pos=None).exists()
    entries = list(AuditEntry.objects.order_by("chain_pos"))
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


@pytest.mark.django_db(transaction=True)
def test_entries_are_chained_when_their_transaction_commits() -> None:
    with transaction.atomic():
        first = audit_record(actor=None, action="test.did", subject=("t", "1"))
        second = audit_record(actor=None, action="test.did", subject=("t", "2"))
        first.refresh_from_db()
        assert first.entry_hash is None  # not yet: chaining waits for the commit
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.prev_hash == first.entry_hash
    assert second.chain_pos == first.chain_pos + 1
    assert audit_chain() == 0


@pytest.mark.django_db(transaction=True)
def test_rolled_back_entries_leave_no_trace_in_the_chain() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="test.lost", subject=("t", "1"))
        raise RuntimeError
    audit_record(actor=None, action="test.kept", subject=("t", "2"))
    assert not AuditEntry.objects.filter(action="test.lost").exists()
    report = audit_verify()
    assert report.ok and report.checked == AuditEntry.objects.count()


@pytest.mark.django_db(transaction=True)
def test_an_entry_left_unchained_by_a_crash_is_chained_by_the_next_run() -> None:
    entry = AuditEntry(
        at=timezone.now(),
        actor_label="system",
        action="test.orphan",
        subject_type="t",
        subject_id="9",
    )
    entry.save(force_insert=True)  # as if the process died right after its commit
    assert AuditEntry.objects.get(pk=entry.pk).chain_pos is None
    assert audit_chain() == 1
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE core_auditentry SET entry_hash = NULL, chain_pos = NULL, prev_hash = NULL",
        "UPDATE core_auditentry SET chain_pos = chain_pos + 100",
    ],
)
def test_database_refuses_rechaining(statement: str) -> None:
    audit_record(actor=None, action="test.did", subject=("t", "1"))
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_database_refuses_changing_content_while_chaining() -> None:
    entry = AuditEntry(
        at=timezone.now(),
        actor_label="system",
        action="test.orphan",
        subject_type="t",
        subject_id="9",
    )
    entry.save(force_insert=True)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_auditentry SET chain_pos = 999, prev_hash = 'x', entry_hash = 'y', "
            "action = 'test.forged' WHERE seq = %s",
            [entry.pk],
        )


@pytest.mark.django_db(transaction=True)
def test_a_moved_chain_position_fails_verification() -> None:
    for i in range(3):
        audit_record(actor=None, action="test.did", subject=("t", str(i)))
    assert audit_verify().ok
    from rahdari.core.dbguards import install_audit_guards, remove_audit_guards

    # Someone with database access moves the last entry's place: the hashes still link,
    # the positions no longer count 1, 2, 3, ...
    remove_audit_guards(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_auditentry SET chain_pos = chain_pos + 5 "
                "WHERE chain_pos = (SELECT MAX(chain_pos) FROM core_auditentry)"
            )
    finally:
        install_audit_guards(connection)
    report = audit_verify()
    assert not report.ok and report.problem == "a chain position is missing"
