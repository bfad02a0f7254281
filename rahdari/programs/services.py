"""Program rules (versioned, four eyes), targeting runs, enrolment and appeals.

One evaluator (``programs/pmt.py``) serves the batch run, an officer's review and the
self-assessment, so they can never disagree. A run writes its decisions in chunks,
each chunk with its resume point in the same transaction, so a crashed run resumes
without writing a decision twice.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from rahdari.core.jobs import MAX_ATTEMPTS as JOB_MAX_ATTEMPTS
from rahdari.core.jobs import JobContext, job_create, job_kind
from rahdari.core.keyring import keyring
from rahdari.core.models import Job
from rahdari.core.notifications import notification_send, register_templates
from rahdari.ledger.services import ledger_submit
from rahdari.programs import pmt
from rahdari.programs.definition import (
    SEEDED_PROGRAMS,
    DefinitionError,
    ProgramDefinition,
    definition_validate,
    seeded_definition,
)
from rahdari.programs.models import (
    Appeal,
    Beneficiary,
    Decision,
    Program,
    ProgramVersion,
    TargetingRun,
    TargetUnit,
)
from rahdari.registry import selectors as registry
from rahdari.registry import survey
from rahdari.registry.models import Household

logger = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
EXIT_NOTICE_DAYS = 90
"""A household found no longer eligible keeps its benefit this long before it leaves."""

register_templates(
    {
        "programs.enrolled": gettext_noop(
            "Rahdari: your household is enrolled in {program}: Rs {amount} every {period}. "
            "No agent may ask you for money."
        ),
        "programs.exit_notice": gettext_noop(
            "Rahdari: after the new survey your household no longer qualifies for {program}. "
            "Payments continue until {date}. You may appeal at any Rahdari office or on the web."
        ),
        "programs.appeal_decided": gettext_noop(
            "Rahdari: your appeal about {program} was decided: {outcome}."
        ),
    }
)


def catalogue() -> Mapping[str, survey.VariableSpec]:
    return survey.CATALOGUE


# --- rules -------------------------------------------------------------------------------


def _definition_error(error: DefinitionError) -> ApplicationError:
    fields: dict[str, list[str]] = {}
    for problem in error.problems:
        fields.setdefault(problem["path"] or "definition", []).append(problem["message"])
    first = error.problems[0]["message"] if error.problems else ""
    return ApplicationError(
        _("The definition has %(n)d problem(s), first: %(first)s")
        % {"n": len(error.problems), "first": first},
        code="invalid_definition",
        fields=fields,
    )


@lru_cache(maxsize=256)
def _definition_of(version_id: Any, _stamp: str) -> ProgramDefinition:
    version = ProgramVersion.objects.get(pk=version_id)
    return definition_validate(version.definition, catalogue())


def definition_of(version: ProgramVersion) -> ProgramDefinition:
    """The validated rules of a version (cached: a version is never edited)."""
    return _definition_of(version.pk, str(version.version))


def approved_version(program: Program) -> ProgramVersion:
    version = program.versions.filter(status=ProgramVersion.Status.APPROVED).first()
    if version is None:
        raise Conflict(_("This program has no approved rules yet."), code="no_approved_rules")
    return version


def _require(actor: User | None, permission: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise Forbidden(_("You may not do this."), code="permission_denied")


def program_version_propose(
    *, code: str, definition: Mapping[str, Any], note: str, actor: User | None
) -> ProgramVersion:
    """A new version of a program's rules (a new program if the code is new), waiting for
    a second officer's approval. The version number is the next one, whatever the
    definition says. Audited."""
    _require(actor, "programs.propose_rules")
    if not note.strip():
        raise ApplicationError(
            _("Say what changes and why."), code="note_required", fields={"note": [_("Required.")]}
        )
    with transaction.atomic():
        program = Program.objects.select_for_update().filter(code=code).first()
        latest = (program.versions.aggregate(v=Max("version"))["v"] if program else None) or 0
        data = dict(definition) | {"code": code, "version": latest + 1}
        try:
            validated = definition_validate(data, catalogue())
        except DefinitionError as error:
            raise _definition_error(error) from None
        if program is None:
            program = Program.objects.create(code=code, target_unit=validated.target_unit)
        elif program.target_unit != validated.target_unit:
            raise ApplicationError(
                _("A program's target unit cannot change; make a new program."),
                code="target_unit_changed",
                fields={"target_unit": [_("Cannot change.")]},
            )
        version = ProgramVersion.objects.create(
            program=program,
            version=latest + 1,
            definition=validated.model_dump(mode="json"),
            note=note.strip()[:300],
            proposed_by=actor,
        )
        audit_record(
            actor=actor,
            action="programs.rules_proposed",
            subject=version,
            changes={"program": code, "version": version.version, "note": version.note},
        )
    return version


def program_version_decide(
    *, version: ProgramVersion, approve: bool, actor: User | None, note: str = ""
) -> ProgramVersion:
    """A second officer approves (the previous approved version is superseded) or rejects
    proposed rules; the proposer cannot decide their own proposal. Audited."""
    _require(actor, "programs.approve_rules")
    with transaction.atomic():
        live = ProgramVersion.objects.select_for_update().get(pk=version.pk)
        if live.status != ProgramVersion.Status.PROPOSED:
            raise Conflict(_("These rules were already decided."), code="already_decided")
        if actor is not None and live.proposed_by_id == actor.pk:
            raise Forbidden(
                _("Rules you proposed must be approved by another officer."), code="four_eyes"
            )
        if approve:
            ProgramVersion.objects.filter(
                program=live.program_id, status=ProgramVersion.Status.APPROVED
            ).update(status=ProgramVersion.Status.SUPERSEDED)
        live.status = ProgramVersion.Status.APPROVED if approve else ProgramVersion.Status.REJECTED
        live.decided_by = actor
        live.decided_at = timezone.now()
        live.decision_note = note.strip()[:300]
        live.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            action="programs.rules_approved" if approve else "programs.rules_rejected",
            subject=live,
            changes={"program": live.program.code, "version": live.version},
        )
    return live


def programs_seed() -> list[ProgramVersion]:
    """The three programs every installation starts with, approved at installation
    (no officer proposed them: they are the published rules of the province)."""
    made = []
    with transaction.atomic():
        for code in SEEDED_PROGRAMS:
            if Program.objects.filter(code=code).exists():
                continue
            definition = seeded_definition(code, catalogue())
            program = Program.objects.create(code=code, target_unit=definition.target_unit)
            version = ProgramVersion.objects.create(
                program=program,
                version=definition.version,
                definition=definition.model_dump(mode="json"),
                status=ProgramVersion.Status.APPROVED,
                note="Published rules, loaded at installation",
                decided_at=timezone.now(),
            )
            audit_record(
                actor=None,
                action="programs.rules_seeded",
                subject=version,
                changes={"program": code, "version": version.version},
            )
            made.append(version)
    return made


# --- explanations ------------------------------------------------------------------------


def _pack(evaluation: pmt.Evaluation) -> np.ndarray:
    """Per row, everything ``explain`` needs besides score and cut-off, as float32."""
    n = len(evaluation)
    return np.hstack(
        [
            evaluation.region.reshape(n, 1).astype(np.float32),
            evaluation.category_cutoff.reshape(n, 1).astype(np.float32),
            evaluation.criteria.reshape(n, -1).astype(np.float32),
            evaluation.exclusions.reshape(n, -1).astype(np.float32),
            evaluation.contributions.reshape(n, -1).astype(np.float32),
            evaluation.benefit_units.reshape(n, -1).astype(np.float32),
        ]
    )


def _unpack(definition: ProgramDefinition, decision: Decision) -> pmt.Evaluation:
    values = np.frombuffer(base64.b64decode(decision.explanation), dtype=np.float32)
    c, e = len(definition.criteria), len(definition.exclusions)
    t, u = len(pmt.term_keys(definition)), len(definition.benefit.per_unit)
    cuts = np.cumsum([1, 1, c, e, t, u])
    region, category, criteria, exclusions, contributions, units = np.split(values, cuts)[:6]
    return pmt.Evaluation(
        score=np.array([decision.score]),
        region=region.astype(np.int16),
        contributions=contributions.reshape(1, t),
        cutoff=np.array([decision.cutoff]),
        category_cutoff=category.astype(np.int16),
        criteria=criteria.reshape(1, c) != 0,
        exclusions=exclusions.reshape(1, e) != 0,
        eligible=np.array([decision.eligible]),
        benefit=np.array([decision.benefit], dtype=np.int64),
        benefit_units=units.reshape(1, u).astype(np.int64),
        reason=np.array([decision.reason], dtype=np.int8),
    )


def decision_explanation(decision: Decision) -> pmt.Explanation:
    """Why this household got its decision, exactly as the run computed it."""
    definition = definition_of(decision.run.version)
    return pmt.explain(definition, _unpack(definition, decision), 0)


# --- targeting runs ----------------------------------------------------------------------


def targeting_run_start(
    *,
    program: Program,
    actor: User | None,
    kind: str = TargetingRun.Kind.TARGETING,
) -> TargetingRun:
    """Start eligibility over the whole registry under the approved rules, as of now
    (a background job). One run at a time per program. Audited."""
    _require(actor, "programs.run_targeting")
    with transaction.atomic():
        Program.objects.select_for_update().get(pk=program.pk)
        version = approved_version(program)
        _runs_failed_for_good(program)
        busy = program.runs.filter(
            status__in=[TargetingRun.Status.QUEUED, TargetingRun.Status.COMPUTING]
        ).exists()
        if busy:
            raise Conflict(_("A run of this program is already going."), code="run_in_progress")
        previous = program.runs.filter(status=TargetingRun.Status.APPROVED).first()
        run = TargetingRun.objects.create(
            program=program,
            version=version,
            kind=kind,
            as_of=timezone.now(),
            previous=previous,
            prepared_by=actor,
        )
        run.job = job_create(kind="programs.targeting", params={"run": str(run.pk)}, actor=actor)
        run.save(update_fields=["job"])
        audit_record(
            actor=actor,
            action="programs.run_started",
            subject=run,
            changes={"program": program.code, "version": version.version, "kind": kind},
        )
    return run


def _runs_failed_for_good(program: Program) -> None:
    """A run whose job gave up (it failed as often as the worker retries) is failed,
    so it no longer blocks the next run."""
    gave_up = Job.objects.filter(status=Job.Status.FAILED, attempts__gte=JOB_MAX_ATTEMPTS)
    program.runs.filter(
        status__in=[TargetingRun.Status.QUEUED, TargetingRun.Status.COMPUTING],
        job__in=gave_up,
    ).update(status=TargetingRun.Status.FAILED)


@dataclass(frozen=True)
class _Table:
    columns: dict[str, np.ndarray]
    household_ids: np.ndarray  # (n,) household UUID text per row
    member_ids: np.ndarray | None  # (n,) member pk per row, person-target programs only


def _table(program: Program, as_of: datetime) -> _Table:
    """The registry as it stood when the run started (also when it resumes)."""
    households = registry.household_table(as_of=as_of)
    if program.target_unit != TargetUnit.PERSON:
        return _Table(households, households["household_id"], None)
    persons = registry.person_table(table=households)
    rows = persons["household_row"]
    columns = {name: values[rows] for name, values in households.items()}
    columns.update(persons)
    return _Table(columns, columns["household_id"], persons["member_id"])


def _decision_rows(
    run: TargetingRun, table: _Table, evaluation: pmt.Evaluation, start: int, stop: int
) -> list[tuple[Any, ...]]:
    """Rows ``start``..``stop`` as database rows, explanations sealed as the model field
    would seal them (written with raw SQL for speed)."""
    rows = slice(start, stop)
    part = pmt.Evaluation(**{f: getattr(evaluation, f)[rows] for f in _EVALUATION_FIELDS})
    packed = _pack(part)
    context = Decision._meta.get_field("explanation").context()
    b64 = base64.b64encode
    sealed = keyring().encrypt_many((b64(row.tobytes()).decode("ascii") for row in packed), context)
    passes: list[bool] = np.asarray(
        part.criteria.all(axis=1) & ~part.exclusions.any(axis=1)
    ).tolist()
    sqlite = connection.vendor == "sqlite"
    run_id = run.pk.hex if sqlite else str(run.pk)
    households = table.household_ids[rows].tolist()
    if sqlite:
        households = [h.replace("-", "") for h in households]
    members = (
        [None] * (stop - start) if table.member_ids is None else table.member_ids[rows].tolist()
    )
    return list(
        zip(
            [run_id] * (stop - start),
            households,
            members,
            range(start, stop),
            table.columns["district_id"][rows].tolist(),
            part.score.tolist(),
            part.cutoff.tolist(),
            passes,
            part.eligible.tolist(),
            part.reason.tolist(),
            part.benefit.tolist(),
            sealed,
            strict=True,
        )
    )


_EVALUATION_FIELDS = (
    "score",
    "region",
    "contributions",
    "cutoff",
    "category_cutoff",
    "criteria",
    "exclusions",
    "eligible",
    "benefit",
    "benefit_units",
    "reason",
)


_DECISION_COLUMNS = (
    "run_id",
    "household_id",
    "member_id",
    "row",
    "district_id",
    "score",
    "cutoff",
    "passes_rules",
    "eligible",
    "reason",
    "benefit",
    "explanation",
)


def _write(rows: list[tuple[Any, ...]]) -> None:
    table = connection.ops.quote_name(Decision._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _DECISION_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(_DECISION_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
                rows,
            )


@job_kind("programs.targeting")
def targeting_run_compute(ctx: JobContext) -> dict[str, Any]:
    """Evaluate every household (or person) and store the decisions, chunk by chunk; the
    resume point is the number of decisions already stored, so a crash never writes
    one twice."""
    run = TargetingRun.objects.select_related("program", "version").get(pk=ctx.job.params["run"])
    if run.status not in (TargetingRun.Status.QUEUED, TargetingRun.Status.COMPUTING):
        return {"status": run.status}
    TargetingRun.objects.filter(pk=run.pk).update(status=TargetingRun.Status.COMPUTING)
    definition = definition_of(run.version)
    table = _table(run.program, run.as_of)
    evaluation = pmt.evaluate(definition, table.columns, catalogue())
    n = len(evaluation)
    ctx.set_total(n)
    start = run.decisions.count()
    ctx.job.done = start
    for first in range(start, n, CHUNK_ROWS):
        last = min(first + CHUNK_ROWS, n)
        with transaction.atomic():
            _write(_decision_rows(run, table, evaluation, first, last))
            ctx.advance(last - first, {"rows": last})
    with transaction.atomic():
        summary = _summary(run)
        TargetingRun.objects.filter(pk=run.pk).update(
            status=TargetingRun.Status.COMPUTED,
            evaluated=summary["evaluated"],
            eligible=summary["eligible"],
            benefit_total=summary["benefit_total"],
            summary=summary,
        )
        audit_record(
            actor=None,
            action="programs.run_computed",
            subject=run,
            changes={k: summary[k] for k in ("evaluated", "eligible", "benefit_total")},
        )
    return {"evaluated": summary["evaluated"], "eligible": summary["eligible"]}


def _summary(run: TargetingRun) -> dict[str, Any]:
    """Counts by district and by reason, and who enters or leaves since the last approved run."""
    decisions = Decision.objects.filter(run=run)
    by_district = {
        str(row["district__name"]): {
            "evaluated": row["n"],
            "eligible": row["eligible_n"],
            "benefit": row["benefit_sum"] or 0,
        }
        for row in decisions.values("district__name")
        .annotate(
            n=Count("id"),
            eligible_n=Count("id", filter=Q(eligible=True)),
            benefit_sum=Sum("benefit", filter=Q(eligible=True)),
        )
        .order_by("district__name")
    }
    by_reason = {
        pmt.Reason(row["reason"]).name.lower(): row["n"]
        for row in decisions.values("reason").annotate(n=Count("id")).order_by("reason")
    }
    # The totals are the districts' sums: no third pass over the decisions.
    summary: dict[str, Any] = {
        "evaluated": sum(d["evaluated"] for d in by_district.values()),
        "eligible": sum(d["eligible"] for d in by_district.values()),
        "benefit_total": sum(d["benefit"] for d in by_district.values()),
        "by_district": by_district,
        "by_reason": by_reason,
    }
    if run.previous_id:
        summary["changes"] = _changes(run)
    return summary


def _changes(run: TargetingRun) -> dict[str, int]:
    """Households (or persons) that enter, leave or stay, against the previous approved run."""
    now = set(
        Decision.objects.filter(run=run, eligible=True).values_list("household_id", "member_id")
    )
    before = set(
        Decision.objects.filter(run=run.previous_id, eligible=True).values_list(
            "household_id", "member_id"
        )
    )
    return {"enter": len(now - before), "leave": len(before - now), "stay": len(now & before)}


def targeting_whatif(*, run: TargetingRun, cutoff: float) -> dict[str, Any]:
    """How many would be eligible with a different main cut-off (category cut-offs still
    apply where higher), by district; nothing is stored."""
    if not 0 < cutoff <= 100:
        raise ApplicationError(
            _("A cut-off is a score above 0 and at most 100."),
            code="invalid_cutoff",
            fields={"cutoff": [_("Between 0 and 100.")]},
        )
    main = definition_of(run.version).cutoff
    decisions = Decision.objects.filter(run=run)
    rows = decisions.values("district__name").annotate(
        now=Count("id", filter=Q(eligible=True)),
        whatif=Count(
            "id",
            filter=Q(passes_rules=True)
            & (
                Q(cutoff=main, score__lte=cutoff)
                | (~Q(cutoff=main) & (Q(score__lte=cutoff) | Q(score__lte=F("cutoff"))))
            ),
        ),
    )
    by_district = {
        str(r["district__name"]): {"now": r["now"], "whatif": r["whatif"]}
        for r in rows.order_by("district__name")
    }
    return {
        "cutoff": cutoff,
        "main_cutoff": main,
        "now": sum(v["now"] for v in by_district.values()),
        "whatif": sum(v["whatif"] for v in by_district.values()),
        "by_district": by_district,
    }


def targeting_run_decide(
    *, run: TargetingRun, approve: bool, actor: User | None, note: str = ""
) -> TargetingRun:
    """A second officer approves a computed run: its eligible households become (or stay)
    beneficiaries; those no longer eligible get an exit notice; the enrolment messages
    go out through the outbox. Or rejects it. The preparer cannot decide. Audited."""
    _require(actor, "programs.approve_targeting")
    with transaction.atomic():
        live = TargetingRun.objects.select_for_update().select_related("program").get(pk=run.pk)
        if live.status != TargetingRun.Status.COMPUTED:
            raise Conflict(_("This run is not waiting for approval."), code="not_computed")
        if actor is not None and live.prepared_by_id == actor.pk:
            raise Forbidden(
                _("A run you prepared must be approved by another officer."), code="four_eyes"
            )
        live.status = TargetingRun.Status.APPROVED if approve else TargetingRun.Status.REJECTED
        live.decided_by = actor
        live.decided_at = timezone.now()
        live.decision_note = note.strip()[:300]
        live.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        changes: dict[str, Any] = {"program": live.program.code}
        if approve:
            changes |= _enrol(live)
            job_create(kind="programs.notify", params={"run": str(live.pk)}, actor=actor)
            _publish_enrolment(live)
        audit_record(
            actor=actor,
            action="programs.run_approved" if approve else "programs.run_rejected",
            subject=live,
            changes=changes,
        )
    return live


def _publish_enrolment(run: TargetingRun) -> None:
    """The public ledger's record of an approved enrolment: per district, how many are
    enrolled and the rupees committed each period — totals only, nobody's name."""
    by_district = (run.summary or {}).get("by_district", {})
    ledger_submit(
        kind="programs.enrolment_approved",
        fields={
            "program": run.program.code,
            "run": str(run.pk),
            "period": definition_of(run.version).period,
            "totals": [
                {"district": district, "count": row["eligible"], "amount": row["benefit"]}
                for district, row in sorted(by_district.items())
                if row["eligible"]
            ],
        },
    )


