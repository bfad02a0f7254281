"""Small template helpers for application pages."""

from __future__ import annotations

from typing import Any

from django import template

from rahdari.applications.models import ApplicationStatus
from rahdari.core.tracking import format_tracking_number

register = template.Library()


@register.filter
def status_label(value: str) -> str:
    """The translated name of a status value ("under_review" → "an officer is checking it")."""
    try:
        return str(ApplicationStatus(value).label)
    except ValueError:
        return value


@register.filter
def tracking(value: str) -> str:
    return format_tracking_number(value)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
