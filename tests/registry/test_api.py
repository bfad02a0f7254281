"""Registry API: status, body and the uniform error shape."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rahdari.accounts.roles import Role
from rahdari.core.models import AuditEntry
from rahdari.registry import survey

pytestmark = pytest.mark.django_db
API = "/api/v1/registry"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return dict(body["error"])


def test_survey_layout(staff_client: Any) -> None:
    client = staff_client(Role.PROGRAM_OFFICER, ["Swat"])
    body = client.get(f"{API}/survey").json()
    assert body["layout_version"] == survey.LAYOUT_VERSION
    assert [v["name"] for v in body["variables"]] == list(survey.SURVEY_NAMES)
    roof = next(v for v in body["variables"] if v["name"] == "roof_material")
    assert roof["categories"] == ["rcc", "t_iron_girder", "iron_sheet", "wood_mud"]
    assert [v["name"] for v in body["derived"]] == ["ever_married_women", "members_with_disability"]


def test_list_by_district_paginated(
    staff_client: Any, make_household: Any, django_assert_max_num_queries: Any
) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat", "Mardan"])
    for _ in range(3):
        make_household()
    make_household(district="Mardan")
    make_household(district="Peshawar")
    everything = client.get(f"{API}/households").json()
    assert everything["count"] == 4
    with django_assert_max_num_queries(10):
        page = client.get(f"{API}/households", {"district": "Swat", "limit": 2}).json()
    assert page["count"] == 3 and len(page["items"]) == 2
    assert page["items"][0] == {
        "id": page["items"][0]["id"],
        "number": "HH0000000001",
        "district": "Swat",
        "tehsil": "Babuzai",
        "union_council": "UC-12",
        "area": "rural",
        "status": "active",
    }
    one = client.get(f"{API}/households", {"number": "hh 4"}).json()
    assert [h["number"] for h in one["items"]] == ["HH0000000004"]
    _error(client.get(f"{API}/households", {"district": "Atlantis"}), 400, "unknown_district")


def test_get_household_logs_the_read(staff_client: Any, make_household: Any) -> None:
    client = staff_client(Role.PROGRAM_OFFICER, ["Swat"])
    household = make_household()
    url = f"{API}/households/{household.pk}"
    _error(client.get(url), 422, "invalid")  # purpose is required
    _error(client.get(url, {"purpose": "  "}), 400, "purpose_required")
    body = client.get(url, {"purpose": "Eligibility check"}).json()
    assert body["number"] == "HH0000000001" and body["village"] == "Gul Kalay"
    assert len(body["members"]) == 6 and body["members"][0]["relationship"] == "head"
    assert body["members"][3]["has_disability"] is True
    current = body["current"]
    assert current["version"] == 1 and current["round"] == "NSER-2025"
    assert current["answers"]["roof_material"] == "iron_sheet"
    assert current["answers"]["has_tv"] is False and current["answers"]["land_acres"] == 1.25
    assert current["answers"]["household_size"] == 6
    entry = AuditEntry.objects.get(action="registry.household.viewed")
    assert entry.changes["purpose"] == "Eligibility check"


def test_update_answers(staff_client: Any, make_household: Any) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    household = make_household()
    url = f"{API}/households/{household.pk}/answers"
    created = client.post(
        url,
        {"changes": {"has_fridge": True, "rooms": 3}, "reason": "Visited the house"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["version"] == 2 and body["source"] == "officer_update"
    assert body["answers"]["has_fridge"] is True and body["answers"]["rooms"] == 3
    assert body["provenance"]["roof_material"] == {"source": "survey", "date": "2025-07-01"}
    assert "rooms" not in body["provenance"]

    bad = client.post(
        url,
        {"changes": {"rooms": 99, "roof_material": "thatch", "camels": 2}, "reason": "x"},
        content_type="application/json",
    )
    fields = _error(bad, 400, "invalid_answers")["fields"]
    assert set(fields) == {"rooms", "roof_material", "camels"}
    _error(
        client.post(url, {"changes": {"rooms": 4}}, content_type="application/json"), 422, "invalid"
    )
    _error(
        client.post(
            url,
            {"changes": {"rooms": 4}, "reason": "x", "source": "survey"},
            content_type="application/json",
        ),
        422,
        "invalid",
    )


def test_refusals(staff_client: Any, make_household: Any, make_citizen: Any) -> None:
    household = make_household()
    _error(Client().get(f"{API}/households"), 401, "unauthenticated")
    citizen = Client()
    citizen.force_login(make_citizen())
    _error(citizen.get(f"{API}/households"), 403, "forbidden")
    reader = staff_client(Role.PROGRAM_OFFICER, ["Swat"])
    _error(
        reader.post(
            f"{API}/households/{household.pk}/answers",
            {"changes": {"rooms": 3}, "reason": "x"},
            content_type="application/json",
        ),
        403,
        "forbidden",
    )
    elsewhere = staff_client(Role.ENROLMENT_OFFICER, ["Mardan"])
    _error(elsewhere.get(f"{API}/households/{household.pk}", {"purpose": "x"}), 404, "not_found")
