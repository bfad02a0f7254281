"""Programs API: programs and their versioned rules (four eyes), targeting runs with
progress, what-if and approval (four eyes), decisions with their explanation (a logged
read), appeals, and the public self-assessment (nothing stored)."""

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import client_errors
from rahdari.core.errors import ApplicationError, Forbidden
from rahdari.core.http import is_verified
from rahdari.core.models import District
from rahdari.core.ratelimit import client_address, rate_limit
from rahdari.programs import pmt, selectors, services
from rahdari.programs.definition import ProgramDefinition
from rahdari.programs.models import Appeal, Decision, ProgramVersion, TargetingRun

router = Router(tags=["programs"], auth=django_auth)
AnswerValue = bool | int | float | str
SELF_ASSESSMENT_RATE_PER_MINUTE = 30
"""Default; RAHDARI_SELF_ASSESSMENT_RATE_PER_MINUTE in the settings overrides it."""


# --------------------------------------------------------------------------- schemas


class TextOut(Schema):
    en: str
    ur: str
    ps: str


class RunBriefOut(Schema):
    id: UUID
    kind: str
    status: str
    as_of: datetime


class ProgramOut(Schema):
    code: str
    name: TextOut | None
    target_unit: str
    open: bool
    period: str | None
    version: int | None
    beneficiaries: int
    latest_run: RunBriefOut | None


class VersionOut(Schema):
    id: UUID
    program: str
    version: int
    status: str
    note: str
    proposed_by: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    created_at: datetime


class ProgramDetailOut(ProgramOut):
    definition: ProgramDefinition | None
    versions: list[VersionOut]


class VersionCreateIn(Schema):
    definition: dict[str, Any]
    note: str


class DecideIn(Schema):
    approve: bool
    note: str = ""


class RunStartIn(Schema):
    kind: Literal["targeting", "recertification"] = "targeting"


class ProgressOut(Schema):
    status: str
    done: int
    total: int
    percent: int
    message: str


class DistrictCountOut(Schema):
    evaluated: int
    eligible: int
    benefit: int


class ChangesOut(Schema):
    enter: int
    leave: int
    stay: int


class RunSummaryOut(Schema):
    evaluated: int
    eligible: int
    benefit_total: int
    by_district: dict[str, DistrictCountOut]
    by_reason: dict[str, int]
    changes: ChangesOut | None = None


class RunOut(Schema):
    id: UUID
    program: str
    version: int
    kind: str
    status: str
    as_of: datetime
    previous: UUID | None
    prepared_by: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    evaluated: int
    eligible: int
    benefit_total: int
    progress: ProgressOut
    summary: RunSummaryOut | None


class WhatIfDistrictOut(Schema):
    now: int
    whatif: int


class WhatIfOut(Schema):
    cutoff: float
    main_cutoff: float
    now: int
    whatif: int
    by_district: dict[str, WhatIfDistrictOut]


class DecisionFilter(Schema):
    district: str = ""
    eligible: bool | None = None


class DecisionOut(Schema):
    id: int
    run: UUID
    household: UUID
    household_number: str
    member: int | None
    district: str
    score: float
    cutoff: float
    passes_rules: bool
    eligible: bool
    reason: str
    benefit: int

    @staticmethod
    def resolve_run(obj: Decision) -> UUID:
        return obj.run_id

    @staticmethod
    def resolve_household(obj: Decision) -> UUID:
        return obj.household_id

    @staticmethod
    def resolve_household_number(obj: Decision) -> str:
        return obj.household.number

    @staticmethod
    def resolve_member(obj: Decision) -> int | None:
        return obj.member.member_no if obj.member is not None else None

    @staticmethod
    def resolve_district(obj: Decision) -> str:
        return obj.district.name

    @staticmethod
    def resolve_reason(obj: Decision) -> str:
        return pmt.Reason(obj.reason).name.lower()


class TermOut(Schema):
    key: str
    variable: str
    kind: str
    points: float


class CategoryCutoffOut(Schema):
    index: int
    cutoff: float
    label: TextOut


class CutoffOut(Schema):
    applied: float
    main: float
    category: CategoryCutoffOut | None
    score_within: bool


class RuleOut(Schema):
    id: str
    label: TextOut
    holds: bool


class BenefitLineOut(Schema):
    variable: str
    amount: int
    max_units: int | None
    units: int
    subtotal: int


class BenefitOut(Schema):
    period: str
    base: int
    per_unit: list[BenefitLineOut]
    cap: int | None
    capped: bool
    entitlement: int
    amount: int


