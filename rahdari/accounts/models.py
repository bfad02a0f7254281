"""Users: staff (password + TOTP) and citizens (CNIC + a code sent by SMS)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from rahdari.accounts.roles import ALL_DISTRICTS, TOTP_REQUIRED, Role
from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import District


class User(AbstractUser):
    """A person who logs in. Example: staff "s.yousafzai", enrolment officer in Swat
    and Buner; or a citizen (username "c-…", never the CNIC) who logs in with a code.

    Names, CNIC, phone and e-mail are encrypted; CNIC and phone have blind indexes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = EncryptedTextField(blank=True)
    full_name = EncryptedTextField(blank=True)
    cnic = EncryptedTextField(blank=True)
    cnic_index = models.CharField(max_length=64, null=True, blank=True, unique=True)
    phone = EncryptedTextField(blank=True)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    preferred_language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    is_citizen = models.BooleanField(default=False)
    districts = models.ManyToManyField(District, blank=True, related_name="officers")

    class Meta:
        ordering = ["username"]
        permissions = [
            ("manage_staff", "Can create and change staff accounts"),
            ("view_citizen_account", "Can look up a citizen's account (logged)"),
            ("enrol_persons", "Can enrol persons"),
            ("manage_programs", "Can manage programs and targeting"),
            ("approve_payments", "Can approve payment cycles"),
            ("handle_grievances", "Can handle grievances"),
            ("operate_service_counter", "Can operate a partner service counter"),
            ("issue_credentials", "Can issue, revoke and print QR credentials"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_citizen=False) | models.Q(cnic_index__isnull=False),
                name="citizen_has_cnic",
            )
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def roles(self) -> list[Role]:
        if not hasattr(self, "_roles_cache"):
            names = {g.name for g in self.groups.all()}
            self._roles_cache = [r for r in Role if r.value in names]
        return self._roles_cache

    def has_role(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def requires_totp(self) -> bool:
        return any(r in TOTP_REQUIRED for r in self.roles)

    @property
    def all_districts(self) -> bool:
        return self.is_superuser or any(r in ALL_DISTRICTS for r in self.roles)

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


def request_user(request: HttpRequest) -> User:
    """The logged-in user of a request that a login check already guarded."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


class LoginCode(models.Model):
    """One SMS code: to log a citizen in, or to prove that a person holds a mobile number
    (self-enrolment). Stored as an HMAC, valid a few minutes, few tries.

    Example: code for the number ending 4567, sent 10:02, expires 10:07, 1 wrong try.
    """

    class Purpose(models.TextChoices):
        LOGIN = "login", _("log in")
        VERIFY_PHONE = "verify_phone", _("prove a mobile number")
        CONFIRM_ACTION = "confirm_action", _("confirm a change (payment account, cash-out)")

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="login_codes"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.LOGIN)
    phone_index = models.CharField(max_length=64, db_index=True)
    # For an action code: the SMS template it was sent with, i.e. what it confirms.
    action = models.CharField(max_length=64, blank=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["phone_index", "created_at"])]

    def __str__(self) -> str:
        return f"login code {self.pk}"
