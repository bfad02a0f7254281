"""The notifications outbox: every message is a row, encrypted, handed to a pluggable sender."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rahdari.core.errors import ApplicationError
from rahdari.core.keyring import blind_index
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.core.notifications import SendResult, notification_deliver, notification_send

pytestmark = pytest.mark.django_db


class FlakyGateway:
    """A sender whose gateway is down: the message must stay queued, not be lost."""

    def send(self, message: OutboundMessage) -> SendResult:
        raise ConnectionError("gateway unreachable")


def test_message_is_recorded_and_audited(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = notification_send(
            recipient="+923001234567",
            template="accounts.login_code",
            language="en",
            params={"code": "482913", "minutes": 5},
        )
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.RECORDED and message.attempts == 1
    assert "482913" in message.text and message.recipient == "+923001234567"
    assert (
        OutboundMessage.objects.filter(
            recipient_index=blind_index("phone", "+923001234567")
        ).count()
        == 1
    )
    entry = AuditEntry.objects.get(action="core.notification_queued")
    assert "482913" not in str(entry.changes)


def test_failed_gateway_keeps_the_message_queued(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.RAHDARI_SMS_SENDER = "tests.core.test_outbox.FlakyGateway"
    with django_capture_on_commit_callbacks(execute=True):
        message = notification_send(
            recipient="+923001234567",
            template="accounts.welcome_citizen",
            language="ur",
            params={"name": "Gul"},
        )
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.QUEUED and message.error == "ConnectionError"
    settings.RAHDARI_SMS_SENDER = "rahdari.core.notifications.RecordingSender"
    assert notification_deliver(message_id=message.pk).status == OutboundMessage.Status.RECORDED


def test_unknown_template_is_refused_and_nothing_saved() -> None:
    with pytest.raises(ApplicationError):
        notification_send(recipient="+923001234567", template="nope", language="en", params={})
    assert not OutboundMessage.objects.exists()


def test_outbox_page_only_in_debug(client: Client, settings: Any) -> None:
    notification_send(
        recipient="+923001234567",
        template="accounts.welcome_citizen",
        language="ps",
        params={"name": "Gul"},
    )
    settings.DEBUG = False
    assert client.get("/dev/outbox/").status_code == 404
    settings.DEBUG = True
    page = client.get("/dev/outbox/")
    assert page.status_code == 200 and b'data-template="accounts.welcome_citizen"' in page.content


def test_a_notice_waits_for_the_worker_round(django_capture_on_commit_callbacks: Any) -> None:
    from rahdari.core.notifications import notifications_deliver_queued

    with django_capture_on_commit_callbacks(execute=True):
        message = notification_send(
            recipient="+923001234567",
            template="accounts.login_code",
            language="en",
            params={"code": "482913", "minutes": 5},
            urgent=False,
        )
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.QUEUED and message.attempts == 0
    assert notifications_deliver_queued() == 1
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.RECORDED and message.attempts == 1
    assert notifications_deliver_queued() == 0


class RacingSender:
    """While this process is sending, "another process" tries the same message."""

    sent: list[Any] = []

    def send(self, message: OutboundMessage) -> SendResult:
        RacingSender.sent.append(message.pk)
        if len(RacingSender.sent) == 1:
            notification_deliver(message_id=message.pk)
        return SendResult(status=OutboundMessage.Status.SENT)


def test_a_message_claimed_by_another_process_is_not_sent_again(settings: Any) -> None:
    settings.RAHDARI_SMS_SENDER = f"{__name__}.RacingSender"
    RacingSender.sent = []
    message = notification_send(
        recipient="+923001234567",
        template="accounts.login_code",
        language="en",
        params={"code": "482913", "minutes": 5},
        urgent=False,
    )
    notification_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert RacingSender.sent == [message.pk]
    assert message.status == OutboundMessage.Status.SENT and message.attempts == 1
