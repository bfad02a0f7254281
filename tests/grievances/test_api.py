"""Grievances API: phone-only lodging for the SMS/USSD gateways, status by number and
phone in the body, rating and reopening, and the desk's endpoints — status, body and
the error shape, and the queue's query count."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from stdnum import verhoeff

from rahdari.accounts.roles import Role
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.grievances.models import Complaint, Desk
from tests.grievances.conftest import PHONE, logged_in

pytestmark = pytest.mark.django_db

BASE = "/api/v1/grievances"


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{BASE}{path}", json.dumps(body), content_type="application/json")


def lodge(client: Client | None = None, **overrides: Any) -> Any:
    body = {
        "category": "payment_not_received",
        "text": "Paisay nahi milay is mahine.",
        "phone": PHONE,
        "district": "Swat",
        "language": "ur",
        "channel": "ussd",
    }
    body.update(overrides)
    return post(client or Client(), "/complaints", body)


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if field:
        assert field in error["fields"]


def test_a_gateway_lodges_with_a_phone_number_and_gets_the_tracking_number(
    desks: dict[str, Desk],
) -> None:
    response = lodge()
    assert response.status_code == 201
    body = response.json()
    complaint = Complaint.objects.get()
    assert body["number"] == complaint.number and len(body["number"]) == 10
    assert body["number_formatted"].replace(" ", "") == complaint.number
    assert body["desk"] == desks["swat"].name and body["status"] == "new"
    assert complaint.channel == "ussd" and complaint.language == "ur"
    assert OutboundMessage.objects.get(template="grievances.lodged").language == "ur"
    unknown_district = lodge(district="", phone="03001234567")
    assert Complaint.objects.get(number=unknown_district.json()["number"]).level == 3


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"text": ""}, 422, "text_required", "text"),
        ({"phone": "0300"}, 422, "invalid_phone", "phone"),
        ({"category": "weather"}, 422, "invalid_category", "category"),
        ({"district": "Atlantis"}, 422, "unknown_district", "district"),
        ({"channel": "office"}, 422, "invalid_channel", "channel"),
        ({"category": "wrongly_excluded"}, 422, "person_required", "category"),
        ({"text": 5}, 422, "invalid", "text"),
    ],
)
def test_bad_input_gets_the_error_shape_and_writes_nothing(
    desks: dict[str, Desk], overrides: dict[str, Any], status: int, code: str, field: str
) -> None:
    assert_error(lodge(**overrides), status, code, field)
    assert not Complaint.objects.exists()


def test_flooding_one_phone_gets_429(desks: dict[str, Desk], settings: Any) -> None:
    settings.RAHDARI_GRIEVANCE_LODGE_LIMIT = 2
    assert lodge().status_code == 201 and lodge().status_code == 201
    assert_error(lodge(), 429, "rate_limited")
    assert Complaint.objects.count() == 2


def test_status_by_number_and_phone_and_the_same_404_for_every_miss(
    desks: dict[str, Desk], settings: Any
) -> None:
    number = lodge().json()["number"]
    client = Client()
    found = post(client, "/status", {"number": number, "phone": "0345 1234567"})
    assert found.status_code == 200
    assert found.json()["status"] == "new" and found.json()["events"][0]["kind"] == "lodged"
    other = "7" + ("12345678" if number[1:9] != "12345678" else "87654321")
    other += str(verhoeff.calc_check_digit(other))
    wrong_phone = post(client, "/status", {"number": number, "phone": "03001112223"})
    unknown = post(client, "/status", {"number": other, "phone": PHONE})
    assert wrong_phone.status_code == unknown.status_code == 404
    assert wrong_phone.json() == unknown.json()
    mistyped = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert_error(
        post(client, "/status", {"number": mistyped, "phone": PHONE}),
        422,
        "invalid_number",
        "number",
    )
    settings.RAHDARI_GRIEVANCE_STATUS_LIMIT = 1
    from django.core.cache import cache

    cache.clear()
    post(client, "/status", {"number": number, "phone": PHONE})
    assert_error(post(client, "/status", {"number": number, "phone": PHONE}), 429, "rate_limited")


def test_the_desk_works_a_complaint_over_the_api_and_she_rates_it(
    desks: dict[str, Desk], swat_officer: Any, malakand_officer: Any
) -> None:
    number = lodge().json()["number"]
    complaint = Complaint.objects.get(number=number)
    desk = logged_in(swat_officer)
    detail = desk.get(f"{BASE}/complaints/{complaint.pk}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["text"] == "Paisay nahi milay is mahine." and body["phone_masked"].endswith("4567")
    assert AuditEntry.objects.filter(action="grievances.complaint.viewed").count() == 1
    assert_error(
        logged_in(malakand_officer).post(f"{BASE}/complaints/{complaint.pk}/take"),
        403,
        "not_your_desk",
    )
    taken = desk.post(f"{BASE}/complaints/{complaint.pk}/take")
    assert taken.json()["status"] == "in_progress"
    note = post(desk, f"/complaints/{complaint.pk}/notes", {"note": "Asked JazzCash."})
    assert note.status_code == 201 and note.json()["kind"] == "note"
    assert_error(
        post(desk, f"/complaints/{complaint.pk}/resolve", {"outcome": "magic", "resolution": "x"}),
        422,
        "invalid_outcome",
        "outcome",
    )
    resolved = post(
        desk,
        f"/complaints/{complaint.pk}/resolve",
        {"outcome": "fixed", "resolution": "Paid again."},
    )
    assert resolved.status_code == 200 and resolved.json()["outcome"] == "fixed"
    assert_error(
        post(
            desk, f"/complaints/{complaint.pk}/resolve", {"outcome": "fixed", "resolution": "Again"}
        ),
        409,
        "invalid_transition",
    )
    public = Client()
    status = post(public, "/status", {"number": number, "phone": PHONE}).json()
    assert status["resolution"] == "Paid again." and status["may_reopen"] is True
    assert "Asked JazzCash." not in json.dumps(status)  # internal notes stay internal
    rated = post(public, "/status/rate", {"number": number, "phone": PHONE, "rating": 5})
    assert rated.json()["rating"] == 5
    assert_error(
        post(public, "/status/rate", {"number": number, "phone": PHONE, "rating": 5}),
        409,
        "already_rated",
    )
    assert_error(
        post(public, "/status/rate", {"number": number, "phone": PHONE, "rating": 0}),
        422,
        "invalid",
        "rating",
    )
    reopened = post(
        public, "/status/reopen", {"number": number, "phone": PHONE, "reason": "Not paid."}
    )
    assert reopened.json()["status"] == "reopened"


def test_the_queue_endpoint_in_a_fixed_number_of_queries(
    desks: dict[str, Desk],
    swat_officer: Any,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    lodge()
    client = logged_in(swat_officer)
    client.get(f"{BASE}/complaints")
    # session, user, groups/permissions (2), the page of complaints
    with django_assert_num_queries(5):
        one = client.get(f"{BASE}/complaints")
    for n in range(4):
        lodge(phone=f"+92300111222{n}")
    with django_assert_num_queries(5):
        five = client.get(f"{BASE}/complaints")
    assert len(one.json()) == 1 and len(five.json()) == 5
    assert set(five.json()[0]) >= {"number", "status", "desk", "overdue"}
    assert "text" not in five.json()[0] and "phone" not in five.json()[0]


def test_the_desk_endpoints_need_a_grievance_officer(
    desks: dict[str, Desk], make_staff: Callable[..., Any], swat_officer: Any
) -> None:
    assert_error(Client().get(f"{BASE}/complaints"), 401, "unauthenticated")
    assert_error(logged_in(make_staff(Role.AUDITOR)).get(f"{BASE}/complaints"), 403, "forbidden")
    number = lodge().json()["number"]
    complaint = Complaint.objects.get(number=number)
    move = post(
        logged_in(swat_officer),
        f"/complaints/{complaint.pk}/reassign",
        {"desk_id": str(desks["mardan"].pk), "reason": "Lives in Mardan"},
    )
    assert move.status_code == 200 and move.json()["desk"] == desks["mardan"].name
    # Still a Swat complaint (the Swat desk reads it, its dashboard counts it), but only
    # the Mardan desk works on it now.
    assert logged_in(swat_officer).get(f"{BASE}/complaints/{complaint.pk}").status_code == 200
    assert_error(
        logged_in(swat_officer).post(f"{BASE}/complaints/{complaint.pk}/take"), 403, "not_your_desk"
    )
    assert logged_in(swat_officer).get(f"{BASE}/complaints").json() == []
    board = logged_in(swat_officer).get(f"{BASE}/dashboard")
    assert board.status_code == 200 and board.json()["open_total"] == 1
    peshawar = Complaint.objects.get(
        number=lodge(district="Peshawar", phone="03001234567").json()["number"]
    )
    assert_error(
        logged_in(swat_officer).get(f"{BASE}/complaints/{peshawar.pk}"), 404, "no_complaint"
    )
    assert len(logged_in(swat_officer).get(f"{BASE}/desks").json()) == Desk.objects.count()


def test_shikayat_by_sms_through_the_gateway_lodges_a_complaint_once(
    desks: dict[str, Desk], enrolled_payee: Any
) -> None:
    from rahdari.core import inbound
    from rahdari.core.models import InboundMessage

    person = enrolled_payee()  # enrolled in Swat with this mobile number
    payload = {"id": "jazz-991", "from": str(person.mobile), "text": "SHIKAYAT paisay nahi milay"}
    body = json.dumps(payload).encode()
    for _attempt in range(2):  # the gateway delivers the same message twice
        response = Client().post(
            "/api/v1/sms/inbound/jazz",
            data=body,
            content_type="application/json",
            headers={"X-Rahdari-Signature": inbound.sign_inbound("jazz", body)},
        )
        assert response.status_code in (200, 201), response.content
    complaint = Complaint.objects.get()
    assert complaint.channel == "sms" and complaint.desk == desks["swat"]
    assert str(complaint.text) == "paisay nahi milay"
    assert InboundMessage.objects.get().handler == "grievances.sms"
    sms = OutboundMessage.objects.get(template="grievances.lodged")
    assert complaint.number[:4] in str(sms.text)


def test_her_complaints_in_a_fixed_number_of_queries(
    desks: dict[str, Desk],
    make_citizen: Callable[..., Any],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    from rahdari.grievances import services

    citizen = make_citizen(phone=PHONE)
    client = logged_in(citizen)

    def lodge_mine() -> None:
        services.complaint_lodge(
            category="other",
            text="The office in Mingora is closed on Saturdays.",
            phone=PHONE,
            language="ps",
            channel="web",
            actor=citizen,
        )

    lodge_mine()
    client.get(f"{BASE}/mine")
    # session, user, her person record, her complaints with desks, their steps
    with django_assert_num_queries(5):
        one = client.get(f"{BASE}/mine")
    for _n in range(3):
        lodge_mine()
    with django_assert_num_queries(5):
        four = client.get(f"{BASE}/mine")
    assert len(one.json()) == 1 and len(four.json()) == 4
    assert four.json()[0]["events"][0]["kind"] == "lodged"
    with django_assert_num_queries(4):  # session, user, person, the list (no steps)
        page = client.get("/grievances/")
    assert page.content.decode().count("data-complaint=") == 4