def _enrol(run: TargetingRun) -> dict[str, int]:
    """Set-based: new beneficiaries for the eligible, exit notices for the rest."""
    eligible: dict[tuple[Any, Any], int] = {
        (household, member): benefit
        for household, member, benefit in Decision.objects.filter(
            run=run, eligible=True
        ).values_list("household_id", "member_id", "benefit")
    }
    current = {
        (b.household_id, b.member_id): b
        for b in Beneficiary.objects.filter(program=run.program_id).exclude(
            status=Beneficiary.Status.EXITED
        )
    }
    today = timezone.localdate()
    new = [
        Beneficiary(
            program_id=run.program_id,
            household_id=household,
            member_id=member,
            benefit=benefit,
            enrolled_by_run=run,
            last_run=run,
        )
        for (household, member), benefit in eligible.items()
        if (household, member) not in current
    ]
    Beneficiary.objects.bulk_create(new, batch_size=5000)
    staying = [b for key, b in current.items() if key in eligible]
    for beneficiary in staying:
        beneficiary.benefit = eligible[(beneficiary.household_id, beneficiary.member_id)]
        beneficiary.last_run = run
        if beneficiary.status == Beneficiary.Status.EXIT_NOTICE:
            beneficiary.status, beneficiary.exit_on = Beneficiary.Status.ACTIVE, None
    Beneficiary.objects.bulk_update(
        staying, ["benefit", "last_run", "status", "exit_on"], batch_size=5000
    )
    leaving = [
        b
        for key, b in current.items()
        if key not in eligible and b.status == Beneficiary.Status.ACTIVE
    ]
    for beneficiary in leaving:
        beneficiary.status = Beneficiary.Status.EXIT_NOTICE
        beneficiary.exit_on = today + timedelta(days=EXIT_NOTICE_DAYS)
        beneficiary.last_run = run
    Beneficiary.objects.bulk_update(leaving, ["status", "exit_on", "last_run"], batch_size=5000)
    return {"enrolled": len(new), "continuing": len(staying), "exit_notices": len(leaving)}


