"""The notifications outbox: every SMS or e-mail is a row first, then a sender sends it.

Templates are gettext strings rendered in the recipient's language. The sender is
pluggable (`RAHDARI_SMS_SENDER`): the default `RecordingSender` only records the
message, so the demo works without a phone (DEBUG shows them at /dev/outbox);
the engagement issue adds the Kannel gateway sender.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError
from rahdari.core.keyring import blind_index
from rahdari.core.models import OutboundMessage

logger = logging.getLogger(__name__)

# Template code → text. Placeholders are filled with str.format after translation.
TEMPLATES: dict[str, Any] = {
    "accounts.login_code": _(
        "Rahdari: your login code is {code}. It expires in {minutes} minutes. "
        "Never share it with anyone, not even an official."
    ),
    "accounts.phone_code": _(
        "Rahdari: your code to confirm this mobile number is {code}. It expires in {minutes} "
        "minutes. Never share it with anyone."
    ),
    "accounts.welcome_citizen": _(
        "Rahdari: welcome, {name}. Log in with your CNIC and a code sent to this number."
    ),
    "accounts.staff_account_created": _(
        "Rahdari: a staff account was created for you. Your username is {username}."
    ),
}


MAX_ATTEMPTS = 10
"""After this many failed attempts a message stays queued for an operator to look at."""
SENDING_TIMEOUT = timedelta(minutes=5)
"""A message claimed this long ago and still not sent: its process died; try again."""


def register_templates(templates: dict[str, Any]) -> None:
    """Apps add their message templates at start-up (AppConfig.ready)."""
    TEMPLATES.update(templates)


@dataclass(frozen=True)
class SendResult:
    status: str
    error: str = ""


class Sender(Protocol):
    def send(self, message: OutboundMessage) -> SendResult: ...


class RecordingSender:
    """Records the message and sends nothing: the demo's and the test suite's sender."""

    def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(status=OutboundMessage.Status.RECORDED)


def _sender() -> Sender:
    return import_string(settings.RAHDARI_SMS_SENDER)()  # type: ignore[no-any-return]


def render(template: str, language: str, **params: Any) -> str:
    if template not in TEMPLATES:
        raise ApplicationError(f"unknown message template {template!r}", code="unknown_template")
    with translation.override(language):
        return str(TEMPLATES[template]).format(**params)


def notification_send(
    *,
    recipient: str,
    template: str,
    language: str,
    params: dict[str, Any],
    actor: Any = None,
    channel: str = OutboundMessage.Channel.SMS,
    urgent: bool = True,
) -> OutboundMessage:
    """Write the message to the outbox. An urgent one (a login or consent code, which
    somebody is waiting for) goes to the sender right after the commit; the others
    (a notice that something happened) are sent by the worker's next round, in a
    batch, so the request that caused them does not wait for the SMS operator."""
    text = render(template, language, **params)
    with transaction.atomic():
        message = OutboundMessage.objects.create(
            channel=channel,
            recipient=recipient,
            recipient_index=blind_index("phone", recipient),
            language=language,
            template=template,
            text=text,
        )
        audit_record(
            actor=actor,
            action="core.notification_queued",
            subject=message,
            changes={"template": template, "language": language, "channel": channel},
        )
        if urgent:
            transaction.on_commit(lambda: notification_deliver(message_id=message.pk))
    return message


def notifications_deliver_queued(*, limit: int = 1000) -> int:
    """Hand queued messages to the sender, oldest first: the non-urgent ones, any an
    earlier attempt could not send (the sender failed), and any whose sending process
    died half way (claimed more than ``SENDING_TIMEOUT`` ago). Returns how many."""
    stuck = timezone.now() - SENDING_TIMEOUT
    waiting = list(
        OutboundMessage.objects.filter(
            Q(status=OutboundMessage.Status.QUEUED)
            | Q(status=OutboundMessage.Status.SENDING, updated_at__lt=stuck),
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in waiting:
        notification_deliver(message_id=message_id)
    return len(waiting)


def notification_deliver(*, message_id: Any) -> OutboundMessage:
    """Give one queued message to the sender and store what it said. The attempt is
    claimed first (status ``sending``), so two processes (a request's commit hook and
    the worker) never send the same message twice."""
    now = timezone.now()
    claimable = Q(status=OutboundMessage.Status.QUEUED) | Q(
        status=OutboundMessage.Status.SENDING, updated_at__lt=now - SENDING_TIMEOUT
    )
    claimed = (
        OutboundMessage.objects.filter(claimable, pk=message_id)
        .filter(attempts__lt=MAX_ATTEMPTS)
        .update(status=OutboundMessage.Status.SENDING, attempts=F("attempts") + 1, updated_at=now)
    )
    message = OutboundMessage.objects.get(pk=message_id)
    if not claimed:
        return message
    try:
        result = _sender().send(message)
    except Exception as exc:  # a gateway failure must not lose the message
        logger.warning("sender failed for message %s: %s", message.pk, type(exc).__name__)
        result = SendResult(status=OutboundMessage.Status.QUEUED, error=type(exc).__name__)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=result.status,
        error=result.error[:200],
        sent_at=timezone.now() if result.status != OutboundMessage.Status.QUEUED else None,
        updated_at=timezone.now(),
    )
    message.refresh_from_db()
    return message
