"""The grievance tables, without a database: deadlines, routing, escalation, the state
machine, reopening, age bands, and voice notes judged by their bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rahdari.grievances import audio, rules
from rahdari.grievances.models import Category, Outcome, Status

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_every_category_has_a_deadline_and_a_start_level() -> None:
    assert set(rules.CATEGORIES) == set(Category.values)
    assert set(rules.DEADLINE_DAYS) == set(Category.values) == set(rules.START_LEVEL)
    assert set(rules.STATUSES) == set(Status.values) == set(rules.ALLOWED_TRANSITIONS)
    assert set(rules.OUTCOMES) == set(Outcome.values)


@pytest.mark.parametrize(
    ("category", "days"),
    [
        ("payment_not_received", 7),
        ("agent_deduction", 5),
        ("wrongly_excluded", 15),
        ("data_correction", 10),
        ("qr_id_problem", 7),
        ("misconduct", 10),
        ("other", 10),
    ],
)
def test_first_deadline_per_category(category: str, days: int) -> None:
    assert rules.first_deadline(category, NOW) == NOW + timedelta(days=days)


@pytest.mark.parametrize(("level", "days"), [(2, 5), (3, 7)])
def test_an_escalated_level_has_its_own_deadline(level: int, days: int) -> None:
    assert rules.escalated_deadline(level, NOW) == NOW + timedelta(days=days)


@pytest.mark.parametrize(
    ("category", "has_district", "level"),
    [
        ("payment_not_received", True, 1),
        ("agent_deduction", True, 1),
        ("misconduct", True, 2),  # skips the district office it may be about
        ("other", False, 3),  # nobody knows the district: the provincial cell triages
        ("misconduct", False, 3),
    ],
)
def test_where_a_complaint_starts(category: str, has_district: bool, level: int) -> None:
    assert rules.start_level(category, has_district=has_district) == level


@pytest.mark.parametrize(("level", "up"), [(1, 2), (2, 3), (3, None)])
def test_escalation_goes_one_level_up_and_stops_at_the_province(level: int, up: int) -> None:
    assert rules.next_level(level) == up


@pytest.mark.parametrize(
    ("level", "area"),
    [(1, "Swat"), (2, "Malakand"), (3, rules.PROVINCE_AREA)],
)
def test_desk_area_of_a_district(level: int, area: str) -> None:
    assert rules.desk_area(level, district="Swat", division="Malakand") == area
    assert rules.desk_area(level, district=None, division=None) in (rules.PROVINCE_AREA,)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("new", "in_progress", True),
        ("new", "resolved", True),
        ("new", "closed", False),
        ("in_progress", "resolved", True),
        ("in_progress", "new", False),
        ("resolved", "reopened", True),
        ("resolved", "closed", True),
        ("resolved", "in_progress", False),
        ("reopened", "in_progress", True),
        ("reopened", "resolved", True),
        ("closed", "reopened", False),
        ("closed", "in_progress", False),
    ],
)
def test_state_machine(current: str, target: str, allowed: bool) -> None:
    assert rules.may_move(current, target) is allowed


@pytest.mark.parametrize(
    ("status", "due_in_hours", "overdue"),
    [("new", -1, True), ("in_progress", -1, True), ("reopened", -1, True), ("new", 1, False)]
    + [("resolved", -100, False), ("closed", -100, False)],
)
def test_overdue_only_while_an_answer_is_owed(
    status: str, due_in_hours: int, overdue: bool
) -> None:
    assert rules.is_overdue(status, NOW + timedelta(hours=due_in_hours), NOW) is overdue


@pytest.mark.parametrize(
    ("status", "days_ago", "reopen", "settled"),
    [
        ("resolved", 1, True, False),
        ("resolved", 30, True, False),
        ("resolved", 31, False, True),
        ("closed", 1, False, False),
        ("new", 1, False, False),
    ],
)
def test_the_thirty_day_window(status: str, days_ago: int, reopen: bool, settled: bool) -> None:
    resolved = NOW - timedelta(days=days_ago)
    assert rules.may_reopen(status, resolved, NOW) is reopen
    assert rules.settled(status, resolved, NOW) is settled
    assert rules.may_reopen("resolved", None, NOW) is False


@pytest.mark.parametrize(
    ("days", "band"),
    [(0, "0-2"), (2, "0-2"), (3, "3-7"), (7, "3-7"), (8, "8-14"), (30, "15-30"), (31, "31+")],
)
def test_age_bands(days: int, band: str) -> None:
    assert rules.age_band(days) == band


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"OggS\x00\x02" + b"\x00" * 30, audio.OGG),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 30, audio.WEBM),
        (b"ID3\x04\x00" + b"\x00" * 30, audio.MP3),
        (b"\xff\xfb\x90\x64" + b"\x00" * 30, audio.MP3),  # MPEG-1 layer III frame
        (b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 30, audio.MP4),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 30, audio.WAV),
        (b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 30, None),  # a video, not a voice note
        (b"\xff\xd8\xff\xe0" + b"\x00" * 30, None),  # a JPEG
        (b"%PDF-1.7" + b"\x00" * 30, None),
        (b"MZ\x90\x00" + b"\x00" * 30, None),  # a program
        (b"\xff\xea" + b"\x00" * 30, None),  # frame sync with a reserved version
    ],
)
def test_voice_notes_are_judged_by_their_bytes(head: bytes, media_type: str | None) -> None:
    assert audio.sniff(head) == media_type


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"OggS" + b"\x00" * 200, "too_large"),
        (b"hello, world", "unsupported_audio"),
    ],
)
def test_voice_note_refusals(data: bytes, code: str) -> None:
    with pytest.raises(audio.Refused) as refused:
        audio.check(data, max_bytes=100)
    assert refused.value.code == code


@given(st.binary(max_size=64))
def test_sniffing_never_crashes_on_random_bytes(data: bytes) -> None:
    assert audio.sniff(data) in (None, *audio.MEDIA_TYPES)