def beneficiaries_exit_due() -> int:
    """Households whose notice period ended leave the program (run by the worker)."""
    return Beneficiary.objects.filter(
        status=Beneficiary.Status.EXIT_NOTICE, exit_on__lte=timezone.localdate()
    ).update(status=Beneficiary.Status.EXITED)


# --- appeals -----------------------------------------------------------------------------


def appeal_lodge(
    *,
    household: Household,
    program: Program,
    grounds: str,
    actor: User | None,
    assisted: bool = False,
) -> Appeal:
    """An excluded household asks for its latest decision to be reviewed. Audited."""
    if not grounds.strip():
        raise ApplicationError(
            _("Say why the decision is wrong."),
            code="grounds_required",
            fields={"grounds": [_("Required.")]},
        )
    decision = (
        Decision.objects.filter(
            household=household, run__program=program, run__status=TargetingRun.Status.APPROVED
        )
        .order_by("-run__decided_at")
        .first()
    )
    if decision is None:
        raise NotFound(
            _("There is no decision about this household in this program yet."),
            code="no_decision",
        )
    if decision.eligible:
        raise Conflict(
            _("This household is eligible: there is nothing to appeal."), code="eligible"
        )
    with transaction.atomic():
        if Appeal.objects.filter(
            program=program,
            household=household,
            status__in=[Appeal.Status.OPEN, Appeal.Status.UNDER_REVIEW],
        ).exists():
            raise Conflict(_("An appeal of this household is already open."), code="appeal_open")
        appeal = Appeal.objects.create(
            decision=decision,
            program=program,
            household=household,
            grounds=grounds.strip()[:2000],
            lodged_by=actor,
            assisted=assisted,
        )
        audit_record(
            actor=actor,
            action="programs.appeal_lodged",
            subject=appeal,
            changes={"program": program.code, "household": household.number, "assisted": assisted},
        )
    return appeal


