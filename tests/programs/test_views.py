"""Programs pages: they render in English and Urdu for a program officer and refuse
citizens and visitors; a bad proposal names each problem; four eyes on rules and runs;
the run page's query count does not grow with its decisions; opening a decision is a
logged read; what-if; the appeals queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rahdari.accounts.roles import Role
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry
from rahdari.programs import services
from rahdari.programs.models import (
    Appeal,
    Beneficiary,
    Decision,
    Program,
    ProgramVersion,
    TargetingRun,
)

pytestmark = pytest.mark.django_db
CODE = "cash-transfer"


@pytest.fixture
def officers(staff_client: Callable[..., Client]) -> tuple[Client, Client]:
    """Two program officers of Swat (a maker and a checker)."""
    return staff_client(Role.PROGRAM_OFFICER, ["Swat"]), staff_client(
        Role.PROGRAM_OFFICER, ["Swat"]
    )


def _computed_run(maker: Any) -> TargetingRun:
    run = services.targeting_run_start(program=Program.objects.get(code=CODE), actor=maker)
    job_run(job_id=str(run.job_id))
    run.refresh_from_db()
    return run


def _approved_run(maker: Any, checker: Any) -> TargetingRun:
    run = _computed_run(maker)
    return services.targeting_run_decide(run=run, approve=True, actor=checker)


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_pages_render_for_a_program_officer(
    officers: tuple[Client, Client], make_household: Any, lang: str
) -> None:
    maker, checker = officers
    poor = make_household()
    make_household(has_car=True)
    run = _approved_run(maker.user, checker.user)  # type: ignore[attr-defined]
    decision = Decision.objects.get(run=run, household=poor)
    rtl = 'dir="rtl"'
    pages = {
        reverse("programs:list"): ["cash-transfer", "school-top-up", "disability-allowance"],
        reverse("programs:program", args=[CODE]): ["data-cutoff=", 'data-rule="owns_car"'],
        reverse("programs:run", args=[run.pk]): ['data-run-status="approved"', "HH0000000001"],
        reverse("programs:decision", args=[decision.pk]): ["HH0000000001", "data-score"],
        reverse("programs:appeals"): [],
    }
    for url, expected in pages.items():
        response = maker.get(f"{url}?lang={lang}")
        assert response.status_code == 200, url
        body = response.content.decode()
        assert (rtl in body) == (lang != "en"), url
        for text in expected:
            assert text in body, (url, text)
    listing = maker.get(reverse("programs:list") + f"?lang={lang}").content.decode()
    name = {
        "en": "Unconditional Cash Transfer",
        "ur": "غیر مشروط نقد مالی امداد",
        "ps": "غیر مشروط نغدي مرسته",
    }[lang]
    assert name in listing
    if lang == "ur":  # district names in Urdu, counts grouped
        run_page = maker.get(reverse("programs:run", args=[run.pk])).content.decode()
        assert "سوات" in run_page


def test_citizens_and_visitors_are_refused(
    officers: tuple[Client, Client], make_household: Any, make_citizen: Any
) -> None:
    make_household()
    run = _computed_run(officers[0].user)  # type: ignore[attr-defined]
    decision = Decision.objects.filter(run=run).first()
    assert decision is not None
    urls = [
        reverse("programs:list"),
        reverse("programs:program", args=[CODE]),
        reverse("programs:run", args=[run.pk]),
        reverse("programs:run_whatif", args=[run.pk]) + "?cutoff=40",
        reverse("programs:decision", args=[decision.pk]),
        reverse("programs:appeals"),
    ]
    visitor = Client()
    citizen = Client()
    citizen.force_login(make_citizen())
    for url in urls:
        assert visitor.get(url).status_code == 302, url
        assert reverse("accounts:login") in visitor.get(url)["Location"]
        assert citizen.get(url).status_code == 403, url
    refused = citizen.post(reverse("programs:run_decide", args=[run.pk]), {"decision": "approve"})
    assert refused.status_code == 403
    assert not AuditEntry.objects.filter(action="registry.household.viewed").exists()


def test_a_bad_proposal_shows_each_problem_next_to_the_rules(
    officers: tuple[Client, Client],
) -> None:
    maker, _ = officers
    current = ProgramVersion.objects.get(program__code=CODE, status="approved").definition
    bad = dict(current) | {"cutoff": 120.0}
    bad["criteria"] = [
        {
            "id": "camels",
            "label": current["criteria"][0]["label"],
            "all": [{"variable": "camels", "op": ">=", "value": 1}],
        }
    ]
    url = reverse("programs:program", args=[CODE])
    response = maker.post(url, {"definition": json.dumps(bad), "note": "More camels"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "criteria[0].all[0].variable" in body and "camels" in body
    assert "cutoff: A cut-off must be above 0 and at most 100" in body
    assert 'id="id_definition_error"' in body  # the problems are tied to the textarea
    not_json = maker.post(url, {"definition": "{cutoff: 30", "note": "x"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.content.decode()
    no_note = maker.post(url, {"definition": json.dumps(current), "note": ""})
    assert no_note.status_code == 400
    assert ProgramVersion.objects.filter(program__code=CODE).count() == 1
    page = maker.get(url).content.decode()  # the form starts with the rules in force
    assert "&quot;cutoff&quot;: 32.0" in page


def test_four_eyes_on_rules(officers: tuple[Client, Client]) -> None:
    maker, checker = officers
    current = ProgramVersion.objects.get(program__code=CODE, status="approved").definition
    url = reverse("programs:program", args=[CODE])
    response = maker.post(
        url, {"definition": json.dumps(current | {"cutoff": 34.0}), "note": "Cut-off 34"}
    )
    assert response.status_code == 302
    proposed = ProgramVersion.objects.get(program__code=CODE, status="proposed")
    own = maker.get(url).content.decode()
    assert "data-four-eyes" in own
    assert reverse("programs:version_decide", args=[proposed.pk]) not in own
    decide = reverse("programs:version_decide", args=[proposed.pk])
    refused = maker.post(decide, {"decision": "approve"}, follow=True)
    assert "must be approved by another officer" in refused.content.decode()
    proposed.refresh_from_db()
    assert proposed.status == "proposed"
    other = checker.get(url).content.decode()
    assert decide in other and "data-four-eyes" not in other
    checker.post(decide, {"decision": "approve", "note": "Checked against the survey"})
    proposed.refresh_from_db()
    assert proposed.status == "approved" and proposed.decision_note == "Checked against the survey"
    history = checker.get(url).content.decode()
    assert 'data-version-status="superseded"' in history and "Cut-off 34" in history


def test_four_eyes_on_runs(officers: tuple[Client, Client], make_household: Any) -> None:
    maker, checker = officers
    household = make_household()
    started = maker.post(reverse("programs:run_start", args=[CODE]), {"kind": "targeting"})
    run = TargetingRun.objects.get()
    assert started["Location"] == reverse("programs:run", args=[run.pk])
    url = reverse("programs:run", args=[run.pk])
    queued = maker.get(url).content.decode()
    assert 'id="run-bar"' in queued and 'hx-trigger="every 1s"' in queued
    again = maker.post(
        reverse("programs:run_start", args=[CODE]), {"kind": "targeting"}, follow=True
    )
    assert "already going" in again.content.decode()

    job_run(job_id=str(run.job_id))
    polled = maker.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="run-body").content.decode()
    assert "<html" not in polled and 'data-run-status="computed"' in polled
    assert "every 1s" not in polled and 'value="100"' in polled
    assert "data-four-eyes" in polled
    decide = reverse("programs:run_decide", args=[run.pk])
    refused = maker.post(decide, {"decision": "approve"}, follow=True)
    assert "must be approved by another officer" in refused.content.decode()
    run.refresh_from_db()
    assert run.status == "computed"
    assert decide in checker.get(url).content.decode()
    checker.post(decide, {"decision": "approve"})
    run.refresh_from_db()
    assert run.status == "approved"
    assert Beneficiary.objects.filter(household=household, status="active").exists()


def test_run_page_query_count_does_not_grow_with_decisions(
    officers: tuple[Client, Client],
    make_household: Any,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    maker, checker = officers
    make_household()
    make_household(has_car=True)
    small = _computed_run(maker.user)  # type: ignore[attr-defined]
    for _ in range(6):
        make_household()
    services.targeting_run_decide(run=small, approve=False, actor=checker.user)  # type: ignore[attr-defined]
    large = _computed_run(maker.user)  # type: ignore[attr-defined]
    assert large.evaluated == 8 and small.evaluated == 2
    maker.get(reverse("programs:run", args=[small.pk]))  # warm the session and caches
    with django_assert_max_num_queries(12) as few:
        maker.get(reverse("programs:run", args=[small.pk]))
    with django_assert_num_queries(len(few.captured_queries)):
        response = maker.get(reverse("programs:run", args=[large.pk]))
    assert response.content.decode().count("data-decision=") == 8
    filtered = maker.get(
        reverse("programs:run", args=[large.pk]),
        {"eligible": "no"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="decision-rows",
    ).content.decode()
    assert "<html" not in filtered and filtered.count("data-decision=") == 1


def test_opening_a_decision_records_the_read_and_lodges_an_assisted_appeal(
    officers: tuple[Client, Client], make_household: Any
) -> None:
    maker, checker = officers
    excluded = make_household(has_car=True)
    run = _approved_run(maker.user, checker.user)  # type: ignore[attr-defined]
    decision = Decision.objects.get(run=run, household=excluded)
    url = reverse("programs:decision", args=[decision.pk])
    page = maker.get(url).content.decode()
    assert reverse("registry:household", args=[excluded.pk]) in page
    assert 'data-eligible="false"' in page and 'data-exclusion="owns_car"' in page
    read = AuditEntry.objects.get(action="registry.household.viewed")
    assert read.subject_id == str(excluded.pk) and read.actor_id == maker.user.pk  # type: ignore[attr-defined]
    assert "eligibility_explanation" in read.changes["fields"]

    empty = maker.post(url, {"grounds": " "})
    assert empty.status_code == 400
    lodged = maker.post(url, {"grounds": "We sold the car in 2024."})
    assert lodged.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.assisted and appeal.lodged_by_id == maker.user.pk  # type: ignore[attr-defined]
    assert "Appeal on behalf" not in maker.get(url).content.decode()  # one open at a time


def test_a_decision_outside_the_officers_districts_is_not_found(
    staff_client: Callable[..., Client], officers: tuple[Client, Client], make_household: Any
) -> None:
    make_household(district="Mardan")
    run = _computed_run(officers[0].user)  # type: ignore[attr-defined]
    decision = Decision.objects.get(run=run)
    assert officers[0].get(reverse("programs:decision", args=[decision.pk])).status_code == 404
    page = officers[0].get(reverse("programs:run", args=[run.pk])).content.decode()
    assert "data-decision=" not in page and 'data-district="Mardan"' in page


def test_what_if_counts_by_district(officers: tuple[Client, Client], make_household: Any) -> None:
    maker, _ = officers
    make_household()
    make_household(rooms=8, head_education_years=16, has_fridge=True, has_air_conditioner=True)
    run = _computed_run(maker.user)  # type: ignore[attr-defined]
    url = reverse("programs:run_whatif", args=[run.pk])
    partial = maker.get(url, {"cutoff": "100"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'data-whatif="100.0"' in partial
    assert '<td data-total="whatif">2</td>' in partial
    bad = maker.get(url, {"cutoff": "0"}, HTTP_HX_REQUEST="true")  # 200: htmx swaps it in
    assert bad.status_code == 200 and "above 0 and at most 100" in bad.content.decode()
    assert maker.get(url, {"cutoff": "0"}).status_code == 400
    full = maker.get(url, {"cutoff": "40"})
    assert "<html" in full.content.decode() and "data-whatif" in full.content.decode()


def test_appeals_queue_review_and_decide(
    staff_client: Callable[..., Client], officers: tuple[Client, Client], make_household: Any
) -> None:
    maker, checker = officers
    household = make_household(has_car=True)
    _approved_run(maker.user, checker.user)  # type: ignore[attr-defined]
    appeal = services.appeal_lodge(
        household=household,
        program=Program.objects.get(code=CODE),
        grounds="We sold the car.",
        actor=None,
    )
    reviewer = staff_client(Role.GRIEVANCE_OFFICER, ["Swat"])
    elsewhere = staff_client(Role.GRIEVANCE_OFFICER, ["Mardan"])
    queue = reviewer.get(reverse("programs:appeals")).content.decode()
    assert "We sold the car." in queue and 'data-appeal-status="open"' in queue
    assert "We sold the car." not in elsewhere.get(reverse("programs:appeals")).content.decode()
    decide = reverse("programs:appeal_decide", args=[appeal.pk])
    reviewer.post(decide, {"action": "review"})
    appeal.refresh_from_db()
    assert appeal.status == "under_review"
    no_note = reviewer.post(decide, {"action": "dismiss", "note": ""}, follow=True)
    assert "Say why" in no_note.content.decode()
    appeal.refresh_from_db()
    assert appeal.status == "under_review"
    reviewer.post(decide, {"action": "uphold", "note": "Car sold: registration checked"})
    appeal.refresh_from_db()
    assert appeal.status == "upheld"
    assert Beneficiary.objects.filter(household=household, status="active").exists()
    assert elsewhere.post(decide, {"action": "dismiss", "note": "x"}).status_code == 404