class ExplanationOut(Schema):
    program: str
    version: int
    pmt_model_version: str
    score: float
    region: str
    intercept: float
    terms: list[TermOut]
    cutoff: CutoffOut
    criteria: list[RuleOut]
    exclusions: list[RuleOut]
    benefit: BenefitOut
    eligible: bool
    reason: str
    reason_code: int


class DecisionDetailOut(DecisionOut):
    program: str
    explanation: ExplanationOut

    @staticmethod
    def resolve_program(obj: Decision) -> str:
        return obj.run.program.code

    @staticmethod
    def resolve_explanation(obj: Decision) -> pmt.Explanation:
        return obj.explained  # type: ignore[attr-defined,no-any-return]


class AppealCreateIn(Schema):
    household: str
    grounds: str


class AppealDecisionIn(Schema):
    upheld: bool
    note: str


class AppealOut(Schema):
    id: UUID
    program: str
    household: UUID
    household_number: str
    decision: int
    status: str
    grounds: str
    assisted: bool
    created_at: datetime
    decided_at: datetime | None
    outcome_note: str

    @staticmethod
    def resolve_program(obj: Appeal) -> str:
        return obj.program.code

    @staticmethod
    def resolve_household(obj: Appeal) -> UUID:
        return obj.household_id

    @staticmethod
    def resolve_household_number(obj: Appeal) -> str:
        return obj.household.number

    @staticmethod
    def resolve_decision(obj: Appeal) -> int:
        return obj.decision_id


class SelfAssessmentIn(Schema):
    answers: dict[str, AnswerValue]


class ProgramAssessmentOut(Schema):
    code: str
    name: str
    likely_eligible: bool | None
    benefit: int
    period: str
    explanation: ExplanationOut | None
    missing: list[str]


class SelfAssessmentOut(Schema):
    programs: list[ProgramAssessmentOut]


# --------------------------------------------------------------------------- helpers


def _staff(request: HttpRequest, *permissions: str) -> User:
    user = request_user(request)
    if not selectors.may_work_on_programs(user, permissions or selectors.PERMISSIONS):
        raise Forbidden(_("You may not work on programs."))
    if user.requires_totp and not is_verified(user):
        raise Forbidden(_("Confirm your login with your authenticator app first."))
    return user


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _version_out(version: ProgramVersion) -> dict[str, Any]:
    return {
        "id": version.pk,
        "program": version.program.code,
        "version": version.version,
        "status": version.status,
        "note": version.note,
        "proposed_by": _username(version.proposed_by),
        "decided_by": _username(version.decided_by),
        "decided_at": version.decided_at,
        "decision_note": version.decision_note,
        "created_at": version.created_at,
    }


def _program_out(row: selectors.ProgramRow) -> dict[str, Any]:
    run = row.latest_run
    return {
        "code": row.program.code,
        "name": row.rules.name.model_dump() if row.rules else None,
        "target_unit": row.program.target_unit,
        "open": row.program.open,
        "period": row.rules.period if row.rules else None,
        "version": row.version.version if row.version else None,
        "beneficiaries": row.beneficiaries,
        "latest_run": (
            {"id": run.pk, "kind": run.kind, "status": run.status, "as_of": run.as_of}
            if run
            else None
        ),
    }


def _run_out(run: TargetingRun) -> dict[str, Any]:
    progress = selectors.run_progress(run)
    summary = run.summary or None
    if summary is not None:
        summary = {"changes": None, **summary}
    return {
        "id": run.pk,
        "program": run.program.code,
        "version": run.version.version,
        "kind": run.kind,
        "status": run.status,
        "as_of": run.as_of,
        "previous": run.previous_id,
        "prepared_by": _username(run.prepared_by),
        "decided_by": _username(run.decided_by),
        "decided_at": run.decided_at,
        "decision_note": run.decision_note,
        "evaluated": run.evaluated,
        "eligible": run.eligible,
        "benefit_total": run.benefit_total,
        "progress": asdict(progress),
        "summary": summary,
    }


# --------------------------------------------------------------------------- self-assessment
# (paths with a fixed first part come before "/{code}", which would match them too)


