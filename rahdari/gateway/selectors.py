"""Reads for the gateway pages and API: the catalogue, a citizen's sharing history."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from rahdari.gateway import rules
from rahdari.gateway.models import Consent, ConsentRequest, Release, Service
from rahdari.identity.models import Person

# What each attribute is called on pages and in SMS, in the reader's language.
ATTRIBUTE_LABELS = {
    "rahdari_number": gettext_lazy("Rahdari number"),
    "full_name": gettext_lazy("name"),
    "full_name_ur": gettext_lazy("name in Urdu"),
    "date_of_birth": gettext_lazy("date of birth"),
    "sex": gettext_lazy("sex"),
    "guardian_name": gettext_lazy("father's or husband's name"),
    "guardian_name_ur": gettext_lazy("father's or husband's name in Urdu"),
    "district": gettext_lazy("district"),
    "tehsil": gettext_lazy("tehsil"),
    "union_council": gettext_lazy("union council"),
    "village": gettext_lazy("village"),
    "mobile": gettext_lazy("mobile number"),
    "photo": gettext_lazy("photo"),
}


def attribute_labels(attributes: list[str]) -> list[Any]:
    return [ATTRIBUTE_LABELS.get(a, a) for a in attributes]


def catalog() -> list[dict[str, Any]]:
    """Every service with what it asks for, open ones first."""
    return [
        {"service": service, "attributes": attribute_labels(rules.attributes_of(service.scopes))}
        for service in Service.objects.all()
    ]


def pending_requests(person: Person) -> QuerySet[ConsentRequest]:
    return ConsentRequest.objects.filter(
        person=person, status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
    ).select_related("partner", "service")


def releases_of(person: Person) -> QuerySet[Release]:
    return Release.objects.filter(person=person).select_related("partner", "service")


def standing_consents_of(person: Person) -> QuerySet[Consent]:
    return Consent.objects.filter(
        person=person, revoked_at=None, valid_until__gt=timezone.now()
    ).select_related("partner", "service")
