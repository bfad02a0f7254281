"""API: verify (open, rate-limited), verify-image, keys, the citizen's own QR, officers' actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from rahdari.accounts.roles import Role
from rahdari.core import qr
from rahdari.core.models import Job
from rahdari.credentials import cwt
from rahdari.credentials.models import Credential
from rahdari.identity.models import Person
from tests.credentials.test_views import _tampered, holder  # noqa: F401 — fixture

pytestmark = pytest.mark.django_db
API = "/api/v1/credentials"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]


def test_verify_valid_and_every_bad_reason(client: Client, holder: Any) -> None:  # noqa: F811
    text = holder.credential.qr_compact
    ok = client.post(f"{API}/verify", {"qr": text}, content_type="application/json").json()
    assert ok["valid"] is True and ok["reason"] == "valid" and ok["status_checked"] is True
    assert ok["claims"]["id"] == holder.person.rahdari_number and "national_id" not in ok["claims"]
    for bad, reason in [
        (_tampered(text), "bad_signature"),
        ("HC1:NCFOXN%TSMAHO", "wrong_prefix"),
        ("hello world", "malformed"),
        ("", "malformed"),
    ]:
        body = client.post(f"{API}/verify", {"qr": bad}, content_type="application/json").json()
        assert body["valid"] is False and body["reason"] == reason, (bad, body)
        assert body["claims"] == {} and body["message"]


def test_verify_messages_follow_the_language(client: Client, holder: Any) -> None:  # noqa: F811
    body = client.post(
        f"{API}/verify?lang=ps", {"qr": "nonsense"}, content_type="application/json"
    ).json()
    assert (
        body["reason"] == "malformed"
        and body["message"] != "This is not a Rahdari QR code, or it is damaged."
    )


def test_verify_rejects_a_missing_field_with_the_uniform_shape(client: Client) -> None:
    _error(client.post(f"{API}/verify", {}, content_type="application/json"), 422, "invalid")


def test_verify_is_rate_limited(client: Client, settings: Any) -> None:
    settings.RAHDARI_VERIFY_RATE_PER_MINUTE = 1
    client.post(f"{API}/verify", {"qr": "A"}, content_type="application/json")
    _error(
        client.post(f"{API}/verify", {"qr": "A"}, content_type="application/json"),
        429,
        "rate_limited",
    )


def test_verify_image(client: Client, holder: Any) -> None:  # noqa: F811
    png = SimpleUploadedFile("qr.png", qr.qr_png(holder.credential.qr_card, ec_level="M"))
    body = client.post(f"{API}/verify-image", {"image": png}).json()
    assert body["valid"] and body["claims"]["photo_format"] == "webp"
    not_image = SimpleUploadedFile("x.jpg", b"#!/bin/sh\nrm -rf /\n")
    _error(client.post(f"{API}/verify-image", {"image": not_image}), 422, "not_an_image")
    huge = SimpleUploadedFile("x.jpg", b"\0" * (20 * 1024 * 1024))
    _error(client.post(f"{API}/verify-image", {"image": huge}), 413, "too_large")


def test_keys_endpoint_matches_well_known(client: Client, holder: Any) -> None:  # noqa: F811
    assert (
        client.get(f"{API}/keys").json()["keys"]
        == client.get("/.well-known/rahdari-keys.json").json()["keys"]
    )
    keyset = cwt.KeySet.from_json(client.get(f"{API}/keys").json())
    assert (
        holder.credential.key.kid.encode()
        and bytes.fromhex(holder.credential.key.kid) in keyset.keys
    )


def test_citizen_reads_own_credential(holder: Any) -> None:  # noqa: F811
    body = holder.get(f"{API}/me").json()
    assert body["qr_compact"] == holder.credential.qr_compact
    assert body["status"] == "active" and body["status_list_uri"] == "http://testserver/status/1"


def test_anonymous_and_staff_cannot_read_me(client: Client, staff_client: Any) -> None:
    _error(client.get(f"{API}/me"), 401, "unauthenticated")
    _error(staff_client(Role.ENROLMENT_OFFICER, ["Swat"]).get(f"{API}/me"), 403, "forbidden")


def test_officer_issues_suspends_reinstates_revokes(
    active_person: Callable[..., Person], staff_client: Any
) -> None:
    person = active_person()
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    listed = officer.get(f"{API}/persons/{person.pk}").json()
    assert len(listed) == 1 and listed[0]["status"] == "active"
    issued = officer.post(
        f"{API}/persons/{person.pk}/issue", {"reason": "lost"}, content_type="application/json"
    ).json()
    assert issued["status"] == "active" and issued["id"] != listed[0]["id"]
    for action, status in [
        ("suspend", "suspended"),
        ("reinstate", "active"),
        ("revoke", "revoked"),
    ]:
        body = officer.post(
            f"{API}/{issued['id']}/{action}", {"reason": "checked"}, content_type="application/json"
        ).json()
        assert body["status"] == status, body
    _error(
        officer.post(
            f"{API}/{issued['id']}/revoke", {"reason": "x"}, content_type="application/json"
        ),
        409,
        "invalid_transition",
    )
    _error(
        officer.post(
            f"{API}/{issued['id']}/suspend", {"reason": " "}, content_type="application/json"
        ),
        400,
        "reason_required",
    )


def test_officers_are_held_to_their_districts_and_roles(
    active_person: Callable[..., Person], staff_client: Any
) -> None:
    person = active_person()
    credential = Credential.objects.get(person=person)
    other = staff_client(Role.ENROLMENT_OFFICER, ["Peshawar"])
    _error(other.get(f"{API}/persons/{person.pk}"), 404, "not_found")
    _error(
        other.post(
            f"{API}/{credential.pk}/revoke", {"reason": "x"}, content_type="application/json"
        ),
        404,
        "not_found",
    )
    auditor = staff_client(Role.AUDITOR)
    _error(auditor.get(f"{API}/persons/{person.pk}"), 403, "forbidden")


def test_bulk_jobs_start_for_own_district_only(staff_client: Any) -> None:
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    started = officer.post(
        f"{API}/jobs/issue-district", {"district": "Swat"}, content_type="application/json"
    )
    assert started.status_code == 202 and started.json()["kind"] == "credentials.issue_district"
    assert Job.objects.filter(kind="credentials.issue_district").count() == 1
    _error(
        officer.post(
            f"{API}/jobs/issue-district", {"district": "Peshawar"}, content_type="application/json"
        ),
        403,
        "forbidden",
    )
    _error(
        officer.post(
            f"{API}/jobs/print-cards", {"district": "Atlantis"}, content_type="application/json"
        ),
        400,
        "unknown_district",
    )
    _error(
        officer.post(
            f"{API}/jobs/print-cards",
            {"district": "Swat", "language": "fr"},
            content_type="application/json",
        ),
        400,
        "unknown_language",
    )