@router.post(
    "/self-assessment",
    response={200: SelfAssessmentOut, **client_errors(400, 422, 429)},
    auth=None,
    summary="Am I likely eligible? Every open program evaluated on one household's answers",
    description=(
        "Public, no login; rate-limited per client address. `answers` holds the survey "
        "questions (GET /registry/survey for names, kinds and ranges) plus `area` (urban or "
        "rural), `ever_married_women`, `members_with_disability` and, for programs for one "
        "person, that person's `age`, `sex`, `marital_status`, `relationship` and "
        "`has_disability`. The same evaluator as the targeting run decides; nothing is "
        "stored. A program whose questions are not all answered has `likely_eligible: null` "
        "and lists them in `missing`. An answer that does not fit its question: 422 "
        "`invalid_answers`, naming each question in `fields`."
    ),
)
def self_assessment(request: HttpRequest, payload: SelfAssessmentIn) -> dict[str, Any]:
    limit = getattr(
        settings, "RAHDARI_SELF_ASSESSMENT_RATE_PER_MINUTE", SELF_ASSESSMENT_RATE_PER_MINUTE
    )
    rate_limit("self_assessment", client_address(request), limit=limit)
    language = (get_language() or "en").split("-")[0]
    results = selectors.self_assessment(payload.answers, language)
    return {"programs": [asdict(result) for result in results]}


# --------------------------------------------------------------------------- appeals


@router.get(
    "/appeals",
    response={200: list[AppealOut], **client_errors(401, 403)},
    summary="Open appeals about households of your districts, oldest first",
)
@paginate(LimitOffsetPagination)
def appeal_list(request: HttpRequest) -> Any:
    user = _staff(request, "programs.review_appeals")
    return selectors.appeals_open(user)


@router.post(
    "/appeals/{appeal_id}/review",
    response={200: AppealOut, **client_errors(401, 403, 404, 409)},
    summary="Take an open appeal for review",
)
def appeal_review(request: HttpRequest, appeal_id: UUID) -> Appeal:
    user = _staff(request, "programs.review_appeals")
    appeal = selectors.appeal_get(user=user, appeal_id=appeal_id)
    services.appeal_review_start(appeal=appeal, actor=user)
    return selectors.appeal_get(user=user, appeal_id=appeal_id)


@router.post(
    "/appeals/{appeal_id}/decision",
    response={200: AppealOut, **client_errors(400, 401, 403, 404, 409, 422)},
    summary="Uphold (the household is enrolled) or dismiss an appeal; the note is required",
)
def appeal_decision(request: HttpRequest, appeal_id: UUID, payload: AppealDecisionIn) -> Appeal:
    user = _staff(request, "programs.review_appeals")
    appeal = selectors.appeal_get(user=user, appeal_id=appeal_id)
    services.appeal_decide(appeal=appeal, upheld=payload.upheld, actor=user, note=payload.note)
    return selectors.appeal_get(user=user, appeal_id=appeal_id)


# --------------------------------------------------------------------------- versions


