"""Programs API: status, body and the uniform error shape of every endpoint, bad input
included (unknown variable, cut-off 120, negative benefit, what-if cut-off 0, approving
one's own run, an out-of-range self-assessment answer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rahdari.accounts.roles import Role
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry
from rahdari.programs.models import Appeal, Decision, ProgramVersion, TargetingRun
from tests.registry.conftest import answers

pytestmark = pytest.mark.django_db
API = "/api/v1/programs"
CODE = "cash-transfer"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    return dict(body["error"])


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


@pytest.fixture
def officers(staff_client: Callable[..., Client]) -> tuple[Client, Client]:
    return staff_client(Role.PROGRAM_OFFICER, ["Swat"]), staff_client(
        Role.PROGRAM_OFFICER, ["Swat"]
    )


def _computed(client: Client) -> dict[str, Any]:
    started = _post(client, f"{API}/{CODE}/runs", {})
    assert started.status_code == 202, started.content
    job_run(job_id=str(TargetingRun.objects.get(pk=started.json()["id"]).job_id))
    return dict(client.get(f"{API}/runs/{started.json()['id']}").json())


def test_programs_list_and_detail(officers: tuple[Client, Client]) -> None:
    client, _ = officers
    programs = client.get(API).json()
    assert [p["code"] for p in programs] == [
        "cash-transfer",
        "disability-allowance",
        "school-top-up",
    ]
    cash = programs[0]
    assert cash["name"]["en"] == "Unconditional Cash Transfer" and cash["version"] == 1
    assert cash["target_unit"] == "household" and cash["period"] == "quarter"
    assert cash["beneficiaries"] == 0 and cash["latest_run"] is None
    detail = client.get(f"{API}/{CODE}").json()
    assert detail["definition"]["cutoff"] == 32.0
    assert detail["definition"]["benefit"] == {"base": 13500, "per_unit": [], "cap": None}
    assert [v["status"] for v in detail["versions"]] == ["approved"]
    _error(client.get(f"{API}/no-such-program"), 404, "no_program")


def test_refused_without_login_or_as_a_citizen(make_citizen: Any) -> None:
    _error(Client().get(API), 401, "unauthenticated")
    citizen = Client()
    citizen.force_login(make_citizen())
    _error(citizen.get(API), 403, "forbidden")
    _error(_post(citizen, f"{API}/{CODE}/runs", {}), 403, "forbidden")


def test_propose_and_approve_rules_with_four_eyes(officers: tuple[Client, Client]) -> None:
    maker, checker = officers
    current = ProgramVersion.objects.get(program__code=CODE).definition
    created = _post(
        maker,
        f"{API}/{CODE}/versions",
        {"definition": current | {"cutoff": 34.0}, "note": "Cut-off 34 from 2027"},
    )
    assert created.status_code == 201
    version = created.json()
    assert version["version"] == 2 and version["status"] == "proposed"
    assert version["proposed_by"] == maker.user.username  # type: ignore[attr-defined]
    url = f"{API}/versions/{version['id']}/decision"
    _error(_post(maker, url, {"approve": True}), 403, "four_eyes")
    approved = _post(checker, url, {"approve": True, "note": "ok"}).json()
    assert approved["status"] == "approved" and approved["decision_note"] == "ok"
    _error(_post(checker, url, {"approve": False}), 409, "already_decided")
    _error(_post(checker, url, {"note": "no approve field"}), 422, "invalid")


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            {
                "criteria": [
                    {
                        "id": "x",
                        "label": None,
                        "all": [{"variable": "camels", "op": ">=", "value": 1}],
                    }
                ]
            },  # noqa: E501
            "criteria[0].all[0].variable",
            "not a variable in the catalogue",
        ),
        ({"cutoff": 120.0}, "cutoff", "at most 100"),
        ({"benefit": {"base": -5, "per_unit": []}}, "benefit", "never be negative"),
    ],
)
def test_a_bad_definition_names_each_problem(
    officers: tuple[Client, Client], change: dict[str, Any], path: str, words: str
) -> None:
    maker, _ = officers
    current = ProgramVersion.objects.get(program__code=CODE).definition
    if "criteria" in change:
        change["criteria"][0]["label"] = current["criteria"][0]["label"]
    response = _post(
        maker, f"{API}/{CODE}/versions", {"definition": current | change, "note": "typo"}
    )
    error = _error(response, 400, "invalid_definition")
    assert any(words in message for message in error["fields"][path]), error
    assert ProgramVersion.objects.filter(program__code=CODE).count() == 1


def test_propose_needs_a_note(officers: tuple[Client, Client]) -> None:
    current = ProgramVersion.objects.get(program__code=CODE).definition
    response = _post(officers[0], f"{API}/{CODE}/versions", {"definition": current, "note": " "})
    assert _error(response, 400, "note_required")["fields"] == {"note": ["Required."]}


def test_a_run_from_start_to_approval(officers: tuple[Client, Client], make_household: Any) -> None:
    maker, checker = officers
    make_household()
    make_household(has_car=True)
    started = _post(maker, f"{API}/{CODE}/runs", {"kind": "targeting"})
    assert started.status_code == 202
    queued = started.json()
    assert queued["status"] == "queued" and queued["summary"] is None
    assert queued["progress"] == {
        "status": "queued",
        "done": 0,
        "total": 0,
        "percent": 0,
        "message": "",
    }
    _error(_post(maker, f"{API}/{CODE}/runs", {}), 409, "run_in_progress")
    _error(maker.get(f"{API}/runs/{queued['id']}/whatif", {"cutoff": 40}), 409, "run_in_progress")
    job_run(job_id=str(TargetingRun.objects.get(pk=queued["id"]).job_id))
    run = maker.get(f"{API}/runs/{queued['id']}").json()
    assert run["status"] == "computed" and run["progress"]["percent"] == 100
    assert run["evaluated"] == 2 and run["eligible"] == 1
    assert run["summary"]["by_district"] == {
        "Swat": {"evaluated": 2, "eligible": 1, "benefit": 13500}
    }
    assert run["summary"]["by_reason"] == {"eligible": 1, "excluded": 1}
    assert run["summary"]["changes"] is None
    url = f"{API}/runs/{run['id']}/decision"
    _error(_post(maker, url, {"approve": True}), 403, "four_eyes")
    approved = _post(checker, url, {"approve": True}).json()
    assert approved["status"] == "approved"
    assert approved["decided_by"] == checker.user.username  # type: ignore[attr-defined]
    _error(_post(checker, url, {"approve": True}), 409, "not_computed")
    assert maker.get(API).json()[0]["beneficiaries"] == 1
    _error(maker.get(f"{API}/runs/00000000-0000-0000-0000-000000000000"), 404, "no_run")


def test_what_if(officers: tuple[Client, Client], make_household: Any) -> None:
    make_household()
    run = _computed(officers[0])
    url = f"{API}/runs/{run['id']}/whatif"
    body = officers[0].get(url, {"cutoff": 100}).json()
    assert body == {
        "cutoff": 100.0,
        "main_cutoff": 32.0,
        "now": 1,
        "whatif": 1,
        "by_district": {"Swat": {"now": 1, "whatif": 1}},
    }
    error = _error(officers[0].get(url, {"cutoff": 0}), 400, "invalid_cutoff")
    assert "cutoff" in error["fields"]
    _error(officers[0].get(url), 422, "invalid")


def test_decisions_paginated_filtered_and_one_read_is_logged(
    officers: tuple[Client, Client], make_household: Any, django_assert_max_num_queries: Any
) -> None:
    client, _ = officers
    for _ in range(3):
        make_household()
    with_car = make_household(has_car=True)
    make_household(district="Mardan")  # outside the officer's districts
    run = _computed(client)
    url = f"{API}/runs/{run['id']}/decisions"
    everything = client.get(url).json()
    assert everything["count"] == 4
    with django_assert_max_num_queries(10):
        page = client.get(url, {"eligible": True, "limit": 2}).json()
    assert page["count"] == 3 and len(page["items"]) == 2
    first = page["items"][0]
    assert first["household_number"] == "HH0000000001" and first["district"] == "Swat"
    assert first["reason"] == "eligible" and first["benefit"] == 13500 and first["member"] is None
    excluded = client.get(url, {"eligible": False}).json()["items"]
    assert [d["household"] for d in excluded] == [str(with_car.pk)]
    assert client.get(url, {"district": "Mardan"}).json()["count"] == 0
    _error(client.get(url, {"district": "Atlantis"}), 400, "unknown_district")

    detail = client.get(f"{API}/decisions/{excluded[0]['id']}").json()
    explanation = detail["explanation"]
    assert detail["program"] == CODE and explanation["reason"] == "excluded"
    assert {e["id"]: e["holds"] for e in explanation["exclusions"]}["owns_car"] is True
    assert explanation["cutoff"]["category"]["cutoff"] == 37.0
    read = AuditEntry.objects.get(action="registry.household.viewed")
    assert read.subject_id == str(with_car.pk)
    mardan = Decision.objects.get(run_id=run["id"], district__name="Mardan")
    _error(client.get(f"{API}/decisions/{mardan.pk}"), 404, "no_decision")


def test_appeals(
    officers: tuple[Client, Client], make_household: Any, staff_client: Callable[..., Client]
) -> None:
    maker, checker = officers
    poor = make_household()
    with_car = make_household(has_car=True)
    run = _computed(maker)
    _post(checker, f"{API}/runs/{run['id']}/decision", {"approve": True})
    url = f"{API}/{CODE}/appeals"
    _error(_post(maker, url, {"household": poor.number, "grounds": "x"}), 409, "eligible")
    _error(_post(maker, url, {"household": "HH9", "grounds": "x"}), 404, "no_household")
    _error(
        _post(maker, url, {"household": with_car.number, "grounds": " "}), 400, "grounds_required"
    )
    lodged = _post(maker, url, {"household": str(with_car.pk), "grounds": "We sold the car."})
    assert lodged.status_code == 201
    appeal = lodged.json()
    assert appeal["status"] == "open" and appeal["assisted"] is True
    assert appeal["household_number"] == with_car.number
    _error(
        _post(maker, url, {"household": with_car.number, "grounds": "again"}), 409, "appeal_open"
    )

    reviewer = staff_client(Role.GRIEVANCE_OFFICER, ["Swat"])
    queue = reviewer.get(f"{API}/appeals").json()
    assert [a["id"] for a in queue["items"]] == [appeal["id"]]
    review = _post(reviewer, f"{API}/appeals/{appeal['id']}/review", {})
    assert review.json()["status"] == "under_review"
    decision = f"{API}/appeals/{appeal['id']}/decision"
    _error(_post(reviewer, decision, {"upheld": True, "note": ""}), 400, "note_required")
    decided = _post(reviewer, decision, {"upheld": False, "note": "The car is still registered"})
    assert decided.json()["status"] == "dismissed"
    _error(_post(reviewer, decision, {"upheld": True, "note": "x"}), 409, "already_decided")
    assert Appeal.objects.get().outcome_note == "The car is still registered"


def _complete_answers(**overrides: Any) -> dict[str, Any]:
    return (
        answers()
        | {"area": "rural", "ever_married_women": 2, "members_with_disability": 1}
        | overrides
    )


def test_self_assessment_is_public_and_stores_nothing() -> None:
    before = AuditEntry.objects.count()
    response = _post(Client(), f"{API}/self-assessment", {"answers": _complete_answers()})
    assert response.status_code == 200, response.content
    programs = {p["code"]: p for p in response.json()["programs"]}
    cash = programs["cash-transfer"]
    assert cash["likely_eligible"] is True and cash["benefit"] == 13500
    assert cash["period"] == "quarter" and cash["name"] == "Unconditional Cash Transfer"
    assert cash["explanation"]["score"] <= cash["explanation"]["cutoff"]["applied"]
    school = programs["school-top-up"]  # no disability cut-off here: 35.3 is above 32
    assert school["likely_eligible"] is False and school["benefit"] == 0
    assert school["explanation"]["benefit"]["entitlement"] == 5000  # two children in school
    disability = programs["disability-allowance"]
    assert disability["likely_eligible"] is None and disability["missing"] == ["has_disability"]
    assert AuditEntry.objects.count() == before

    urdu = _post(
        Client(), f"{API}/self-assessment?lang=ur", {"answers": _complete_answers(has_car=True)}
    ).json()
    cash_ur = next(p for p in urdu["programs"] if p["code"] == "cash-transfer")
    assert cash_ur["name"] == "غیر مشروط نقد مالی امداد" and cash_ur["likely_eligible"] is False


def test_self_assessment_names_each_bad_answer() -> None:
    bad = _complete_answers(household_size=31, roof_material="glass", area="moon", camels=3)
    error = _error(
        _post(Client(), f"{API}/self-assessment", {"answers": bad}), 422, "invalid_answers"
    )
    assert set(error["fields"]) == {"household_size", "roof_material", "area", "camels"}
    assert "1 to 30" in error["fields"]["household_size"][0]
    wrong_shape = _post(Client(), f"{API}/self-assessment", {"answers": [1, 2]})
    _error(wrong_shape, 422, "invalid")


def test_self_assessment_is_rate_limited(settings: Any) -> None:
    settings.RAHDARI_SELF_ASSESSMENT_RATE_PER_MINUTE = 2
    client = Client()
    body = {"answers": _complete_answers()}
    for _ in range(2):
        assert _post(client, f"{API}/self-assessment", body).status_code == 200
    _error(_post(client, f"{API}/self-assessment", body), 429, "rate_limited")
