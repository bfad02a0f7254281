"""Reads about accounts that views and other apps need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from rahdari.accounts.models import User
from rahdari.core.keyring import blind_index
from rahdari.core.models import AuditEntry, District


def districts_of(user: User) -> QuerySet[District]:
    return District.objects.all() if user.all_districts else user.districts.all()


def recent_activity(user: User, limit: int = 10) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(actor=user).order_by("-seq")[:limit]


def staff_accounts() -> QuerySet[User]:
    return (
        User.objects.filter(is_citizen=False)
        .prefetch_related("groups", "districts")
        .order_by("username")
    )


def citizen_by_cnic(cnic: str) -> User | None:
    return User.objects.filter(cnic_index=blind_index("cnic", cnic), is_citizen=True).first()


@dataclass(frozen=True)
class Tile:
    title: Any
    text: Any
    url: str
    icon: str


def workspace_tiles(user: User) -> list[Tile]:
    """What this person can open from their workspace, by the permissions their roles give."""
    tiles = []
    if user.has_perm("accounts.view_citizen_account"):
        tiles.append(
            Tile(
                _("Citizen lookup"),
                _(
                    "Open a citizen's account by CNIC. Every look is logged and shown to the citizen."
                ),
                reverse("accounts:citizen_lookup"),
                "search",
            )
        )
    if user.has_perm("core.view_audit_log"):
        tiles.append(
            Tile(
                _("Audit log"),
                _("Every change and every look at personal data, hash-chained."),
                reverse("core:audit_log"),
                "shield",
            )
        )
    if user.has_perm("accounts.manage_staff"):
        tiles.append(
            Tile(
                _("Staff accounts"),
                _("Create officers, give roles and districts."),
                reverse("accounts:staff_list"),
                "people",
            )
        )
    if user.has_perm("core.manage_keys"):
        tiles.append(
            Tile(
                _("Keys and jobs"),
                _("Rotate the encryption key and follow long jobs."),
                reverse("core:operations"),
                "key",
            )
        )
    tiles.append(
        Tile(
            _("Account security"),
            _("Your authenticator app and login protection."),
            reverse("accounts:security"),
            "lock",
        )
    )
    return tiles
