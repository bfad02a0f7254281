"""Identity rules as plain functions and tables (no Django): numbers, documents, lifecycle."""

from __future__ import annotations

import secrets
from datetime import date

from stdnum import verhoeff

ADULT_AGE = 18

# Lifecycle of an enrolled person: which status may follow which.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"active", "rejected", "merged"}),
    "active": frozenset({"suspended", "deceased", "revoked", "merged"}),
    "suspended": frozenset({"active", "deceased", "revoked"}),
    "deceased": frozenset({"active"}),  # only to undo a death recorded in error
    "revoked": frozenset(),
    "merged": frozenset(),
    "rejected": frozenset(),
}


def can_transition(current: str, new: str) -> bool:
    return new in ALLOWED_TRANSITIONS.get(current, frozenset())


def new_rahdari_number() -> str:
    """12 digits: 11 random (no leading zero) and a Verhoeff check digit."""
    body = str(secrets.randbelow(9 * 10**10) + 10**10)
    return body + str(verhoeff.calc_check_digit(body))


def is_valid_rahdari_number(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    return len(digits) == 12 and digits.isdigit() and verhoeff.is_valid(digits)


def format_rahdari_number(value: str) -> str:
    """Groups of four, easy to read out: 4821 0937 5562."""
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def sex_from_national_id(national_id: str) -> str:
    """The last digit of a CNIC/CRC is odd for men and even for women."""
    return "M" if int(national_id[-1]) % 2 else "F"


def document_problems(
    *, national_id: str, id_document: str, sex: str, date_of_birth: date, today: date
) -> dict[str, str]:
    """Field → problem code for a person's identity document and basic facts."""
    problems: dict[str, str] = {}
    if date_of_birth > today:
        problems["date_of_birth"] = "future_birth_date"
    elif date_of_birth.year < today.year - 120:
        problems["date_of_birth"] = "implausible_birth_date"
    if sex in ("M", "F") and sex_from_national_id(national_id) != sex:
        problems["sex"] = "sex_contradicts_national_id"
    if "date_of_birth" not in problems:
        minor = age_on(date_of_birth, today) < ADULT_AGE
        if minor and id_document == "cnic":
            problems["id_document"] = "minor_needs_crc"
        elif not minor and id_document == "crc":
            problems["id_document"] = "adult_needs_cnic"
    return problems
