"""Issuer keys, status lists and credentials.

A credential row is one signed QR issued to one person (both profiles — the
compact QR for phones and the card QR with a face thumbnail — carry the same
serial, validity and status-list entry). The QR texts hold personal data, so they
are stored encrypted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import PublicModel, TimeStampedModel


class IssuerKey(TimeStampedModel):
    """An Ed25519 signing key, e.g. kid 3f9a…, signing from 2026-11 until rotated.

    The seed is encrypted by the core key ring. After rotation the key stops
    signing but stays published until ``verify_until`` (the expiry of the last
    credential it signed), so QR codes already printed keep verifying.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Signing")
        RETIRED = "retired", _("Verifying only")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kid = models.CharField(max_length=16, unique=True)  # hex of 8 bytes
    public_key = models.BinaryField()
    seed = EncryptedTextField()  # base64 of the 32-byte Ed25519 seed
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    not_before = models.DateTimeField()
    signing_until = models.DateTimeField(null=True, blank=True)
    verify_until = models.DateTimeField()

    class Meta:
        ordering = ["-not_before"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="active"), name="one_signing_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.status})"


class StatusList(TimeStampedModel):
    """One published revocation list, e.g. list 1: entries 0…999,999, 2 bits each.

    The bits are derived from the credentials that point into the list; ``token``
    is the last signed list (IETF Token Status List, CWT form) served at
    ``/status/<number>``.
    """

    number = models.PositiveIntegerField(unique=True)
    capacity = models.PositiveIntegerField()
    next_index = models.PositiveIntegerField(default=0)
    token = models.BinaryField(blank=True, default=b"")
    published_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(next_index__lte=models.F("capacity")),
                name="status_list_not_overfull",
            )
        ]

    def __str__(self) -> str:
        return f"status list {self.number}"


class Credential(PublicModel):
    """One QR credential, e.g. serial 7c1…, Ayesha Bibi's, valid 2026-11-22 to 2031-11-21.

    At most one current (active or suspended) credential per person: a database
    constraint. Reissue supersedes the previous one and flips its status bit.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Valid")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")
        SUPERSEDED = "superseded", _("Replaced by a newer credential")

    person = models.ForeignKey(
        "identity.Person", on_delete=models.PROTECT, related_name="credentials"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    key = models.ForeignKey(IssuerKey, on_delete=models.PROTECT, related_name="credentials")
    status_list = models.ForeignKey(StatusList, on_delete=models.PROTECT, related_name="entries")
    status_index = models.PositiveIntegerField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    qr_compact = EncryptedTextField()
    qr_card = EncryptedTextField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status__in=["active", "suspended"]),
                name="one_current_credential_per_person",
            ),
            models.UniqueConstraint(
                fields=["status_list", "status_index"], name="one_credential_per_status_entry"
            ),
        ]
        indexes = [models.Index(fields=["status_list", "status"])]

    def __str__(self) -> str:
        return f"credential {self.pk} ({self.status})"


class CardBatch(PublicModel):
    """One PDF of printable ID cards, e.g. Swat batch 3: 100 cards, made by a bulk job."""

    job = models.ForeignKey("core.Job", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("core.District", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    cards = models.PositiveIntegerField()
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    persons = models.JSONField(default=list)  # ids of the persons on the cards

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="one_batch_number_per_job")
        ]

    def __str__(self) -> str:
        return f"{self.district} batch {self.number}"
