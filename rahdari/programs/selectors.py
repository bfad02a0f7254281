"""Reads of programs for the officers' pages and the API: programs with their approved
rules, versions, runs and their decisions (scoped to the officer's districts), open
appeals, and the self-assessment (every open program evaluated on one household's
answers; nothing stored).

A decision reveals a household's socio-economic data: ``decision_explanation_read``
records the read on the household before it returns the explanation.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record_read
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.models import District
from rahdari.programs import pmt, services
from rahdari.programs.definition import (
    ProgramDefinition,
    definition_validate,
    required_variables,
)
from rahdari.programs.models import (
    Appeal,
    Beneficiary,
    Decision,
    Program,
    ProgramVersion,
    TargetingRun,
)
from rahdari.registry import selectors as registry
from rahdari.registry import survey
from rahdari.registry.models import Household

PERMISSIONS = (
    "programs.propose_rules",
    "programs.approve_rules",
    "programs.run_targeting",
    "programs.approve_targeting",
    "programs.review_appeals",
)
"""Holding any one of these opens the programs pages (what each button does is checked
by its service)."""

ENROLLED = (Beneficiary.Status.ACTIVE, Beneficiary.Status.EXIT_NOTICE)
OPEN_APPEALS = (Appeal.Status.OPEN, Appeal.Status.UNDER_REVIEW)
READ_PURPOSE = "Review of an eligibility decision"
READ_FIELDS = ["pmt_score", "survey_answers", "eligibility_explanation"]


def may_work_on_programs(user: Any, permissions: tuple[str, ...] = PERMISSIONS) -> bool:
    """A staff member holding one of ``permissions`` (a citizen never)."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_citizen", True):
        return False
    return any(user.has_perm(p) for p in permissions)


# --------------------------------------------------------------------------- rules


_RULES: dict[Any, ProgramDefinition] = {}


def rules_of(version: ProgramVersion) -> ProgramDefinition:
    """The validated rules of a version already loaded (a version's definition is never
    edited, so the parse is kept per version; no query)."""
    found = _RULES.get(version.pk)
    if found is None:
        found = _RULES[version.pk] = definition_validate(version.definition, services.catalogue())
    return found


def text_in(text: Any, language: str) -> str:
    """One of a definition's texts (``{"en", "ur", "ps"}``) in ``language``, else English."""
    if isinstance(text, Mapping):
        return str(text.get(language) or text.get("en") or "")
    return str(getattr(text, language, None) or getattr(text, "en", ""))


@dataclass(frozen=True)
class ProgramRow:
    program: Program
    version: ProgramVersion | None
    rules: ProgramDefinition | None
    beneficiaries: int
    latest_run: TargetingRun | None


def programs_overview(*, code: str | None = None) -> list[ProgramRow]:
    """Every program (or the one with ``code``) with its approved version, enrolled count
    and latest run (3 queries)."""
    enrolled = (
        Beneficiary.objects.filter(program=OuterRef("pk"), status__in=ENROLLED)
        .order_by()
        .values("program")
        .annotate(n=Count("pk"))
        .values("n")
    )
    latest = TargetingRun.objects.filter(program=OuterRef("pk")).order_by("-created_at")
    found = Program.objects.all() if code is None else Program.objects.filter(code=code)
    programs = list(
        found.annotate(
            enrolled=Coalesce(Subquery(enrolled, output_field=IntegerField()), 0),
            latest_run_id=Subquery(latest.values("pk")[:1]),
        )
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=ProgramVersion.objects.filter(status=ProgramVersion.Status.APPROVED),
                to_attr="approved",
            )
        )
        .order_by("code")
    )
    runs = TargetingRun.objects.select_related("job").in_bulk(
        [p.latest_run_id for p in programs if p.latest_run_id]
    )
    rows = []
    for program in programs:
        version = program.approved[0] if program.approved else None
        rows.append(
            ProgramRow(
                program=program,
                version=version,
                rules=rules_of(version) if version else None,
                beneficiaries=program.enrolled,
                latest_run=runs.get(program.latest_run_id),
            )
        )
    return rows


def program_get(code: str) -> Program:
    program = Program.objects.filter(code=code).first()
    if program is None:
        raise NotFound(_("There is no such program."), code="no_program")
    return program


def program_approved(program: Program) -> ProgramVersion | None:
    return program.versions.filter(status=ProgramVersion.Status.APPROVED).first()


def program_versions(program: Program) -> QuerySet[ProgramVersion]:
    """Every version, newest first, with who proposed and who decided it."""
    return program.versions.select_related("proposed_by", "decided_by").order_by("-version")


