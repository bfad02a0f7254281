"""Roles are groups with permissions. This table is the one place that says who may do what."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CITIZEN = "citizen", _("Citizen")
    ENROLMENT_OFFICER = "enrolment_officer", _("Enrolment officer")
    PROGRAM_OFFICER = "program_officer", _("Program officer")
    PAYMENT_APPROVER = "payment_approver", _("Payment approver")
    PAYMENT_AGENT = "payment_agent", _("Payment agent (cash-out)")
    GRIEVANCE_OFFICER = "grievance_officer", _("Grievance officer")
    SERVICE_OPERATOR = "service_operator", _("Service operator (partner department)")
    AUDITOR = "auditor", _("Auditor")
    ADMINISTRATOR = "administrator", _("Administrator")


STAFF_ROLES = [r for r in Role if r != Role.CITIZEN]

# Roles whose holders must confirm every login with a TOTP code.
TOTP_REQUIRED = frozenset({Role.PAYMENT_APPROVER, Role.ADMINISTRATOR})

# Roles that work in every district rather than the ones assigned to them.
ALL_DISTRICTS = frozenset({Role.AUDITOR, Role.ADMINISTRATOR})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.CITIZEN: frozenset(),
    # Enrolment officers are the field staff (and social workers) who survey households.
    Role.ENROLMENT_OFFICER: frozenset(
        {
            "accounts.enrol_persons",
            "accounts.view_citizen_account",
            "accounts.issue_credentials",
            "registry.view_household_data",
            "registry.change_household_data",
            "payments.manage_accounts",
            "grievances.lodge_for_others",
            "documents.upload_documents",
            "documents.view_documents",
            "applications.apply_on_behalf",
            "applications.review_corrections",
        }
    ),
    # Program officers propose and approve rules and runs; the database refuses an
    # officer approving their own (four eyes).
    Role.PROGRAM_OFFICER: frozenset(
        {
            "accounts.manage_programs",
            "accounts.view_citizen_account",
            "registry.view_household_data",
            "programs.propose_rules",
            "programs.approve_rules",
            "programs.run_targeting",
            "programs.approve_targeting",
            "programs.review_appeals",
            "payments.prepare_cycles",
            "payments.view_payments",
            "applications.review_applications",
            "documents.view_documents",
        }
    ),
    # Payment approvers approve cycles that program officers prepared (with TOTP).
    Role.PAYMENT_APPROVER: frozenset({"accounts.approve_payments", "payments.view_payments"}),
    # Agents at campsites and franchises hand out the cash of wallet and card payments.
    Role.PAYMENT_AGENT: frozenset({"payments.operate_cash_out"}),
    Role.GRIEVANCE_OFFICER: frozenset(
        {
            "accounts.handle_grievances",
            "grievances.handle_complaints",
            "grievances.lodge_for_others",
            "accounts.view_citizen_account",
            "registry.view_household_data",
            "programs.review_appeals",
        }
    ),
    Role.SERVICE_OPERATOR: frozenset({"accounts.operate_service_counter"}),
    # Auditors read payments (cycles, batches, the fraud review); they change nothing.
    Role.AUDITOR: frozenset({"core.view_audit_log", "payments.view_payments"}),
    Role.ADMINISTRATOR: frozenset(
        {
            "accounts.manage_staff",
            "accounts.view_citizen_account",
            "accounts.issue_credentials",
            "core.view_audit_log",
            "core.view_outbox",
            "core.manage_keys",
            "grievances.manage_desks",
            "gateway.manage_partners",
            "registry.view_household_data",
            "registry.change_household_data",
        }
    ),
}
