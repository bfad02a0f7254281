"""Lifecycle events of persons: stored as rows, then handed to subscribers after commit.

Other apps subscribe in their AppConfig.ready(), e.g. the credentials app revokes
the QR of a person who died:

    from rahdari.identity.events import subscribe
    subscribe("person.deceased", revoke_credentials_of)

A handler receives the PersonEvent row. Handlers run after the transaction that
recorded the event commits, so a rolled-back change never notifies anyone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

from rahdari.identity.models import Person, PersonEvent

logger = logging.getLogger(__name__)
Handler = Callable[[PersonEvent], None]
_SUBSCRIBERS: dict[str, list[Handler]] = defaultdict(list)


def subscribe(kind: str, handler: Handler) -> None:
    if handler not in _SUBSCRIBERS[kind]:
        _SUBSCRIBERS[kind].append(handler)


def unsubscribe(kind: str, handler: Handler) -> None:
    if handler in _SUBSCRIBERS[kind]:
        _SUBSCRIBERS[kind].remove(handler)


def publish(*, person: Person, kind: str, reason: str = "") -> PersonEvent:
    """Record the event in the caller's transaction; dispatch it once that commits."""
    event = PersonEvent.objects.create(person=person, kind=kind, reason=reason[:200])
    transaction.on_commit(lambda: _dispatch(event))
    return event


def _dispatch(event: PersonEvent) -> None:
    for handler in list(_SUBSCRIBERS[event.kind]):
        try:
            handler(event)
        except Exception:  # one failing subscriber must not stop the others
            logger.exception("subscriber %s failed for event %s", handler, event.seq)
