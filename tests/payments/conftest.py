"""Payments fixtures: enrolled households with a payee who has a phone and a bank
account in the reference bank's books, an approved cash-transfer run, approvers with
authenticators."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from schwifty import IBAN

from rahdari.accounts.roles import Role
from rahdari.core.jobs import job_run
from rahdari.core.keyring import blind_index
from rahdari.core.models import OutboundMessage
from rahdari.identity.models import Person
from rahdari.payments import services
from rahdari.payments.models import (
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentCycle,
    ReferenceAccount,
)
from rahdari.payments.providers import account_index
from rahdari.programs import services as programs
from rahdari.programs.models import Program, TargetingRun
from tests.identity.conftest import enrol, registered  # noqa: F401 — persons
from tests.registry.conftest import make_household, survey_round  # noqa: F401 — households


@pytest.fixture(autouse=True)
def _instant_providers(settings: Any) -> None:
    settings.RAHDARI_PAYMENT_PROVIDER_LATENCY = 0
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0


def iban_for(n: int, bank: str = "HABB") -> str:
    return str(IBAN.generate("PK", bank_code=bank, account_code=f"{n:016d}").compact)


def bank_book(number: str, holder: str, *, state: str = "open", bank: str = "HABB") -> None:
    """Put an account into the reference bank's books."""
    ReferenceAccount.objects.create(
        channel="bank",
        provider=bank,
        number_index=account_index("bank", bank, number),
        holder_name=holder,
        state=state,
    )


def last_action_code(person: Person) -> str:
    message = (
        OutboundMessage.objects.filter(recipient_index=blind_index("phone", str(person.mobile)))
        .filter(template="payments.account_code")
        .order_by("-created_at")
        .first()
    )
    assert message is not None, "no code was sent"
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match, message.text
    return match.group(1)


def totp_now(user: Any) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.fixture
def approver(make_staff: Callable[..., Any]) -> Any:
    user = make_staff(Role.PAYMENT_APPROVER)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


@pytest.fixture
def officers(make_staff: Callable[..., Any]) -> tuple[Any, Any]:
    """A program officer who prepares, and another who approves targeting runs."""
    return make_staff(Role.PROGRAM_OFFICER), make_staff(Role.PROGRAM_OFFICER)


NAMES = ["Gul Bibi Yousafzai", "Shazia Noor Afridi", "Rukhsana Begum Khattak", "Nasreen Akhtar"]


@pytest.fixture
def enrolled_payee(
    make_household: Callable[..., Any],  # noqa: F811
    registered: Callable[..., Any],  # noqa: F811
    make_staff: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., Person]:
    """A surveyed household whose married woman (member 2) has enrolled; returns her."""
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat", "Mardan", "Peshawar"])
    counter = {"n": 0}

    def make(district: str = "Swat", **answers: Any) -> Person:
        household = make_household(district=district, **answers)
        counter["n"] += 1
        spouse = household.members.get(member_no=2)
        number = household.number[-4:]
        n = counter["n"]
        data = registered(
            national_id=f"15202{number}001" + "2",
            full_name=NAMES[(n - 1) % len(NAMES)],
            date_of_birth=date(1980 + n, 1 + n % 12, 1 + n % 27),
            district=district,
        )
        with django_capture_on_commit_callbacks(execute=True):
            enrolment = enrol(data, officer)
        spouse.refresh_from_db()
        assert spouse.person_id == enrolment.person_id
        return Person.objects.get(pk=enrolment.person_id)

    return make


@pytest.fixture
def approved_run(officers: tuple[Any, Any]) -> Callable[[], TargetingRun]:
    def make() -> TargetingRun:
        maker, checker = officers
        run = programs.targeting_run_start(
            program=Program.objects.get(code="cash-transfer"), actor=maker
        )
        job_run(job_id=str(run.job_id))
        run.refresh_from_db()
        return programs.targeting_run_decide(run=run, approve=True, actor=checker)

    return make


def cycle_batched(officers: tuple[Any, Any], approver: Any, label: str = "2026-Q4") -> PaymentCycle:
    """A cash-transfer cycle of the approved run: prepared and computed by the first
    officer, approved with the approver's TOTP, its batches built."""
    cycle = services.cycle_prepare(
        program=Program.objects.get(code="cash-transfer"), label=label, actor=officers[0]
    )
    job_run(job_id=str(cycle.job_id))
    return cycle_approve_and_batch(cycle, officers, approver)


