"""Account operations: staff and citizen accounts, roles, login codes, TOTP devices."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from rahdari.accounts.models import LoginCode, User
from rahdari.accounts.roles import ROLE_PERMISSIONS, STAFF_ROLES, Role
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Forbidden, RateLimited
from rahdari.core.keyring import blind_index, keyring
from rahdari.core.models import District
from rahdari.core.notifications import notification_send
from rahdari.core.validators import clean_cnic, clean_mobile, mask_cnic, mask_phone


def _field_error(exc: ValidationError, field: str) -> ApplicationError:
    return ApplicationError(exc.messages[0], code="invalid_" + field, fields={field: exc.messages})


def roles_sync() -> None:
    """Create the role groups and give each exactly the permissions of ROLE_PERMISSIONS."""
    with transaction.atomic():
        for role, perms in ROLE_PERMISSIONS.items():
            group, _created = Group.objects.get_or_create(name=role.value)
            wanted = []
            for perm in perms:
                app_label, codename = perm.split(".")
                wanted.append(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )
            group.permissions.set(wanted)


def _groups(roles: Iterable[Role]) -> list[Group]:
    if not Group.objects.filter(name=Role.ADMINISTRATOR.value).exists():
        roles_sync()
    return list(Group.objects.filter(name__in=[r.value for r in roles]))


def staff_create(
    *,
    username: str,
    full_name: str,
    password: str,
    roles: list[Role],
    districts: list[District],
    phone: str = "",
    language: str = "en",
    actor: Any,
) -> User:
    """Create a staff account with roles and districts; audited, welcome SMS if a phone is given."""
    if not roles or any(r not in STAFF_ROLES for r in roles):
        raise ApplicationError(
            _("Choose at least one staff role."),
            code="invalid_roles",
            fields={"roles": [_("Choose at least one staff role.")]},
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(
            _("This username is taken."),
            code="username_taken",
            fields={"username": [_("This username is taken.")]},
        )
    try:
        phone = clean_mobile(phone) if phone else ""
    except ValidationError as exc:
        raise _field_error(exc, "phone") from exc
    user = User(
        username=username,
        full_name=full_name,
        preferred_language=language,
        phone=phone,
        phone_index=blind_index("phone", phone) if phone else "",
    )
    try:
        from django.contrib.auth.password_validation import validate_password

        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(
            exc.messages[0], code="weak_password", fields={"password": exc.messages}
        ) from exc
    user.set_password(password)
    with transaction.atomic():
        user.save()
        user.groups.set(_groups(roles))
        user.districts.set(districts)
        audit_record(
            actor=actor,
            action="accounts.staff_created",
            subject=user,
            changes={
                "username": username,
                "roles": [r.value for r in roles],
                "districts": sorted(d.name for d in districts),
            },
        )
        if phone:
            notification_send(
                recipient=phone,
                template="accounts.staff_account_created",
                language=language,
                params={"username": username},
                actor=actor,
            )
    return user


def citizen_register(*, cnic: str, phone: str, full_name: str, language: str, actor: Any) -> User:
    """A citizen account, keyed by the CNIC's blind index (identity enrolment calls this)."""
    errors: dict[str, list[str]] = {}
    try:
        cnic = clean_cnic(cnic)
    except ValidationError as exc:
        errors["cnic"] = exc.messages
    try:
        phone = clean_mobile(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    if not full_name.strip():
        errors["full_name"] = [_("Enter the full name.")]
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], code="invalid", fields=errors)
    index = blind_index("cnic", cnic)
    if User.objects.filter(cnic_index=index).exists():
        raise ApplicationError(
            _("An account for this CNIC already exists."), code="citizen_exists", status=409
        )
    with transaction.atomic():
        user = User(
            username="c-" + secrets.token_hex(8),
            is_citizen=True,
            cnic=cnic,
            cnic_index=index,
            phone=phone,
            phone_index=blind_index("phone", phone),
            full_name=full_name.strip(),
            preferred_language=language,
        )
        user.set_unusable_password()
        user.save()
        user.groups.set(_groups([Role.CITIZEN]))
        audit_record(
            actor=actor,
            action="accounts.citizen_registered",
            subject=user,
            changes={"language": language},
        )
        notification_send(
            recipient=phone,
            template="accounts.welcome_citizen",
            language=language,
            params={"name": full_name.strip()},
            actor=actor,
        )
    return user


