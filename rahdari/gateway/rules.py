"""Scopes (attribute sets) a partner may ask for, consent-request states, code rules.

Plain data and functions, no Django. A scope is what a citizen agrees to share; an
attribute is one fact released under it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Scope → the attributes it releases, in the order a receipt lists them.
SCOPES: dict[str, tuple[str, ...]] = {
    "identity.name": ("rahdari_number", "full_name", "full_name_ur"),
    "identity.birth": ("date_of_birth", "sex"),
    "identity.guardian": ("guardian_name", "guardian_name_ur"),
    "identity.address": ("district", "tehsil", "union_council", "village"),
    "identity.mobile": ("mobile",),
    "identity.photo": ("photo",),
}

CONSENT_CODE_DIGITS = 6
CONSENT_CODE_TRIES = 3  # a third wrong code locks the request
REQUEST_TTL_SECONDS = 10 * 60
STANDING_MAX_MONTHS = 12

# Request lifecycle: which status may follow which.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"approved", "denied", "expired", "locked", "cancelled"}),
    "approved": frozenset({"released", "expired", "cancelled"}),
    "released": frozenset(),
    "denied": frozenset(),
    "expired": frozenset(),
    "locked": frozenset(),
    "cancelled": frozenset(),  # withdrawn by the partner before anything was shared
}


def can_transition(current: str, new: str) -> bool:
    return new in ALLOWED_TRANSITIONS.get(current, frozenset())


def attributes_of(scopes: list[str] | tuple[str, ...]) -> list[str]:
    """The attributes the scopes release, each once, in catalogue order."""
    wanted = set(scopes)
    return [a for scope, attrs in SCOPES.items() if scope in wanted for a in attrs]


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in SCOPES]


def new_code() -> str:
    return f"{secrets.randbelow(10**CONSENT_CODE_DIGITS):0{CONSENT_CODE_DIGITS}d}"


def code_digest(secret: bytes, request_id: str, code: str) -> str:
    """Keyed digest of a consent code, bound to its request (a code fits one request)."""
    return hmac.new(secret, f"{request_id}:{code}".encode(), hashlib.sha256).hexdigest()


def covers(granted: list[str], requested: list[str]) -> bool:
    return set(requested) <= set(granted)
