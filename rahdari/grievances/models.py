"""Complaints, the desks that handle them, and every step of each.

Example: complaint 7482 1093 75, "payment not received", lodged on the web in Pashto by
a woman of Swat with only her phone number, routed to the Swat district grievance desk
(level 1) with 7 days to answer; not answered in time, it escalated to the Malakand
divisional grievance cell (level 2); officer "g.afridi" resolved it ("fixed": the
payment was sent again) and she rated the answer 4 of 5.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import District, PublicModel, TimeStampedModel
from rahdari.grievances import rules


class Category(models.TextChoices):
    PAYMENT_NOT_RECEIVED = rules.PAYMENT_NOT_RECEIVED, _("Payment not received")
    AGENT_DEDUCTION = rules.AGENT_DEDUCTION, _("A payment agent kept part of my money")
    WRONGLY_EXCLUDED = rules.WRONGLY_EXCLUDED, _("Wrongly left out of a program (appeal)")
    DATA_CORRECTION = rules.DATA_CORRECTION, _("My data is wrong")
    QR_ID_PROBLEM = rules.QR_ID_PROBLEM, _("Problem with my QR ID")
    MISCONDUCT = rules.MISCONDUCT, _("Misconduct or corruption (your name is kept secret)")
    OTHER = rules.OTHER, _("Something else")


class Status(models.TextChoices):
    NEW = rules.NEW, _("received")
    IN_PROGRESS = rules.IN_PROGRESS, _("being handled")
    RESOLVED = rules.RESOLVED, _("answered")
    REOPENED = rules.REOPENED, _("reopened")
    CLOSED = rules.CLOSED, _("closed")


class Channel(models.TextChoices):
    WEB = "web", _("web, logged in")
    WEB_PHONE = "web_phone", _("web, phone number only")
    OFFICE = "office", _("at an office (walk-in)")
    CALL = "call", _("phone call to an officer")
    SMS = "sms", _("SMS")
    USSD = "ussd", _("USSD menu")


class Outcome(models.TextChoices):
    FIXED = "fixed", _("fixed: the problem was put right")
    EXPLAINED = "explained", _("explained: the rules were applied correctly")
    NOT_UPHELD = "not_upheld", _("not upheld: no fault was found")
    REFERRED = "referred", _("referred to the department responsible")
    DUPLICATE = "duplicate", _("duplicate of another complaint")


class Desk(PublicModel):
    """A team that handles complaints of one area at one level, e.g. the Swat district
    grievance desk (level 1, area "Swat"), the Malakand divisional grievance cell
    (level 2, area "Malakand") or the provincial grievance redressal cell (level 3)."""

    level = models.PositiveSmallIntegerField()
    area = models.CharField(max_length=80)
    name = models.CharField(max_length=120)
    officers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="desks")

    class Meta:
        ordering = ["level", "area"]
        constraints = [
            models.UniqueConstraint(fields=["level", "area"], name="one_desk_per_level_and_area"),
            models.CheckConstraint(condition=Q(level__in=rules.LEVELS), name="desk_level_known"),
        ]

    def __str__(self) -> str:
        return self.name


class Complaint(PublicModel):
    """One complaint from one person (see the module docstring for an example).

    The text, the phone number, the name, the resolution and the voice note's key are
    encrypted; ``phone_index`` (a blind index) finds a number's complaints for the
    status lookup and the flood limit. ``number`` is the tracking number people read
    out: ten digits with a Verhoeff check digit (rahdari.core.tracking).
    """

    number = models.CharField(max_length=10, unique=True)
    category = models.CharField(max_length=24, choices=Category.choices)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    district = models.ForeignKey(
        District, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    desk = models.ForeignKey(Desk, on_delete=models.PROTECT, related_name="complaints")
    level = models.PositiveSmallIntegerField()
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey(
        "identity.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lodged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    complainant_name = EncryptedTextField(blank=True)
    phone = EncryptedTextField()
    phone_index = models.CharField(max_length=64, db_index=True)
    language = models.CharField(max_length=8)
    text = EncryptedTextField()
    due_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    resolution = EncryptedTextField(blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The voice note: a sealed file in the documents storage, its own key sealed here.
    voice_name = models.CharField(max_length=120, blank=True)
    voice_key = EncryptedTextField(blank=True)
    voice_media_type = models.CharField(max_length=16, blank=True)
    voice_size = models.PositiveIntegerField(default=0)
    # Links to the records the complaint is about.
    appeal = models.ForeignKey(
        "programs.Appeal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cash_out = models.ForeignKey(
        "payments.CashOut", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    application = models.ForeignKey(
        "applications.Application",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["desk", "status", "due_at"], name="complaint_queue"),
            models.Index(fields=["status", "due_at"], name="complaint_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(level__in=rules.LEVELS), name="complaint_level"),
            models.CheckConstraint(
                condition=~Q(status__in=[rules.RESOLVED, rules.CLOSED])
                | (Q(resolved_at__isnull=False) & ~Q(outcome="")),
                name="answered_complaint_has_outcome",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True)
                | Q(rating__gte=rules.RATING_MIN, rating__lte=rules.RATING_MAX),
                name="complaint_rating_range",
            ),
        ]
        permissions = [
            ("handle_complaints", "Can handle complaints at their grievance desks"),
            ("lodge_for_others", "Can lodge a complaint on someone's behalf"),
            ("manage_desks", "Can set up grievance desks and their officers"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def identity_protected(self) -> bool:
        """A whistle-blower: the desk never sees who complained."""
        return self.category in rules.PROTECTED_CATEGORIES


class ComplaintAttachment(models.Model):
    """A paper the complainant attached, kept in her documents (uploaded once, e.g. a
    photo of the payment slip the agent gave her)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="attachments")
    version = models.ForeignKey(
        "documents.DocumentVersion", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["complaint", "version"], name="attach_once")]

    def __str__(self) -> str:
        return f"{self.complaint_id}:{self.version_id}"


class ComplaintEvent(TimeStampedModel):
    """One step of a complaint, e.g. "escalated from the Swat desk to the Malakand cell:
    deadline passed", or an internal note of the handling officer (encrypted, never
    shown to the complainant)."""

    class Kind(models.TextChoices):
        LODGED = "lodged", _("received")
        TAKEN = "taken", _("taken by an officer")
        NOTE = "note", _("internal note")
        REASSIGNED = "reassigned", _("moved to another desk")
        ESCALATED = "escalated", _("escalated: the deadline passed")
        RESOLVED = "resolved", _("answered")
        RATED = "rated", _("rated by the complainant")
        REOPENED = "reopened", _("reopened by the complainant")
        CLOSED = "closed", _("closed")

    PUBLIC_KINDS = frozenset({"lodged", "escalated", "resolved", "reopened", "closed"})

    id = models.BigAutoField(primary_key=True)
    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_desk = models.ForeignKey(
        Desk, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_desk = models.ForeignKey(
        Desk, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.complaint_id}:{self.kind}"
