"""Applications to programs and for data corrections, their papers and their history.

Example: application 2482 1093 75 — Gul Bibi (Swat) applies to the disability
allowance for her household HH0000012345 from her phone on 2026-11-20; the form showed
what the ID and the registry already know, she sent her disability certificate (her
ID card was already in her documents); officer a.khan took it up on the 21st, asked for
a clearer certificate, she sent one, and he approved it on the 24th: each of these
moves is an ``ApplicationEvent`` with its reason, and each sent her an SMS.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rahdari.applications.rules import OPEN, Status
from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import PublicModel

OPEN_VALUES = sorted(s.value for s in OPEN)


class ApplicationStatus(models.TextChoices):
    DRAFT = Status.DRAFT.value, _("draft: not sent yet")
    SUBMITTED = Status.SUBMITTED.value, _("sent: waiting for an officer")
    UNDER_REVIEW = Status.UNDER_REVIEW.value, _("an officer is checking it")
    INFO_REQUESTED = Status.INFO_REQUESTED.value, _("more information needed from you")
    APPROVED = Status.APPROVED.value, _("approved")
    REJECTED = Status.REJECTED.value, _("rejected")
    APPEALED = Status.APPEALED.value, _("appealed: a second officer is checking it")
    WITHDRAWN = Status.WITHDRAWN.value, _("withdrawn")


class ApplicationKind(models.TextChoices):
    PROGRAM = "program", _("to join a program")
    CORRECTION = "correction", _("to correct my data")


class Application(PublicModel):
    """One application by one person: to a program (for her household) or to correct her
    data. ``number`` is what she reads out on the phone; ``due_at`` is when the current
    step is overdue (the service level of ``rules.STEP_DAYS``)."""

    number = models.CharField(max_length=10, unique=True)
    kind = models.CharField(max_length=12, choices=ApplicationKind.choices)
    program = models.ForeignKey(
        "programs.Program",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    person = models.ForeignKey(
        "identity.Person", on_delete=models.PROTECT, related_name="applications"
    )
    household = models.ForeignKey(
        "registry.Household",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    district = models.ForeignKey("core.District", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    status_changed_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    statement = EncryptedTextField(blank=True)  # her own words, optional
    correction = EncryptedTextField(blank=True)  # JSON field -> value she asks for
    correction_request = models.ForeignKey(
        "identity.CorrectionRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    rules_eligible = models.BooleanField(null=True, blank=True)  # the rules' view at sending
    rules_check = EncryptedTextField(blank=True)  # JSON: score, cut-off, benefit
    assisted = models.BooleanField(default=False)  # an officer applied on her behalf
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The officer queue: a district's applications of a kind waiting in a step, by
            # deadline; its count reads the index alone.
            models.Index(fields=["district", "status", "kind", "due_at"], name="application_queue"),
            models.Index(fields=["person", "-created_at"], name="application_of_person"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "household"],
                condition=Q(status__in=OPEN_VALUES, kind="program"),
                name="one_open_application_per_household",
            ),
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(status__in=OPEN_VALUES, kind="correction"),
                name="one_open_correction_per_person",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="program", program__isnull=False, household__isnull=False)
                    | Q(kind="correction", program__isnull=True)
                ),
                name="application_kind_fits",
            ),
            models.CheckConstraint(
                condition=Q(assisted=False) | Q(created_by__isnull=False),
                name="assisted_application_names_officer",
            ),
        ]
        permissions = [
            ("review_applications", "Can review program applications of their districts"),
            ("review_corrections", "Can review data-correction applications of their districts"),
            ("apply_on_behalf", "Can apply on a person's behalf at the office"),
        ]

    def __str__(self) -> str:
        return f"application {self.number} ({self.status})"


class ApplicationDocument(models.Model):
    """The version of one of her papers this application was sent with, e.g. version 2
    of her disability certificate. The paper itself stays in her documents (upload
    once); a new version after a request for information is linked when she answers."""

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=24)
    version = models.ForeignKey(
        "documents.DocumentVersion", on_delete=models.PROTECT, related_name="+"
    )
    linked_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["application", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["application", "kind"], name="one_paper_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version_id}"


class ApplicationEvent(models.Model):
    """One move of an application, e.g. under review → information requested by
    a.khan on 2026-11-22 10:14, "The certificate photo is blurred; send a clear one"."""

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=16, blank=True)  # "" for the creation
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by_officer = models.BooleanField(default=False)
    reason = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["application", "at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '·'} → {self.to_status}"