@router.post(
    "/versions/{version_id}/decision",
    response={200: VersionOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Approve or reject proposed rules (not your own: four eyes, 403 `four_eyes`)",
)
def version_decision(request: HttpRequest, version_id: UUID, payload: DecideIn) -> dict[str, Any]:
    user = _staff(request, "programs.approve_rules")
    version = selectors.version_get(version_id)
    decided = services.program_version_decide(
        version=version, approve=payload.approve, actor=user, note=payload.note
    )
    return _version_out(selectors.version_get(decided.pk))


# --------------------------------------------------------------------------- runs


@router.get(
    "/runs/{run_id}",
    response={200: RunOut, **client_errors(401, 403, 404)},
    summary="A targeting run: status, progress of its job, and its summary once computed",
)
def run_get(request: HttpRequest, run_id: UUID) -> dict[str, Any]:
    _staff(request)
    return _run_out(selectors.run_get(run_id))


@router.get(
    "/runs/{run_id}/whatif",
    response={200: WhatIfOut, **client_errors(400, 401, 403, 404, 409, 422)},
    summary="How many would be eligible with another main cut-off, by district (nothing stored)",
)
def run_whatif(request: HttpRequest, run_id: UUID, cutoff: float) -> dict[str, Any]:
    _staff(request)
    run = selectors.run_get(run_id)
    if selectors.run_in_progress(run):
        raise ApplicationError(_("The run is still computing."), code="run_in_progress", status=409)
    return services.targeting_whatif(run=run, cutoff=cutoff)


@router.post(
    "/runs/{run_id}/decision",
    response={200: RunOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Approve (enrols the eligible) or reject a computed run; not your own (403 `four_eyes`)",
)
def run_decision(request: HttpRequest, run_id: UUID, payload: DecideIn) -> dict[str, Any]:
    user = _staff(request, "programs.approve_targeting")
    run = selectors.run_get(run_id)
    services.targeting_run_decide(run=run, approve=payload.approve, actor=user, note=payload.note)
    return _run_out(selectors.run_get(run_id))


@router.get(
    "/runs/{run_id}/decisions",
    response={200: list[DecisionOut], **client_errors(400, 401, 403, 404, 422)},
    summary="The run's decisions about households of your districts, by district and outcome",
)
@paginate(LimitOffsetPagination)
def run_decisions(request: HttpRequest, run_id: UUID, filters: Query[DecisionFilter]) -> Any:
    user = _staff(request)
    run = selectors.run_get(run_id)
    district = None
    if filters.district:
        district = District.objects.filter(name=filters.district).first()
        if district is None:
            raise ApplicationError(
                _("Unknown district."),
                code="unknown_district",
                fields={"district": [_("Unknown district.")]},
            )
    return selectors.run_decisions(run=run, user=user, district=district, eligible=filters.eligible)


@router.get(
    "/decisions/{decision_id}",
    response={200: DecisionDetailOut, **client_errors(401, 403, 404)},
    summary="One decision with its explanation (the read is recorded and shown to the household)",
)
def decision_get(request: HttpRequest, decision_id: int) -> Decision:
    user = _staff(request)
    decision = selectors.decision_get(user=user, decision_id=decision_id)
    decision.explained = selectors.decision_explanation_read(  # type: ignore[attr-defined]
        decision=decision, actor=user
    )
    return decision


# --------------------------------------------------------------------------- programs


@router.get(
    "",
    response={200: list[ProgramOut], **client_errors(401, 403)},
    summary="Programs with their approved rules' version, beneficiaries and latest run",
)
def program_list(request: HttpRequest) -> list[dict[str, Any]]:
    _staff(request)
    return [_program_out(row) for row in selectors.programs_overview()]


@router.get(
    "/{code}",
    response={200: ProgramDetailOut, **client_errors(401, 403, 404)},
    summary="A program: its approved definition and every version of its rules",
)
def program_get(request: HttpRequest, code: str) -> dict[str, Any]:
    _staff(request)
    rows = selectors.programs_overview(code=code)
    if not rows:
        selectors.program_get(code)  # raises the 404
    row = rows[0]
    return {
        **_program_out(row),
        "definition": row.rules,
        "versions": [_version_out(v) for v in selectors.program_versions(row.program)],
    }


@router.post(
    "/{code}/versions",
    response={201: VersionOut, **client_errors(400, 401, 403, 422)},
    summary="Propose a new version of a program's rules (a new program if the code is new)",
    description=(
        "The definition is checked against the registry's variable catalogue; every problem "
        "is listed in `fields` by its path (e.g. `criteria[0].all[0].variable`), with 400 "
        "`invalid_definition`. A second officer approves it."
    ),
)
def version_propose(
    request: HttpRequest, code: str, payload: VersionCreateIn
) -> Status[dict[str, Any]]:
    user = _staff(request, "programs.propose_rules")
    version = services.program_version_propose(
        code=code, definition=payload.definition, note=payload.note, actor=user
    )
    return Status(201, _version_out(selectors.version_get(version.pk)))


@router.post(
    "/{code}/runs",
    response={202: RunOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Start a targeting run (or a recertification) under the approved rules",
    description="It computes in the background: follow it with GET /programs/runs/{id}.",
)
def run_start(request: HttpRequest, code: str, payload: RunStartIn) -> Status[dict[str, Any]]:
    user = _staff(request, "programs.run_targeting")
    program = selectors.program_get(code)
    run = services.targeting_run_start(program=program, actor=user, kind=payload.kind)
    return Status(202, _run_out(selectors.run_get(run.pk)))


@router.post(
    "/{code}/appeals",
    response={201: AppealOut, **client_errors(400, 401, 403, 404, 409, 422)},
    summary="Lodge an appeal for an excluded household (assisted by the officer)",
    description="`household`: its id or its number (HH0000012345).",
)
def appeal_lodge(request: HttpRequest, code: str, payload: AppealCreateIn) -> Status[Appeal]:
    user = _staff(request)
    program = selectors.program_get(code)
    household = selectors.household_find(user=user, reference=payload.household)
    appeal = services.appeal_lodge(
        household=household, program=program, grounds=payload.grounds, actor=user, assisted=True
    )
    return Status(201, selectors.appeal_get(user=user, appeal_id=appeal.pk))
