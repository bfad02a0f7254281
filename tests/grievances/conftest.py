"""Grievance fixtures: the desks of the province, grievance officers on the Swat desk,
the Malakand cell and the provincial cell, an enrolled woman of Swat (payments'
fixtures: household, phone, approved run), real voice notes made here, and a storage
directory of its own per test."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from rahdari.accounts.roles import Role
from rahdari.grievances import services
from rahdari.grievances.models import Desk
from tests.documents.conftest import documents_dir  # noqa: F401 — storage per test
from tests.payments import conftest as payment_fixtures

enrolled_payee = payment_fixtures.enrolled_payee
approved_run = payment_fixtures.approved_run
officers = payment_fixtures.officers
approver = payment_fixtures.approver
wallet_cycle = payment_fixtures.wallet_cycle
registered = payment_fixtures.registered
make_household = payment_fixtures.make_household
survey_round = payment_fixtures.survey_round

PHONE = "+923451234567"


@pytest.fixture(autouse=True)
def _storage(documents_dir: Path, settings: Any) -> Path:  # noqa: F811
    """A documents storage of its own per test (attachments, voice notes), and payment
    providers that answer at once."""
    settings.RAHDARI_PAYMENT_PROVIDER_LATENCY = 0
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0
    return documents_dir


@pytest.fixture
def desks(db: Any) -> dict[str, Desk]:
    services.desks_setup(actor=None)
    return {
        "swat": Desk.objects.get(level=1, area="Swat"),
        "mardan": Desk.objects.get(level=1, area="Mardan"),
        "malakand": Desk.objects.get(level=2, area="Malakand"),
        "province": Desk.objects.get(level=3),
    }


@pytest.fixture
def desk_officer(make_staff: Callable[..., Any]) -> Callable[..., Any]:
    def make(desk: Desk, **extra: Any) -> Any:
        officer = make_staff(Role.GRIEVANCE_OFFICER, [], **extra)
        services.desk_officer_add(desk=desk, officer=officer, actor=None)
        return officer

    return make


@pytest.fixture
def swat_officer(desks: dict[str, Desk], desk_officer: Callable[..., Any]) -> Any:
    return desk_officer(desks["swat"], full_name="Gul Afridi")


@pytest.fixture
def malakand_officer(desks: dict[str, Desk], desk_officer: Callable[..., Any]) -> Any:
    return desk_officer(desks["malakand"], full_name="Sana Yousafzai")


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def wav_note(seconds: float = 0.5) -> bytes:
    """A real WAV recording (silence), as a desktop recorder writes it."""
    out = io.BytesIO()
    with wave.open(out, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(8000)
        recording.writeframes(b"\x00\x00" * int(8000 * seconds))
    return out.getvalue()


OGG_NOTE = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead" + b"\x01" * 64
