"""What every page needs: navigation for the user's roles and the language switcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

NATIVE_NAMES = {"en": "English", "ur": "اردو", "ps": "پښتو"}


@dataclass(frozen=True)
class NavItem:
    label: Any
    url: str
    icon: str


def _operates_a_partner(user: Any) -> bool:
    """Works the counter of an active partner department (the gateway's service desk)."""
    partner = apps.get_model("gateway", "Partner")  # core does not import the gateway
    return bool(partner.objects.filter(operators=user, active=True).exists())


APPLICATION_PERMISSIONS = ("review_applications", "review_corrections", "apply_on_behalf")


def _applications_home(user: Any) -> str:
    reviews = user.has_perm("applications.review_applications") or user.has_perm(
        "applications.review_corrections"
    )
    return "applications:queue" if reviews else "applications:office"


def _nav(request: HttpRequest) -> list[NavItem]:
    user = request.user
    items = [NavItem(_("Home"), reverse("core:home"), "home")]
    items.append(NavItem(_("Check a QR ID"), reverse("credentials:verify"), "check"))
    items.append(NavItem(_("Services"), reverse("gateway:catalog"), "hospital"))
    if not user.is_authenticated or user.is_citizen:
        items.append(NavItem(_("Am I eligible?"), reverse("selfassess:start"), "check"))
        items.append(NavItem(_("Complaints"), reverse("grievances:home"), "message"))
    if settings.DEBUG:
        items.append(NavItem(_("Outbox (demo)"), reverse("core:outbox"), "message"))
    if not user.is_authenticated:
        return items
    if user.is_citizen:
        items.append(NavItem(_("My account"), reverse("accounts:me"), "person"))
        items.append(NavItem(_("My ID record"), reverse("identity:my_record"), "person"))
        items.append(NavItem(_("My QR ID"), reverse("credentials:my_qr"), "qr"))
        items.append(NavItem(_("My data sharing"), reverse("gateway:my_sharing"), "shield"))
        items.append(NavItem(_("My payments"), reverse("payments:me"), "cash"))
        items.append(NavItem(_("My documents"), reverse("documents:mine"), "book"))
        items.append(NavItem(_("My applications"), reverse("applications:mine"), "check"))
        return items
    items.append(NavItem(_("Workspace"), reverse("accounts:workspace"), "desk"))
    if user.has_perm("accounts.operate_service_counter") and _operates_a_partner(user):
        items.append(NavItem(_("Service desk"), reverse("gateway:desk"), "qr"))
    if user.has_perm("accounts.enrol_persons") or user.has_perm("accounts.view_citizen_account"):
        items.append(NavItem(_("Residents"), reverse("identity:officer_home"), "people"))
    if user.has_perm("registry.view_household_data"):
        items.append(NavItem(_("Households"), reverse("registry:households"), "home"))
    if user.has_perm("accounts.issue_credentials"):
        items.append(NavItem(_("QR credentials"), reverse("credentials:bulk"), "qr"))
    if user.has_perm("accounts.view_citizen_account"):
        items.append(NavItem(_("Citizen lookup"), reverse("accounts:citizen_lookup"), "search"))
    if user.has_perm("programs.run_targeting") or user.has_perm("programs.review_appeals"):
        items.append(NavItem(_("Programs"), reverse("programs:list"), "cash"))
    if any(user.has_perm(p) for p in ("payments.view_payments", "payments.prepare_cycles")):
        items.append(NavItem(_("Payments"), reverse("payments:list"), "cash"))
    if user.has_perm("documents.upload_documents") or user.has_perm("documents.view_documents"):
        items.append(NavItem(_("Documents"), reverse("documents:office"), "book"))
    if any(user.has_perm(f"applications.{p}") for p in APPLICATION_PERMISSIONS):
        items.append(NavItem(_("Applications"), reverse(_applications_home(user)), "check"))
    if user.has_perm("payments.manage_accounts"):
        items.append(NavItem(_("Payment accounts"), reverse("payments:accounts"), "cash"))
    if user.has_perm("payments.operate_cash_out"):
        items.append(NavItem(_("Cash-out"), reverse("payments:agent"), "qr"))
    if user.has_perm("grievances.handle_complaints"):
        items.append(NavItem(_("Grievance desk"), reverse("grievances:desk"), "message"))
    elif user.has_perm("grievances.lodge_for_others"):
        items.append(NavItem(_("Lodge a complaint"), reverse("grievances:office_lodge"), "message"))
    if user.has_perm("payments.view_payments"):
        items.append(NavItem(_("Fraud review"), reverse("payments:fraud"), "shield"))
    if user.has_perm("core.view_audit_log"):
        items.append(NavItem(_("Audit log"), reverse("core:audit_log"), "shield"))
    if user.has_perm("accounts.manage_staff"):
        items.append(NavItem(_("Staff accounts"), reverse("accounts:staff_list"), "people"))
    if user.has_perm("gateway.manage_partners"):
        items.append(NavItem(_("Partner departments"), reverse("partners:list"), "people"))
    if user.has_perm("core.manage_keys"):
        items.append(NavItem(_("Keys and jobs"), reverse("core:operations"), "key"))
    return items


def shell(request: HttpRequest) -> dict[str, Any]:
    language = get_language() or settings.LANGUAGE_CODE
    return {
        "nav_items": _nav(request),
        "language_choices": [(code, NATIVE_NAMES[code]) for code, _name in settings.LANGUAGES],
        "current_language": language,
        "script_class": {"ur": "script-nastaliq", "ps": "script-naskh"}.get(
            language, "script-latin"
        ),
        "unknown_language": getattr(request, "unknown_language", None),
        "debug": settings.DEBUG,
    }
