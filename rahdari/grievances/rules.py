"""Grievance rules as plain tables and functions: categories, the state machine, where a
complaint starts, its deadline at each level, escalation, outcomes, the reopening window
and the dashboard's age bands. No database.

Desks are three levels deep (docs/grievances.md): a district grievance desk (level 1),
the divisional grievance cell (level 2) and the provincial grievance redressal cell
(level 3). A complaint starts at the level its category says, in its district's area;
each breach of the deadline moves it one level up, with a fresh (shorter) deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

# --- categories (the values of models.Category) -----------------------------------------

PAYMENT_NOT_RECEIVED: Final = "payment_not_received"
AGENT_DEDUCTION: Final = "agent_deduction"
WRONGLY_EXCLUDED: Final = "wrongly_excluded"
DATA_CORRECTION: Final = "data_correction"
QR_ID_PROBLEM: Final = "qr_id_problem"
MISCONDUCT: Final = "misconduct"
OTHER: Final = "other"
CATEGORIES: Final = (
    PAYMENT_NOT_RECEIVED,
    AGENT_DEDUCTION,
    WRONGLY_EXCLUDED,
    DATA_CORRECTION,
    QR_ID_PROBLEM,
    MISCONDUCT,
    OTHER,
)

# Days the first desk has to resolve a complaint of each category. Payment problems are
# the most urgent (a family waits for its money); an exclusion appeal needs a review of
# the survey and takes longest.
DEADLINE_DAYS: Final[dict[str, int]] = {
    PAYMENT_NOT_RECEIVED: 7,
    AGENT_DEDUCTION: 5,
    WRONGLY_EXCLUDED: 15,
    DATA_CORRECTION: 10,
    QR_ID_PROBLEM: 7,
    MISCONDUCT: 10,
    OTHER: 10,
}

# After an escalation the higher level has this many days of its own.
ESCALATED_DEADLINE_DAYS: Final[dict[int, int]] = {2: 5, 3: 7}

DISTRICT: Final = 1
DIVISION: Final = 2
PROVINCE: Final = 3
LEVELS: Final = (DISTRICT, DIVISION, PROVINCE)

# Where a complaint starts. Misconduct and corruption reports skip the district desk:
# the officials they name usually work in that district's offices.
START_LEVEL: Final[dict[str, int]] = {
    PAYMENT_NOT_RECEIVED: DISTRICT,
    AGENT_DEDUCTION: DISTRICT,
    WRONGLY_EXCLUDED: DISTRICT,
    DATA_CORRECTION: DISTRICT,
    QR_ID_PROBLEM: DISTRICT,
    MISCONDUCT: DIVISION,
    OTHER: DISTRICT,
}

# Categories whose complainant is a whistle-blower: name, phone and person are never
# shown to the desk that handles the complaint.
PROTECTED_CATEGORIES: Final = frozenset({MISCONDUCT})

# Categories that need a known person (a household, a payment, a cash-out to link).
PERSON_CATEGORIES: Final = frozenset({WRONGLY_EXCLUDED})

# --- the state machine -------------------------------------------------------------------

NEW: Final = "new"
IN_PROGRESS: Final = "in_progress"
RESOLVED: Final = "resolved"
REOPENED: Final = "reopened"
CLOSED: Final = "closed"
STATUSES: Final = (NEW, IN_PROGRESS, RESOLVED, REOPENED, CLOSED)

ALLOWED_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    NEW: frozenset({IN_PROGRESS, RESOLVED}),
    IN_PROGRESS: frozenset({RESOLVED}),
    RESOLVED: frozenset({REOPENED, CLOSED}),
    REOPENED: frozenset({IN_PROGRESS, RESOLVED}),
    CLOSED: frozenset(),
}

# Statuses in which the desk still owes the complainant an answer (the deadline runs).
OPEN_STATUSES: Final = frozenset({NEW, IN_PROGRESS, REOPENED})


def may_move(current: str, target: str) -> bool:
    return target in ALLOWED_TRANSITIONS.get(current, frozenset())


# --- outcomes, ratings, reopening ----------------------------------------------------------

OUTCOMES: Final = ("fixed", "explained", "not_upheld", "referred", "duplicate")
REOPEN_DAYS: Final = 30
RATING_MIN: Final = 1
RATING_MAX: Final = 5
MAX_TEXT: Final = 2000
MIN_TEXT: Final = 10


def start_level(category: str, *, has_district: bool) -> int:
    """A complaint whose district nobody knows (an SMS from an unknown number) goes to
    the provincial cell, which is the only desk whose area covers every district."""
    if not has_district:
        return PROVINCE
    return START_LEVEL[category]


def first_deadline(category: str, lodged_at: datetime) -> datetime:
    """The first desk's deadline, whatever its level."""
    return lodged_at + timedelta(days=DEADLINE_DAYS[category])


def escalated_deadline(level: int, escalated_at: datetime) -> datetime:
    """The deadline of the level a complaint was escalated to."""
    return escalated_at + timedelta(days=ESCALATED_DEADLINE_DAYS[level])


def next_level(level: int) -> int | None:
    """The level an overdue complaint escalates to; None at the top."""
    return level + 1 if level < PROVINCE else None


def is_overdue(status: str, due: datetime, now: datetime) -> bool:
    return status in OPEN_STATUSES and due < now


def may_reopen(status: str, resolved_at: datetime | None, now: datetime) -> bool:
    return (
        status == RESOLVED
        and resolved_at is not None
        and now - resolved_at <= timedelta(days=REOPEN_DAYS)
    )


def settled(status: str, resolved_at: datetime | None, now: datetime) -> bool:
    """A resolution nobody reopened within the window is final: the complaint closes."""
    return (
        status == RESOLVED
        and resolved_at is not None
        and now - resolved_at > timedelta(days=REOPEN_DAYS)
    )


def desk_area(level: int, *, district: str | None, division: str | None) -> str:
    """The area a desk of ``level`` covers for a complaint from ``district``."""
    if level == DISTRICT and district:
        return district
    if level == DIVISION and division:
        return division
    return PROVINCE_AREA


PROVINCE_AREA: Final = "Khyber Pakhtunkhwa"

# --- dashboard ---------------------------------------------------------------------------

AGE_BANDS: Final[tuple[tuple[str, int, int | None], ...]] = (
    ("0-2", 0, 2),
    ("3-7", 3, 7),
    ("8-14", 8, 14),
    ("15-30", 15, 30),
    ("31+", 31, None),
)


def age_band(days: int) -> str:
    for label, low, high in AGE_BANDS:
        if days >= low and (high is None or days <= high):
            return label
    return AGE_BANDS[0][0]  # a clock skew of a few seconds: "today"