def appeal_review_start(*, appeal: Appeal, actor: User | None) -> Appeal:
    """A reviewer takes an open appeal: it is under review until decided. Audited."""
    _require(actor, "programs.review_appeals")
    with transaction.atomic():
        live = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if live.status != Appeal.Status.OPEN:
            raise Conflict(_("This appeal is not waiting for a reviewer."), code="not_open")
        live.status = Appeal.Status.UNDER_REVIEW
        live.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="programs.appeal_review_started",
            subject=live,
            changes={"program": live.program.code},
        )
    return live


def appeal_decide(*, appeal: Appeal, upheld: bool, actor: User | None, note: str) -> Appeal:
    """A reviewer decides an appeal. Upheld: the household is enrolled under the rules'
    benefit (the reviewer's note says why, e.g. the survey answers were wrong and are
    corrected); dismissed: the decision stands. The household is told by SMS. Audited."""
    _require(actor, "programs.review_appeals")
    if not note.strip():
        raise ApplicationError(
            _("Say why."), code="note_required", fields={"note": [_("Required.")]}
        )
    with transaction.atomic():
        live = (
            Appeal.objects.select_for_update()
            .select_related("decision__run", "program")
            .get(pk=appeal.pk)
        )
        if live.status not in (Appeal.Status.OPEN, Appeal.Status.UNDER_REVIEW):
            raise Conflict(_("This appeal was already decided."), code="already_decided")
        live.status = Appeal.Status.UPHELD if upheld else Appeal.Status.DISMISSED
        live.decided_by = actor
        live.decided_at = timezone.now()
        live.outcome_note = note.strip()[:300]
        live.save(update_fields=["status", "decided_by", "decided_at", "outcome_note"])
        if upheld:
            definition = definition_of(live.decision.run.version)
            Beneficiary.objects.get_or_create(
                program=live.program,
                household_id=live.household_id,
                member_id=live.decision.member_id,
                status=Beneficiary.Status.ACTIVE,
                defaults={
                    "benefit": definition.benefit.base,
                    "enrolled_by_run": live.decision.run,
                    "last_run": live.decision.run,
                },
            )
        audit_record(
            actor=actor,
            action="programs.appeal_upheld" if upheld else "programs.appeal_dismissed",
            subject=live,
            changes={"program": live.program.code},
        )
        rules = definition_of(live.decision.run.version)
        _tell_household(
            live.household_id,
            "programs.appeal_decided",
            lambda lang: {"program": _name(rules, lang), "outcome": live.get_status_display()},
        )
    return live


