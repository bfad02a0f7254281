"""Tracking numbers people read out on the phone and type on a keypad (no Django).

Ten digits: one that says what is tracked (2 an application, 7 a complaint), eight
random ones and a Verhoeff check digit, which catches every single wrong digit and
every swap of two neighbours — the two mistakes people make when they read a number
out or type it on a feature phone. Digits only, so SMS and USSD menus take them as
they are; written in groups of four, read out as "2482 1093 75".
"""

from __future__ import annotations

import secrets
from typing import Final

from stdnum import verhoeff

KIND_DIGITS: Final[dict[str, str]] = {"application": "2", "complaint": "7"}
LENGTH: Final = 10


def new_tracking_number(kind: str) -> str:
    """A fresh number for ``kind`` (the caller keeps it unique: a database constraint)."""
    body = KIND_DIGITS[kind] + f"{secrets.randbelow(10**8):08d}"
    return body + str(verhoeff.calc_check_digit(body))


def normalise_tracking_number(text: str) -> str:
    """The digits of what someone typed: spaces, dashes and Urdu/Arabic-Indic digits
    ("۲۴۸۲ ١٠٩٣") are accepted; anything else is left in so that it fails the check."""
    table = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789", " -\u00a0")
    return text.strip().translate(table)


def is_valid_tracking_number(text: str, kind: str | None = None) -> bool:
    """Ten digits with a correct check digit (and of ``kind``, when given)."""
    digits = normalise_tracking_number(text)
    if len(digits) != LENGTH or not digits.isascii() or not digits.isdigit():
        return False
    if kind is not None and digits[0] != KIND_DIGITS[kind]:
        return False
    return bool(verhoeff.is_valid(digits))


def format_tracking_number(number: str) -> str:
    """Groups of four for reading out: 2482 1093 75."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
