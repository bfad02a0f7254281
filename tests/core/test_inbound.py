"""SMS sent to the platform: signed by the gateway, kept once, handled by the first app
that recognises it, a help reply otherwise, and flooding refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rahdari.core import inbound
from rahdari.core.errors import ApplicationError
from rahdari.core.models import AuditEntry, InboundMessage, OutboundMessage

pytestmark = pytest.mark.django_db

URL = "/api/v1/sms/inbound/jazz"


def _post(client: Client, payload: Any, *, signature: str | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={"X-Rahdari-Signature": signature or inbound.sign_inbound("jazz", body)},
    )


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """A handler that takes messages starting with PING and answers in Pashto."""
    calls: list[tuple[str, str]] = []

    def handler(phone: str, text: str) -> inbound.Reply | None:
        if not text.upper().startswith("PING"):
            return None
        calls.append((phone, text))
        return inbound.Reply(template="core.inbound_help", language="ps")

    monkeypatch.setattr(inbound, "_HANDLERS", {"test.ping": handler})
    return calls


def test_a_signed_message_is_kept_encrypted_and_handled_once(
    client: Client, seen: list[tuple[str, str]]
) -> None:
    payload = {"id": "jz-1", "from": "0300 1234567", "text": "PING 1"}
    first = _post(client, payload)
    assert first.status_code == 200, first.content
    assert first.json() == {"id": "jz-1", "outcome": "handled", "handler": "test.ping"}
    again = _post(client, payload)  # the gateway retries
    assert again.json() == first.json()
    assert seen == [("+923001234567", "PING 1")]
    message = InboundMessage.objects.get()
    assert message.sender == "+923001234567" and message.text == "PING 1"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sender, text FROM core_inboundmessage")
        stored = cursor.fetchone()
    assert "1234567" not in str(stored) and "PING" not in str(stored)
    reply = OutboundMessage.objects.get(template="core.inbound_help")
    assert reply.recipient == "+923001234567" and reply.language == "ps"


@pytest.mark.parametrize(
    ("text", "language"),
    [("hello?", "en"), ("پیسے نہیں ملے", "ur"), ("ما ته پیسې نه دي راغلي", "ps")],
)
def test_a_message_nobody_understands_gets_help_in_its_script(
    client: Client, seen: list[tuple[str, str]], text: str, language: str
) -> None:
    response = _post(client, {"id": f"jz-{language}", "from": "+923001234567", "text": text})
    assert response.json()["outcome"] == "not_understood"
    assert OutboundMessage.objects.get(template="core.inbound_help").language == language
    assert seen == []


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "JSON"),
        ({"id": "", "from": "+923001234567", "text": "x"}, "id"),
        ({"id": "a", "from": "12345", "text": "x"}, "from"),
        ({"id": "a", "from": "+923001234567", "text": "x" * 481}, "text"),
        ({"id": "a", "from": "+923001234567", "text": "x", "received_at": "yesterday"}, "8601"),
    ],
)
def test_malformed_messages_are_refused_and_nothing_is_kept(
    client: Client, seen: list[tuple[str, str]], payload: Any, fragment: str
) -> None:
    response = _post(client, payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "malformed_sms" and fragment in error["message"]
    assert not InboundMessage.objects.exists() and not OutboundMessage.objects.exists()


def test_a_wrong_signature_is_refused_and_audited(
    client: Client, seen: list[tuple[str, str]]
) -> None:
    body = json.dumps({"id": "jz-9", "from": "+923001234567", "text": "PING"}).encode()
    forged = inbound.sign_inbound("other-gateway", body)
    response = _post(client, body, signature=forged)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert not InboundMessage.objects.exists() and seen == []
    assert AuditEntry.objects.filter(action="core.inbound_sms_refused").count() == 1


def test_a_flooding_number_is_kept_but_not_processed(
    client: Client, seen: list[tuple[str, str]], settings: Any
) -> None:
    settings.RAHDARI_SMS_INBOUND_LIMIT = 3
    outcomes = [
        _post(client, {"id": f"f{n}", "from": "+923001234567", "text": "PING"}).json()["outcome"]
        for n in range(5)
    ]
    assert outcomes == ["handled"] * 3 + ["refused"] * 2
    assert len(seen) == 3
    assert OutboundMessage.objects.count() == 3  # no replies to the refused ones
    other = _post(client, {"id": "g1", "from": "+923451234567", "text": "PING"})
    assert other.json()["outcome"] == "handled"


def test_a_handler_that_refuses_leaves_nothing_half_done(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(phone: str, text: str) -> inbound.Reply | None:
        OutboundMessage.objects.create(
            channel="sms",
            recipient=phone,
            recipient_index="x",
            language="en",
            template="t",
            text="",
        )
        raise ApplicationError("no longer waiting", code="not_handed_over")

    monkeypatch.setattr(inbound, "_HANDLERS", {"test.refuses": handler})
    response = _post(client, {"id": "r1", "from": "+923001234567", "text": "YES"})
    assert response.json() == {"id": "r1", "outcome": "handled", "handler": "test.refuses"}
    assert not OutboundMessage.objects.exists()  # the handler's write was rolled back
