"""A person's documents and every version of each.

Example: Gul Bibi's "CNIC — front" document, version 2 uploaded by enrolment officer
"a.khan" at the Mingora office (assisted) on 2026-11-20, a JPEG of 412 KB whose
SHA-256 is 9f2c…, scanned clean; version 1 (blurred) is kept. Applications point at a
person's documents instead of asking for them again (upload once).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import PublicModel


class DocumentKind(models.TextChoices):
    CNIC_FRONT = "cnic_front", _("ID card (CNIC) — front")
    CNIC_BACK = "cnic_back", _("ID card (CNIC) — back")
    B_FORM = "b_form", _("Child registration (B-Form)")
    DEATH_CERTIFICATE = "death_certificate", _("Death certificate")
    INCOME_PROOF = "income_proof", _("Proof of income")
    DISABILITY_CERTIFICATE = "disability_certificate", _("Disability certificate")
    PHOTO = "photo", _("Photo of the person")
    OTHER = "other", _("Other paper")


class ScanStatus(models.TextChoices):
    CLEAN = "clean", _("checked for viruses: clean")
    NOT_SCANNED = "not_scanned", _("not checked for viruses (no scanner installed)")
    UNAVAILABLE = "unavailable", _("not checked for viruses (scanner unavailable)")
    INFECTED = "infected", _("a virus was found later: blocked")


class Document(PublicModel):
    """One paper of one person, e.g. Gul Bibi's disability certificate, with its versions.

    A person has at most one document of each kind except "other" (each other paper is
    its own document); a new upload of the same kind is a new version of it.
    """

    person = models.ForeignKey(
        "identity.Person", on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(max_length=24, choices=DocumentKind.choices)
    version_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["kind", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "kind"], condition=~Q(kind="other"), name="one_document_per_kind"
            )
        ]
        permissions = [
            ("upload_documents", "Can upload documents for a person at the office"),
            ("view_documents", "Can view the documents of persons of their districts"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.version_count} versions)"


class DocumentVersion(PublicModel):
    """One upload of a document as stored: e.g. version 1 of a CNIC front, image/jpeg,
    2,048,331 bytes as sent, 1,204,112 bytes re-encoded without EXIF.

    The file sits in the ``documents`` storage under a random name, encrypted with
    ``content_key`` (itself sealed by the key ring). ``sha256`` is the hash of the
    stored (cleaned) content, ``original_sha256`` of the bytes as uploaded.
    """

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    media_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    original_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    storage_name = models.CharField(max_length=200, unique=True)
    content_key = EncryptedTextField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assisted = models.BooleanField(default=False)
    scan_status = models.CharField(max_length=16, choices=ScanStatus.choices)
    scan_detail = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["document", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="one_version_number"),
            models.CheckConstraint(
                condition=Q(media_type__in=["image/jpeg", "image/png", "application/pdf"]),
                name="document_media_type_known",
            ),
            models.CheckConstraint(
                condition=Q(assisted=False) | Q(uploaded_by__isnull=False),
                name="assisted_upload_has_officer",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number} {self.media_type}"

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")