# --- applications ----------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdCheck:
    """What the approved rules say today about one household (or one of its members)."""

    program: str
    version: int
    eligible: bool
    score: float
    cutoff: float
    benefit: int
    reason: int
    member_id: int | None


def household_check(
    *, program: Program, household: Household, person_id: Any = None
) -> HouseholdCheck | None:
    """Evaluate one household's current registry answers with the program's approved
    rules — the same evaluator as the targeting run, so an application's officer sees
    what the next run would decide. A person-level program evaluates the member who is
    ``person_id``. None when the household has no current answers (or the person is not
    an active member)."""
    version = approved_version(program)
    definition = definition_of(version)
    columns = registry.household_table(households=[household.pk])
    if len(columns["household_id"]) == 0:
        return None
    member_id = None
    if program.target_unit == TargetUnit.PERSON:
        persons = registry.person_table(households=[household.pk], table=columns)
        wanted = str(person_id) if person_id else ""
        rows = [i for i, p in enumerate(persons["person_id"].tolist()) if p and p == wanted]
        if not rows:
            return None
        pick = rows[0]
        columns = {name: values[persons["household_row"]] for name, values in columns.items()}
        columns.update(persons)
        columns = {name: values[pick : pick + 1] for name, values in columns.items()}
        member_id = int(persons["member_id"][pick])
    evaluation = pmt.evaluate(definition, columns, catalogue())
    return HouseholdCheck(
        program=program.code,
        version=version.version,
        eligible=bool(evaluation.eligible[0]),
        score=round(float(evaluation.score[0]), 2),
        cutoff=round(float(evaluation.cutoff[0]), 2),
        benefit=int(evaluation.benefit[0]),
        reason=int(evaluation.reason[0]),
        member_id=member_id,
    )


