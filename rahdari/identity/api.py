"""Identity API: enrol, read (logged, with a purpose), search, update, lifecycle, duplicates,
and the citizen's own record."""

import base64
import binascii
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import ErrorOut
from rahdari.core.errors import ApplicationError, Forbidden, NotFound
from rahdari.core.http import is_verified
from rahdari.core.models import District
from rahdari.identity import selectors, services
from rahdari.identity.forms import consent_texts
from rahdari.identity.models import DuplicateCandidate, Enrolment, Person

router = Router(tags=["identity"], auth=django_auth)
ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    503: ErrorOut,
}


class PersonIn(Schema):
    id_document: str
    national_id: str
    full_name: str
    full_name_ur: str = ""
    guardian_name: str = ""
    guardian_name_ur: str = ""
    date_of_birth: date
    sex: str
    mobile: str = ""
    district: str
    tehsil: str = ""
    union_council: str = ""
    village: str = ""
    photo_base64: str | None = None


class EnrolIn(PersonIn):
    consent_language: str
    consent_given: bool


class PersonOut(Schema):
    id: UUID
    rahdari_number: str | None
    status: str
    id_document: str
    national_id: str
    full_name: str
    full_name_ur: str
    guardian_name: str
    guardian_name_ur: str
    date_of_birth: str
    sex: str
    mobile: str
    district: str
    tehsil: str
    union_council: str
    village: str
    has_photo: bool


class EnrolmentOut(Schema):
    id: UUID
    person_id: UUID
    status: str
    channel: str
    mismatched_fields: list[str]
    rahdari_number: str | None
    created_at: datetime


class SearchHitOut(Schema):
    id: UUID
    rahdari_number: str | None
    district: str
    birth_year: int
    status: str
    score: float


class StatusIn(Schema):
    status: str
    reason: str


class UpdateIn(PersonIn):
    reason: str


class DecisionIn(Schema):
    same_person: bool
    reason: str


class DuplicateOut(Schema):
    id: UUID
    new_person_id: UUID
    existing_person_id: UUID
    score: float
    components: dict[str, float]
    status: str


def _officer(request: HttpRequest) -> User:
    user = request_user(request)
    if user.is_citizen or not (
        user.has_perm("accounts.enrol_persons") or user.has_perm("accounts.view_citizen_account")
    ):
        raise Forbidden("You may not work with person records.")
    if user.requires_totp and not is_verified(user):
        raise Forbidden("Confirm your login with your authenticator app first.")
    return user


def _visible(user: User, person_id: UUID) -> Person:
    person = selectors.persons_visible_to(user).filter(pk=person_id).first()
    if person is None:
        raise NotFound("No such person in your districts.")
    return person