def program_runs(program: Program) -> QuerySet[TargetingRun]:
    return program.runs.select_related("version", "job", "prepared_by", "decided_by").order_by(
        "-created_at"
    )


def program_beneficiaries(program: Program) -> int:
    return program.beneficiaries.filter(status__in=ENROLLED).count()


def version_get(version_id: Any) -> ProgramVersion:
    version = ProgramVersion.objects.select_related("program").filter(pk=version_id).first()
    if version is None:
        raise NotFound(_("There is no such version of a program's rules."), code="no_version")
    return version


# --------------------------------------------------------------------------- runs


def run_get(run_id: Any) -> TargetingRun:
    run = (
        TargetingRun.objects.select_related(
            "program", "version", "job", "prepared_by", "decided_by", "previous"
        )
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise NotFound(_("There is no such targeting run."), code="no_run")
    return run


@dataclass(frozen=True)
class RunProgress:
    status: str  # the job's: queued, running, succeeded, failed
    done: int
    total: int
    percent: int
    message: str


def run_progress(run: TargetingRun) -> RunProgress:
    """How far the run's job is (the run itself says computing until it is done)."""
    job = run.job
    if job is None:
        done = run.evaluated
        return RunProgress("succeeded", done, done, 100, "")
    return RunProgress(job.status, job.done, job.total, job.percent, job.message)


def run_in_progress(run: TargetingRun) -> bool:
    return run.status in (TargetingRun.Status.QUEUED, TargetingRun.Status.COMPUTING)


@dataclass(frozen=True)
class DistrictCount:
    district: District | None
    name: str
    evaluated: int
    eligible: int
    benefit: int


def run_by_district(run: TargetingRun) -> list[DistrictCount]:
    """The run's counts by district, with the district rows for their Urdu names (1 query)."""
    by_district: dict[str, dict[str, int]] = run.summary.get("by_district", {})
    districts = District.objects.in_bulk(list(by_district), field_name="name")
    return [
        DistrictCount(
            district=districts.get(name),
            name=name,
            evaluated=int(counts.get("evaluated", 0)),
            eligible=int(counts.get("eligible", 0)),
            benefit=int(counts.get("benefit", 0)),
        )
        for name, counts in by_district.items()
    ]


def districts_of(user: User) -> QuerySet[District]:
    """The districts whose households an officer may see."""
    return District.objects.all() if user.all_districts else user.districts.all()


def decisions_visible_to(user: User) -> QuerySet[Decision]:
    """Decisions about households of the officer's districts (all for province-wide roles);
    the explanation (encrypted) is left out of lists."""
    decisions = Decision.objects.select_related("household", "district", "member").defer(
        "explanation", "household__village", "household__village_ur"
    )
    if user.all_districts:
        return decisions
    return decisions.filter(district__in=user.districts.all())


def run_decisions(
    *,
    run: TargetingRun,
    user: User,
    district: District | None = None,
    eligible: bool | None = None,
) -> QuerySet[Decision]:
    decisions = decisions_visible_to(user).filter(run=run)
    if district is not None:
        decisions = decisions.filter(district=district)
    if eligible is not None:
        decisions = decisions.filter(eligible=eligible)
    return decisions.order_by("row")


def decision_get(*, user: User, decision_id: Any) -> Decision:
    decision = (
        Decision.objects.select_related(
            "run__program", "run__version", "household__district", "district", "member"
        )
        .filter(pk=decision_id)
        .first()
    )
    visible = decision is not None and (
        user.all_districts or user.districts.filter(pk=decision.district_id).exists()
    )
    if decision is None or not visible:
        raise NotFound(_("There is no such decision in your districts."), code="no_decision")
    return decision


def decision_explanation_read(*, decision: Decision, actor: User) -> pmt.Explanation:
    """Why the household got its decision; the read is recorded on the household (its
    members see who looked at their data, when and why)."""
    audit_record_read(
        actor=actor, subject=decision.household, purpose=READ_PURPOSE, fields=READ_FIELDS
    )
    return services.decision_explanation(decision)


def decision_appealable(decision: Decision) -> bool:
    """An excluded household of an approved run may appeal (once at a time)."""
    return (
        not decision.eligible
        and decision.run.status == TargetingRun.Status.APPROVED
        and not Appeal.objects.filter(
            program=decision.run.program_id,
            household=decision.household_id,
            status__in=OPEN_APPEALS,
        ).exists()
    )


# --------------------------------------------------------------------------- appeals


def appeals_open(user: User) -> QuerySet[Appeal]:
    """Open appeals about households of the officer's districts, oldest first."""
    appeals = Appeal.objects.select_related(
        "program", "household__district", "decision", "lodged_by"
    ).filter(status__in=OPEN_APPEALS)
    if not user.all_districts:
        appeals = appeals.filter(household__district__in=user.districts.all())
    return appeals.defer("household__village", "household__village_ur").order_by("created_at")


def appeal_get(*, user: User, appeal_id: Any) -> Appeal:
    appeals = Appeal.objects.select_related("program", "household__district", "decision")
    if not user.all_districts:
        appeals = appeals.filter(household__district__in=user.districts.all())
    appeal = appeals.filter(pk=appeal_id).first()
    if appeal is None:
        raise NotFound(_("There is no such appeal in your districts."), code="no_appeal")
    return appeal


def household_find(*, user: User, reference: str) -> Household:
    """A household of the officer's districts by its id or its number ("HH0000012345")."""
    households = registry.households_visible_to(user)
    text = reference.strip()
    household = None
    with contextlib.suppress(ValueError):  # not an id: a household number
        household = households.filter(pk=uuid.UUID(text)).first()
    if household is None:
        household = households.filter(number=registry.normalise_household_number(text)).first()
    if household is None:
        raise NotFound(_("No such household in your districts."), code="no_household")
    return household


# --------------------------------------------------------------------------- self-assessment


@dataclass(frozen=True)
class SelfAssessment:
    """One program's answer to a household's self-assessment."""

    code: str
    name: str
    likely_eligible: bool | None  # None: a question the program needs was not answered
    benefit: int
    period: str
    explanation: pmt.Explanation | None
    missing: tuple[str, ...]


def _answer_problem(spec: survey.VariableSpec, value: object) -> str | None:
    """Why one answer to a question outside the survey proper (where the household lives,
    counts of members, a person's facts) does not fit the question; None if it does."""
    if spec.kind == "bool":
        return None if isinstance(value, bool) else _("Answer true or false.")
    if spec.kind == "category":
        if isinstance(value, str) and value in spec.categories:
            return None
        return _("Answer one of: %(values)s.") % {"values": ", ".join(spec.categories)}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _("Answer a number.")
    if spec.integer and not float(value).is_integer():
        return _("Answer a whole number.")
    low = spec.minimum if spec.minimum is not None else float("-inf")
    high = spec.maximum if spec.maximum is not None else float("inf")
    if not low <= value <= high:
        return _("Answer a number from %(low)s to %(high)s.") % {
            "low": f"{low:g}",
            "high": f"{high:g}",
        }
    return None


def self_assessment_problems(answers: Mapping[str, object]) -> dict[str, list[str]]:
    """Every answer that does not fit its question, by question name (empty: all good).
    Questions may be left out: a program that needs one says so instead of deciding."""
    problems: dict[str, list[str]] = {}
    asked = {name: value for name, value in answers.items() if name in survey.SURVEY}
    for problem in survey.validate_answers(asked, complete=False):
        problems.setdefault(problem.variable, []).append(problem.detail)
    for name, value in answers.items():
        if name in survey.SURVEY:
            continue
        spec = survey.CATALOGUE.get(name)
        if spec is None:
            problems.setdefault(name, []).append(_("There is no such question."))
            continue
        wrong = _answer_problem(spec, value)
        if wrong is not None:
            problems.setdefault(name, []).append(wrong)
    return problems


def self_assessment(answers: Mapping[str, Any], language: str) -> list[SelfAssessment]:
    """Every open program with approved rules evaluated on one household's answers with
    the same evaluator as the targeting run; nothing is stored. Invalid answers raise an
    ApplicationError (422) naming each question."""
    problems = self_assessment_problems(answers)
    if problems:
        raise ApplicationError(
            _("Some answers are not valid."), code="invalid_answers", fields=problems, status=422
        )
    versions = ProgramVersion.objects.filter(
        status=ProgramVersion.Status.APPROVED, program__open=True
    ).select_related("program")
    results = []
    for version in versions.order_by("program__code"):
        rules = rules_of(version)
        missing = tuple(name for name in required_variables(rules) if name not in answers)
        explanation = None
        if not missing:
            try:
                evaluation = pmt.evaluate_one(rules, answers, services.catalogue())
            except pmt.EvaluationError as error:
                raise ApplicationError(
                    str(error), code="invalid_answers", fields={"answers": [str(error)]}, status=422
                ) from None
            explanation = pmt.explain(rules, evaluation, 0)
        results.append(
            SelfAssessment(
                code=version.program.code,
                name=text_in(rules.name, language),
                likely_eligible=explanation["eligible"] if explanation else None,
                benefit=explanation["benefit"]["amount"] if explanation else 0,
                period=rules.period,
                explanation=explanation,
                missing=missing,
            )
        )
    return results