def beneficiary_enrol_on_application(
    *, program: Program, household: Household, person_id: Any, actor: User, reference: str
) -> Beneficiary:
    """An officer approved an application: the household (or the member) is enrolled if
    the approved rules find it eligible today, with the benefit they give, under the
    program's latest approved run (its payments come with the next cycle). Refused when
    the rules do not find it eligible or no run was approved yet. Audited; SMS."""
    if not program.open:
        raise Conflict(_("This program is closed to new applications."), code="program_closed")
    check = household_check(program=program, household=household, person_id=person_id)
    if check is None:
        raise Conflict(
            _("The household has no current survey answers: survey it first."),
            code="not_surveyed",
        )
    if not check.eligible:
        raise Conflict(
            _(
                "The program's rules do not find this household eligible today (score "
                "%(score)s, cut-off %(cutoff)s). Correct its survey answers if they are "
                "wrong, or reject the application with the reason."
            )
            % {"score": check.score, "cutoff": check.cutoff},
            code="not_eligible",
        )
    run = program.runs.filter(status=TargetingRun.Status.APPROVED).order_by("-decided_at").first()
    if run is None:
        raise Conflict(
            _("No targeting run of this program was approved yet: enrolment waits for it."),
            code="no_approved_run",
        )
    with transaction.atomic():
        beneficiary, created = Beneficiary.objects.get_or_create(
            program=program,
            household=household,
            member_id=check.member_id,
            status=Beneficiary.Status.ACTIVE,
            defaults={"benefit": check.benefit, "enrolled_by_run": run, "last_run": run},
        )
        audit_record(
            actor=actor,
            action="programs.enrolled_on_application",
            subject=beneficiary,
            changes={"program": program.code, "application": reference, "new": created},
        )
        if created:
            definition = definition_of(approved_version(program))
            _tell_household(
                household.pk,
                "programs.enrolled",
                lambda lang: {
                    "program": _name(definition, lang),
                    "amount": number_format(check.benefit, force_grouping=True),
                    "period": _(_PERIOD_WORDS[definition.period]),
                },
            )
    return beneficiary


