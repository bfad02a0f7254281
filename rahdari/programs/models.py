"""Programs, their versioned rules, targeting runs, decisions, beneficiaries and appeals.

A program's rules are data (``ProgramVersion.definition``, validated by
``programs/definition.py``); a change is a new version that a second officer approves.
A targeting run evaluates one approved version over a frozen snapshot of the registry
and stores one decision per household (or person) with its explanation; once a second
officer approves the run, its eligible households become beneficiaries.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import District, PublicModel


class TargetUnit(models.TextChoices):
    HOUSEHOLD = "household", _("household")
    PERSON = "person", _("person")


class Program(PublicModel):
    """A social-protection program, e.g. "cash-transfer" (the quarterly cash transfer).

    Its names, rules and benefit live in its approved version; ``open`` says whether
    it takes applications and runs.
    """

    code = models.SlugField(max_length=60, unique=True)
    target_unit = models.CharField(max_length=10, choices=TargetUnit.choices)
    open = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        permissions = [
            ("propose_rules", "Can propose a new version of a program's rules"),
            ("approve_rules", "Can approve a program's rules proposed by someone else"),
            ("run_targeting", "Can run targeting over the registry"),
            ("approve_targeting", "Can approve a targeting run prepared by someone else"),
            ("review_appeals", "Can review appeals against eligibility decisions"),
        ]

    def __str__(self) -> str:
        return self.code


class ProgramVersion(PublicModel):
    """Version 3 of the cash transfer's rules: proposed by one officer, approved by another.

    ``definition`` is the validated definition as JSON; an approved version is never
    edited, and approving a new one supersedes it.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        SUPERSEDED = "superseded", _("superseded")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED)
    note = models.CharField(max_length=300)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["program", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["program", "version"], name="program_version_once"),
            models.UniqueConstraint(
                fields=["program"],
                condition=Q(status="approved"),
                name="program_one_approved_version",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(proposed_by__isnull=True)
                | ~Q(decided_by=F("proposed_by")),
                name="program_version_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.code} v{self.version}"


class TargetingRun(PublicModel):
    """Eligibility of the whole registry under one approved version, frozen as of ``as_of``.

    Example: the cash transfer v3 over 1,000,000 households as of 2026-11-22 10:00,
    prepared by one officer, approved by another; payments use exactly its decisions.
    """

    class Kind(models.TextChoices):
        TARGETING = "targeting", _("targeting")
        RECERTIFICATION = "recertification", _("recertification")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        COMPUTING = "computing", _("computing")
        COMPUTED = "computed", _("ready for approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        FAILED = "failed", _("failed")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="runs")
    version = models.ForeignKey(ProgramVersion, on_delete=models.PROTECT, related_name="runs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TARGETING)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    as_of = models.DateTimeField()
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    evaluated = models.PositiveIntegerField(default=0)
    eligible = models.PositiveIntegerField(default=0)
    benefit_total = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(prepared_by__isnull=True)
                | ~Q(decided_by=F("prepared_by")),
                name="targeting_run_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.code} run {self.as_of:%Y-%m-%d %H:%M}"


class Decision(models.Model):
    """One household's (or person's) outcome in one run, with its explanation.

    Example: household HH0000012345 in run X: score 27.4, cut-off 32, eligible, Rs 13,500
    a quarter. ``explanation`` holds every term's points and every criterion and
    exclusion (encrypted: it reveals the survey answers); ``score``, ``cutoff`` and
    ``passes_rules`` stay readable so that counts and what-if previews are SQL.
    """

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(TargetingRun, on_delete=models.CASCADE, related_name="decisions")
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="decisions"
    )
    member = models.ForeignKey(
        "registry.HouseholdMember",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
    )
    row = models.PositiveIntegerField()  # position in the run's table: the resume point
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField()
    cutoff = models.FloatField()
    passes_rules = models.BooleanField()  # every criterion passed and no exclusion hit
    eligible = models.BooleanField()
    reason = models.PositiveSmallIntegerField()
    benefit = models.PositiveIntegerField()
    explanation = EncryptedTextField()

    class Meta:
        ordering = ["run", "row"]
        constraints = [
            models.UniqueConstraint(fields=["run", "row"], name="decision_once_per_row"),
        ]
        indexes = [
            models.Index(fields=["household", "run"]),
            models.Index(fields=["run", "district", "eligible"]),
        ]

    def __str__(self) -> str:
        return f"decision {self.row} of run {self.run_id}"


class Beneficiary(PublicModel):
    """A household (or person) enrolled in a program by an approved run.

    Example: household HH0000012345 in the cash transfer since run X, paid to its
    ever-married woman, Rs 13,500 a quarter; after a recertification that finds it no
    longer eligible it gets an exit notice and leaves when the notice period ends.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("enrolled")
        EXIT_NOTICE = "exit_notice", _("leaving after notice")
        EXITED = "exited", _("left the program")
        SUSPENDED = "suspended", _("suspended")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="beneficiaries")
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="enrolments"
    )
    member = models.ForeignKey(
        "registry.HouseholdMember",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrolments",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    benefit = models.PositiveIntegerField()
    enrolled_by_run = models.ForeignKey(
        TargetingRun, on_delete=models.PROTECT, related_name="enrolled"
    )
    last_run = models.ForeignKey(TargetingRun, on_delete=models.PROTECT, related_name="+")
    exit_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["program", "household"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "household"],
                condition=Q(member__isnull=True) & ~Q(status="exited"),
                name="beneficiary_household_once",
            ),
            models.UniqueConstraint(
                fields=["program", "member"],
                condition=Q(member__isnull=False) & ~Q(status="exited"),
                name="beneficiary_person_once",
            ),
        ]


class Appeal(PublicModel):
    """An excluded household asks for its decision to be looked at again.

    Until the grievance desk exists this is the appeal's own record with its status;
    ``grounds`` is the household's own words (encrypted).
    """

    class Status(models.TextChoices):
        OPEN = "open", _("received")
        UNDER_REVIEW = "under_review", _("under review")
        UPHELD = "upheld", _("upheld: the decision is changed")
        DISMISSED = "dismissed", _("dismissed: the decision stands")

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="appeals")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="appeals")
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="appeals"
    )
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    grounds = EncryptedTextField()
    lodged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assisted = models.BooleanField(default=False)  # an officer lodged it for the household
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "household"],
                condition=Q(status__in=["open", "under_review"]),
                name="appeal_one_open_per_household",
            ),
        ]
