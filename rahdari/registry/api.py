"""Registry API: the survey's questions, households by district, one household with its
answers (the read is logged, with a purpose), and an update of some answers."""

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import client_errors
from rahdari.core.errors import ApplicationError, Forbidden, NotFound
from rahdari.core.http import is_verified
from rahdari.core.models import District
from rahdari.registry import selectors, services, survey
from rahdari.registry.models import Household, SurveyResponse

router = Router(tags=["registry"], auth=django_auth)
AnswerValue = bool | int | float | str


class VariableOut(Schema):
    name: str
    kind: str
    unit: str
    categories: list[str]
    minimum: float | None
    maximum: float | None
    integer: bool
    label_en: str


class SurveyLayoutOut(Schema):
    layout_version: int
    variables: list[VariableOut]
    household_attributes: list[VariableOut]
    derived: list[VariableOut]
    person_variables: list[VariableOut]


class HouseholdOut(Schema):
    id: UUID
    number: str
    district: str
    tehsil: str
    union_council: str
    area: str
    status: str

    @staticmethod
    def resolve_district(obj: Any) -> str:
        return str(obj["district"] if isinstance(obj, dict) else obj.district.name)


class HouseholdFilter(Schema):
    district: str = ""
    number: str = ""


class MemberOut(Schema):
    member_no: int
    relationship: str
    sex: str
    birth_year: int
    marital_status: str
    has_disability: bool
    active: bool
    enrolled: bool
    person_id: UUID | None


class ProvenanceOut(Schema):
    source: str
    date: date


class AnswersOut(Schema):
    version: int
    round: str
    source: str
    collected_on: date
    recorded_at: datetime
    answers: dict[str, AnswerValue]
    provenance: dict[str, ProvenanceOut]


class HouseholdDetailOut(HouseholdOut):
    village: str
    village_ur: str
    members: list[MemberOut]
    current: AnswersOut | None


class AnswersUpdateIn(Schema):
    changes: dict[str, AnswerValue]
    reason: str
    source: Literal["officer_update", "self_declared"] = "officer_update"


def _staff(request: HttpRequest, permission: str = services.VIEW_PERMISSION) -> User:
    user = request_user(request)
    if user.is_citizen or not user.has_perm(permission):
        raise Forbidden("You may not work with household data.")
    if user.requires_totp and not is_verified(user):
        raise Forbidden("Confirm your login with your authenticator app first.")
    return user


def _visible(user: User, household_id: UUID) -> Household:
    household = selectors.households_visible_to(user).filter(pk=household_id).first()
    if household is None:
        raise NotFound("No such household in your districts.")
    return household


def _variable(spec: survey.VariableSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "unit": spec.unit,
        "categories": list(spec.categories),
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "integer": spec.integer if spec.kind == "number" else False,
        "label_en": spec.label_en,
    }


def _household_out(household: Household) -> dict[str, Any]:
    return {
        "id": household.pk,
        "number": household.number,
        "district": household.district.name,
        "tehsil": household.tehsil,
        "union_council": household.union_council,
        "area": household.area,
        "status": household.status,
    }


def _answers_out(response: SurveyResponse) -> dict[str, Any]:
    return {
        "version": response.version,
        "round": response.round.code,
        "source": response.source,
        "collected_on": response.collected_on,
        "recorded_at": response.created_at,
        "answers": services.unpack_answers(response),
        "provenance": response.provenance,
    }


@router.get(
    "/survey",
    response={200: SurveyLayoutOut, **client_errors(401)},
    summary="The survey's questions, codes and ranges (layout of the packed answers)",
)
def survey_layout(request: HttpRequest) -> dict[str, Any]:
    return {
        "layout_version": survey.LAYOUT_VERSION,
        "variables": [_variable(s) for s in survey.SURVEY_VARIABLES],
        "household_attributes": [_variable(s) for s in survey.HOUSEHOLD_ATTRIBUTES],
        "derived": [_variable(s) for s in survey.DERIVED],
        "person_variables": [_variable(s) for s in survey.PERSON_VARIABLES],
    }


@router.get(
    "/households",
    response={200: list[HouseholdOut], **client_errors(400, 401, 403)},
    summary="Households of your districts, by district or number (no answers)",
)
@paginate(LimitOffsetPagination)
def household_list(request: HttpRequest, filters: Query[HouseholdFilter]) -> Any:
    user = _staff(request)
    district = None
    if filters.district:
        district = District.objects.filter(name=filters.district).first()
        if district is None:
            raise ApplicationError(
                "Unknown district.",
                code="unknown_district",
                fields={"district": ["unknown district"]},
            )
    return selectors.household_search(user=user, query=filters.number, district=district)


@router.get(
    "/households/{household_id}",
    response={200: HouseholdDetailOut, **client_errors(400, 401, 403, 404)},
    summary="A household with its members and current answers; `purpose` is required and "
    "shown to its members",
)
def household_get(request: HttpRequest, household_id: UUID, purpose: str) -> dict[str, Any]:
    user = _staff(request)
    household = _visible(user, household_id)
    current, _answers = services.household_view(household=household, actor=user, purpose=purpose)
    members = household.members.order_by("-active", "member_no")
    return {
        **_household_out(household),
        "village": household.village,
        "village_ur": household.village_ur,
        "members": [
            {
                "member_no": m.member_no,
                "relationship": m.relationship,
                "sex": m.sex,
                "birth_year": m.birth_year,
                "marital_status": m.marital_status,
                "has_disability": m.has_disability,
                "active": m.active,
                "enrolled": m.person_id is not None,
                "person_id": m.person_id,
            }
            for m in members
        ],
        "current": _answers_out(current) if current else None,
    }


@router.post(
    "/households/{household_id}/answers",
    response={201: AnswersOut, **client_errors(400, 401, 403, 404, 422)},
    summary="Change some answers (a new version; the old one is kept, with provenance)",
)
def answers_update(
    request: HttpRequest, household_id: UUID, payload: AnswersUpdateIn
) -> Status[dict[str, Any]]:
    user = _staff(request, services.CHANGE_PERMISSION)
    household = _visible(user, household_id)
    response = services.survey_answers_update(
        household=household,
        changes=payload.changes,
        source=payload.source,
        actor=user,
        reason=payload.reason,
    )
    return Status(201, _answers_out(response))
