"""Programs in the database: versioned rules with four eyes, targeting runs that match
the single-household evaluator, resume without duplicates, what-if, enrolment, exit
notices and appeals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from rahdari.accounts.roles import Role
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry, Job
from rahdari.ledger import entries
from rahdari.ledger.models import LogEntry
from rahdari.ledger.services import ledger_integrate
from rahdari.programs import pmt, services
from rahdari.programs.models import (
    Appeal,
    Beneficiary,
    Decision,
    Program,
    ProgramVersion,
    TargetingRun,
)
from rahdari.registry import services as registry_services
from rahdari.registry.models import Household
from tests.registry.conftest import answers

pytestmark = pytest.mark.django_db

RICH = {
    "rooms": 8,
    "head_education_years": 16,
    "roof_material": "rcc",
    "wall_material": "burnt_brick",
    "toilet_type": "flush_sewer",
    "water_source": "tap",
    "cooking_fuel": "natural_gas",
    "has_tv": True,
    "has_fridge": True,
    "has_washing_machine": True,
    "has_air_conditioner": True,
    "land_acres": 20.0,
}


@pytest.fixture
def officers(make_staff: Callable[..., Any]) -> tuple[Any, Any]:
    return make_staff(Role.PROGRAM_OFFICER), make_staff(Role.PROGRAM_OFFICER)


def _run(program: Program, officer: Any) -> TargetingRun:
    run = services.targeting_run_start(program=program, actor=officer)
    job_run(job_id=str(run.job_id))
    run.refresh_from_db()
    return run


def test_the_three_published_programs_are_there_with_approved_rules() -> None:
    codes = set(
        ProgramVersion.objects.filter(status="approved").values_list("program__code", flat=True)
    )
    assert codes == {"cash-transfer", "school-top-up", "disability-allowance"}


def test_a_rules_change_needs_a_second_officer(officers: tuple[Any, Any]) -> None:
    maker, checker = officers
    program = Program.objects.get(code="cash-transfer")
    current = services.approved_version(program)
    changed = dict(current.definition) | {"cutoff": 34.0}
    proposed = services.program_version_propose(
        code="cash-transfer", definition=changed, note="Cut-off 34 from 2027", actor=maker
    )
    assert proposed.version == current.version + 1 and proposed.status == "proposed"
    with pytest.raises(Forbidden) as refused:
        services.program_version_decide(version=proposed, approve=True, actor=maker)
    assert refused.value.code == "four_eyes"
    services.program_version_decide(version=proposed, approve=True, actor=checker)
    current.refresh_from_db()
    assert current.status == "superseded"
    assert services.approved_version(program).definition["cutoff"] == 34.0
    assert AuditEntry.objects.filter(action="programs.rules_approved").exists()


def test_bad_rules_are_refused_naming_every_problem(officers: tuple[Any, Any]) -> None:
    maker, _ = officers
    current = services.approved_version(Program.objects.get(code="cash-transfer")).definition
    bad = dict(current) | {"cutoff": 120.0, "benefit": {"base": -5, "per_unit": []}}
    bad["criteria"] = [
        {
            "id": "x",
            "label": current["criteria"][0]["label"],
            "all": [{"variable": "camels", "op": ">=", "value": 1}],
        }
    ]
    with pytest.raises(ApplicationError) as refused:
        services.program_version_propose(
            code="cash-transfer", definition=bad, note="typo", actor=maker
        )
    assert refused.value.code == "invalid_definition"
    paths = set(refused.value.fields)
    assert "cutoff" in paths and any("criteria" in p for p in paths)
    assert any("benefit" in p for p in paths)
    assert ProgramVersion.objects.filter(program__code="cash-transfer").count() == 1


def test_a_run_agrees_with_the_single_household_evaluator(
    make_household: Callable[..., Household], officers: tuple[Any, Any]
) -> None:
    poor = make_household()
    rich = make_household(**RICH)
    with_car = make_household(has_car=True)
    program = Program.objects.get(code="cash-transfer")
    run = _run(program, officers[0])
    assert run.status == "computed" and run.evaluated == 3
    definition = services.definition_of(run.version)
    for household, values in ((poor, {}), (rich, RICH), (with_car, {"has_car": True})):
        decision = Decision.objects.get(run=run, household=household)
        single = pmt.evaluate_one(
            definition,
            answers(**values)
            | {"area": "rural", "ever_married_women": 3, "members_with_disability": 1},
            services.catalogue(),
        )
        assert decision.score == float(single.score[0])
        assert decision.eligible == bool(single.eligible[0])
        assert decision.benefit == int(single.benefit[0])
        assert services.decision_explanation(decision) == pmt.explain(definition, single, 0)
    assert Decision.objects.get(run=run, household=poor).eligible
    assert Decision.objects.get(run=run, household=with_car).reason == pmt.Reason.EXCLUDED
    assert run.summary["by_district"]["Swat"]["evaluated"] == 3


def test_a_crashed_run_resumes_without_writing_a_decision_twice(
    make_household: Callable[..., Household],
    officers: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for _ in range(5):
        make_household()
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    real_write = services._write
    calls = {"n": 0}

    def crash_on_second_chunk(rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        real_write(rows)

    monkeypatch.setattr(services, "_write", crash_on_second_chunk)
    program = Program.objects.get(code="cash-transfer")
    run = services.targeting_run_start(program=program, actor=officers[0])
    with pytest.raises(RuntimeError):
        job_run(job_id=str(run.job_id))
    assert Decision.objects.filter(run=run).count() == 2
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.QUEUED)
    job_run(job_id=str(run.job_id))
    rows = list(Decision.objects.filter(run=run).values_list("row", flat=True))
    assert sorted(rows) == [0, 1, 2, 3, 4]
    run.refresh_from_db()
    assert run.status == "computed" and run.evaluated == 5


def test_what_if_a_higher_cutoff(
    make_household: Callable[..., Household], officers: tuple[Any, Any]
) -> None:
    make_household()
    make_household(**RICH)
    run = _run(Program.objects.get(code="cash-transfer"), officers[0])
    now = services.targeting_whatif(run=run, cutoff=32)
    wider = services.targeting_whatif(run=run, cutoff=100)
    assert now["whatif"] == now["now"] == run.eligible
    assert wider["whatif"] == 2  # everybody who passes the other rules
    with pytest.raises(ApplicationError):
        services.targeting_whatif(run=run, cutoff=0)


def test_approval_enrols_and_a_later_run_gives_exit_notice(
    make_household: Callable[..., Household], officers: tuple[Any, Any]
) -> None:
    maker, checker = officers
    household = make_household()
    program = Program.objects.get(code="cash-transfer")
    run = _run(program, maker)
    with pytest.raises(Forbidden):
        services.targeting_run_decide(run=run, approve=True, actor=maker)
    services.targeting_run_decide(run=run, approve=True, actor=checker)
    beneficiary = Beneficiary.objects.get(program=program, household=household)
    assert beneficiary.status == "active" and beneficiary.benefit == 13_500
    # The public ledger records the enrolment as totals per district, nobody's name.
    ledger_integrate()
    body = LogEntry.objects.get(kind="programs.enrolment_approved").body
    entry = entries.decode_entry(bytes(body))
    assert entry["program"] == "cash-transfer" and entry["run"] == str(run.pk)
    assert entry["period"] == "quarter"
    assert entry["totals"] == [{"district": household.district.name, "count": 1, "amount": 13_500}]

    registry_services.survey_answers_update(
        household=household, changes=RICH, source="officer_update", actor=None, reason="resurvey"
    )
    again = _run(program, maker)
    assert again.summary["changes"] == {"enter": 0, "leave": 1, "stay": 0}
    services.targeting_run_decide(run=again, approve=True, actor=checker)
    beneficiary.refresh_from_db()
    assert beneficiary.status == "exit_notice"
    assert beneficiary.exit_on == timezone.localdate() + timedelta(days=services.EXIT_NOTICE_DAYS)
    Beneficiary.objects.filter(pk=beneficiary.pk).update(exit_on=timezone.localdate())
    assert services.beneficiaries_exit_due() == 1


def test_only_one_run_at_a_time(officers: tuple[Any, Any]) -> None:
    program = Program.objects.get(code="cash-transfer")
    services.targeting_run_start(program=program, actor=officers[0])
    with pytest.raises(Conflict):
        services.targeting_run_start(program=program, actor=officers[0])


def test_an_excluded_household_appeals(
    make_household: Callable[..., Household], officers: tuple[Any, Any], make_staff: Any
) -> None:
    maker, checker = officers
    household = make_household(has_car=True)
    program = Program.objects.get(code="cash-transfer")
    run = _run(program, maker)
    services.targeting_run_decide(run=run, approve=True, actor=checker)
    with pytest.raises(ApplicationError):
        services.appeal_lodge(household=household, program=program, grounds=" ", actor=None)
    appeal = services.appeal_lodge(
        household=household, program=program, grounds="We sold the car in 2024.", actor=None
    )
    with pytest.raises(Conflict):
        services.appeal_lodge(household=household, program=program, grounds="again", actor=None)
    reviewer = make_staff(Role.GRIEVANCE_OFFICER)
    services.appeal_decide(appeal=appeal, upheld=True, actor=reviewer, note="Car sold: checked")
    assert Appeal.objects.get(pk=appeal.pk).status == "upheld"
    assert Beneficiary.objects.get(program=program, household=household).status == "active"


def test_a_run_whose_job_gave_up_does_not_block_the_next(officers: tuple[Any, Any]) -> None:
    program = Program.objects.get(code="cash-transfer")
    stuck = services.targeting_run_start(program=program, actor=officers[0])
    Job.objects.filter(pk=stuck.job_id).update(status=Job.Status.FAILED, attempts=3)
    services.targeting_run_start(program=program, actor=officers[0])
    stuck.refresh_from_db()
    assert stuck.status == "failed"


def test_a_run_reads_the_registry_as_it_stood_when_it_started(
    make_household: Callable[..., Household], officers: tuple[Any, Any]
) -> None:
    household = make_household()
    program = Program.objects.get(code="cash-transfer")
    run = services.targeting_run_start(program=program, actor=officers[0])
    # The answers change, and a household is added, after the run started (e.g. while it
    # waited for a worker, or between a crash and its resumption).
    registry_services.survey_answers_update(
        household=household, changes=RICH, source="officer_update", actor=None, reason="resurvey"
    )
    later = make_household()
    job_run(job_id=str(run.job_id))
    decisions = Decision.objects.filter(run=run)
    assert [d.household_id for d in decisions] == [household.pk]
    assert decisions.get().eligible  # the poor answers of the start, not the rich update
    assert later.pk not in {d.household_id for d in decisions}
