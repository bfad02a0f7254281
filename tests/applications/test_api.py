"""Applications API: the same services as the pages, with the uniform error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rahdari.applications.models import Application
from rahdari.identity.models import Person
from rahdari.programs.models import Beneficiary, Program
from tests.applications.conftest import give_id_card, logged_in

pytestmark = pytest.mark.django_db

API = "/api/v1/applications"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


def _post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data or {}, content_type="application/json")


def test_open_programs_list_their_papers(applicant: Person) -> None:
    body = logged_in(applicant.account).get(f"{API}/programs").json()
    cash = next(p for p in body if p["code"] == "cash-transfer")
    assert cash["papers"] == ["cnic_front", "cnic_back"] and cash["name"]


def test_the_whole_journey_over_the_api(
    applicant: Person,
    reviewer: Any,
    approved_run: Callable[[], Any],
) -> None:
    approved_run()
    Beneficiary.objects.all().delete()
    her = logged_in(applicant.account)
    started = _post(her, f"{API}/", {"kind": "program", "program": "cash-transfer"})
    assert started.status_code == 201
    body = started.json()
    assert body["status"] == "draft" and len(body["number"]) == 10
    assert body["prefill"]["household_number"]
    assert [p["have_version_id"] for p in body["papers"]] == [None, None]
    assert body["rules_check"] is None  # officers only
    app_id = body["id"]
    missing = _post(her, f"{API}/{app_id}/submit")
    error = _error(missing, 422, "documents_missing")
    assert len(error["fields"]["documents"]) == 2
    give_id_card(applicant)
    saved = her.patch(
        f"{API}/{app_id}", {"statement": "Six of us."}, content_type="application/json"
    )
    assert saved.status_code == 200 and saved.json()["statement"] == "Six of us."
    sent = _post(her, f"{API}/{app_id}/submit")
    assert sent.status_code == 200 and sent.json()["status"] == "submitted"
    assert all(p["sent_version_id"] for p in sent.json()["papers"])
    officer = logged_in(reviewer)
    queue = officer.get(f"{API}/queue/").json()
    assert queue["count"] == 1 and queue["results"][0]["id"] == app_id
    _error(_post(officer, f"{API}/{app_id}/decision", {"approve": True}), 409, "invalid_transition")
    assert _post(officer, f"{API}/{app_id}/review").json()["status"] == "under_review"
    _error(_post(officer, f"{API}/{app_id}/request-info", {"reason": ""}), 422, "reason_required")
    detail = officer.get(f"{API}/{app_id}").json()
    assert detail["rules_check"]["eligible"] is True
    approved = _post(officer, f"{API}/{app_id}/decision", {"approve": True, "reason": ""})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert [e["to_status"] for e in approved.json()["events"]][-1] == "approved"
    assert Beneficiary.objects.filter(
        household_id=applicant.applications.get().household_id
    ).exists()
    mine = her.get(f"{API}/mine").json()
    assert mine[0]["status"] == "approved" and mine[0]["status_label"]


def test_refusals(
    applicant: Person, cash_transfer: Program, make_citizen: Callable[..., Any]
) -> None:
    her = logged_in(applicant.account)
    _error(_post(her, f"{API}/", {"kind": "program", "program": "no-such"}), 404, "no_program")
    _error(_post(her, f"{API}/", {"kind": "nonsense"}), 422, "invalid_kind")
    Program.objects.filter(pk=cash_transfer.pk).update(open=False)
    _error(
        _post(her, f"{API}/", {"kind": "program", "program": "cash-transfer"}),
        409,
        "program_closed",
    )
    Program.objects.filter(pk=cash_transfer.pk).update(open=True)
    first = _post(her, f"{API}/", {"kind": "program", "program": "cash-transfer"}).json()
    again = _post(her, f"{API}/", {"kind": "program", "program": "cash-transfer"})
    assert _error(again, 409, "already_open")["fields"]["number"] == [first["number"]]
    stranger = logged_in(make_citizen(phone="+923451112277"))
    _error(stranger.get(f"{API}/{first['id']}"), 404, "no_application")
    _error(_post(stranger, f"{API}/{first['id']}/withdraw"), 404, "no_application")
    _error(stranger.get(f"{API}/queue/"), 403, "forbidden")
    assert Client().get(f"{API}/mine").status_code == 401
    assert Application.objects.count() == 1


def test_officer_applies_on_her_behalf(applicant: Person, desk_officer: Any) -> None:
    client = logged_in(desk_officer)
    _error(_post(client, f"{API}/", {"kind": "correction"}), 422, "person_required")
    made = _post(client, f"{API}/", {"kind": "correction", "person_id": str(applicant.pk)})
    assert made.status_code == 201 and made.json()["assisted"] is True
    app_id = made.json()["id"]
    saved = client.patch(
        f"{API}/{app_id}", {"correction": {"village": "Kabal"}}, content_type="application/json"
    )
    assert saved.json()["correction"] == {"village": "Kabal"}
    assert [p["kind"] for p in saved.json()["papers"]] == ["cnic_front"]


def test_bulk_over_the_api(submitted: Application, reviewer: Any) -> None:
    client = logged_in(reviewer)
    body = _post(
        client,
        f"{API}/queue/bulk",
        {"ids": [str(submitted.pk), "00000000-0000-0000-0000-000000000000"], "action": "review"},
    ).json()
    assert body["done"] == [submitted.number]
    assert body["refused"] == {"00000000-0000-0000-0000-000000000000": "not in your queue"}
    _error(_post(client, f"{API}/queue/bulk", {"ids": [], "action": "x"}), 422, "invalid_action")
    _error(client.get(f"{API}/queue/?sort=sideways"), 422, "invalid")


def test_appeal_and_four_eyes(submitted: Application, reviewer: Any, second_reviewer: Any) -> None:
    first, second = logged_in(reviewer), logged_in(second_reviewer)
    app_id = str(submitted.pk)
    _post(first, f"{API}/{app_id}/review")
    _post(first, f"{API}/{app_id}/decision", {"approve": False, "reason": "Income too high"})
    her = logged_in(submitted.person.account)
    _error(_post(her, f"{API}/{app_id}/appeal", {"grounds": " "}), 422, "reason_required")
    assert (
        _post(her, f"{API}/{app_id}/appeal", {"grounds": "My husband lost his job."}).status_code
        == 200
    )
    _error(
        _post(first, f"{API}/{app_id}/decision", {"approve": False, "reason": "x"}),
        403,
        "four_eyes",
    )
    final = _post(second, f"{API}/{app_id}/decision", {"approve": False, "reason": "Still above"})
    assert final.json()["status"] == "rejected"


def test_queue_api_costs_the_same_queries_for_1_or_60_applications(
    submitted: Application, applicant: Person, desk_officer: Any
) -> None:
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.applications.test_views import _many_pending

    desk_officer.user_permissions.add(Permission.objects.get(codename="review_applications"))
    client = logged_in(desk_officer)
    client.get(f"{API}/queue/?status=all")
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{API}/queue/?status=all").json()["count"] == 1
    _many_pending(applicant, 60)
    with CaptureQueriesContext(connection) as many:
        body = client.get(f"{API}/queue/?status=all").json()
    assert body["count"] == 61 and len(body["results"]) == 50 and body["pages"] == 2
    assert len(many) == len(few)
