"""Services, partner departments, consent requests, standing consents and releases."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from rahdari.core.models import PublicModel, TimeStampedModel


class Service(TimeStampedModel):
    """A public service the QR opens, e.g. "Sehat Card eligibility" at a hospital counter,
    asking for the name and date of birth."""

    class Channel(models.TextChoices):
        COUNTER = "counter", _("At a counter")
        ONLINE = "online", _("Online")

    slug = models.SlugField(max_length=60, unique=True)
    department = models.CharField(max_length=120)
    department_ur = models.CharField(max_length=120)
    department_ps = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120)
    name_ur = models.CharField(max_length=120)
    name_ps = models.CharField(max_length=120)
    description_en = models.TextField()
    description_ur = models.TextField()
    description_ps = models.TextField()
    icon = models.CharField(max_length=30, default="desk")
    scopes = models.JSONField(default=list)  # what the service asks for (gateway.rules.SCOPES)
    outcomes = models.JSONField(default=list)  # what a counter records, e.g. ["admitted"]
    channel = models.CharField(max_length=10, choices=Channel.choices)
    enabled = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-enabled", "position", "slug"]

    def __str__(self) -> str:
        return self.slug

    def _local(self, field: str) -> str:
        language = (get_language() or "en")[:2]
        value = getattr(self, f"{field}_{language}", "") if language in ("ur", "ps") else ""
        return str(value or getattr(self, f"{field}_en" if field != "department" else field))

    @property
    def name(self) -> str:
        return self._local("name")

    @property
    def description(self) -> str:
        return self._local("description")

    @property
    def department_name(self) -> str:
        return self._local("department")


class Partner(PublicModel):
    """A partner department (relying party), e.g. Lady Reading Hospital's admissions desk,
    with its OAuth client, the scopes it may ask for and the services it runs."""

    name = models.CharField(max_length=120)
    name_ur = models.CharField(max_length=120, blank=True)
    department = models.CharField(max_length=120)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=20, blank=True)
    application = models.OneToOneField(
        "oauth2_provider.Application",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="partner",
    )
    services = models.ManyToManyField(Service, related_name="partners")
    allowed_scopes = models.JSONField(default=list)
    rate_per_minute = models.PositiveIntegerField(default=600)
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="partner_desks"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_partners", "Can register partner departments and their keys")]

    def __str__(self) -> str:
        return self.name


class ConsentRequest(PublicModel):
    """A partner asked for some of a person's attributes for a purpose, e.g. a hospital
    asking for Ayesha's name and date of birth to check her Sehat Card."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the person")
        APPROVED = "approved", _("Approved")
        RELEASED = "released", _("Shared")
        DENIED = "denied", _("Refused")
        EXPIRED = "expired", _("Expired")
        LOCKED = "locked", _("Locked after wrong codes")
        CANCELLED = "cancelled", _("Withdrawn by the office")

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="requests")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="requests")
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    scopes = models.JSONField(default=list)
    purpose = models.CharField(max_length=200)
    nonce = models.CharField(max_length=100)
    standing_months = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    code_digest = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A replayed request (same partner, same nonce) is refused by the database too.
            models.UniqueConstraint(fields=["partner", "nonce"], name="one_request_per_nonce")
        ]

    def __str__(self) -> str:
        return f"{self.partner} → {self.service} ({self.status})"


class Consent(PublicModel):
    """A standing consent, e.g. Ayesha lets the hospital read her name and date of birth
    for the Sehat Card service until 2027-05-22, without a code each visit."""

    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="consents")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="consents")
    scopes = models.JSONField(default=list)
    purpose = models.CharField(max_length=200)
    valid_until = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    given_by_request = models.ForeignKey(
        ConsentRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["person", "partner", "service"])]

    def __str__(self) -> str:
        return f"{self.partner} / {self.service} until {self.valid_until:%Y-%m-%d}"


class Release(PublicModel):
    """One handing-over of attributes to a partner, with its consent receipt; the id is
    the receipt id. The released values are not kept here, only which attributes went
    out and the hash of the signed response the partner holds as proof."""

    class ConsentType(models.TextChoices):
        EXPLICIT = "explicit", _("Agreed for this time")
        STANDING = "standing", _("Standing consent")

    request = models.OneToOneField(ConsentRequest, on_delete=models.PROTECT, related_name="release")
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="releases")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="releases")
    scopes = models.JSONField(default=list)
    attributes = models.JSONField(default=list)
    purpose = models.CharField(max_length=200)
    consent_type = models.CharField(max_length=10, choices=ConsentType.choices)
    consent = models.ForeignKey(
        Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="releases"
    )
    collection_method = models.CharField(max_length=40)  # sms_code, web_approval, standing
    language = models.CharField(max_length=8)
    response_sha256 = models.CharField(max_length=64)
    released_at = models.DateTimeField()

    class Meta:
        ordering = ["-released_at"]
        indexes = [models.Index(fields=["person", "-released_at"])]

    def __str__(self) -> str:
        return f"receipt {self.pk}"