def _code_hash(code: str) -> str:
    return hmac.new(
        keyring().index_key, b"login-code\x00" + code.encode(), hashlib.sha256
    ).hexdigest()


def _issue_code(
    *,
    phone: str,
    phone_index: str,
    purpose: str,
    user: User | None,
    template: str,
    language: str,
    params: dict[str, Any] | None = None,
) -> None:
    """One SMS code for a number: at most 3 codes per number per 10 minutes, whatever the
    purpose; an earlier unused code of the same purpose (and action) stops working."""
    window_start = timezone.now() - settings.CITIZEN_OTP_WINDOW
    with transaction.atomic():
        recent = LoginCode.objects.filter(phone_index=phone_index, created_at__gte=window_start)
        if recent.count() >= settings.CITIZEN_OTP_MAX_PER_WINDOW:
            raise RateLimited(
                _("Too many codes were sent to this number. Wait 10 minutes and try again.")
            )
        code = f"{secrets.randbelow(10**6):06d}"
        action = template if purpose == LoginCode.Purpose.CONFIRM_ACTION else ""
        LoginCode.objects.filter(
            phone_index=phone_index, purpose=purpose, action=action, used_at__isnull=True
        ).update(used_at=timezone.now())
        LoginCode.objects.create(
            user=user,
            purpose=purpose,
            action=action,
            phone_index=phone_index,
            code_hash=_code_hash(code),
            expires_at=timezone.now() + settings.CITIZEN_OTP_LIFETIME,
        )
        minutes = int(settings.CITIZEN_OTP_LIFETIME.total_seconds() // 60)
        notification_send(
            recipient=phone,
            template=template,
            language=language,
            params={**(params or {}), "code": code, "minutes": minutes},
            actor=None,
        )


def _consume_code(codes: QuerySet[LoginCode], code: str) -> LoginCode:
    """Check a code against the newest unused one; wrong tries are counted (and committed),
    an expired, used or too-often-tried code never works."""
    message = _("This code is wrong or has expired. Ask for a new code.")
    with transaction.atomic():
        entry = (
            codes.select_for_update().filter(used_at__isnull=True).order_by("-created_at").first()
        )
        accepted = (
            entry is not None
            and entry.expires_at > timezone.now()
            and entry.attempts < settings.CITIZEN_OTP_MAX_ATTEMPTS
            and hmac.compare_digest(entry.code_hash, _code_hash((code or "").strip()))
        )
        if entry is not None and not accepted:
            LoginCode.objects.filter(pk=entry.pk).update(attempts=F("attempts") + 1)
        elif entry is not None:
            entry.used_at = timezone.now()
            entry.save(update_fields=["used_at"])
    if not accepted or entry is None:
        raise ApplicationError(message, code="invalid_code", fields={"code": [message]})
    return entry


def login_code_request(*, cnic: str) -> str | None:
    """Send a login code to the mobile number registered for this CNIC.

    Returns the masked number, or None when no citizen has this CNIC (the page shows
    the same words either way).
    """
    try:
        digits = clean_cnic(cnic)
    except ValidationError as exc:
        raise _field_error(exc, "cnic") from exc
    user = User.objects.filter(cnic_index=blind_index("cnic", digits), is_active=True).first()
    if user is None:
        return None
    _issue_code(
        phone=user.phone,
        phone_index=user.phone_index,
        purpose=LoginCode.Purpose.LOGIN,
        user=user,
        template="accounts.login_code",
        language=user.preferred_language,
    )
    return mask_phone(user.phone)


def phone_code_request(*, phone: str, language: str) -> str:
    """Send a code that proves the person holds this mobile number (before an account exists)."""
    try:
        phone = clean_mobile(phone)
    except ValidationError as exc:
        raise _field_error(exc, "phone") from exc
    _issue_code(
        phone=phone,
        phone_index=blind_index("phone", phone),
        purpose=LoginCode.Purpose.VERIFY_PHONE,
        user=None,
        template="accounts.phone_code",
        language=language,
    )
    return phone


def phone_code_verify(*, phone: str, code: str) -> str:
    """Check a phone-proof code; returns the number (E.164) it proved."""
    try:
        phone = clean_mobile(phone)
    except ValidationError as exc:
        raise _field_error(exc, "phone") from exc
    _consume_code(
        LoginCode.objects.filter(
            phone_index=blind_index("phone", phone), purpose=LoginCode.Purpose.VERIFY_PHONE
        ),
        code,
    )
    return phone


def action_code_request(
    *, phone: str, language: str, template: str, params: dict[str, Any]
) -> None:
    """Send the holder of ``phone`` a code that confirms one action another service is
    about to take for them (a new payment account, a cash-out); ``template`` says what
    the code is for, so a code asked for one thing is never read as consent to another.
    Shares the per-number limit of all codes. Verify with ``action_code_verify``."""
    _issue_code(
        phone=phone,
        phone_index=blind_index("phone", phone),
        purpose=LoginCode.Purpose.CONFIRM_ACTION,
        user=None,
        template=template,
        language=language,
        params=params,
    )


def action_code_verify(*, phone: str, code: str, action: str) -> None:
    """Raise ApplicationError(code="invalid_code") unless ``code`` is the newest unused
    action code sent to ``phone`` for ``action`` (the template it was requested with),
    unexpired and tried fewer than the allowed times: a code sent to confirm one thing
    never confirms another."""
    _consume_code(
        LoginCode.objects.filter(
            phone_index=blind_index("phone", phone),
            purpose=LoginCode.Purpose.CONFIRM_ACTION,
            action=action,
        ),
        code,
    )


def cnic_index_of(cnic: str) -> str:
    """Validate a CNIC and return its blind index (what sessions and lookups keep)."""
    try:
        return blind_index("cnic", clean_cnic(cnic))
    except ValidationError as exc:
        raise _field_error(exc, "cnic") from exc


def login_code_verify(*, cnic_index: str, code: str) -> User:
    """Check a login code for the citizen with this CNIC index; audited on success."""
    user = User.objects.filter(cnic_index=cnic_index, is_active=True).first()
    codes = LoginCode.objects.filter(user=user, purpose=LoginCode.Purpose.LOGIN)
    _consume_code(codes if user is not None else LoginCode.objects.none(), code)
    assert user is not None  # a code exists only for an existing user
    with transaction.atomic():
        audit_record(actor=user, action="accounts.citizen_logged_in", subject=user, changes={})
    return user


def totp_device_create(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for a staff member (replaces an unconfirmed one)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
        audit_record(actor=user, action="accounts.totp_device_created", subject=user, changes={})
    return device


def totp_device_confirm(*, user: User, device: TOTPDevice, token: str) -> TOTPDevice:
    if device.user_id != user.pk or not device.verify_token((token or "").strip()):
        raise ApplicationError(
            _("The code from the authenticator app is wrong."),
            code="invalid_totp",
            fields={"token": [_("The code from the authenticator app is wrong.")]},
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(actor=user, action="accounts.totp_device_confirmed", subject=user, changes={})
    return device


def citizen_account_view(*, actor: User, citizen: User, purpose: str) -> dict[str, str]:
    """A staff member opens a citizen's account: logged, and shown to the citizen."""
    if not actor.has_perm("accounts.view_citizen_account"):
        raise Forbidden(_("You may not look up citizen accounts."))
    if not purpose.strip():
        raise ApplicationError(
            _("Say why you are looking at this account."),
            code="purpose_required",
            fields={"purpose": [_("Say why you are looking at this account.")]},
        )
    with transaction.atomic():
        audit_record_read(
            actor=actor,
            subject=citizen,
            purpose=purpose.strip()[:200],
            fields=["full_name", "cnic", "phone"],
        )
    return {
        "full_name": citizen.full_name,
        "cnic": mask_cnic(citizen.cnic),
        "phone": mask_phone(citizen.phone),
        "language": citizen.preferred_language,
    }


def user_set_language(*, user: User, language: str) -> User:
    if language not in dict(settings.LANGUAGES):
        raise ApplicationError(_("This language is not available."), code="unknown_language")
    if user.preferred_language != language:
        with transaction.atomic():
            user.preferred_language = language
            user.save(update_fields=["preferred_language"])
            audit_record(
                actor=user,
                action="accounts.language_changed",
                subject=user,
                changes={"language": language},
            )
    return user
