"""SMS that people send to the platform's number, e.g. "YES" to confirm the cash an
agent handed over, or "12000" to say she got less.

The SMS gateway posts each message to ``POST /api/v1/sms/inbound`` (JSON, signed with
HMAC-SHA256 of the body under the gateway's shared secret, header
``X-Rahdari-Signature``). Every message is kept once (encrypted), then offered to the
handlers the apps registered at start-up, in order; the first that recognises it
answers. A message nobody recognises gets a short help reply in the language its
script suggests. One number sending more than ``RAHDARI_SMS_INBOUND_LIMIT`` messages an
hour is not processed further (kept, marked refused, no reply — no SMS loops).
Production: the operator's SMPP/HTTP gateway (e.g. Kannel's ``sms-service`` with
``post-url``) relays to this endpoint — see docs/operations.md.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError
from rahdari.core.keyring import blind_index, keyring
from rahdari.core.models import InboundMessage
from rahdari.core.notifications import notification_send, register_templates
from rahdari.core.validators import clean_mobile

logger = logging.getLogger(__name__)

MAX_TEXT = 480  # three concatenated SMS; a longer body is not an SMS
PASHTO_LETTERS = frozenset("ټډړږښګڼېۍځڅ")

register_templates(
    {
        "core.inbound_help": gettext_noop(
            "Rahdari: we did not understand your message. To confirm cash you received, "
            "reply YES or the amount you got, e.g. 12000. Help: your district office."
        ),
    }
)


@dataclass(frozen=True)
class Reply:
    """What a handler answers: an outbox template in the sender's language (or none)."""

    template: str = ""
    language: str = "ur"
    params: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[str, str], Reply | None]
"""``handler(phone_e164, text)`` → a Reply if the message was for it, else None."""

_HANDLERS: dict[str, Handler] = {}


def register_inbound_handler(name: str, handler: Handler) -> None:
    """Apps add their SMS handlers at start-up (AppConfig.ready); tried in that order."""
    _HANDLERS[name] = handler


def inbound_secret(gateway: str) -> bytes:
    """The secret a gateway signs with: ``RAHDARI_PROVIDER_SECRETS[<gateway>]`` when set,
    else derived from the key ring (one per gateway name)."""
    configured = settings.RAHDARI_PROVIDER_SECRETS.get(gateway)
    if configured:
        return str(configured).encode()
    return hmac.new(keyring().index_key, b"sms-inbound\x00" + gateway.encode(), "sha256").digest()


def sign_inbound(gateway: str, body: bytes) -> str:
    return hmac.new(inbound_secret(gateway), body, "sha256").hexdigest()


def guess_language(text: str) -> str:
    """Pashto if it has letters only Pashto uses, Urdu for other Arabic script, else
    English: good enough to answer "not understood" in a language she reads."""
    if any(ch in PASHTO_LETTERS for ch in text):
        return "ps"
    if any("\u0600" <= ch <= "\u06ff" for ch in text):
        return "ur"
    return "en"


@dataclass(frozen=True)
class _Parsed:
    gateway_id: str
    sender: str
    text: str
    received_at: datetime


def _parse(body: bytes) -> _Parsed:
    def bad(detail: Any) -> ApplicationError:
        return ApplicationError(
            _("This is not a valid inbound SMS: %(detail)s") % {"detail": detail},
            code="malformed_sms",
            status=422,
        )

    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(_("the body is not JSON")) from exc
    if not isinstance(data, dict):
        raise bad(_("the body is not a JSON object"))
    gateway_id, sender, text = data.get("id"), data.get("from"), data.get("text")
    if not isinstance(gateway_id, str) or not 0 < len(gateway_id) <= 64:
        raise bad(_("“id” must be the gateway's message id (1–64 characters)"))
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise bad(_("“text” must be the message, at most 480 characters"))
    try:
        phone = clean_mobile(sender if isinstance(sender, str) else "")
    except ValidationError as exc:
        raise bad(_("“from” is not a Pakistani mobile number")) from exc
    received = data.get("received_at")
    at = parse_datetime(received) if isinstance(received, str) else None
    if received is not None and (at is None or at.tzinfo is None):
        raise bad(_("“received_at” must be an ISO 8601 time with its offset"))
    return _Parsed(gateway_id, phone, text, at or timezone.now())


def inbound_sms_receive(*, gateway: str, body: bytes, signature: str) -> InboundMessage:
    """Check the gateway's signature, keep the message once, and let the first handler
    that recognises it act on it. A wrong signature (401) or malformed body (422)
    changes nothing and is audited; a repeated delivery returns the first result."""
    expected = sign_inbound(gateway, body)
    if not hmac.compare_digest(expected, (signature or "").strip().lower()):
        audit_record(
            actor=None,
            action="core.inbound_sms_refused",
            subject=("core.inboundmessage", gateway[:24]),
            changes={"reason": "bad_signature"},
        )
        raise ApplicationError(
            _("The message's signature is wrong."), code="bad_signature", status=401
        )
    parsed = _parse(body)
    seen = InboundMessage.objects.filter(gateway=gateway, gateway_id=parsed.gateway_id).first()
    if seen is not None:
        return seen
    index = blind_index("phone", parsed.sender)
    recent = InboundMessage.objects.filter(
        sender_index=index, created_at__gte=timezone.now() - timedelta(hours=1)
    ).count()
    flooding = recent >= settings.RAHDARI_SMS_INBOUND_LIMIT
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                gateway=gateway[:24],
                gateway_id=parsed.gateway_id,
                sender=parsed.sender,
                sender_index=index,
                text=parsed.text,
                received_at=parsed.received_at,
                outcome=InboundMessage.Outcome.REFUSED
                if flooding
                else InboundMessage.Outcome.NOT_UNDERSTOOD,
            )
            if not flooding:
                _dispatch(message, parsed)
            audit_record(
                actor=None,
                action="core.inbound_sms_received",
                subject=message,
                changes={"gateway": gateway[:24], "handler": message.handler},
            )
    except IntegrityError:  # the same message, delivered twice at the same moment
        return InboundMessage.objects.get(gateway=gateway, gateway_id=parsed.gateway_id)
    return message


def _dispatch(message: InboundMessage, parsed: _Parsed) -> None:
    reply: Reply | None = None
    for name, handler in _HANDLERS.items():
        try:
            with transaction.atomic():  # a handler that fails leaves nothing behind
                reply = handler(parsed.sender, parsed.text)
        except ApplicationError as exc:
            # The handler recognised the message but could not act on it (e.g. a
            # cash-out no longer waiting): recorded, the next handler is not asked.
            logger.info("inbound SMS %s: %s refused it (%s)", message.pk, name, exc.code)
            reply = Reply()
        if reply is not None:
            message.handler = name
            message.outcome = InboundMessage.Outcome.HANDLED
            break
    else:
        reply = Reply(template="core.inbound_help", language=guess_language(parsed.text))
    message.save(update_fields=["handler", "outcome", "updated_at"])
    if reply.template:
        notification_send(
            recipient=parsed.sender,
            template=reply.template,
            language=reply.language,
            params=reply.params,
            urgent=False,
        )