def _data(payload: PersonIn) -> services.PersonData:
    district = District.objects.filter(name=payload.district).first()
    if district is None:
        raise ApplicationError(
            "Unknown district.", code="unknown_district", fields={"district": ["unknown district"]}
        )
    photo = None
    if payload.photo_base64:
        try:
            photo = base64.b64decode(payload.photo_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApplicationError(
                "photo_base64 is not base64.",
                code="not_an_image",
                fields={"photo_base64": ["not base64"]},
            ) from exc
    return services.PersonData(
        national_id=payload.national_id,
        id_document=payload.id_document,
        full_name=payload.full_name,
        full_name_ur=payload.full_name_ur,
        guardian_name=payload.guardian_name,
        guardian_name_ur=payload.guardian_name_ur,
        date_of_birth=payload.date_of_birth,
        sex=payload.sex,
        mobile=payload.mobile,
        district=district,
        tehsil=payload.tehsil,
        union_council=payload.union_council,
        village=payload.village,
        photo=photo,
    )


def _person_out(person: Person) -> dict[str, Any]:
    return {
        "id": person.pk,
        "rahdari_number": person.rahdari_number,
        "status": person.status,
        "id_document": person.id_document,
        "national_id": person.national_id,
        "full_name": person.full_name,
        "full_name_ur": person.full_name_ur,
        "guardian_name": person.guardian_name,
        "guardian_name_ur": person.guardian_name_ur,
        "date_of_birth": person.date_of_birth,
        "sex": person.sex,
        "mobile": person.mobile,
        "district": person.district.name,
        "tehsil": person.tehsil,
        "union_council": person.union_council,
        "village": person.village,
        "has_photo": bool(person.photo),
    }


def _enrolment_out(enrolment: Enrolment) -> dict[str, Any]:
    return {
        "id": enrolment.pk,
        "person_id": enrolment.person_id,
        "status": enrolment.status,
        "channel": enrolment.channel,
        "mismatched_fields": enrolment.verification.get("mismatched_fields", []),
        "rahdari_number": enrolment.person.rahdari_number,
        "created_at": enrolment.created_at,
    }


@router.post(
    "/persons",
    response={201: EnrolmentOut, **ERRORS},
    summary="Enrol a person (assisted): verify with the authority, check duplicates, number",
)
def enrol(request: HttpRequest, payload: EnrolIn) -> Status[dict[str, Any]]:
    user = _officer(request)
    if not user.has_perm("accounts.enrol_persons"):
        raise Forbidden("You may not enrol persons.")
    data = _data(payload)
    if not user.has_perm("accounts.act_in_district", data.district):
        raise Forbidden("This district is not one of yours.")
    if not payload.consent_given or payload.consent_language not in ("en", "ur", "ps"):
        raise ApplicationError(
            "Consent in en, ur or ps is required.",
            code="consent_required",
            fields={"consent_given": ["must be true"]},
        )
    enrolment = services.person_enrol(
        data=data,
        channel=Enrolment.Channel.ASSISTED,
        consent_purpose=consent_texts()[payload.consent_language],
        consent_language=payload.consent_language,
        actor=user,
    )
    return Status(201, _enrolment_out(enrolment))


@router.get(
    "/enrolments/{enrolment_id}",
    response={200: EnrolmentOut, **ERRORS},
    summary="Where an enrolment stands",
)
def enrolment_get(request: HttpRequest, enrolment_id: UUID) -> dict[str, Any]:
    user = request_user(request)
    enrolment = Enrolment.objects.select_related("person__district").filter(pk=enrolment_id).first()
    if enrolment is None or not (
        enrolment.person.account_id == user.pk
        or (
            not user.is_citizen
            and user.has_perm("accounts.act_in_district", enrolment.person.district)
        )
    ):
        raise NotFound("No such enrolment.")
    return _enrolment_out(enrolment)


@router.get(
    "/persons",
    response={200: list[SearchHitOut], **ERRORS},
    summary="Search by Rahdari number, CNIC, mobile or name (your districts only)",
)
def search(request: HttpRequest, q: str, district: str = "") -> list[dict[str, Any]]:
    user = _officer(request)
    district_id = (
        District.objects.filter(name=district).values_list("pk", flat=True).first()
        if district
        else None
    )
    return [
        {
            "id": h.person.pk,
            "rahdari_number": h.person.rahdari_number,
            "district": h.person.district.name,
            "birth_year": h.person.birth_year,
            "status": h.person.status,
            "score": round(h.score, 3),
        }
        for h in selectors.person_search(user=user, query=q, district_id=district_id)
    ]


@router.get(
    "/persons/{person_id}",
    response={200: PersonOut, **ERRORS},
    summary="Read a person's record; `purpose` is required and shown to the person",
)
def person_get(request: HttpRequest, person_id: UUID, purpose: str) -> dict[str, Any]:
    user = _officer(request)
    person = _visible(user, person_id)
    return _person_out(services.person_view(person=person, actor=user, purpose=purpose))


@router.put(
    "/persons/{person_id}",
    response={200: PersonOut, **ERRORS},
    summary="Update demographics (re-verified with the authority; history kept)",
)
def person_put(request: HttpRequest, person_id: UUID, payload: UpdateIn) -> dict[str, Any]:
    user = _officer(request)
    person = _visible(user, person_id)
    return _person_out(
        services.person_update(
            person=person, data=_data(payload), reason=payload.reason, actor=user
        )
    )


@router.post(
    "/persons/{person_id}/status",
    response={200: PersonOut, **ERRORS},
    summary="Suspend, reinstate, mark deceased or revoke",
)
def person_status(request: HttpRequest, person_id: UUID, payload: StatusIn) -> dict[str, Any]:
    user = _officer(request)
    person = _visible(user, person_id)
    return _person_out(
        services.person_change_status(
            person=person, status=payload.status, reason=payload.reason, actor=user
        )
    )


@router.get(
    "/duplicates", response={200: list[DuplicateOut], **ERRORS}, summary="Open duplicate pairs"
)
def duplicates(request: HttpRequest) -> list[DuplicateCandidate]:
    return list(selectors.open_duplicates_for(_officer(request))[:200])


@router.post(
    "/duplicates/{candidate_id}/decision",
    response={200: DuplicateOut, **ERRORS},
    summary="Decide a duplicate pair: same person (merge) or different",
)
def duplicate_decision(
    request: HttpRequest, candidate_id: UUID, payload: DecisionIn
) -> DuplicateCandidate:
    user = _officer(request)
    candidate = get_object_or_404(DuplicateCandidate, pk=candidate_id)
    return services.duplicate_decide(
        candidate=candidate, same_person=payload.same_person, reason=payload.reason, actor=user
    )


class MyRecordOut(Schema):
    person: PersonOut
    enrolment_status: str | None
    reads: list[dict[str, Any]]


@router.get(
    "/me", response={200: MyRecordOut, **ERRORS}, summary="The citizen's own record and who read it"
)
def my_record(request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    person = selectors.person_of_account(user)
    if person is None:
        raise NotFound("You are not enrolled.")
    enrolment = selectors.latest_enrolment(person)
    return {
        "person": _person_out(person),
        "enrolment_status": enrolment.status if enrolment else None,
        "reads": [
            {"at": r.at.isoformat(), "by": r.actor_label, "purpose": r.changes.get("purpose", "")}
            for r in selectors.reads_of(person)[:100]
        ],
    }
