"""The API: health, the uniform error shape, language handling, auditor endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rahdari.accounts.roles import Role

pytestmark = pytest.mark.django_db


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_health_reports_database_migrations_and_worker(client: Client) -> None:
    response = client.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True
    assert body["database"]["ok"] and body["migrations"]["detail"] == "0 pending"
    assert body["worker"]["ok"]


def test_openapi_document_lists_every_router(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/v1/health", "/api/v1/accounts/me", "/api/v1/audit/entries"} <= paths
    assert client.get("/api/v1/docs").status_code == 200


def test_unknown_path_is_json_404(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_unauthenticated_is_401_with_shape(client: Client) -> None:
    response = client.get("/api/v1/accounts/me")
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthenticated"


def test_validation_error_names_the_field(client: Client) -> None:
    response = client.post(
        "/api/v1/accounts/citizen/login-code", data="{}", content_type="application/json"
    )
    assert response.status_code == 422
    assert "cnic" in _error(response)["fields"]


def test_malformed_json_is_a_4xx_not_a_500(client: Client) -> None:
    response = client.post(
        "/api/v1/accounts/citizen/login-code", data="{not json", content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    _error(response)


def test_bad_cnic_gets_translated_field_error(client: Client) -> None:
    response = client.post(
        "/api/v1/accounts/citizen/login-code?lang=en",
        data=json.dumps({"cnic": "123"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    err = _error(response)
    assert err["code"] == "invalid_cnic" and "cnic" in err["fields"]


def test_unknown_language_is_400(client: Client) -> None:
    response = client.get("/api/v1/health?lang=xx")
    assert response.status_code == 400
    assert _error(response)["code"] == "unknown_language"


def test_citizen_login_over_the_api(client: Client, make_citizen: Any) -> None:
    citizen = make_citizen()
    sent = client.post(
        "/api/v1/accounts/citizen/login-code",
        data=json.dumps({"cnic": citizen.cnic}),
        content_type="application/json",
    )
    assert sent.status_code == 200 and sent.json()["sent"] is True
    unknown = client.post(
        "/api/v1/accounts/citizen/login-code",
        data=json.dumps({"cnic": "17301-7654321-3"}),
        content_type="application/json",
    )
    assert unknown.json() == sent.json()  # the same answer: no enumeration
    import re

    from rahdari.core.models import OutboundMessage

    code = re.search(
        r"\b(\d{6})\b", OutboundMessage.objects.get(template="accounts.login_code").text
    ).group(1)
    wrong = client.post(
        "/api/v1/accounts/citizen/login",
        data=json.dumps({"cnic": citizen.cnic, "code": "000000" if code != "000000" else "111111"}),
        content_type="application/json",
    )
    assert wrong.status_code == 400 and _error(wrong)["code"] == "invalid_code"
    ok = client.post(
        "/api/v1/accounts/citizen/login",
        data=json.dumps({"cnic": citizen.cnic, "code": code}),
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["is_citizen"] is True
    assert client.get("/api/v1/accounts/me").json()["id"] == str(citizen.pk)


def test_rate_limit_is_429(client: Client, make_citizen: Any) -> None:
    citizen = make_citizen()
    for _ in range(3):
        client.post(
            "/api/v1/accounts/citizen/login-code",
            data=json.dumps({"cnic": citizen.cnic}),
            content_type="application/json",
        )
    response = client.post(
        "/api/v1/accounts/citizen/login-code",
        data=json.dumps({"cnic": citizen.cnic}),
        content_type="application/json",
    )
    assert response.status_code == 429 and _error(response)["code"] == "rate_limited"


def test_audit_entries_for_auditors_only(staff_client: Any) -> None:
    auditor = staff_client(Role.AUDITOR)
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    response = auditor.get("/api/v1/audit/entries?action=accounts.staff_created&limit=5")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] >= 2 and all(
        i["action"] == "accounts.staff_created" for i in body["items"]
    )
    forbidden = officer.get("/api/v1/audit/entries")
    assert forbidden.status_code == 403 and _error(forbidden)["code"] == "forbidden"
    verify = auditor.post("/api/v1/audit/verify")
    assert verify.status_code == 200 and verify.json()["ok"] is True


def test_bad_filter_date_is_422(staff_client: Any) -> None:
    auditor = staff_client(Role.AUDITOR)
    response = auditor.get("/api/v1/audit/entries?since=not-a-date")
    assert response.status_code == 422 and "since" in _error(response)["fields"]


def test_staff_create_over_api(staff_client: Any) -> None:
    admin = staff_client(Role.ADMINISTRATOR)
    payload = {
        "username": "enrol.kohat",
        "full_name": "K",
        "password": "a-good-long-passphrase",
        "roles": ["enrolment_officer"],
        "districts": ["Kohat"],
        "language": "ur",
    }
    created = admin.post(
        "/api/v1/accounts/staff", data=json.dumps(payload), content_type="application/json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["districts"] == ["Kohat"]
    again = admin.post(
        "/api/v1/accounts/staff", data=json.dumps(payload), content_type="application/json"
    )
    assert again.status_code == 400 and _error(again)["code"] == "username_taken"
    unknown = admin.post(
        "/api/v1/accounts/staff",
        data=json.dumps({**payload, "username": "x.y", "districts": ["Atlantis"]}),
        content_type="application/json",
    )
    assert unknown.status_code == 400 and "districts" in _error(unknown)["fields"]
    bad_role = admin.post(
        "/api/v1/accounts/staff",
        data=json.dumps({**payload, "username": "x.z", "roles": ["king"]}),
        content_type="application/json",
    )
    assert bad_role.status_code == 422
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    assert (
        officer.post(
            "/api/v1/accounts/staff", data=json.dumps(payload), content_type="application/json"
        ).status_code
        == 403
    )