def cycle_approve_and_batch(
    cycle: PaymentCycle, officers: tuple[Any, Any], approver: Any
) -> PaymentCycle:
    """A computed cycle approved with the approver's TOTP, its batches built."""
    cycle = services.cycle_decide(
        cycle=PaymentCycle.objects.get(pk=cycle.pk),
        approve=True,
        actor=approver,
        totp=totp_now(approver),
    )
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=officers[0]).pk))
    return cycle


@pytest.fixture
def wallet_cycle(
    enrolled_payee: Callable[..., Person],
    approved_run: Callable[[], Any],
    officers: tuple[Any, Any],
    approver: Any,
    settings: Any,
    tmp_path: Path,
) -> dict[str, Any]:
    """One payee paid into her JazzCash wallet: cycle approved, batched, sent."""
    settings.RAHDARI_REFERENCE_BANK_DIR = tmp_path / "providers"
    settings.RAHDARI_REFERENCE_BANK_DELAY_SECONDS = 0
    person = enrolled_payee()
    mobile = str(person.mobile)
    ReferenceAccount.objects.create(
        channel="wallet",
        provider="jazzcash",
        number_index=account_index("wallet", "jazzcash", mobile),
        holder_name=str(person.full_name),
    )
    requested = services.payment_account_request(
        person=person, channel="wallet", number=mobile, provider="jazzcash", actor=None
    )
    services.payment_account_confirm(account=requested, code=last_action_code(person), actor=None)
    approved_run()
    cycle = cycle_batched(officers, approver)
    batch = PaymentBatch.objects.get(cycle=cycle)
    assert (batch.channel, batch.provider) == ("wallet", "jazzcash")
    assert services.cycle_send(cycle=cycle, actor=officers[0]) == 1
    return {"cycle": cycle, "batch": batch, "person": person}


def account_for(
    person: Person, n: int, *, holder: str | None = None, state: str = "open"
) -> PaymentAccount:
    """Her bank account number ``n``, in the reference bank's books and confirmed."""
    iban = iban_for(n)
    bank_book(iban, holder if holder is not None else str(person.full_name), state=state)
    requested = services.payment_account_request(
        person=person, channel="bank", number=iban, provider="", actor=None
    )
    return services.payment_account_confirm(
        account=requested, code=last_action_code(person), actor=None
    )


@pytest.fixture
def cycle_ready(
    enrolled_payee: Callable[..., Person],
    approved_run: Callable[[], Any],
    officers: tuple[Any, Any],
) -> dict[str, Any]:
    """Three enrolled households: one with a verified account, one with none, one whose
    payee has died; the run approved; a cycle computed."""
    paid = enrolled_payee()
    account_for(paid, 1)
    unbanked = enrolled_payee(district="Mardan")
    deceased = enrolled_payee()
    account_for(deceased, 2)
    Person.objects.filter(pk=deceased.pk).update(status="deceased")
    approved_run()
    cycle = services.cycle_prepare(
        program=Program.objects.get(code="cash-transfer"), label="2026-Q4", actor=officers[0]
    )
    job_run(job_id=str(cycle.job_id))
    cycle.refresh_from_db()
    return {"cycle": cycle, "paid": paid, "unbanked": unbanked, "deceased": deceased}


@pytest.fixture
def built_cycle(
    cycle_ready: dict[str, Any],
    approver: Any,
    officers: tuple[Any, Any],
    settings: Any,
    tmp_path: Path,
) -> dict[str, Any]:
    """The cycle approved and batched (one bank payment), not yet sent."""
    settings.RAHDARI_REFERENCE_BANK_DIR = tmp_path / "bank"
    settings.RAHDARI_PAYMENT_FILES_DIR = tmp_path / "files"
    settings.RAHDARI_REFERENCE_BANK_DELAY_SECONDS = 0
    cycle = services.cycle_decide(
        cycle=cycle_ready["cycle"], approve=True, actor=approver, totp=totp_now(approver)
    )
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=officers[0]).pk))
    paid = Payment.objects.get(cycle=cycle, status="instructed")
    return {**cycle_ready, "cycle": cycle, "payment": paid}


@pytest.fixture
def sent_cycle(built_cycle: dict[str, Any], officers: tuple[Any, Any]) -> dict[str, Any]:
    """…and sent to the reference bank."""
    assert services.cycle_send(cycle=built_cycle["cycle"], actor=officers[0]) == 1
    return built_cycle
