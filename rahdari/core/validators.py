"""Identifier checks shared by forms, API schemas and services (libraries, not home-made)."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pk import cnic as stdnum_cnic


def clean_cnic(value: str) -> str:
    """Return the 13 digits of a valid CNIC/CRC (dashes allowed), else ValidationError."""
    raw = (value or "").strip()
    try:
        return str(stdnum_cnic.validate(raw))
    except StdnumError as exc:
        raise ValidationError(
            _("Enter a valid 13-digit CNIC, for example 17301-1234567-1."), code="invalid_cnic"
        ) from exc


def format_cnic(digits: str) -> str:
    return str(stdnum_cnic.format(digits))


def mask_cnic(digits: str) -> str:
    """Show only the first five and the last digit: 17301-*******-1."""
    return f"{digits[:5]}-*******-{digits[-1]}" if len(digits) == 13 else "*****"


def clean_mobile(value: str) -> str:
    """Return a Pakistani mobile number in E.164 (+923001234567), else ValidationError."""
    error = ValidationError(
        _("Enter a Pakistani mobile number, for example 0300 1234567."), code="invalid_mobile"
    )
    try:
        number = phonenumbers.parse((value or "").strip(), "PK")
    except phonenumbers.NumberParseException as exc:
        raise error from exc
    if (
        not phonenumbers.is_valid_number(number)
        or number.country_code != 92
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise error
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask_phone(e164: str) -> str:
    return f"{'*' * max(0, len(e164) - 4)}{e164[-4:]}"
