"""Administrators register partner departments and rotate their secrets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from rahdari.accounts.roles import Role
from rahdari.core.models import AuditEntry
from rahdari.gateway.models import Partner, Service
from tests.gateway.conftest import token_for

pytestmark = pytest.mark.django_db


def _form(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Saidu Teaching Hospital",
        "name_ur": "سیدو ٹیچنگ ہسپتال",
        "department": "Health Department",
        "contact_email": "admissions@example.gov.pk",
        "contact_phone": "+92946123456",
        "services": [Service.objects.get(slug="sehat-card").pk],
        "allowed_scopes": ["identity.name", "identity.birth"],
        "rate_per_minute": 600,
        "kind": "counter",
    } | overrides


def test_administrator_registers_a_partner_and_the_secret_works_once(
    staff_client: Any, make_staff: Any
) -> None:
    admin = staff_client(Role.ADMINISTRATOR)
    operator = make_staff(Role.SERVICE_OPERATOR, ["Swat"])
    response = admin.post("/gateway/partners/new/?lang=en", _form(operators=[operator.pk]))
    body = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    client_id = re.search(r"data-client-id>([^<]+)<", body).group(1)  # type: ignore[union-attr]
    secret = re.search(r"data-client-secret>([^<]+)<", body).group(1)  # type: ignore[union-attr]
    partner = Partner.objects.get(name="Saidu Teaching Hospital")
    assert list(partner.operators.all()) == [operator]
    assert partner.application is not None and partner.application.client_secret != secret  # hashed
    assert token_for(Client(), client_id, secret).status_code == 200
    listing = admin.get("/gateway/partners/?lang=ur").content.decode()
    assert client_id in listing and secret not in listing
    rotated = admin.post(f"/gateway/partners/{partner.pk}/rotate/").content.decode()
    new_secret = re.search(r"data-client-secret>([^<]+)<", rotated).group(1)  # type: ignore[union-attr]
    assert token_for(Client(), client_id, secret).status_code == 401
    assert token_for(Client(), client_id, new_secret).status_code == 200
    assert AuditEntry.objects.filter(action="gateway.partner_secret_rotated").exists()


def test_an_online_service_gets_a_login_client_with_its_return_addresses(
    staff_client: Any,
) -> None:
    admin = staff_client(Role.ADMINISTRATOR)
    missing = admin.post("/gateway/partners/new/?lang=en", _form(kind="login"))
    assert "needs at least one return address" in missing.content.decode()
    for bad in ("http://portal.example.gov.pk/cb", "ftp://x/cb", "https://x/cb#frag", "portal"):
        refused = admin.post(
            "/gateway/partners/new/?lang=en", _form(kind="login", redirect_uris=bad)
        )
        assert "Not a valid address" in refused.content.decode(), bad
    assert not Partner.objects.exists()
    uris = "https://portal.example.gov.pk/callback\nhttp://127.0.0.1:8100/cb"
    response = admin.post("/gateway/partners/new/?lang=ur", _form(kind="login", redirect_uris=uris))
    body = response.content.decode()
    assert "/o/.well-known/openid-configuration" in body
    application = Partner.objects.get().application
    assert application is not None
    assert application.authorization_grant_type == "authorization-code"
    assert application.algorithm == "RS256"
    assert application.redirect_uris.split() == [
        "https://portal.example.gov.pk/callback",
        "http://127.0.0.1:8100/cb",
    ]


def test_scopes_no_service_needs_are_refused(staff_client: Any) -> None:
    admin = staff_client(Role.ADMINISTRATOR)
    response = admin.post(
        "/gateway/partners/new/?lang=en", _form(allowed_scopes=["identity.mobile"])
    )
    assert response.status_code == 200 and "None of its services needs" in response.content.decode()
    assert not Partner.objects.exists()


@pytest.mark.parametrize("role", [Role.ENROLMENT_OFFICER, Role.SERVICE_OPERATOR, Role.AUDITOR])
def test_only_administrators_manage_partners(staff_client: Any, role: Role) -> None:
    assert staff_client(role, ["Swat"]).get("/gateway/partners/").status_code == 403


@pytest.mark.parametrize(
    "path", ["/o/applications/", "/o/applications/register/", "/o/authorized-tokens/"]
)
def test_oauth_client_self_service_pages_are_not_offered(staff_client: Any, path: str) -> None:
    assert staff_client(Role.ADMINISTRATOR).get(path).status_code == 404
