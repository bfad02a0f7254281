"""Partner API end to end: token, request by QR, SMS code, signed release, standing
consent, web approval, and every refusal with its status, audited, nothing released."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from joserfc import jws
from joserfc.jwk import OKPKey

from rahdari.core.errors import Conflict
from rahdari.core.models import AuditEntry
from rahdari.credentials import cwt
from rahdari.credentials import services as credentials
from rahdari.credentials.models import Credential
from rahdari.gateway import services
from rahdari.gateway.models import ConsentRequest, Release
from rahdari.identity.models import Person
from tests.gateway.conftest import SEHAT, PartnerClient, last_code, token_for

pytestmark = pytest.mark.django_db


def _ask(partner: PartnerClient, person: Person, nonce: str = "n-1", **extra: Any) -> Any:
    body = {
        "service": "sehat-card",
        "scopes": ["identity.name", "identity.birth"],
        "purpose": "Admission under the Sehat Card",
        "nonce": nonce,
        "qr": Credential.objects.get(person=person, status="active").qr_compact,
    } | extra
    return partner.post("/requests", body)


def _verified_payload(client: Client, token: str) -> dict[str, Any]:
    keys = client.get("/.well-known/rahdari-keys.json").json()
    header = json.loads(cwt.unb64url(token.split(".")[0]))
    row = next(k for k in keys["keys"] if k["kid"] == header["kid"])
    key = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": row["x"]})
    return json.loads(jws.deserialize_compact(token, key, algorithms=["Ed25519"]).payload)


def test_catalog_page_and_api_in_three_languages(client: Client) -> None:
    for lang, text in [
        ("en", "School enrolment"),
        ("ur", "اسکول میں داخلہ"),
        ("ps", "په ښوونځي کې داخله"),
    ]:
        page = client.get(f"/gateway/services/?lang={lang}").content.decode()
        assert text in page and 'data-service="land-records"' in page
    services = {s["slug"]: s for s in client.get("/api/v1/gateway/services").json()}
    assert services["sehat-card"]["enabled"] and not services["driving-licence"]["enabled"]
    assert "date_of_birth" in services["sehat-card"]["attributes"]


def test_code_read_out_at_the_counter_releases_exactly_the_granted_attributes(
    make_partner: Callable[..., PartnerClient], active_person: Callable[..., Person]
) -> None:
    partner, person = make_partner(), active_person()
    asked = _ask(partner, person)
    assert asked.status_code == 202, asked.content
    body = asked.json()
    assert body["status"] == "pending" and body["release"] is None
    wrong = partner.post(f"/requests/{body['id']}/code", {"code": "000000"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "wrong_code"
    right = partner.post(f"/requests/{body['id']}/code", {"code": last_code(person)})
    assert right.status_code == 200, right.content
    release = right.json()["release"]
    assert right.json()["status"] == "released"
    assert set(release["attributes"]) == {
        "rahdari_number",
        "full_name",
        "full_name_ur",
        "date_of_birth",
        "sex",
    }
    payload = _verified_payload(partner.client, release["response"])
    assert payload["attributes"]["full_name"] == person.full_name
    assert payload["aud"] == partner.client_id and payload["jti"] == release["receipt"]
    assert "mobile" not in payload["attributes"] and person.national_id not in release["response"]
    stored = Release.objects.get(pk=release["receipt"])
    assert stored.collection_method == "sms_code" and stored.response_sha256
    assert AuditEntry.objects.filter(action="gateway.released", subject_id=str(stored.pk)).exists()
    receipt = partner.get(f"/receipts/{stored.pk}").json()
    assert receipt["consentReceiptID"] == str(stored.pk)
    assert receipt["services"][0]["purposes"][0]["piiCategory"] == stored.attributes


def test_three_wrong_codes_lock_the_request(
    make_partner: Callable[..., PartnerClient], active_person: Callable[..., Person]
) -> None:
    partner, person = make_partner(), active_person()
    request_id = _ask(partner, person).json()["id"]
    for _ in range(2):
        assert partner.post(f"/requests/{request_id}/code", {"code": "111111"}).status_code == 400
    locked = partner.post(f"/requests/{request_id}/code", {"code": "111111"})
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "request_locked"
    late = partner.post(f"/requests/{request_id}/code", {"code": last_code(person)})
    assert late.status_code == 409 and late.json()["error"]["code"] == "request_locked"
    assert not Release.objects.exists()
    assert AuditEntry.objects.filter(action="gateway.code_refused").count() == 4


def test_the_office_withdraws_an_unanswered_request(
    make_partner: Callable[..., PartnerClient],
    active_person: Callable[..., Person],
    make_citizen: Callable[..., Any],
) -> None:
    partner, person = make_partner(), active_person()
    citizen = make_citizen()
    Person.objects.filter(pk=person.pk).update(account=citizen)
    request_id = _ask(partner, person).json()["id"]
    code = last_code(person)
    cancelled = partner.post(f"/requests/{request_id}/cancel", {})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert AuditEntry.objects.filter(
        action="gateway.request_cancelled", subject_id=request_id
    ).exists()
    late = partner.post(f"/requests/{request_id}/code", {"code": code})
    assert late.status_code == 409 and late.json()["error"]["code"] == "request_cancelled"
    again = partner.post(f"/requests/{request_id}/cancel", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_cancelled"
    with pytest.raises(Conflict):  # the person's page cannot answer it either
        services.consent_decide(
            request=ConsentRequest.objects.get(pk=request_id), approve=True, citizen=citizen
        )
    assert not Release.objects.exists()
    other = make_partner(name="Another office")
    assert other.post(f"/requests/{request_id}/cancel", {}).status_code == 404


def test_a_shared_request_cannot_be_withdrawn(
    make_partner: Callable[..., PartnerClient], active_person: Callable[..., Person]
) -> None:
    partner, person = make_partner(), active_person()
    request_id = _ask(partner, person).json()["id"]
    shared = partner.post(f"/requests/{request_id}/code", {"code": last_code(person)})
    assert shared.status_code == 200
    refused = partner.post(f"/requests/{request_id}/cancel", {})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "request_released"


def test_expired_request_releases_nothing(
    make_partner: Callable[..., PartnerClient], active_person: Callable[..., Person]
) -> None:
    partner, person = make_partner(), active_person()
    request_id = _ask(partner, person).json()["id"]
    ConsentRequest.objects.filter(pk=request_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = partner.post(f"/requests/{request_id}/code", {"code": last_code(person)})
    assert response.status_code == 409 and response.json()["error"]["code"] == "request_expired"
    assert not Release.objects.exists()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"scopes": ["identity.mobile"]}, 403, "scope_not_allowed"),
        ({"scopes": ["identity.everything"]}, 400, "unknown_scope"),
        ({"service": "school-enrolment"}, 403, "service_not_allowed"),
        ({"service": "land-records"}, 404, "unknown_service"),
        ({"qr": "HC1:NOTOURS"}, 422, "credential_wrong_prefix"),
        ({"purpose": " "}, 400, "purpose_required"),
        ({"standing_months": 60}, 400, "standing_too_long"),
    ],
)
def test_bad_requests_are_refused_and_audited(
    make_partner: Callable[..., PartnerClient],
    active_person: Callable[..., Person],
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    partner, person = make_partner(), active_person()
    response = _ask(partner, person, **change)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not ConsentRequest.objects.exists() and not Release.objects.exists()
    assert AuditEntry.objects.filter(
        action="gateway.request_refused", subject_id=str(partner.partner.pk)
    ).exists()


def test_revoked_credential_and_replayed_nonce_are_refused(
    make_partner: Callable[..., PartnerClient], active_person: Callable[..., Person], officer: Any
) -> None:
    partner, person = make_partner(), active_person()
    assert _ask(partner, person, nonce="same").status_code == 202
    replay = _ask(partner, person, nonce="same")
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "replayed"
    credential = Credential.objects.get(person=person, status="active")
    credentials.credential_revoke(credential=credential, reason="stolen", actor=officer)
    body = {
        "service": "sehat-card",
        "scopes": ["identity.name"],
        "purpose": "x",
        "nonce": "n-9",
        "qr": credential.qr_compact,
    }
    revoked = partner.post("/requests", body)
    assert revoked.status_code == 422 and revoked.json()["error"]["code"] == "credential_revoked"
    by_number = partner.post(
        "/requests", body | {"qr": None, "rahdari_number": person.rahdari_number}
    )
    assert by_number.json()["error"]["code"] == "credential_revoked"


def test_standing_consent_skips_the_code_until_the_person_withdraws_it(
    make_partner: Callable[..., PartnerClient],
    active_person: Callable[..., Person],
    make_citizen: Callable[..., Any],
) -> None:
    partner, person = make_partner(), active_person()
    first = _ask(partner, person, nonce="a", standing_months=6).json()
    partner.post(f"/requests/{first['id']}/code", {"code": last_code(person)})
    again = _ask(partner, person, nonce="b")
    assert (
        again.status_code == 201
        and again.json()["release"]["attributes"]["full_name"] == person.full_name
    )
    release = Release.objects.get(pk=again.json()["release"]["receipt"])
    assert release.consent_type == "standing" and release.collection_method == "standing"
    wider = _ask(partner, person, nonce="c", scopes=SEHAT)  # more than was agreed: ask again
    assert wider.status_code == 202
    citizen = make_citizen()
    Person.objects.filter(pk=person.pk).update(account=citizen)
    web = Client()
    web.force_login(citizen)
    page = web.get("/gateway/me/?lang=en").content.decode()
    assert partner.partner.name in page and str(release.pk)[:8] in page
    web.post(f"/gateway/me/consents/{release.consent_id}/revoke/")
    assert _ask(partner, person, nonce="d").status_code == 202


def test_person_agrees_on_their_page_then_the_partner_fetches(
    make_partner: Callable[..., PartnerClient],
    active_person: Callable[..., Person],
    make_citizen: Callable[..., Any],
) -> None:
    partner, person = make_partner(), active_person()
    citizen = make_citizen(language="ps")
    Person.objects.filter(pk=person.pk).update(account=citizen)
    web = Client()
    web.force_login(citizen)
    yes = _ask(partner, person, nonce="yes").json()
    no = _ask(partner, person, nonce="no").json()
    page = web.get("/gateway/me/?lang=ps").content.decode()
    assert f'data-request="{yes["id"]}"' in page and 'dir="rtl"' in page
    assert partner.get(f"/requests/{yes['id']}").json()["status"] == "pending"
    web.post(f"/gateway/me/requests/{yes['id']}/", {"answer": "approve"})
    web.post(f"/gateway/me/requests/{no['id']}/", {"answer": "deny"})
    fetched = partner.get(f"/requests/{yes['id']}").json()
    assert fetched["status"] == "released" and fetched["release"]["attributes"]["date_of_birth"]
    assert partner.get(f"/requests/{yes['id']}").json()["release"] is None  # handed over once
    denied = partner.get(f"/requests/{no['id']}").json()
    assert denied["status"] == "denied" and denied["release"] is None
    late = partner.post(f"/requests/{no['id']}/code", {"code": "123456"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "request_denied"
    receipt = web.get(f"/gateway/me/receipts/{fetched['release']['receipt']}.json").json()
    assert receipt["collectionMethod"] == "web_approval"


def test_tokens_secrets_and_partners_are_checked(
    client: Client, make_partner: Callable[..., PartnerClient], active_person: Callable[..., Person]
) -> None:
    from rahdari.gateway import services

    partner, other = make_partner(), make_partner(name="Another hospital")
    person = active_person()
    assert (
        client.post("/api/v1/gateway/requests", {}, content_type="application/json").status_code
        == 401
    )
    request_id = _ask(partner, person).json()["id"]
    assert other.get(f"/requests/{request_id}").status_code == 404
    assert token_for(Client(), partner.client_id, "wrong").status_code == 401
    new_secret = services.partner_rotate_secret(partner=partner.partner, actor=None)
    assert partner.get(f"/requests/{request_id}").status_code == 401  # old token revoked
    assert token_for(Client(), partner.client_id, partner.secret).status_code == 401
    assert token_for(Client(), partner.client_id, new_secret).status_code == 200


def test_partner_rate_limit(
    make_partner: Callable[..., PartnerClient], active_person: Callable[..., Person]
) -> None:
    partner, person = make_partner(rate=2), active_person()
    assert _ask(partner, person, nonce="1").status_code == 202
    assert _ask(partner, person, nonce="2").status_code == 202
    limited = _ask(partner, person, nonce="3")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
