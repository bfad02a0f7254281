"""Registry operations: households, members, survey answers (recorded, updated, read).

Every operation runs in one transaction and writes its audit entry. Audit entries
name ids and the variables that changed, never an answer's value or a name.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.keyring import blind_index
from rahdari.core.models import District
from rahdari.core.validators import clean_cnic
from rahdari.identity.models import Person, PersonEvent, Sex
from rahdari.registry import selectors, survey
from rahdari.registry.models import (
    Area,
    Household,
    HouseholdMember,
    MaritalStatus,
    Relationship,
    SurveyResponse,
    SurveyRound,
)

VIEW_PERMISSION = "registry.view_household_data"
CHANGE_PERMISSION = "registry.change_household_data"
# Identity statuses under which a person record is the person (see identity's constraint).
LIVE_PERSON = ("pending", "active", "suspended", "deceased", "revoked")

PROBLEM_MESSAGES = {
    "unknown_variable": gettext_lazy("This is not a question of the survey."),
    "missing": gettext_lazy("This question is not answered."),
    "wrong_type": gettext_lazy("This answer is not of the right kind."),
    "out_of_range": gettext_lazy("This answer is outside the possible range."),
    "unknown_category": gettext_lazy("This is not one of the possible answers."),
    "inconsistent": gettext_lazy("This answer contradicts another answer."),
}


def problems_error(problems: list[survey.Problem]) -> ApplicationError:
    """One error naming every refused answer (code "invalid_answers")."""
    fields: dict[str, list[str]] = {}
    for problem in problems:
        fields.setdefault(problem.variable, []).append(
            f"{PROBLEM_MESSAGES.get(problem.code, problem.code)} ({problem.detail})"
        )
    return ApplicationError(_("Some answers are not valid."), code="invalid_answers", fields=fields)


def _require(actor: User | None, permission: str, district: District | int) -> None:
    """Staff need the permission and the district; the system (None) may do anything."""
    if actor is None:
        return
    if actor.is_citizen or not actor.has_perm(permission):
        raise Forbidden(_("You may not work with household data."))
    district_obj = district if isinstance(district, District) else District.objects.get(pk=district)
    if not actor.has_perm("accounts.act_in_district", district_obj):
        raise Forbidden(_("This household is outside your districts."))


# --------------------------------------------------------------------------- rounds


def survey_round_ensure(
    *, code: str, name: str, started_on: date, layout_version: int = survey.LAYOUT_VERSION
) -> SurveyRound:
    """The survey round with this code, created on first use (imports, the demo)."""
    with transaction.atomic():
        found, created = SurveyRound.objects.get_or_create(
            code=code,
            defaults={"name": name, "started_on": started_on, "layout_version": layout_version},
        )
        if created:
            audit_record(
                actor=None, action="registry.survey_round_created", subject=found, changes={}
            )
    return found


# --------------------------------------------------------------------------- households


def new_household_number() -> str:
    """A number for a household that the platform registers itself. Survey households
    keep the survey's number (HH0…); the platform's start with HH9 and are random, so
    two offices never race for the next one."""
    return f"HH9{secrets.randbelow(10**9):09d}"


def household_create(
    *,
    district: District,
    area: str,
    actor: User | None,
    tehsil: str = "",
    union_council: str = "",
    village: str = "",
    village_ur: str = "",
    number: str | None = None,
) -> Household:
    """Register a household (no members, no answers yet). Audited."""
    _require(actor, CHANGE_PERMISSION, district)
    if area not in Area.values:
        raise ApplicationError(
            _("Choose urban or rural."), code="invalid_household", fields={"area": [_("Unknown.")]}
        )
    for _attempt in range(5):
        try:
            with transaction.atomic():
                household = Household.objects.create(
                    number=number or new_household_number(),
                    district=district,
                    tehsil=tehsil.strip(),
                    union_council=union_council.strip(),
                    village=village.strip(),
                    village_ur=village_ur.strip(),
                    area=area,
                )
                audit_record(
                    actor=actor,
                    action="registry.household_created",
                    subject=household,
                    changes={"number": household.number, "district": district.pk},
                )
            return household
        except IntegrityError as exc:
            if number is not None:
                raise Conflict(
                    _("A household with this number exists."), code="household_exists"
                ) from exc
    raise Conflict(_("Could not find a free household number."), code="household_exists")


# --------------------------------------------------------------------------- members

MEMBER_FIELDS = ("relationship", "sex", "birth_year", "marital_status", "has_disability", "active")


@dataclass
class MemberData:
    """What a form, an API call or an import says about one member."""

    relationship: str
    sex: str
    birth_year: int
    marital_status: str
    has_disability: bool = False


def _member_problems(data: MemberData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.relationship not in Relationship.values:
        errors["relationship"] = [_("Unknown relationship.")]
    if data.sex not in Sex.values:
        errors["sex"] = [_("Choose the sex.")]
    if data.marital_status not in MaritalStatus.values:
        errors["marital_status"] = [_("Unknown marital status.")]
    this_year = timezone.localdate().year
    if not this_year - 120 <= data.birth_year <= this_year:
        errors["birth_year"] = [_("This year of birth is not possible.")]
    return errors


def _live_person_with(index: str) -> Person | None:
    return (
        Person.objects.filter(national_id_index=index, status__in=LIVE_PERSON)
        .order_by("created_at")
        .first()
    )


def household_member_add(
    *,
    household: Household,
    data: MemberData,
    actor: User | None,
    national_id: str = "",
    person: Person | None = None,
) -> HouseholdMember:
    """List a person in a household. With a national ID (or a person), the member is
    linked to the enrolled person now, or later when they enrol. Audited."""
    _require(actor, CHANGE_PERMISSION, household.district_id)
    errors = _member_problems(data)
    index = ""
    if person is not None:
        index = person.national_id_index
    elif national_id.strip():
        try:
            index = blind_index("cnic", clean_cnic(national_id))
        except ValidationError as exc:
            errors["national_id"] = exc.messages
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], code="invalid_member", fields=errors)
    if person is None and index:
        person = _live_person_with(index)
    with transaction.atomic():
        locked = Household.objects.select_for_update().get(pk=household.pk)
        if (
            data.relationship == Relationship.HEAD
            and locked.members.filter(active=True, relationship=Relationship.HEAD).exists()
        ):
            raise Conflict(_("This household has a head already."), code="head_exists")
        last = locked.members.aggregate(n=Max("member_no"))["n"] or 0
        try:
            with transaction.atomic():
                member = HouseholdMember.objects.create(
                    household=locked,
                    person=person,
                    national_id_index=index,
                    member_no=last + 1,
                    relationship=data.relationship,
                    sex=data.sex,
                    birth_year=data.birth_year,
                    marital_status=data.marital_status,
                    has_disability=data.has_disability,
                )
        except IntegrityError as exc:
            raise Conflict(
                _("This person is an active member of another household."),
                code="already_member",
                fields={"national_id": [_("Already listed in another household.")]},
            ) from exc
        audit_record(
            actor=actor,
            action="registry.member_added",
            subject=locked,
            changes={
                "member_no": member.member_no,
                "person": str(person.pk) if person else None,
                "linked": person is not None,
            },
        )
    return member


def household_member_update(
    *, member: HouseholdMember, changes: Mapping[str, Any], actor: User | None, reason: str
) -> HouseholdMember:
    """Change what the registry knows of a member (relationship, marital status,
    disability; `active=False` when they leave). Audited with the changed fields."""
    household = member.household
    _require(actor, CHANGE_PERMISSION, household.district_id)
    unknown = sorted(set(changes) - set(MEMBER_FIELDS))
    if unknown:
        raise ApplicationError(
            _("These fields cannot be changed: %(f)s") % {"f": ", ".join(unknown)},
            code="invalid_member",
            fields={name: [_("Cannot be changed.")] for name in unknown},
        )
    if not reason.strip():
        raise ApplicationError(
            _("Say why the member changes."),
            code="reason_required",
            fields={"reason": [_("Required.")]},
        )
    merged = MemberData(
        relationship=changes.get("relationship", member.relationship),
        sex=changes.get("sex", member.sex),
        birth_year=int(changes.get("birth_year", member.birth_year)),
        marital_status=changes.get("marital_status", member.marital_status),
        has_disability=bool(changes.get("has_disability", member.has_disability)),
    )
    errors = _member_problems(merged)
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], code="invalid_member", fields=errors)
    changed = [f for f in MEMBER_FIELDS if f in changes and getattr(member, f) != changes[f]]
    if not changed:
        return member
    with transaction.atomic():
        for name in changed:
            setattr(member, name, changes[name])
        try:
            with transaction.atomic():
                member.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            raise Conflict(
                _("This person is an active member of another household."),
                code="already_member",
            ) from exc
        audit_record(
            actor=actor,
            action="registry.member_updated",
            subject=household,
            changes={"member_no": member.member_no, "fields": changed},
        )
    return member


def household_member_link(*, person: Person) -> int:
    """An enrolled person is linked to the household members listed under their national
    ID who were not linked yet (called when identity publishes person.enrolled)."""
    with transaction.atomic():
        members = list(
            HouseholdMember.objects.select_for_update().filter(
                national_id_index=person.national_id_index, person__isnull=True, active=True
            )
        )
        for member in members:
            member.person = person
            member.save(update_fields=["person", "updated_at"])
            audit_record(
                actor=None,
                action="registry.member_linked",
                subject=(Household._meta.label_lower, str(member.household_id)),
                changes={"member_no": member.member_no, "person": str(person.pk)},
            )
    return len(members)


def on_person_enrolled(event: PersonEvent) -> None:
    household_member_link(person=event.person)


# --------------------------------------------------------------------------- answers

ANSWERS_CONTEXT = "registry.surveyresponse.answers"


def pack_answers(answers: Mapping[str, survey.Value]) -> str:
    """The plaintext stored (encrypted) in SurveyResponse.answers."""
    return json.dumps(survey.pack(answers), separators=(",", ":"))


def unpack_answers(response: SurveyResponse) -> dict[str, survey.Value]:
    return survey.unpack(json.loads(response.answers), response.layout_version)


def survey_response_record(
    *,
    household: Household,
    round: SurveyRound,
    answers: Mapping[str, survey.Value],
    source: str,
    collected_on: date,
    actor: User | None,
    reason: str = "",
) -> SurveyResponse:
    """Record a full set of answers as the household's new current version (the old
    versions are kept). Every answer is checked; all problems are reported together."""
    _require(actor, CHANGE_PERMISSION, household.district_id)
    if source not in SurveyResponse.Source.values:
        raise ApplicationError(
            _("Unknown source of answers."),
            code="invalid_source",
            fields={"source": [_("Unknown.")]},
        )
    problems = survey.validate_answers(answers, complete=True)
    if problems:
        raise problems_error(problems)
    if collected_on > timezone.localdate():
        raise ApplicationError(
            _("The answers cannot be collected in the future."),
            code="invalid_date",
            fields={"collected_on": [_("In the future.")]},
        )
    with transaction.atomic():
        locked = Household.objects.select_for_update().get(pk=household.pk)
        response = _new_version(
            household=locked,
            round=round,
            packed=pack_answers(answers),
            provenance={},
            source=source,
            collected_on=collected_on,
            actor=actor,
            reason=reason.strip(),
        )
        audit_record(
            actor=actor,
            action="registry.survey_response_recorded",
            subject=locked,
            changes={"version": response.version, "round": round.code, "source": source},
        )
    return response


def _new_version(
    *,
    household: Household,
    round: SurveyRound,
    packed: str,
    provenance: dict[str, dict[str, str]],
    source: str,
    collected_on: date,
    actor: User | None,
    reason: str,
) -> SurveyResponse:
    last = household.responses.aggregate(v=Max("version"))["v"] or 0
    now = timezone.now()
    household.responses.filter(is_current=True).update(is_current=False, superseded_at=now)
    response = SurveyResponse.objects.create(
        household=household,
        round=round,
        version=last + 1,
        is_current=True,
        collected_on=collected_on,
        source=source,
        layout_version=survey.LAYOUT_VERSION,
        answers=packed,
        provenance=provenance,
        recorded_by=actor,
        reason=reason[:300],
    )
    # The same instant on both sides: no moment has two current versions, or none.
    SurveyResponse.objects.filter(pk=response.pk).update(created_at=now)
    response.created_at = now
    return response


def survey_answers_update(
    *,
    household: Household,
    changes: Mapping[str, survey.Value],
    source: str,
    actor: User | None,
    reason: str,
) -> SurveyResponse:
    """A new version with some answers changed (an officer's update or the household's
    own declaration). Unchanged answers keep where they came from in `provenance`."""
    _require(actor, CHANGE_PERMISSION, household.district_id)
    if source not in (SurveyResponse.Source.OFFICER_UPDATE, SurveyResponse.Source.SELF_DECLARED):
        raise ApplicationError(
            _("Updates are made by an officer or declared by the household."),
            code="invalid_source",
            fields={"source": [_("Unknown.")]},
        )
    if not reason.strip():
        raise ApplicationError(
            _("Say why the answers change."),
            code="reason_required",
            fields={"reason": [_("Required.")]},
        )
    problems = survey.validate_answers(changes, complete=False)
    if problems:
        raise problems_error(problems)
    with transaction.atomic():
        locked = Household.objects.select_for_update().get(pk=household.pk)
        current = selectors.current_response(locked)
        if current is None:
            raise ApplicationError(
                _("This household has no survey answers to update yet."),
                code="no_answers",
            )
        before = unpack_answers(current)
        changed = sorted(
            name for name, value in changes.items() if before[name] != value
        )  # the same value again is no change
        if not changed:
            raise ApplicationError(
                _("None of the answers differs from the current ones."), code="no_changes"
            )
        merged = {**before, **{name: changes[name] for name in changed}}
        problems = survey.validate_answers(merged, complete=True)
        if problems:
            raise problems_error(problems)
        today = timezone.localdate()
        provenance: dict[str, dict[str, str]] = {}
        for name in survey.SURVEY_NAMES:
            if name in changed:
                continue
            origin = current.provenance.get(name) or {
                "source": current.source,
                "date": current.collected_on.isoformat(),
            }
            if origin != {"source": source, "date": today.isoformat()}:
                provenance[name] = origin
        response = _new_version(
            household=locked,
            round=current.round,
            packed=pack_answers(merged),
            provenance=provenance,
            source=source,
            collected_on=today,
            actor=actor,
            reason=reason.strip(),
        )
        audit_record(
            actor=actor,
            action="registry.survey_answers_updated",
            subject=locked,
            changes={"version": response.version, "source": source, "variables": changed},
        )
    return response


@dataclass(frozen=True)
class AnswerView:
    """One answer as staff see it: the value, and where and when it was collected."""

    spec: survey.VariableSpec
    value: survey.Value
    source: str
    collected_on: str


def answers_with_provenance(response: SurveyResponse) -> list[AnswerView]:
    answers = unpack_answers(response)
    own = {"source": response.source, "date": response.collected_on.isoformat()}
    views = []
    for spec in survey.SURVEY_VARIABLES:
        origin = response.provenance.get(spec.name) or own
        views.append(AnswerView(spec, answers[spec.name], origin["source"], origin["date"]))
    return views


def household_view(
    *, household: Household, actor: User, purpose: str
) -> tuple[SurveyResponse | None, list[AnswerView]]:
    """A staff member reads a household's answers and members: logged on the household
    and on each enrolled member, so every member sees who looked, when and why."""
    _require(actor, VIEW_PERMISSION, household.district_id)
    if not purpose.strip():
        raise ApplicationError(
            _("Say why you are opening this household."),
            code="purpose_required",
            fields={"purpose": [_("Say why you are opening this household.")]},
        )
    purpose = purpose.strip()[:200]
    with transaction.atomic():
        audit_record_read(
            actor=actor, subject=household, purpose=purpose, fields=["survey_answers", "members"]
        )
        person_ids = household.members.filter(active=True, person__isnull=False).values_list(
            "person_id", flat=True
        )
        for person_id in person_ids:
            audit_record_read(
                actor=actor,
                subject=(Person._meta.label_lower, str(person_id)),
                purpose=purpose,
                fields=["household_survey_answers"],
            )
    current = selectors.current_response(household)
    return current, answers_with_provenance(current) if current else []