def _payee(household_id: Any) -> tuple[str, str] | None:
    """The mobile number and language of the household's enrolled adult who receives
    messages: its ever-married woman first, else the head, else any adult."""
    for person in registry.household_contacts(household_id):
        if person.mobile:
            account = person.account if person.account_id else None
            return person.mobile, (account.preferred_language if account else "ur")
    return None


def _tell_household(
    household_id: Any, template: str, params: Callable[[str], dict[str, Any]]
) -> bool:
    """An SMS to the household in its language; ``params`` gets the language."""
    contact = _payee(household_id)
    if contact is None:
        return False
    mobile, language = contact
    with override(language):
        values = params(language)
    notification_send(
        recipient=mobile, template=template, language=language, params=values, urgent=False
    )
    return True


def _name(definition: ProgramDefinition, language: str) -> str:
    return str(getattr(definition.name, language, definition.name.en))


def program_name(program: Program, language: str) -> str:
    """The program's name in a language, from its approved rules (its code if none)."""
    version = program.versions.filter(status=ProgramVersion.Status.APPROVED).first()
    return _name(definition_of(version), language) if version else program.code


_PERIOD_WORDS = {
    "quarter": gettext_noop("quarter"),
    "month": gettext_noop("month"),
    "year": gettext_noop("year"),
}


