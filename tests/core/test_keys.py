"""Key rotation: a new active key, a resumable re-encryption job, old keys retired."""

from __future__ import annotations

from typing import Any

import pytest

from rahdari.accounts.models import User
from rahdari.core import crypto, services
from rahdari.core.jobs import job_create, job_run
from rahdari.core.keyring import keyring
from rahdari.core.models import AuditEntry, DataKey, Job


def _raw_key_ids() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cnic, phone, full_name FROM accounts_user WHERE is_citizen = %s", [True]
        )
        return {crypto.key_id_of(v) for row in cursor.fetchall() for v in row if v}


@pytest.mark.django_db(transaction=True)
def test_rotation_reencrypts_everything_and_retires_old_key(make_citizen: Any) -> None:
    for _ in range(7):
        make_citizen()
    old = keyring().active_key_id()
    assert _raw_key_ids() == {old}

    new = services.keys_rotate_start(actor=None)
    assert new != old
    job = job_run(
        job_id=str(job_create(kind="core.keys_reencrypt", params={}, actor=None, enqueue=False).pk)
    )

    assert job.status == Job.Status.SUCCEEDED
    assert job.result["retired"] == [old]
    assert _raw_key_ids() == {new}
    assert DataKey.objects.get(key_id=old).status == DataKey.Status.RETIRED
    keyring().clear()
    assert {u.full_name for u in User.objects.filter(is_citizen=True)} and all(
        u.cnic.isdigit() for u in User.objects.filter(is_citizen=True)
    )
    assert AuditEntry.objects.filter(action="core.keys_retired").exists()


@pytest.mark.django_db(transaction=True)
def test_crash_mid_rotation_resumes_without_redoing_work(
    make_citizen: Any, monkeypatch: Any
) -> None:
    for _ in range(9):
        make_citizen()
    services.keys_rotate_start(actor=None)
    monkeypatch.setattr(services, "ROTATE_CHUNK", 2)
    job = job_create(kind="core.keys_reencrypt", params={}, actor=None, enqueue=False)

    calls = {"n": 0}
    real_bulk_update = User._default_manager.bulk_update

    def crash_after_two_chunks(objs: Any, fields: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real_bulk_update(objs, fields, **kw)

    monkeypatch.setattr(User._default_manager, "bulk_update", crash_after_two_chunks)
    with pytest.raises(RuntimeError):
        job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    from rahdari.core.models import OutboundMessage

    # The outbox (recipient, text) comes first, then two committed chunks of two users.
    assert job.done == 2 * OutboundMessage.objects.count() + 4
    assert job.checkpoint["model"] == "accounts.user"

    monkeypatch.setattr(User._default_manager, "bulk_update", real_bulk_update)
    job = job_run(job_id=str(job.pk))
    assert job.status == Job.Status.SUCCEEDED
    assert job.attempts == 2
    assert len(_raw_key_ids()) == 1


@pytest.mark.django_db
def test_value_sealed_with_a_retired_key_does_not_open() -> None:
    ring = keyring()
    old = ring.active_key_id()
    token = ring.encrypt("x", "c")
    ring.create_key(activate=True)
    ring.retire([old])
    ring.clear()
    with pytest.raises(crypto.DecryptionError):
        ring.decrypt(token, "c")
