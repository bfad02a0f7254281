"""Application rules as tables (no Django): the workflow, who moves it, how long each
step may take, and which papers each application needs.

The workflow:

    draft ──submit──▶ submitted ──review──▶ under review ──▶ approved
      │                  ▲  │                   │   │
      │                  │  └──withdraw──┐      │   └──▶ rejected ──appeal──▶ appealed
      │         respond  │               ▼      ▼                               │
      └──withdraw──▶ withdrawn ◀── information requested                      ▼
                                                                     approved / rejected

An appeal is decided by another officer than the one who rejected (four eyes), once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    INFO_REQUESTED = "info_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPEALED = "appealed"
    WITHDRAWN = "withdrawn"


class Actor(StrEnum):
    APPLICANT = "applicant"  # the person, or an officer helping her (assisted)
    OFFICER = "officer"  # an officer who reviews applications of this kind and district


ALLOWED_TRANSITIONS: Final[dict[Status, frozenset[Status]]] = {
    Status.DRAFT: frozenset({Status.SUBMITTED, Status.WITHDRAWN}),
    Status.SUBMITTED: frozenset({Status.UNDER_REVIEW, Status.WITHDRAWN}),
    Status.UNDER_REVIEW: frozenset({Status.INFO_REQUESTED, Status.APPROVED, Status.REJECTED}),
    Status.INFO_REQUESTED: frozenset({Status.SUBMITTED, Status.WITHDRAWN, Status.REJECTED}),
    Status.REJECTED: frozenset({Status.APPEALED}),
    Status.APPEALED: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}

# Who may make each move (by the status it leads to, and where it starts when that matters).
MOVED_BY: Final[dict[tuple[Status, Status], Actor]] = {
    (Status.DRAFT, Status.SUBMITTED): Actor.APPLICANT,
    (Status.DRAFT, Status.WITHDRAWN): Actor.APPLICANT,
    (Status.SUBMITTED, Status.UNDER_REVIEW): Actor.OFFICER,
    (Status.SUBMITTED, Status.WITHDRAWN): Actor.APPLICANT,
    (Status.UNDER_REVIEW, Status.INFO_REQUESTED): Actor.OFFICER,
    (Status.UNDER_REVIEW, Status.APPROVED): Actor.OFFICER,
    (Status.UNDER_REVIEW, Status.REJECTED): Actor.OFFICER,
    (Status.INFO_REQUESTED, Status.SUBMITTED): Actor.APPLICANT,
    (Status.INFO_REQUESTED, Status.WITHDRAWN): Actor.APPLICANT,
    (Status.INFO_REQUESTED, Status.REJECTED): Actor.OFFICER,  # no answer in time
    (Status.REJECTED, Status.APPEALED): Actor.APPLICANT,
    (Status.APPEALED, Status.APPROVED): Actor.OFFICER,
    (Status.APPEALED, Status.REJECTED): Actor.OFFICER,
}

# Moves that need the officer's (or the applicant's) reason, shown to the applicant.
REASON_REQUIRED: Final[frozenset[tuple[Status, Status]]] = frozenset(
    {
        (Status.UNDER_REVIEW, Status.INFO_REQUESTED),
        (Status.UNDER_REVIEW, Status.REJECTED),
        (Status.INFO_REQUESTED, Status.REJECTED),
        (Status.REJECTED, Status.APPEALED),
        (Status.APPEALED, Status.APPROVED),
        (Status.APPEALED, Status.REJECTED),
    }
)

OPEN: Final[frozenset[Status]] = frozenset(
    {
        Status.DRAFT,
        Status.SUBMITTED,
        Status.UNDER_REVIEW,
        Status.INFO_REQUESTED,
        Status.APPEALED,
    }
)
"""An application still moving; one per program and household (one correction per person)."""

WAITING_FOR_OFFICER: Final[frozenset[Status]] = frozenset(
    {Status.SUBMITTED, Status.UNDER_REVIEW, Status.APPEALED}
)
"""The officer work queue's "pending": the next move is an officer's."""

# Service level: calendar days a step may last before it is overdue. The officer's steps
# are the province's service standard; the applicant gets two weeks to answer a request.
STEP_DAYS: Final[dict[Status, int]] = {
    Status.SUBMITTED: 3,  # an officer takes it up
    Status.UNDER_REVIEW: 10,  # and decides
    Status.INFO_REQUESTED: 14,  # the applicant answers (else it may be rejected)
    Status.APPEALED: 15,  # a second officer decides the appeal
}

APPEAL_DAYS: Final = 30
"""A rejection may be appealed within this many days."""


def can_transition(current: str, new: str) -> bool:
    return Status(new) in ALLOWED_TRANSITIONS.get(Status(current), frozenset())


def moved_by(current: str, new: str) -> Actor | None:
    return MOVED_BY.get((Status(current), Status(new)))


def needs_reason(current: str, new: str) -> bool:
    return (Status(current), Status(new)) in REASON_REQUIRED


def due_at(status: str, entered: datetime) -> datetime | None:
    """When the step that starts at ``entered`` is overdue (None: no deadline)."""
    days = STEP_DAYS.get(Status(status))
    return entered + timedelta(days=days) if days is not None else None


def appeal_open_until(rejected_at: datetime) -> datetime:
    return rejected_at + timedelta(days=APPEAL_DAYS)


# --------------------------------------------------------------------------- papers

EVERY_APPLICATION: Final[tuple[str, ...]] = ("cnic_front", "cnic_back")

# Papers a program needs beyond the applicant's identity card (document kinds of the
# documents store). Programs not listed need the identity card only.
PROGRAM_DOCUMENTS: Final[dict[str, tuple[str, ...]]] = {
    "disability-allowance": ("disability_certificate",),
    "school-top-up": ("b_form",),
}

# A correction of these facts needs the paper that proves the right value.
CORRECTION_DOCUMENTS: Final[dict[str, tuple[str, ...]]] = {
    "full_name": EVERY_APPLICATION,
    "full_name_ur": EVERY_APPLICATION,
    "guardian_name": EVERY_APPLICATION,
    "guardian_name_ur": EVERY_APPLICATION,
    "date_of_birth": EVERY_APPLICATION,
    "tehsil": ("cnic_front",),
    "union_council": ("cnic_front",),
    "village": ("cnic_front",),
    "mobile": ("cnic_front",),
}

CORRECTABLE: Final[tuple[str, ...]] = tuple(CORRECTION_DOCUMENTS)


def required_documents(*, program: str | None, corrected: list[str] | None = None) -> list[str]:
    """Document kinds an application needs, in the order they are asked for."""
    kinds: list[str] = []
    wanted = (
        [*EVERY_APPLICATION, *PROGRAM_DOCUMENTS.get(program, ())]
        if program is not None
        else [k for field in corrected or [] for k in CORRECTION_DOCUMENTS.get(field, ())]
    )
    for kind in wanted:
        if kind not in kinds:
            kinds.append(kind)
    return kinds
