"""Reads other code needs from core."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import QuerySet

from rahdari.core.models import AuditEntry, Job


def audit_entries(
    *,
    action: str = "",
    actor: str = "",
    subject_type: str = "",
    subject_id: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    if subject_type:
        entries = entries.filter(subject_type=subject_type)
    if subject_id:
        entries = entries.filter(subject_id=subject_id)
    if since:
        entries = entries.filter(at__date__gte=since)
    if until:
        entries = entries.filter(at__date__lte=until)
    return entries.order_by("-seq")


def reads_of_person(*, subject_type: str, subject_id: str) -> QuerySet[AuditEntry]:
    """Every logged look at a person's data by someone else: who, when, why."""
    return (
        AuditEntry.objects.filter(
            subject_type=subject_type, subject_id=subject_id, action__endswith=".viewed"
        )
        .exclude(actor__pk=subject_id)
        .order_by("-seq")
    )


def jobs_for(user: Any) -> QuerySet[Job]:
    jobs = Job.objects.all()
    if not user.has_perm("core.manage_keys"):
        jobs = jobs.filter(created_by=user)
    return jobs.order_by("-created_at")
