"""The household social registry: households, their members, survey rounds and the
socio-economic answers (encrypted, versioned)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import District, PublicModel, TimeStampedModel
from rahdari.identity.models import Person, Sex


class Area(models.TextChoices):
    URBAN = "urban", _("Urban")
    RURAL = "rural", _("Rural")


class Relationship(models.TextChoices):
    HEAD = "head", _("Head")
    SPOUSE = "spouse", _("Spouse")
    SON = "son", _("Son")
    DAUGHTER = "daughter", _("Daughter")
    FATHER = "father", _("Father")
    MOTHER = "mother", _("Mother")
    DAUGHTER_IN_LAW = "daughter_in_law", _("Daughter-in-law")
    GRANDCHILD = "grandchild", _("Grandchild")
    OTHER = "other", _("Other relative")


class MaritalStatus(models.TextChoices):
    NEVER_MARRIED = "never_married", _("Never married")
    MARRIED = "married", _("Married")
    WIDOWED = "widowed", _("Widowed")
    DIVORCED = "divorced", _("Divorced")


class Household(PublicModel):
    """One household as the registry knows it. Example: HH0000012345 in Swat, tehsil
    Babuzai, UC-12, village Gul Kalay (encrypted), rural, active, six members.

    The village is part of an address and is encrypted; district, tehsil and union
    council stay plain for scoping and statistics.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DISSOLVED = "dissolved", _("Dissolved")

    number = models.CharField(max_length=16, unique=True)
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="households", db_index=False
    )  # indexed by (district, status) below
    tehsil = models.CharField(max_length=80, blank=True)
    union_council = models.CharField(max_length=80, blank=True)
    village = EncryptedTextField(blank=True)
    village_ur = EncryptedTextField(blank=True)
    area = models.CharField(max_length=5, choices=Area.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["number"]
        indexes = [models.Index(fields=["district", "status"])]
        permissions = [
            ("view_household_data", "Can read households' survey answers (logged)"),
            ("change_household_data", "Can record and update households' survey answers"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(area__in=["urban", "rural"]), name="household_area_known"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "dissolved"]),
                name="household_status_known",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class HouseholdMember(TimeStampedModel):
    """One person listed in a household. Example: member 3 of HH0000012345, daughter,
    F, born 2012, never married, no disability, linked to identity person <uuid> once
    she is enrolled.

    Names, the national ID number and phone live encrypted in identity; here only the
    blind index of the ID number (to link the member to a person later) and what the
    survey and targeting need.
    """

    # Indexes: (household, member_no) and the partial unique ones below cover the lookups.
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="members", db_index=False
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    national_id_index = models.CharField(max_length=64, blank=True)
    member_no = models.PositiveSmallIntegerField()
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    birth_year = models.PositiveSmallIntegerField()
    marital_status = models.CharField(max_length=14, choices=MaritalStatus.choices)
    has_disability = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["household", "member_no"]
        constraints = [
            models.UniqueConstraint(fields=["household", "member_no"], name="one_member_number"),
            # A person lives in one household at a time; moving is: leave, then join.
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(active=True, person__isnull=False),
                name="person_active_in_one_household",
            ),
            # The same, before the person is enrolled: one national ID, one household.
            models.UniqueConstraint(
                fields=["national_id_index"],
                condition=models.Q(active=True) & ~models.Q(national_id_index=""),
                name="national_id_active_in_one_household",
            ),
            models.CheckConstraint(
                condition=models.Q(member_no__gte=1), name="member_number_from_one"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} #{self.member_no}"


class SurveyRound(models.Model):
    """A survey campaign. Example: NSER-2025, "National socio-economic registry 2025",
    from 2025-01-15, layout version 1."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=120)
    started_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    layout_version = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-started_on", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closed_on__isnull=True)
                | models.Q(closed_on__gte=models.F("started_on")),
                name="round_closes_after_it_starts",
            )
        ]

    def __str__(self) -> str:
        return self.code


class SurveyResponse(models.Model):
    """One version of a household's answers. Example: HH0000012345 version 2, current,
    officer update on 2026-03-02 by enrol.swat ("roof rebuilt after the floods"); version
    1 (NSER-2025 survey of 2025-07-01) is kept.

    `answers` is the packed JSON list of rahdari.registry.survey (layout order),
    encrypted; `provenance` names, for the answers whose source or date differ from
    this row's, where they came from: {"rooms": {"source": "survey", "date": "2025-07-01"}}.
    """

    class Source(models.TextChoices):
        SURVEY = "survey", _("Survey")
        SELF_DECLARED = "self_declared", _("Declared by the household")
        OFFICER_UPDATE = "officer_update", _("Updated by an officer")

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="responses", db_index=False
    )  # indexed by (household, version)
    round = models.ForeignKey(SurveyRound, on_delete=models.PROTECT, related_name="responses")
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=True)
    collected_on = models.DateField()
    source = models.CharField(max_length=16, choices=Source.choices)
    layout_version = models.PositiveSmallIntegerField(default=1)
    answers = EncryptedTextField()
    provenance = models.JSONField(default=dict, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the next version replaced this one (its created_at): with created_at it says
    # which version was current at any moment, so a targeting run reads the registry
    # as it stood at the run's start, even when it resumes after a crash.
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["household", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["household", "version"], name="one_response_version"),
            models.UniqueConstraint(
                fields=["household"],
                condition=models.Q(is_current=True),
                name="one_current_response",
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="version_from_one"),
            models.CheckConstraint(
                condition=models.Q(source__in=["survey", "self_declared", "officer_update"]),
                name="response_source_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} v{self.version}"
