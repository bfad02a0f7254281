"""The workflow table, its service levels and the papers each application needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rahdari.applications import rules
from rahdari.applications.rules import Actor, Status

S = Status


@pytest.mark.parametrize(
    ("current", "target", "allowed", "actor"),
    [
        (S.DRAFT, S.SUBMITTED, True, Actor.APPLICANT),
        (S.DRAFT, S.APPROVED, False, None),
        (S.SUBMITTED, S.UNDER_REVIEW, True, Actor.OFFICER),
        (S.SUBMITTED, S.APPROVED, False, None),  # nobody approves what nobody reviewed
        (S.UNDER_REVIEW, S.INFO_REQUESTED, True, Actor.OFFICER),
        (S.UNDER_REVIEW, S.APPROVED, True, Actor.OFFICER),
        (S.UNDER_REVIEW, S.REJECTED, True, Actor.OFFICER),
        (S.UNDER_REVIEW, S.WITHDRAWN, False, None),  # too late: the officer is deciding
        (S.INFO_REQUESTED, S.SUBMITTED, True, Actor.APPLICANT),
        (S.INFO_REQUESTED, S.REJECTED, True, Actor.OFFICER),
        (S.REJECTED, S.APPEALED, True, Actor.APPLICANT),
        (S.REJECTED, S.APPROVED, False, None),
        (S.APPEALED, S.APPROVED, True, Actor.OFFICER),
        (S.APPEALED, S.REJECTED, True, Actor.OFFICER),
        (S.APPROVED, S.REJECTED, False, None),
        (S.WITHDRAWN, S.SUBMITTED, False, None),
    ],
)
def test_transitions_and_who_makes_them(
    current: Status, target: Status, allowed: bool, actor: Actor | None
) -> None:
    assert rules.can_transition(current, target) is allowed
    assert rules.moved_by(current, target) == actor


def test_every_allowed_move_names_who_makes_it_and_nothing_else_does() -> None:
    allowed = {(a, b) for a, targets in rules.ALLOWED_TRANSITIONS.items() for b in targets}
    assert allowed == set(rules.MOVED_BY)
    assert allowed >= rules.REASON_REQUIRED
    assert set(rules.ALLOWED_TRANSITIONS) == set(Status)


def test_final_states_and_open_ones() -> None:
    assert not rules.ALLOWED_TRANSITIONS[S.APPROVED]
    assert not rules.ALLOWED_TRANSITIONS[S.WITHDRAWN]
    assert rules.WAITING_FOR_OFFICER <= rules.OPEN
    assert S.REJECTED not in rules.OPEN  # a rejected household may apply again


@pytest.mark.parametrize(
    ("status", "days"),
    [(S.SUBMITTED, 3), (S.UNDER_REVIEW, 10), (S.INFO_REQUESTED, 14), (S.APPEALED, 15)],
)
def test_service_level_per_step(status: Status, days: int) -> None:
    entered = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert rules.due_at(status, entered) == entered + timedelta(days=days)


@pytest.mark.parametrize("status", [S.DRAFT, S.APPROVED, S.REJECTED, S.WITHDRAWN])
def test_no_deadline_where_nobody_has_to_act(status: Status) -> None:
    assert rules.due_at(status, datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_appeal_window() -> None:
    rejected = datetime(2026, 11, 1, tzinfo=UTC)
    assert rules.appeal_open_until(rejected) == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("program", "corrected", "kinds"),
    [
        ("cash-transfer", None, ["cnic_front", "cnic_back"]),
        ("disability-allowance", None, ["cnic_front", "cnic_back", "disability_certificate"]),
        ("school-top-up", None, ["cnic_front", "cnic_back", "b_form"]),
        (None, ["village"], ["cnic_front"]),
        (None, ["date_of_birth", "village"], ["cnic_front", "cnic_back"]),
        (None, [], []),
    ],
)
def test_required_papers(
    program: str | None, corrected: list[str] | None, kinds: list[str]
) -> None:
    assert rules.required_documents(program=program, corrected=corrected) == kinds