@job_kind("programs.notify")
def beneficiaries_notify(ctx: JobContext) -> dict[str, Any]:
    """Tell every household the approved run enrolled or gave notice, once each (the
    resume point is the last beneficiary told, in id order)."""
    run = TargetingRun.objects.select_related("program", "version").get(pk=ctx.job.params["run"])
    definition = definition_of(run.version)
    after = ctx.job.checkpoint.get("after")
    todo = Beneficiary.objects.filter(last_run=run).filter(
        Q(enrolled_by_run=run) | Q(status=Beneficiary.Status.EXIT_NOTICE)
    )
    ctx.set_total(todo.count())
    if after:
        todo = todo.filter(pk__gt=after)
    told = 0
    for chunk in _chunks(todo.order_by("pk"), 500):
        with transaction.atomic():
            for beneficiary in chunk:
                told += _tell_beneficiary(beneficiary, definition)
            ctx.advance(len(chunk), {"after": str(chunk[-1].pk)})
    return {"told": told}


def _tell_beneficiary(beneficiary: Beneficiary, definition: ProgramDefinition) -> bool:
    """The enrolment message, or the exit notice, in the household's language."""
    if beneficiary.status == Beneficiary.Status.EXIT_NOTICE:
        exit_on = beneficiary.exit_on

        def notice(language: str) -> dict[str, Any]:
            return {
                "program": _name(definition, language),
                "date": date_format(exit_on) if exit_on else "",
            }

        return _tell_household(beneficiary.household_id, "programs.exit_notice", notice)

    def enrolled(language: str) -> dict[str, Any]:
        return {
            "program": _name(definition, language),
            "amount": number_format(beneficiary.benefit, force_grouping=True),
            "period": _(_PERIOD_WORDS[definition.period]),
        }

    return _tell_household(beneficiary.household_id, "programs.enrolled", enrolled)


def _chunks(queryset: Any, size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in queryset.iterator(chunk_size=size):
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
