"""Identity services: enrolment end to end, verification outcomes, duplicates, lifecycle."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from rahdari.accounts.roles import Role
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry, Job, OutboundMessage
from rahdari.identity import events, rules, services
from rahdari.identity.models import DuplicateCandidate, Enrolment, Person, PersonEvent
from tests.identity.conftest import enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(make_staff: Any) -> Any:
    return make_staff(Role.ENROLMENT_OFFICER, ["Swat", "Buner"])


def _jpeg(size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (120, 90, 60))
    exif = Image.Exif()
    exif[0x8825] = {2: (34, 0, 0)}  # a GPS block: must not survive re-encoding
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_assisted_enrolment_is_verified_checked_and_numbered(
    registered: Any, officer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = registered(photo=_jpeg())
    seen: list[str] = []

    def handler(event: PersonEvent) -> None:
        seen.append(event.kind)

    events.subscribe("person.enrolled", handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            enrolment = enrol(data, officer)
    finally:
        events.unsubscribe("person.enrolled", handler)
    person = Person.objects.get(pk=enrolment.person_id)
    assert enrolment.status == Enrolment.Status.APPROVED
    assert person.status == "active" and rules.is_valid_rahdari_number(person.rahdari_number)
    assert enrolment.verification["outcome"] == "match"
    assert enrolment.consent_purpose == "purpose text shown" and enrolment.officer == officer
    assert seen == ["person.enrolled"]
    photo = Image.open(io.BytesIO(__import__("base64").b64decode(person.photo)))
    assert photo.format == "JPEG" and max(photo.size) <= 640 and not photo.getexif()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "identity.enrolment_submitted",
        "identity.enrolment_verified",
        "identity.enrolment_approved",
    } <= actions
    sms = OutboundMessage.objects.get(template="identity.enrolled")
    assert rules.format_rahdari_number(person.rahdari_number) in sms.text


def test_same_national_id_is_a_hard_stop(registered: Any, officer: Any) -> None:
    data = registered()
    enrol(data, officer)
    with pytest.raises(Conflict) as caught:
        enrol(data, officer)
    assert caught.value.code == "already_enrolled"
    assert Person.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"national_id": "15202-0000001-1", "sex": "F"}, "sex"),
        ({"date_of_birth": timezone.localdate() + timedelta(days=1)}, "date_of_birth"),
        ({"date_of_birth": timezone.localdate() - timedelta(days=365 * 10)}, "id_document"),
        ({"mobile": "0912345678"}, "mobile"),
        ({"national_id": "12345"}, "national_id"),
        ({"photo": b"MZ\x90\x00 this is an exe renamed to .jpg"}, "photo"),
        ({"photo": b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024)}, "photo"),
        ({"full_name": "  "}, "full_name"),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_saved(
    registered: Any, officer: Any, change: dict[str, Any], field: str
) -> None:
    data = registered()
    for key, value in change.items():
        setattr(data, key, value)
    with pytest.raises(ApplicationError) as caught:
        enrol(data, officer)
    assert field in caught.value.fields, caught.value.fields
    assert not Person.objects.exists() and not Enrolment.objects.exists()


def test_mismatch_names_the_fields(registered: Any, officer: Any) -> None:
    data = registered()
    data.date_of_birth = date(1987, 3, 14)
    data.full_name = "Zarmina Afridi"
    enrolment = enrol(data, officer)
    assert enrolment.status == Enrolment.Status.MISMATCH
    assert set(enrolment.verification["mismatched_fields"]) == {"date_of_birth", "full_name"}
    assert Person.objects.get().rahdari_number is None


def test_unknown_number_is_not_found(registered: Any, officer: Any) -> None:
    data = registered()
    data.national_id = "15202-9999999-2"
    assert enrol(data, officer).status == Enrolment.Status.NOT_FOUND


def test_unavailable_authority_queues_and_a_job_verifies_later(
    registered: Any, officer: Any, settings: Any
) -> None:
    settings.RAHDARI_NID_MODE = "unavailable"
    enrolment = enrol(registered(), officer)
    assert enrolment.status == Enrolment.Status.QUEUED
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    job_id = services.enrolments_retry_if_queued()
    assert job_id is not None and services.enrolments_retry_if_queued() is None  # no second job
    job = job_run(job_id=job_id)  # still down: stays queued, nothing lost
    assert Enrolment.objects.get().status == Enrolment.Status.QUEUED
    settings.RAHDARI_NID_MODE = "available"
    Job.objects.filter(pk=job.pk).update(status="queued")
    job = job_run(job_id=job_id)
    assert job.result["matched"] == 1
    assert Enrolment.objects.get().status == Enrolment.Status.APPROVED


def test_transliterated_duplicate_goes_to_review_and_merge(
    registered: Any, officer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = registered(
        full_name="Muhammad Yousaf Khan",
        sex="M",
        guardian_name="Gul Muhammad",
        mobile="+923451111111",
    )
    enrol(first, officer)
    again = registered(
        full_name="Mohammad Yusuf Khan",
        sex="M",
        guardian_name="Gul Mohammad",
        date_of_birth=date(1986, 14 - 11, 14),
        mobile="+923451111111",
    )
    enrolment = enrol(again, officer)
    assert enrolment.status == Enrolment.Status.DUPLICATE_REVIEW
    candidate = DuplicateCandidate.objects.get()
    assert candidate.score >= 0.8 and "name" in candidate.components
    with pytest.raises(ApplicationError):
        services.duplicate_decide(candidate=candidate, same_person=True, reason=" ", actor=officer)
    services.duplicate_decide(
        candidate=candidate, same_person=True, reason="same face", actor=officer
    )
    new = Person.objects.get(pk=candidate.new_person_id)
    assert new.status == "merged" and new.merged_into_id == candidate.existing_person_id
    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.REJECTED
    with pytest.raises(Conflict):
        services.duplicate_decide(candidate=candidate, same_person=False, reason="x", actor=officer)


def test_not_a_duplicate_continues_to_a_number(registered: Any, officer: Any) -> None:
    enrol(
        registered(
            full_name="Muhammad Ali", sex="M", guardian_name="Akbar Khan", mobile="+923450000001"
        ),
        officer,
    )
    enrolment = enrol(
        registered(
            full_name="Muhammad Ali", sex="M", guardian_name="Akbar Khan", mobile="+923450000001"
        ),
        officer,
    )
    assert enrolment.status == Enrolment.Status.DUPLICATE_REVIEW
    candidate = DuplicateCandidate.objects.get()
    services.duplicate_decide(candidate=candidate, same_person=False, reason="twins", actor=officer)
    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.APPROVED
    assert Person.objects.filter(status="active").count() == 2


def test_officer_of_another_district_cannot_decide(
    registered: Any, officer: Any, make_staff: Any
) -> None:
    enrol(registered(full_name="Muhammad Ali", sex="M", mobile="+923450000002"), officer)
    enrol(registered(full_name="Muhammad Ali", sex="M", mobile="+923450000002"), officer)
    outsider = make_staff(Role.ENROLMENT_OFFICER, ["Mardan"])
    with pytest.raises(Forbidden):
        services.duplicate_decide(
            candidate=DuplicateCandidate.objects.get(),
            same_person=False,
            reason="x",
            actor=outsider,
        )


def test_lifecycle_follows_the_table_and_publishes_events(
    registered: Any, officer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    person = Person.objects.get(pk=enrol(registered(), officer).person_id)
    got: list[str] = []

    def handler(event: PersonEvent) -> None:
        got.append(event.kind)

    for kind in ("person.suspended", "person.reinstated", "person.deceased"):
        events.subscribe(kind, handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.person_change_status(
                person=person, status="suspended", reason="investigation", actor=officer
            )
            services.person_change_status(
                person=person, status="active", reason="cleared", actor=officer
            )
            services.person_change_status(
                person=person, status="deceased", reason="death certificate", actor=officer
            )
    finally:
        for kind in ("person.suspended", "person.reinstated", "person.deceased"):
            events.unsubscribe(kind, handler)
    assert got == ["person.suspended", "person.reinstated", "person.deceased"]
    person.refresh_from_db()
    with pytest.raises(Conflict):
        services.person_change_status(person=person, status="suspended", reason="x", actor=officer)
    with pytest.raises(ApplicationError):
        services.person_change_status(person=person, status="active", reason="", actor=officer)


def test_update_keeps_history_and_reverifies(registered: Any, officer: Any) -> None:
    data = registered()
    person = Person.objects.get(pk=enrol(data, officer).person_id)
    changed = services.person_data_of(person)
    changed.village = "Saidu Sharif"
    changed.mobile = "+923339998877"
    services.person_update(person=person, data=changed, reason="moved", actor=officer)
    person.refresh_from_db()
    assert person.village == "Saidu Sharif"
    version = person.versions.get()
    assert set(version.changed_fields) == {"village", "mobile"} and "Mingora" in version.data
    wrong = services.person_data_of(person)
    wrong.date_of_birth = date(1990, 1, 1)
    with pytest.raises(ApplicationError) as caught:
        services.person_update(person=person, data=wrong, reason="typo", actor=officer)
    assert caught.value.code == "verification_mismatch" and "date_of_birth" in caught.value.fields
    assert person.versions.count() == 1


def test_search_is_scoped_to_the_officers_districts(
    registered: Any, officer: Any, make_staff: Any
) -> None:
    from rahdari.identity.selectors import person_search

    data = registered(full_name="Zarghuna Bibi", full_name_ur="زرغونہ بی بی")
    person = Person.objects.get(pk=enrol(data, officer).person_id)
    for query in (person.rahdari_number, data.national_id, data.mobile, "Zarghona Bibi", "زرغونہ"):
        hits = person_search(user=officer, query=query)
        assert [h.person.pk for h in hits] == [person.pk], query
    outsider = make_staff(Role.ENROLMENT_OFFICER, ["Mardan"])
    assert person_search(user=outsider, query=person.rahdari_number) == []


def test_reading_a_record_is_logged_for_the_person(registered: Any, officer: Any) -> None:
    from rahdari.identity.selectors import reads_of

    person = Person.objects.get(pk=enrol(registered(), officer).person_id)
    with pytest.raises(ApplicationError):
        services.person_view(person=person, actor=officer, purpose="")
    services.person_view(person=person, actor=officer, purpose="checking a complaint")
    assert [r.changes["purpose"] for r in reads_of(person)] == ["checking a complaint"]


def test_correction_request_and_decision(registered: Any, officer: Any, make_citizen: Any) -> None:
    person = Person.objects.get(pk=enrol(registered(), officer).person_id)
    citizen = make_citizen()
    with pytest.raises(ApplicationError):
        services.correction_request(
            person=person, requested={}, explanation="", evidence=None, actor=citizen
        )
    request = services.correction_request(
        person=person,
        requested={"village": "Kabal"},
        explanation="we moved",
        evidence=_jpeg((300, 300)),
        actor=citizen,
    )
    services.correction_decide(
        request=request, apply=True, note="checked the utility bill", actor=officer
    )
    person.refresh_from_db()
    assert person.village == "Kabal"
    request.refresh_from_db()
    assert request.status == "applied"
