"""Gateway fixtures: a registered partner with a client-credentials token, a person."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from rahdari.accounts.roles import Role
from rahdari.core.models import OutboundMessage
from rahdari.gateway import services
from rahdari.gateway.models import Partner, Service
from tests.credentials.conftest import active_person, face_jpeg, officer  # noqa: F401
from tests.identity.conftest import registered  # noqa: F401

SEHAT = ["identity.name", "identity.birth", "identity.guardian", "identity.photo"]


@dataclass
class PartnerClient:
    partner: Partner
    client_id: str
    secret: str
    client: Client
    token: str

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> Any:
        return self.client.post(
            f"/api/v1/gateway{path}",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.token}",
            **kw,
        )

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1/gateway{path}", HTTP_AUTHORIZATION=f"Bearer {self.token}")


def token_for(client: Client, client_id: str, secret: str) -> Any:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "gateway"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


@pytest.fixture
def make_partner(make_staff: Callable[..., Any]) -> Callable[..., PartnerClient]:
    def make(
        name: str = "Saidu Teaching Hospital, Swat",
        services_: tuple[str, ...] = ("sehat-card",),
        scopes: list[str] | None = None,
        rate: int = 600,
        login_redirect_uris: list[str] | None = None,
    ) -> PartnerClient:
        admin = make_staff(Role.ADMINISTRATOR)
        partner, client_id, secret = services.partner_register(
            name=name,
            department="Health Department",
            contact_email="admissions@example.gov.pk",
            services=Service.objects.filter(slug__in=services_),
            allowed_scopes=SEHAT if scopes is None else scopes,
            actor=admin,
            rate_per_minute=rate,
            login_redirect_uris=login_redirect_uris,
        )
        client = Client()
        if login_redirect_uris:  # a login client gets tokens only through a person's login
            return PartnerClient(partner, client_id, secret, client, "")
        response = token_for(client, client_id, secret)
        assert response.status_code == 200, response.content
        return PartnerClient(partner, client_id, secret, client, response.json()["access_token"])

    return make


def last_code(person: Any) -> str:
    """The consent code in the last SMS the person got (the demo outbox)."""
    from rahdari.core.keyring import blind_index

    message = (
        OutboundMessage.objects.filter(recipient_index=blind_index("phone", person.mobile))
        .filter(template__startswith="gateway.consent_code")
        .order_by("-created_at")
        .first()
    )
    assert message is not None, "no consent SMS was sent"
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match, message.text
    return match.group(1)
