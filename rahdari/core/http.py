"""View helpers shared by every app."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def render_page(
    request: HttpRequest,
    template: str,
    partial: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only the partial when htmx asks for it (NetBox's rule)."""
    chosen = partial if getattr(request, "htmx", False) else template
    return render(request, chosen, context, status=status)


def is_verified(user: object) -> bool:
    """True when this login was confirmed with a TOTP code (django-otp's flag)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False
