"""Persons, enrolments, the national-ID reference table, duplicate review, corrections."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import District, PublicModel


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")
    OTHER = "X", _("Other")


class IdDocument(models.TextChoices):
    CNIC = "cnic", _("CNIC (adult)")
    CRC = "crc", _("CRC / B-Form (child)")


class PersonStatus(models.TextChoices):
    PENDING = "pending", _("Being enrolled")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    DECEASED = "deceased", _("Deceased")
    REVOKED = "revoked", _("Revoked")
    MERGED = "merged", _("Merged into another record")
    REJECTED = "rejected", _("Enrolment rejected")


class Person(PublicModel):
    """One real person, once. Example: Gul Bibi (گل بی بی), wife of Sher Khan, born
    1986-03-14, Swat / Mingora, Rahdari number 4821 0937 5562, active.

    National ID, names, date of birth, phone, address and photo are encrypted;
    `national_id_index`, `mobile_index` and `name_key` are blind indexes for exact
    lookups; `birth_year` and `district` stay plain for blocking and scoping.
    """

    rahdari_number = models.CharField(max_length=12, unique=True, null=True, blank=True)
    id_document = models.CharField(max_length=4, choices=IdDocument.choices)
    national_id = EncryptedTextField()
    national_id_index = models.CharField(max_length=64)
    full_name = EncryptedTextField()
    full_name_ur = EncryptedTextField(blank=True)
    guardian_name = EncryptedTextField(blank=True)  # father or husband
    guardian_name_ur = EncryptedTextField(blank=True)
    name_key = models.CharField(max_length=64, db_index=True)
    guardian_key = models.CharField(max_length=64, blank=True, db_index=True)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    date_of_birth = EncryptedTextField()  # ISO date
    birth_year = models.PositiveSmallIntegerField(db_index=True)
    mobile = EncryptedTextField(blank=True)
    mobile_index = models.CharField(max_length=64, blank=True, db_index=True)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="persons")
    tehsil = models.CharField(max_length=80, blank=True)
    union_council = EncryptedTextField(blank=True)
    village = EncryptedTextField(blank=True)
    photo = EncryptedTextField(blank=True)  # base64 JPEG, re-encoded, no metadata
    status = models.CharField(
        max_length=12, choices=PersonStatus.choices, default=PersonStatus.PENDING
    )
    status_reason = models.CharField(max_length=200, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    household_id = models.UUIDField(null=True, blank=True, db_index=True)
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["district", "birth_year", "name_key"])]
        constraints = [
            # Exact national ID is a hard stop: one live record per number.
            models.UniqueConstraint(
                fields=["national_id_index"],
                condition=~models.Q(status__in=["merged", "rejected"]),
                name="one_live_person_per_national_id",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "rejected", "merged"])
                | models.Q(rahdari_number__isnull=False),
                name="enrolled_person_has_number",
            ),
        ]

    def __str__(self) -> str:
        return self.rahdari_number or str(self.pk)


class Enrolment(PublicModel):
    """One enrolment of a person, and where it stands. Example: assisted by officer
    enrol.swat on 2026-11-22, verified by the authority, no duplicate, approved."""

    class Channel(models.TextChoices):
        ASSISTED = "assisted", _("Assisted by an officer")
        SELF = "self", _("Self-enrolment on the web")
        IMPORT = "import", _("Imported")

    class Status(models.TextChoices):
        VERIFYING = "verifying", _("Checking with the national ID authority")
        QUEUED = "queued", _("Waiting for the national ID authority")
        MISMATCH = "mismatch", _("Details do not match the national ID record")
        NOT_FOUND = "not_found", _("National ID number not found")
        DUPLICATE_REVIEW = "duplicate_review", _("An officer is checking a possible duplicate")
        APPROVED = "approved", _("Enrolled")
        REJECTED = "rejected", _("Rejected")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="enrolments")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.VERIFYING)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    consent_purpose = models.TextField()  # the exact text the person was shown
    consent_language = models.CharField(max_length=8)
    consented_at = models.DateTimeField()
    verification = models.JSONField(default=dict)  # outcome and mismatched field names
    verification_attempts = models.PositiveSmallIntegerField(default=0)
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"enrolment {self.pk} {self.status}"


class NationalIdRecord(models.Model):
    """The reference implementation's copy of the national ID authority's register.

    Filled by `rahdari identity import-reference FILE.csv` (and from the synthetic
    registry); a deployment talks to the authority instead (docs/national-id.md).
    """

    national_id_index = models.CharField(max_length=64, unique=True)
    national_id = EncryptedTextField()
    full_name = EncryptedTextField()
    full_name_ur = EncryptedTextField(blank=True)
    guardian_name = EncryptedTextField(blank=True)
    date_of_birth = EncryptedTextField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    district = models.CharField(max_length=80, blank=True)
    deceased = models.BooleanField(default=False)

    class Meta:
        ordering = ["national_id_index"]

    def __str__(self) -> str:
        return f"reference {self.pk}"


class DuplicateCandidate(PublicModel):
    """A pair an officer must look at. Example: a new enrolment of "Mohammad Ali" and
    the active "Muhammad Ali", same father, birth date with day and month swapped."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Same person: merged")
        NOT_DUPLICATE = "not_duplicate", _("Different persons")

    new_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    existing_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField()
    components = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(
                fields=["new_person", "existing_person"], name="one_review_per_pair"
            ),
            models.CheckConstraint(
                condition=~models.Q(new_person=models.F("existing_person")),
                name="duplicate_of_another_person",
            ),
        ]

    def __str__(self) -> str:
        return f"duplicate? {self.score:.2f}"


class PersonVersion(models.Model):
    """The demographics as they were before a change (history is kept, encrypted)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    data = EncryptedTextField()  # JSON of the fields before the change
    changed_fields = models.JSONField(default=list)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["person", "version"], name="one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.person_id} v{self.version}"


class PersonEvent(models.Model):
    """A lifecycle event other apps react to (credentials revoke the QR of a deceased
    person; payments hold a suspended one). Stored, then dispatched after commit."""

    class Kind(models.TextChoices):
        ENROLLED = "person.enrolled", _("enrolled")
        UPDATED = "person.updated", _("updated")
        SUSPENDED = "person.suspended", _("suspended")
        REINSTATED = "person.reinstated", _("reinstated")
        DECEASED = "person.deceased", _("deceased")
        REVOKED = "person.revoked", _("revoked")
        MERGED = "person.merged", _("merged")

    seq = models.BigAutoField(primary_key=True)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"{self.kind} {self.person_id}"


class CorrectionRequest(PublicModel):
    """A person asks for their data to be corrected, with evidence; officers decide."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for an officer")
        APPLIED = "applied", _("Corrected")
        REFUSED = "refused", _("Refused")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="corrections")
    requested = EncryptedTextField()  # JSON: field -> new value
    explanation = EncryptedTextField(blank=True)
    evidence = EncryptedTextField(blank=True)  # base64 JPEG, re-encoded
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"correction {self.pk} {self.status}"
