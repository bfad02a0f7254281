"""Issuing, following the person, revoking, rotating keys, status lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import cbor2
import claim169
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from rahdari.core.models import AuditEntry
from rahdari.credentials import cwt, services
from rahdari.credentials.models import Credential, IssuerKey, StatusList
from rahdari.identity import services as identity
from rahdari.identity.models import Person

pytestmark = pytest.mark.django_db


def _verify(text: str, **kw: Any) -> cwt.Verification:
    return services.server_verifier().verify(text, **kw)


def test_approval_issues_one_credential_that_verifies(active_person: Callable[..., Person]) -> None:
    person = active_person()
    credential = Credential.objects.get(person=person)
    assert credential.status == "active"
    result = _verify(credential.qr_compact)
    assert result.valid and result.reason == "valid", result.detail
    assert result.claims["id"] == person.rahdari_number
    assert result.claims["full_name"] == person.full_name
    assert result.claims["secondary_full_name"] == "گل بی بی"
    assert result.claims["location_code"] == "Swat"
    assert result.status_checked
    assert AuditEntry.objects.filter(action="credentials.issued", subject_id=str(credential.pk))


def test_the_qr_never_carries_the_cnic(active_person: Callable[..., Person]) -> None:
    person = active_person()
    credential = Credential.objects.get(person=person)
    for text in (credential.qr_compact, credential.qr_card):
        payload = cbor2.loads(cwt.unwrap(text).payload)
        assert person.national_id not in repr(payload)
        assert person.national_id[:5] + person.national_id[5:12] not in repr(payload)


def test_card_profile_has_a_small_webp_face_and_compact_has_none(
    active_person: Callable[..., Person],
) -> None:
    credential = Credential.objects.get(person=active_person())
    card = cbor2.loads(cwt.unwrap(credential.qr_card).payload)[cwt.CLAIM_169]
    compact = cbor2.loads(cwt.unwrap(credential.qr_compact).payload)[cwt.CLAIM_169]
    assert card[cwt.PHOTO_FORMAT] == 4 and card[cwt.PHOTO][:4] == b"RIFF"
    assert len(card[cwt.PHOTO]) <= 1000
    assert cwt.PHOTO not in compact


def test_claim169_package_decodes_our_qr(active_person: Callable[..., Person]) -> None:
    person = active_person()
    credential = Credential.objects.get(person=person)
    public = bytes(credential.key.public_key)
    for text in (credential.qr_compact, credential.qr_card):
        decoded = claim169.decode(text, verify_with_ed25519=public)
        assert decoded.is_verified()
        assert decoded.claim169.id == person.rahdari_number
        assert decoded.claim169.full_name == person.full_name
        assert decoded.claim169.date_of_birth == person.date_of_birth
        assert decoded.claim169.gender == 2
        assert decoded.cwt_meta.issuer == "http://testserver"
    assert claim169.decode(credential.qr_card, verify_with_ed25519=public).claim169.photo


def test_one_current_credential_per_person_is_a_database_rule(
    active_person: Callable[..., Person],
) -> None:
    credential = Credential.objects.get(person=active_person())
    copy = Credential(
        person=credential.person,
        key=credential.key,
        status_list=credential.status_list,
        status_index=credential.status_index + 1,
        issued_at=credential.issued_at,
        expires_at=credential.expires_at,
        qr_compact="x",
        qr_card="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()


def test_reissue_supersedes_and_the_old_qr_reads_revoked(
    active_person: Callable[..., Person], officer: Any
) -> None:
    person = active_person()
    old = Credential.objects.get(person=person)
    new = services.credential_issue(person=person, actor=officer, reason="card lost")
    old.refresh_from_db()
    assert old.status == "superseded" and new.status == "active"
    assert _verify(old.qr_compact).reason == "revoked"
    assert _verify(new.qr_compact).valid
    assert (new.status_list_id, new.status_index) != (old.status_list_id, old.status_index)


@pytest.mark.parametrize(
    ("status", "reason"),
    [("deceased", "revoked"), ("revoked", "revoked"), ("suspended", "suspended")],
)
def test_person_status_changes_reach_the_status_list(
    active_person: Callable[..., Person],
    officer: Any,
    django_capture_on_commit_callbacks: Any,
    status: str,
    reason: str,
) -> None:
    person = active_person()
    credential = Credential.objects.get(person=person)
    with django_capture_on_commit_callbacks(execute=True):
        identity.person_change_status(person=person, status=status, reason="record", actor=officer)
    result = _verify(credential.qr_compact)
    assert not result.valid and result.reason == reason
    if status == "suspended":
        with django_capture_on_commit_callbacks(execute=True):
            identity.person_change_status(
                person=person, status="active", reason="ok", actor=officer
            )
        assert _verify(credential.qr_compact).valid


def test_a_corrected_name_reissues_the_credential(
    active_person: Callable[..., Person], officer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    person = active_person()
    old = Credential.objects.get(person=person)
    data = identity.person_data_of(person)
    data.full_name = "Gul Bibi Yousafzai Khan"
    with django_capture_on_commit_callbacks(execute=True):
        identity.person_update(person=person, data=data, reason="spelling", actor=officer)
    current = services.current_credential(person)
    assert current is not None and current.pk != old.pk
    assert _verify(current.qr_compact).claims["full_name"] == "Gul Bibi Yousafzai Khan"


def test_revoke_needs_a_reason_and_happens_once(
    active_person: Callable[..., Person], officer: Any
) -> None:
    credential = Credential.objects.get(person=active_person())
    with pytest.raises(services.ApplicationError) as missing:
        services.credential_revoke(credential=credential, reason=" ", actor=officer)
    assert missing.value.code == "reason_required"
    services.credential_revoke(credential=credential, reason="fraud", actor=officer)
    with pytest.raises(services.Conflict):
        services.credential_revoke(credential=credential, reason="again", actor=officer)
    assert _verify(credential.qr_compact).reason == "revoked"


def test_rotation_keeps_old_credentials_valid_and_signs_new_ones_with_the_new_key(
    active_person: Callable[..., Person], officer: Any
) -> None:
    first = Credential.objects.get(person=active_person())
    old_kid = first.key.kid
    new_key = services.issuer_keys_rotate(actor=officer)
    assert new_key.kid != old_kid
    second = Credential.objects.get(person=active_person())
    assert second.key.kid == new_key.kid
    assert _verify(first.qr_compact).valid and _verify(second.qr_compact).valid
    document = services.keyset_document()
    published = {k["kid"]: k for k in document["keys"]}
    assert published[old_kid]["status"] == "retired" and published[old_kid]["signing_until"]
    assert published[new_key.kid]["status"] == "active"
    # The status lists are re-signed with the new key.
    token = bytes(StatusList.objects.get().token)
    assert cwt.parse_sign1(token).kid == bytes.fromhex(new_key.kid)


def test_a_key_past_its_verify_until_is_no_longer_published(
    active_person: Callable[..., Person], officer: Any
) -> None:
    credential = Credential.objects.get(person=active_person())
    services.issuer_keys_rotate(actor=officer)
    IssuerKey.objects.filter(kid=credential.key.kid).update(
        verify_until=timezone.now() - timedelta(seconds=1)
    )
    assert credential.key.kid not in {k["kid"] for k in services.keyset_document()["keys"]}
    assert _verify(credential.qr_compact).reason == "unknown_key"


def test_bulk_issue_skips_holders_and_fills_the_status_list(
    active_person: Callable[..., Person], officer: Any
) -> None:
    persons = [active_person(photo=False) for _ in range(3)]
    Credential.objects.filter(person=persons[0]).delete()
    rows = services.credentials_issue_bulk(persons=persons, actor=officer)
    assert [r.person_id for r in rows] == [persons[0].pk]
    assert Credential.objects.filter(status="active").count() == 3
    assert len({(c.status_list_id, c.status_index) for c in Credential.objects.all()}) == 3


def test_status_lists_roll_over_when_full(
    active_person: Callable[..., Person], settings: Any
) -> None:
    settings.RAHDARI_STATUS_LIST_CAPACITY = 2
    persons = [active_person(photo=False) for _ in range(3)]
    numbers = sorted(Credential.objects.get(person=p).status_list.number for p in persons)
    assert numbers == [1, 1, 2]
    for person in persons:
        assert _verify(Credential.objects.get(person=person).qr_compact).valid


def test_inactive_person_gets_no_credential(
    active_person: Callable[..., Person], officer: Any
) -> None:
    person = active_person()
    Person.objects.filter(pk=person.pk).update(status="suspended")
    person.refresh_from_db()
    with pytest.raises(services.Conflict):
        services.credential_issue(person=person, actor=officer)


def test_a_very_long_name_still_fits_the_compact_qr(
    active_person: Callable[..., Person], officer: Any
) -> None:
    from rahdari.core import qr

    person = active_person(
        full_name="Muhammad Abdul Rehman Khan Yousafzai Bangash",
        full_name_ur="محمد عبدالرحمٰن خان یوسفزئی بنگش",
        guardian_name="Haji Muhammad Sher Afzal Khan Yousafzai Bangash",
    )
    credential = services.credential_issue(person=person, actor=officer, reason="long name")
    assert qr.qr_version(credential.qr_compact, "Q") <= 17
    compact = _verify(credential.qr_compact).claims
    assert compact["full_name"] == person.full_name and compact["secondary_full_name"]
    card = _verify(credential.qr_card).claims
    assert card["guardian"] == person.guardian_name and card["address"]


def test_a_bulk_job_that_dies_half_way_resumes_without_duplicates(
    active_person: Callable[..., Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rahdari.core.jobs import job_create, job_run
    from rahdari.core.models import District, Job

    persons = [active_person(photo=False) for _ in range(3)]
    Credential.objects.filter(person__in=persons).delete()
    monkeypatch.setattr(services, "CHUNK", 1)
    real = services.credentials_issue_bulk
    calls = {"n": 0}

    def dies_on_the_second_chunk(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(services, "credentials_issue_bulk", dies_on_the_second_chunk)
    swat = District.objects.get(name="Swat")
    job = job_create(
        kind="credentials.issue_district", params={"district": swat.pk}, actor=None, enqueue=False
    )
    with pytest.raises(OSError):
        job_run(job_id=str(job.pk))
    assert Credential.objects.filter(status="active").count() == 1
    assert Job.objects.get(pk=job.pk).checkpoint["issued"] == 1
    job = job_run(job_id=str(job.pk))  # the worker's resume
    assert job.status == "succeeded" and job.result == {"issued": 3}
    assert Credential.objects.filter(status="active").count() == 3
    assert Credential.objects.count() == 3  # nobody issued twice


def test_a_card_printing_job_that_dies_resumes_with_the_next_batch(
    active_person: Callable[..., Person],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Any,
) -> None:
    from rahdari.core.jobs import job_create, job_run
    from rahdari.core.models import District
    from rahdari.credentials import cards
    from rahdari.credentials.models import CardBatch

    settings.VAR_DIR = tmp_path
    for _ in range(3):
        active_person(photo=False)
    real = cards.render_cards
    calls = {"n": 0}

    def dies_on_the_second_batch(batch: Any, **kwargs: Any) -> bytes:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("printer spool full")
        return real(batch, **kwargs)

    monkeypatch.setattr(cards, "render_cards", dies_on_the_second_batch)
    swat = District.objects.get(name="Swat")
    job = job_create(
        kind="credentials.print_cards",
        params={"district": swat.pk, "language": "ur", "batch_size": 2},
        actor=None,
        enqueue=False,
    )
    with pytest.raises(OSError):
        job_run(job_id=str(job.pk))
    assert list(CardBatch.objects.values_list("number", "cards")) == [(1, 2)]
    job = job_run(job_id=str(job.pk))
    assert job.result == {"batches": 2}
    assert list(CardBatch.objects.order_by("number").values_list("number", "cards")) == [
        (1, 2),
        (2, 1),
    ]
    printed = [p for b in CardBatch.objects.all() for p in b.persons]
    assert len(printed) == len(set(printed)) == 3
