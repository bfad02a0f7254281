"""Cash-out at an agent: the QR ID, the beneficiary's code, the amount handed over and
her confirmation — and a deduction she reports, which the fraud review counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from rahdari.accounts.roles import Role
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.credentials.services import credential_issue
from rahdari.identity.models import Person
from rahdari.payments import fraud, services
from rahdari.payments.models import Payment, PaymentAccount

pytestmark = pytest.mark.django_db


def _code(person: Person) -> str:
    """The cash-out code: the newest one sent to her phone."""
    message = (
        OutboundMessage.objects.filter(template="payments.cash_out_code")
        .order_by("-created_at")
        .first()
    )
    assert message is not None
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match
    return match.group(1)


@pytest.fixture
def paid_wallet_payment(wallet_cycle: dict[str, Any]) -> dict[str, Any]:
    services.reports_collect()
    payment = Payment.objects.get(batch=wallet_cycle["batch"])
    assert payment.status == "paid"
    person = wallet_cycle["person"]
    qr = credential_issue(person=person, actor=None).qr_compact
    return {**wallet_cycle, "payment": payment, "qr": str(qr)}


def test_the_agent_hands_over_and_she_confirms_by_sms(
    paid_wallet_payment: dict[str, Any], make_staff: Callable[..., Any]
) -> None:
    agent = make_staff(Role.PAYMENT_AGENT, ["Swat"])
    person = paid_wallet_payment["person"]
    cash_out = services.cash_out_start(
        agent=agent, qr=paid_wallet_payment["qr"], location="Mingora campsite"
    )
    assert cash_out.amount_due == 13_500 and cash_out.payment == paid_wallet_payment["payment"]
    with pytest.raises(ApplicationError) as too_much:
        services.cash_out_complete(
            cash_out=cash_out, code=_code(person), amount=14_000, agent=agent
        )
    assert too_much.value.code == "invalid_amount"
    with pytest.raises(ApplicationError) as wrong_code:
        services.cash_out_complete(cash_out=cash_out, code="000000", amount=13_500, agent=agent)
    assert wrong_code.value.code == "invalid_code"
    done = services.cash_out_complete(
        cash_out=cash_out, code=_code(person), amount=13_500, agent=agent
    )
    assert done.status == "handed_over"
    check = OutboundMessage.objects.get(template="payments.cash_out_check")
    assert "13,500" in check.text
    confirmed = services.cash_out_sms_reply(phone=str(person.mobile), text="YES")
    assert confirmed is not None and confirmed.status == "confirmed"
    assert confirmed.amount_confirmed == 13_500 and confirmed.confirmed_via == "sms"
    assert AuditEntry.objects.filter(action="payments.cash_out_confirmed").count() == 1
    with pytest.raises(Conflict):
        services.cash_out_start(agent=agent, qr=paid_wallet_payment["qr"])  # collected already


def test_she_reports_a_deduction_and_the_agent_is_reviewed(
    paid_wallet_payment: dict[str, Any],
    make_staff: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = make_staff(Role.PAYMENT_AGENT, ["Swat"])
    person = paid_wallet_payment["person"]
    cash_out = services.cash_out_start(agent=agent, qr=paid_wallet_payment["qr"])
    services.cash_out_complete(cash_out=cash_out, code=_code(person), amount=13_500, agent=agent)
    disputed = services.cash_out_sms_reply(
        phone=str(person.mobile), text="۱۲۰۰۰".translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    )
    assert disputed is not None and disputed.status == "disputed"
    assert disputed.amount_confirmed == 12_000
    # An agent reported this often is reviewed (three reports in production).
    monkeypatch.setattr(fraud, "DEDUCTION_REPORTS", 1)
    review = fraud.fraud_review()
    assert review.agents_reported == [
        {"agent": agent.username, "name": agent.full_name, "reports": 1}
    ]


def test_only_agents_hand_out_cash_and_only_their_own(
    paid_wallet_payment: dict[str, Any], make_staff: Callable[..., Any]
) -> None:
    with pytest.raises(Forbidden):
        services.cash_out_start(
            agent=make_staff(Role.ENROLMENT_OFFICER), qr=paid_wallet_payment["qr"]
        )
    agent, other = make_staff(Role.PAYMENT_AGENT), make_staff(Role.PAYMENT_AGENT)
    cash_out = services.cash_out_start(agent=agent, qr=paid_wallet_payment["qr"])
    with pytest.raises(Forbidden):
        services.cash_out_complete(cash_out=cash_out, code="123456", amount=1, agent=other)
    with pytest.raises(ApplicationError) as bad_qr:
        services.cash_out_start(agent=agent, qr="RD1:not-a-credential")
    assert bad_qr.value.code == "invalid_qr"


def test_the_fraud_review_finds_shared_accounts_and_payments_to_the_deceased(
    paid_wallet_payment: dict[str, Any], enrolled_payee: Callable[..., Person]
) -> None:
    payment = paid_wallet_payment["payment"]
    account = PaymentAccount.objects.get(pk=payment.account_id)
    # A second beneficiary's account with the same wallet number.
    other = enrolled_payee(district="Mardan")
    PaymentAccount.objects.create(
        person=other,
        channel=account.channel,
        provider=account.provider,
        number=account.number,
        number_index=account.number_index,
        display=account.display,
        status="active",
    )
    Person.objects.filter(pk=payment.person_id).update(status="deceased")
    review = fraud.fraud_review()
    [shared] = review.shared_accounts
    assert shared["beneficiaries"] == 2 and len(shared["rahdari_numbers"]) == 2
    assert review.paid_to_deceased[0]["payment"] == payment.key
    assert review.total >= 2
