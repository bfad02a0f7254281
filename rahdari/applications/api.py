"""Applications API: what one may apply for, start (prefilled), save, send with papers,
answer, appeal, withdraw; officers' work queue, review, decisions and bulk actions.

Papers are uploaded through the documents API (``POST /api/v1/documents/``) and linked
when the application is sent; an application never asks for a paper twice. Refusals
carry a stable code: ``program_closed``, ``no_household``, ``person_not_active``,
``already_open`` (409), ``documents_missing``, ``nothing_requested``,
``reason_required`` (422), ``invalid_transition`` (409), ``four_eyes`` (403),
``appealed_once``, ``appeal_too_late``, ``not_eligible``, ``no_approved_run`` (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.applications import rules, selectors, services
from rahdari.applications.models import Application, ApplicationKind, ApplicationStatus
from rahdari.core.api import client_errors
from rahdari.core.errors import Forbidden, NotFound
from rahdari.core.http import is_verified
from rahdari.core.tracking import format_tracking_number
from rahdari.documents import selectors as documents
from rahdari.documents.models import DocumentKind
from rahdari.programs.models import Program

router = Router(tags=["applications"], auth=django_auth)


def _language() -> str:
    return (get_language() or "ur")[:2]


# --------------------------------------------------------------------------- schemas


class ProgramOpenOut(Schema):
    code: str
    name: str
    description: str
    papers: list[str] = Field(description="Document kinds the application needs")


class FactOut(Schema):
    label: str
    value: str


class MemberOut(Schema):
    name: str
    relationship: str
    born: int
    disability: bool


class PrefillOut(Schema):
    person: list[FactOut] = Field(description="From the ID record (masked where sensitive)")
    household_number: str
    members: list[MemberOut]


class PaperOut(Schema):
    kind: str
    label: str
    have_version_id: UUID | None = Field(description="Her newest version (reused)")
    sent_version_id: UUID | None = Field(description="The version the application was sent with")


class EventOut(Schema):
    at: datetime
    from_status: str
    to_status: str
    to_label: str
    by_officer: bool
    reason: str


class RulesCheckOut(Schema):
    eligible: bool
    score: float
    cutoff: float
    benefit: int
    version: int


class ApplicationOut(Schema):
    id: UUID
    number: str = Field(description="Ten digits with a Verhoeff check digit")
    number_spoken: str = Field(description="In groups of four, for reading out")
    kind: str
    program: str | None
    what: str
    status: str
    status_label: str
    assisted: bool
    district: str
    due_at: datetime | None = Field(description="When the current step is overdue")
    submitted_at: datetime | None
    decided_at: datetime | None
    statement: str
    correction: dict[str, str]
    papers: list[PaperOut]
    prefill: PrefillOut
    events: list[EventOut]
    rules_check: RulesCheckOut | None = Field(description="Officers only")
    created_at: datetime


class QueueRowOut(Schema):
    id: UUID
    number: str
    kind: str
    program: str | None
    district: str
    status: str
    applicant: str
    assisted: bool
    rules_eligible: bool | None
    submitted_at: datetime | None
    due_at: datetime | None
    overdue: bool
    reviewer: str | None


class QueuePageOut(Schema):
    count: int
    page: int
    pages: int
    results: list[QueueRowOut]


class StartIn(Schema):
    kind: str = Field(description="program or correction")
    program: str | None = Field(default=None, description="The program's code")
    person_id: UUID | None = Field(default=None, description="Officers applying on her behalf")


class SaveIn(Schema):
    statement: str = ""
    correction: dict[str, str] | None = Field(
        default=None, description=f"Corrections only: any of {', '.join(rules.CORRECTABLE)}"
    )


class ReasonIn(Schema):
    reason: str = ""


class GroundsIn(Schema):
    grounds: str


class DecisionIn(Schema):
    approve: bool
    reason: str = ""


class BulkIn(Schema):
    ids: list[UUID] = Field(max_length=200)
    action: str = Field(description="review or request_info")
    reason: str = ""


class BulkOut(Schema):
    done: list[str]
    refused: dict[str, str]


class QueueQuery(Schema):
    status: str = "pending"
    kind: str = ""
    program: str = ""
    district: int | None = None
    overdue: bool = False
    mine: bool = False
    assisted: bool = False
    number: str = ""
    sort: str = "due"
    page: int = 1


# --------------------------------------------------------------------------- helpers


def _out(application: Application, *, officer: bool) -> dict[str, Any]:
    language = _language()
    prefill = selectors.prefill(application, language)
    kinds = services.required_kinds(application)
    have = documents.latest_versions(person=application.person, kinds=kinds)
    sent = selectors.papers(application)
    check = services.rules_check_of(application) if officer else None
    return {
        "id": application.pk,
        "number": application.number,
        "number_spoken": format_tracking_number(application.number),
        "kind": application.kind,
        "program": application.program.code if application.program is not None else None,
        "what": services.what_of(application, language),
        "status": application.status,
        "status_label": str(application.get_status_display()),
        "assisted": application.assisted,
        "district": application.district.name,
        "due_at": application.due_at,
        "submitted_at": application.submitted_at,
        "decided_at": application.decided_at,
        "statement": application.statement,
        "correction": services.corrections_of(application),
        "papers": [
            {
                "kind": kind,
                "label": str(DocumentKind(kind).label),
                "have_version_id": have[kind].pk if kind in have else None,
                "sent_version_id": sent[kind].pk if kind in sent else None,
            }
            for kind in kinds
        ],
        "prefill": {
            "person": [{"label": str(f.label), "value": f.value} for f in prefill.person],
            "household_number": prefill.household_number,
            "members": [m.__dict__ for m in prefill.members],
        },
        "events": [
            {
                "at": e.at,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "to_label": _label(e.to_status),
                "by_officer": e.by_officer,
                "reason": e.reason,
            }
            for e in selectors.timeline(application)
        ],
        "rules_check": check.__dict__ if check else None,
        "created_at": application.created_at,
    }


def _label(status: str) -> str:
    return str(ApplicationStatus(status).label)


def _mine(request: HttpRequest, application_id: UUID) -> tuple[User, Application]:
    user = request_user(request)
    if not user.is_citizen and user.requires_totp and not is_verified(user):
        raise Forbidden(_("Confirm your login with your authenticator app first."))
    return user, selectors.application_of_applicant(user=user, application_id=application_id)


def _reviewer(request: HttpRequest) -> User:
    user = request_user(request)
    if not selectors.may_review_any(user):
        raise Forbidden(_("You do not review applications."))
    if user.requires_totp and not is_verified(user):
        raise Forbidden(_("Confirm your login with your authenticator app first."))
    return user


def _for_review(user: User, application_id: UUID) -> Application:
    return selectors.application_for_review(user=user, application_id=application_id)


# --------------------------------------------------------------------------- applicant


@router.get(
    "/programs",
    response={200: list[ProgramOpenOut], **client_errors(401)},
    summary="Programs one may apply to now, with the papers each needs",
)
def programs_open(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"code": p.program.code, "name": p.name, "description": p.description, "papers": p.papers}
        for p in selectors.program_catalogue(_language()).open
    ]


@router.get(
    "/mine",
    response={200: list[ApplicationOut], **client_errors(401, 403)},
    summary="The logged-in citizen's applications, newest first",
)
def applications_mine(request: HttpRequest) -> list[dict[str, Any]]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden(_("Citizens only: officers use the queue."))
    person = selectors.person_of_citizen(user)
    if person is None:
        return []
    found = selectors.applications_in_full(person)[:100]
    return [_out(a, officer=False) for a in found]


@router.post(
    "/",
    response={201: ApplicationOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Start an application (a draft, prefilled from the ID and the registry)",
)
def application_start(request: HttpRequest, payload: StartIn) -> Status[dict[str, Any]]:
    user = request_user(request)
    if user.is_citizen:
        if payload.person_id:
            raise Forbidden(_("You may apply only for yourself."))
        person = selectors.person_of_citizen(user)
        if person is None:
            raise NotFound(_("You are not enrolled yet."), code="no_person")
    else:
        if not selectors.may_apply_on_behalf(user):
            raise Forbidden(_("You may not apply on someone's behalf."))
        if payload.person_id is None:
            raise services.Invalid(
                _("Say for whom."), code="person_required", fields={"person_id": [_("Required.")]}
            )
        person = documents.person_get(user=user, person_id=payload.person_id)
    program = None
    if payload.kind == ApplicationKind.PROGRAM:
        program = Program.objects.filter(code=payload.program or "").first()
        if program is None:
            raise NotFound(_("No such program."), code="no_program")
    application = services.application_start(
        person=person, kind=payload.kind, program=program, actor=user
    )
    fresh = selectors.application_of_applicant(user=user, application_id=application.pk)
    return Status(201, _out(fresh, officer=False))


@router.get(
    "/{application_id}",
    response={200: ApplicationOut, **client_errors(401, 403, 404)},
    summary="One application with its papers, what is known already and its timeline",
)
def application_get(request: HttpRequest, application_id: UUID) -> dict[str, Any]:
    user = request_user(request)
    if user.is_citizen:
        _user, application = _mine(request, application_id)
        return _out(application, officer=False)
    if selectors.may_review_any(user):
        try:
            application = _for_review(_reviewer(request), application_id)
        except NotFound:
            _user, application = _mine(request, application_id)
    else:
        _user, application = _mine(request, application_id)
    selectors.application_read(application=application, actor=user)
    return _out(application, officer=selectors.may_review_any(user))


@router.patch(
    "/{application_id}",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Save her words (and, for a correction, what should be corrected)",
)
def application_save(request: HttpRequest, application_id: UUID, payload: SaveIn) -> dict[str, Any]:
    user, application = _mine(request, application_id)
    services.application_save(
        application=application,
        actor=user,
        statement=payload.statement,
        correction=payload.correction,
    )
    return _out(_mine(request, application_id)[1], officer=False)


def _applicant_step(
    request: HttpRequest, application_id: UUID, step: Any, **kwargs: Any
) -> dict[str, Any]:
    user, application = _mine(request, application_id)
    step(application=application, actor=user, **kwargs)
    return _out(_mine(request, application_id)[1], officer=False)


@router.post(
    "/{application_id}/submit",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Send it: her newest papers are linked; refused if one is missing",
)
def application_submit(request: HttpRequest, application_id: UUID) -> dict[str, Any]:
    return _applicant_step(request, application_id, services.application_submit)


@router.post(
    "/{application_id}/respond",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Answer the officer's request (new papers are linked again)",
)
def application_respond(
    request: HttpRequest, application_id: UUID, payload: SaveIn
) -> dict[str, Any]:
    return _applicant_step(
        request, application_id, services.application_respond, statement=payload.statement
    )


@router.post(
    "/{application_id}/appeal",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409, 422)},
    summary=f"Appeal a rejection (once, within {rules.APPEAL_DAYS} days)",
)
def application_appeal(
    request: HttpRequest, application_id: UUID, payload: GroundsIn
) -> dict[str, Any]:
    return _applicant_step(
        request, application_id, services.application_appeal, grounds=payload.grounds
    )


@router.post(
    "/{application_id}/withdraw",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409)},
    summary="Withdraw before a decision",
)
def application_withdraw(request: HttpRequest, application_id: UUID) -> dict[str, Any]:
    return _applicant_step(request, application_id, services.application_withdraw)


# --------------------------------------------------------------------------- officers


@router.get(
    "/queue/",
    response={200: QueuePageOut, **client_errors(401, 403, 422)},
    summary="The officer's work queue (her kinds and districts), filtered and sorted",
    description="status: pending (waiting for an officer, the default), a status or all; "
    "sort: due, oldest, newest, number. 50 per page.",
)
def queue(request: HttpRequest, query: Query[QueueQuery]) -> dict[str, Any]:
    user = _reviewer(request)
    if query.sort not in selectors.QUEUE_SORTS or query.status not in selectors.QUEUE_STATUSES:
        raise services.Invalid(
            _("Unknown status or sort."), code="invalid", fields={"sort": [_("Unknown.")]}
        )
    filters = selectors.QueueFilter(
        status=query.status,
        kind=query.kind,
        program=query.program,
        district=query.district,
        overdue=query.overdue,
        mine=query.mine,
        assisted=query.assisted,
        number=query.number,
        sort=query.sort,
    )
    found = selectors.queue(user=user, filters=filters)
    count = found.count()
    size = 50
    pages = max(1, -(-count // size))
    page = min(max(1, query.page), pages)
    now = timezone.now()
    rows = selectors.queue_page(found, (page - 1) * size, page * size)
    return {
        "count": count,
        "page": page,
        "pages": pages,
        "results": [
            {
                "id": a.pk,
                "number": a.number,
                "kind": a.kind,
                "program": a.program.code if a.program is not None else None,
                "district": a.district.name,
                "status": a.status,
                "applicant": a.person.full_name,
                "assisted": a.assisted,
                "rules_eligible": a.rules_eligible,
                "submitted_at": a.submitted_at,
                "due_at": a.due_at,
                "overdue": a.due_at is not None and a.due_at < now,
                "reviewer": a.reviewer.get_username() if a.reviewer is not None else None,
            }
            for a in rows
        ],
    }


@router.post(
    "/queue/bulk",
    response={200: BulkOut, **client_errors(401, 403, 422)},
    summary="Take up many for review, or ask them all for the same information",
)
def bulk(request: HttpRequest, payload: BulkIn) -> dict[str, Any]:
    user = _reviewer(request)
    visible = selectors.queue(user=user, filters=selectors.QueueFilter(status="all"))
    applications = list(visible.filter(pk__in=payload.ids))
    result = services.applications_bulk(
        applications=applications, action=payload.action, actor=user, reason=payload.reason
    )
    unknown = {str(i) for i in payload.ids} - {str(a.pk) for a in applications}
    refused = dict(result.refused)
    for missing in sorted(unknown):
        refused[missing] = _("not in your queue")
    return {"done": result.done, "refused": refused}


def _officer_step(
    request: HttpRequest, application_id: UUID, step: Any, **kwargs: Any
) -> dict[str, Any]:
    user = _reviewer(request)
    application = _for_review(user, application_id)
    step(application=application, actor=user, **kwargs)
    return _out(_for_review(user, application_id), officer=True)


@router.post(
    "/{application_id}/review",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409)},
    summary="Take it up for review",
)
def application_review(request: HttpRequest, application_id: UUID) -> dict[str, Any]:
    return _officer_step(request, application_id, services.application_review_start)


@router.post(
    "/{application_id}/request-info",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Ask the applicant for more (the reason is sent to her by SMS)",
)
def application_request_info(
    request: HttpRequest, application_id: UUID, payload: ReasonIn
) -> dict[str, Any]:
    return _officer_step(
        request, application_id, services.application_request_info, reason=payload.reason
    )


@router.post(
    "/{application_id}/decision",
    response={200: ApplicationOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Approve or reject (an appeal: by another officer than the one who rejected)",
)
def application_decision(
    request: HttpRequest, application_id: UUID, payload: DecisionIn
) -> dict[str, Any]:
    return _officer_step(
        request,
        application_id,
        services.application_decide,
        approve=payload.approve,
        reason=payload.reason,
    )
