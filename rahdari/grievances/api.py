"""Grievances API: what the SMS and USSD gateways (and any client) use to lodge a
complaint with only a phone number and to follow it by number and phone — both in the
request body, never in the address — and the desk's own endpoints (queue, one
complaint, take, note, move, escalate, answer, dashboard).

Refusals carry a stable code: ``text_required``, ``text_too_short``, ``text_too_long``,
``invalid_phone``, ``invalid_category``, ``invalid_channel``, ``unknown_district``,
``invalid_number`` (422); ``no_complaint`` (404, also for a number with the wrong
phone); ``rate_limited`` (429); ``invalid_transition``, ``not_reopenable``,
``already_rated`` (409); ``not_your_desk`` (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core import tracking
from rahdari.core.api import client_errors
from rahdari.core.errors import ApplicationError, Forbidden, NotFound
from rahdari.core.models import District
from rahdari.core.ratelimit import client_address, rate_limit
from rahdari.core.validators import mask_phone
from rahdari.grievances import rules, selectors, services
from rahdari.grievances.models import Channel, Complaint, ComplaintEvent

router = Router(tags=["grievances"])

PUBLIC_CHANNELS = (Channel.WEB_PHONE, Channel.SMS, Channel.USSD)


# --------------------------------------------------------------------------- schemas


class ComplaintCreateIn(Schema):
    category: str = Field(description=", ".join(rules.CATEGORIES))
    text: str = Field(max_length=rules.MAX_TEXT + 100)
    phone: str = Field(description="The complainant's Pakistani mobile number")
    district: str = Field("", description="District name (e.g. Swat); empty if not known")
    language: str = Field("ur", description="ur, ps or en: the language of her SMS")
    channel: str = Field("sms", description="web_phone, sms or ussd")
    name: str = Field("", max_length=120)


class ComplaintReceiptOut(Schema):
    number: str = Field(description="The tracking number: 10 digits with a check digit")
    number_formatted: str = Field(description="For reading out: 7482 1093 75")
    status: str
    desk: str
    due_at: datetime


class StatusIn(Schema):
    number: str
    phone: str


class RateIn(StatusIn):
    rating: int = Field(ge=rules.RATING_MIN, le=rules.RATING_MAX)


class ReopenIn(StatusIn):
    reason: str


class EventOut(Schema):
    kind: str
    label: str
    at: datetime


class ComplaintStatusOut(Schema):
    number: str
    number_formatted: str
    category: str
    category_label: str
    status: str
    status_label: str
    desk: str
    level: int
    due_at: datetime
    overdue: bool
    outcome: str
    outcome_label: str
    resolution: str
    rating: int | None
    may_reopen: bool
    events: list[EventOut]


class ComplaintRowOut(Schema):
    id: UUID
    number: str
    category: str
    channel: str
    status: str
    level: int
    desk: str
    district: str | None
    assigned_to: str | None
    due_at: datetime
    overdue: bool
    created_at: datetime


class StaffEventOut(Schema):
    kind: str
    at: datetime
    actor: str | None
    from_desk: str | None
    to_desk: str | None
    note: str


class ComplaintDetailOut(ComplaintRowOut):
    text: str
    complainant_name: str | None = Field(description="None for a protected whistle-blower")
    phone_masked: str | None = Field(description="None for a protected whistle-blower")
    person_id: UUID | None
    identity_protected: bool
    has_voice_note: bool
    outcome: str
    resolution: str
    rating: int | None
    appeal_id: UUID | None
    payment_key: str | None
    cash_out_id: UUID | None
    events: list[StaffEventOut]


class NoteIn(Schema):
    note: str


class ResolveIn(Schema):
    outcome: str = Field(description=", ".join(rules.OUTCOMES))
    resolution: str


class EscalateIn(Schema):
    reason: str


class ReassignIn(Schema):
    desk_id: UUID
    reason: str


class QueueFilter(Schema):
    status: str = Field("", description="A status; empty: the open ones")
    overdue: bool = Field(False, description="Only those past their deadline")
    limit: int = Field(50, ge=1, le=200)


class DeskOut(Schema):
    id: UUID
    level: int
    area: str
    name: str


class BarOut(Schema):
    key: str
    label: str
    value: int


class DashboardOut(Schema):
    open_total: int
    overdue: int
    answered: int
    average_rating: float | None
    by_age: list[BarOut]
    by_category: list[BarOut]
    by_district: list[BarOut]
    overdue_by_level: list[BarOut]


# --------------------------------------------------------------------------- helpers


def _status_out(complaint: Complaint) -> dict[str, Any]:
    now = timezone.now()
    return {
        "number": complaint.number,
        "number_formatted": tracking.format_tracking_number(complaint.number),
        "category": complaint.category,
        "category_label": str(complaint.get_category_display()),
        "status": complaint.status,
        "status_label": str(complaint.get_status_display()),
        "desk": complaint.desk.name,
        "level": complaint.level,
        "due_at": complaint.due_at,
        "overdue": rules.is_overdue(complaint.status, complaint.due_at, now),
        "outcome": complaint.outcome,
        "outcome_label": str(complaint.get_outcome_display()) if complaint.outcome else "",
        "resolution": str(complaint.resolution or ""),
        "rating": complaint.rating,
        "may_reopen": rules.may_reopen(complaint.status, complaint.resolved_at, now),
        "events": [
            {"kind": e.kind, "label": str(e.get_kind_display()), "at": e.created_at}
            for e in _public_events(complaint)
        ],
    }


def _public_events(complaint: Complaint) -> Any:
    """The prefetched steps of a list (``public_events``), else one query."""
    if hasattr(complaint, "public_events"):
        return complaint.public_events
    return selectors.events_public(complaint)


def _row_out(complaint: Complaint, now: datetime) -> dict[str, Any]:
    return {
        "id": complaint.pk,
        "number": complaint.number,
        "category": complaint.category,
        "channel": complaint.channel,
        "status": complaint.status,
        "level": complaint.level,
        "desk": complaint.desk.name,
        "district": complaint.district.name if complaint.district else None,
        "assigned_to": complaint.assigned_to.username if complaint.assigned_to else None,
        "due_at": complaint.due_at,
        "overdue": rules.is_overdue(complaint.status, complaint.due_at, now),
        "created_at": complaint.created_at,
    }


def _event_out(event: ComplaintEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": event.created_at,
        "actor": event.actor.username if event.actor else None,
        "from_desk": event.from_desk.name if event.from_desk else None,
        "to_desk": event.to_desk.name if event.to_desk else None,
        "note": str(event.note or ""),
    }


def _detail_out(complaint: Complaint) -> dict[str, Any]:
    hidden = complaint.identity_protected
    return {
        **_row_out(complaint, timezone.now()),
        "text": str(complaint.text or ""),
        "complainant_name": None if hidden else str(complaint.complainant_name or ""),
        "phone_masked": None if hidden else mask_phone(str(complaint.phone)),
        "person_id": None if hidden else complaint.person_id,
        "identity_protected": hidden,
        "has_voice_note": bool(complaint.voice_name),
        "outcome": complaint.outcome,
        "resolution": str(complaint.resolution or ""),
        "rating": complaint.rating,
        "appeal_id": complaint.appeal_id,
        "payment_key": complaint.payment.key if complaint.payment else None,
        "cash_out_id": complaint.cash_out_id,
        "events": [_event_out(e) for e in selectors.events_all(complaint)],
    }


def _refuse(code: str, message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]}, status=422)


def _officer(request: HttpRequest) -> User:
    user = request_user(request)
    if not selectors.may_handle(user):
        raise Forbidden(_("You may not do this."))
    return user


def _lookup(request: HttpRequest, body: StatusIn) -> Complaint:
    rate_limit(
        "grievance-status",
        client_address(request),
        limit=settings.RAHDARI_GRIEVANCE_STATUS_LIMIT,
        window_seconds=60,
    )
    return selectors.status_lookup(number=body.number, phone=body.phone)


def _staff_complaint(request: HttpRequest, complaint_id: UUID) -> tuple[User, Complaint]:
    user = _officer(request)
    return user, selectors.complaint_for_staff(user=user, complaint_id=complaint_id)


# --------------------------------------------------------------------------- complainants


@router.post(
    "/complaints",
    auth=None,
    response={201: ComplaintReceiptOut, **client_errors(404, 413, 422, 429)},
    summary="Lodge a complaint with a phone number (SMS and USSD gateways, any client)",
    description=(
        "The complainant gets an SMS with the tracking number in her language. One phone "
        "may lodge `RAHDARI_GRIEVANCE_LODGE_LIMIT` complaints an hour. Appeals against an "
        "exclusion need her Rahdari record: on the web after logging in, or at an office."
    ),
)
def complaint_create(request: HttpRequest, body: ComplaintCreateIn) -> Status[dict[str, Any]]:
    if body.channel not in PUBLIC_CHANNELS:
        raise _refuse("invalid_channel", _("Use web_phone, sms or ussd."), "channel")
    district = None
    if body.district.strip():
        district = District.objects.filter(name__iexact=body.district.strip()).first()
        if district is None:
            raise _refuse("unknown_district", _("There is no district with this name."), "district")
    if body.category in rules.PERSON_CATEGORIES:
        raise _refuse(
            "person_required",
            _("An appeal needs the household's record: log in on the web or go to an office."),
            "category",
        )
    complaint = services.complaint_lodge(
        category=body.category,
        text=body.text,
        phone=body.phone,
        language=body.language,
        channel=body.channel,
        actor=None,
        district=district,
        complainant_name=body.name,
    )
    return Status(
        201,
        {
            "number": complaint.number,
            "number_formatted": tracking.format_tracking_number(complaint.number),
            "status": complaint.status,
            "desk": complaint.desk.name,
            "due_at": complaint.due_at,
        },
    )


@router.post(
    "/status",
    auth=None,
    response={200: ComplaintStatusOut, **client_errors(404, 422, 429)},
    summary="A complaint's status by its number and the complainant's phone",
    description="An unknown number and a number with another phone both answer 404.",
)
def complaint_status(request: HttpRequest, body: StatusIn) -> dict[str, Any]:
    return _status_out(_lookup(request, body))


@router.post(
    "/status/rate",
    auth=None,
    response={200: ComplaintStatusOut, **client_errors(404, 409, 422, 429)},
    summary="Rate the answer (1 to 5), by number and phone",
)
def complaint_rate(request: HttpRequest, body: RateIn) -> dict[str, Any]:
    complaint = services.complaint_rate(
        complaint=_lookup(request, body), rating=body.rating, actor=None
    )
    return _status_out(complaint)


@router.post(
    "/status/reopen",
    auth=None,
    response={200: ComplaintStatusOut, **client_errors(404, 409, 422, 429)},
    summary="Reopen an answered complaint within 30 days, by number and phone",
)
def complaint_reopen(request: HttpRequest, body: ReopenIn) -> dict[str, Any]:
    complaint = services.complaint_reopen(
        complaint=_lookup(request, body), reason=body.reason, actor=None
    )
    return _status_out(complaint)


@router.get(
    "/mine",
    auth=django_auth,
    response={200: list[ComplaintStatusOut], **client_errors(401, 403)},
    summary="My complaints (citizens logged in)",
)
def complaints_mine(request: HttpRequest) -> list[dict[str, Any]]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden(_("Only citizens have their own complaints here."))
    return [_status_out(c) for c in selectors.complaints_of_citizen_in_full(user)]


# --------------------------------------------------------------------------- the desk


@router.get(
    "/complaints",
    auth=django_auth,
    response={200: list[ComplaintRowOut], **client_errors(401, 403, 422)},
    summary="The queue of my desks: open complaints, earliest deadline first",
)
def complaints_queue(request: HttpRequest, filters: Query[QueueFilter]) -> list[dict[str, Any]]:
    user = _officer(request)
    now = timezone.now()
    rows = selectors.queue(user, status=filters.status, overdue=filters.overdue, now=now)
    return [_row_out(c, now) for c in rows[: filters.limit]]


@router.get(
    "/complaints/{complaint_id}",
    auth=django_auth,
    response={200: ComplaintDetailOut, **client_errors(401, 403, 404)},
    summary="One complaint with its history (the read is recorded)",
)
def complaint_get(request: HttpRequest, complaint_id: UUID) -> dict[str, Any]:
    user, complaint = _staff_complaint(request, complaint_id)
    fields = ["text", "history"] + ([] if complaint.identity_protected else ["phone", "name"])
    services.complaint_read(complaint=complaint, actor=user, fields=fields)
    return _detail_out(complaint)


def _after(request: HttpRequest, user: User, complaint: Complaint) -> dict[str, Any]:
    complaint = Complaint.objects.select_related("desk", "district", "assigned_to", "payment").get(
        pk=complaint.pk
    )
    return _detail_out(complaint)


@router.post(
    "/complaints/{complaint_id}/take",
    auth=django_auth,
    response={200: ComplaintDetailOut, **client_errors(401, 403, 404, 409)},
    summary="Take the complaint (an officer of its desk)",
)
def complaint_take(request: HttpRequest, complaint_id: UUID) -> dict[str, Any]:
    user, complaint = _staff_complaint(request, complaint_id)
    return _after(request, user, services.complaint_take(complaint=complaint, actor=user))


@router.post(
    "/complaints/{complaint_id}/notes",
    auth=django_auth,
    response={201: StaffEventOut, **client_errors(401, 403, 404, 422)},
    summary="Add an internal note (never shown to the complainant)",
)
def complaint_note(
    request: HttpRequest, complaint_id: UUID, body: NoteIn
) -> Status[dict[str, Any]]:
    user, complaint = _staff_complaint(request, complaint_id)
    event = services.complaint_note_add(complaint=complaint, actor=user, note=body.note)
    return Status(201, _event_out(event))


@router.post(
    "/complaints/{complaint_id}/resolve",
    auth=django_auth,
    response={200: ComplaintDetailOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Answer the complaint with an outcome code (the complainant gets an SMS)",
)
def complaint_resolve(request: HttpRequest, complaint_id: UUID, body: ResolveIn) -> dict[str, Any]:
    user, complaint = _staff_complaint(request, complaint_id)
    resolved = services.complaint_resolve(
        complaint=complaint, actor=user, outcome=body.outcome, resolution=body.resolution
    )
    return _after(request, user, resolved)


@router.post(
    "/complaints/{complaint_id}/escalate",
    auth=django_auth,
    response={200: ComplaintDetailOut, **client_errors(401, 403, 404, 409)},
    summary="Send the complaint one level up before its deadline",
)
def complaint_escalate(
    request: HttpRequest, complaint_id: UUID, body: EscalateIn
) -> dict[str, Any]:
    user, complaint = _staff_complaint(request, complaint_id)
    moved = services.complaint_escalate(complaint=complaint, actor=user, reason=body.reason)
    return _after(request, user, moved)


@router.post(
    "/complaints/{complaint_id}/reassign",
    auth=django_auth,
    response={200: ComplaintDetailOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Move the complaint to another desk (its deadline does not restart)",
)
def complaint_reassign(
    request: HttpRequest, complaint_id: UUID, body: ReassignIn
) -> dict[str, Any]:
    user, complaint = _staff_complaint(request, complaint_id)
    try:
        desk = selectors.desk_get(body.desk_id)
    except NotFound as error:
        error.fields = {"desk_id": [str(error.message)]}
        raise
    moved = services.complaint_reassign(
        complaint=complaint, actor=user, desk=desk, reason=body.reason
    )
    return _after(request, user, moved)


@router.get(
    "/desks",
    auth=django_auth,
    response={200: list[DeskOut], **client_errors(401, 403)},
    summary="Every grievance desk (to move a complaint to)",
)
def desks(request: HttpRequest) -> list[dict[str, Any]]:
    _officer(request)
    return [
        {"id": d.pk, "level": d.level, "area": d.area, "name": d.name}
        for d in selectors.desks_all()
    ]


@router.get(
    "/dashboard",
    auth=django_auth,
    response={200: DashboardOut, **client_errors(401, 403)},
    summary="Open complaints by age, category and district; deadline breaches",
)
def dashboard(request: HttpRequest) -> dict[str, Any]:
    board = selectors.dashboard(_officer(request))

    def bars(rows: list[Any]) -> list[dict[str, Any]]:
        return [{"key": b.key, "label": b.label, "value": b.value} for b in rows]

    return {
        "open_total": board.open_total,
        "overdue": board.overdue,
        "answered": board.answered,
        "average_rating": board.average_rating,
        "by_age": bars(board.by_age),
        "by_category": bars(board.by_category),
        "by_district": bars(board.by_district),
        "overdue_by_level": bars(board.overdue_by_level),
    }
