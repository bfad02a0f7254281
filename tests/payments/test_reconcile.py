"""After payment: a bank's camt.054 returns (the pure reader and writer, and the
reference bank that closes accounts after crediting them), wallet money nobody
collected recalled as unclaimed, and an officer paying again or reversing — each with
its event, ledger entry, SMS and audit entry, and nothing changed when refused."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from rahdari.accounts.roles import Role
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.identity.models import Person
from rahdari.ledger import entries
from rahdari.ledger.models import LogEntry
from rahdari.ledger.services import ledger_integrate
from rahdari.payments import camt054, reconcile, services
from rahdari.payments.models import (
    CashOut,
    Payment,
    PaymentAccount,
    PaymentEvent,
    ProviderMessage,
    ReferenceAccount,
)
from rahdari.payments.providers import account_index
from tests.payments.conftest import account_for as _account

pytestmark = pytest.mark.django_db

DEBTOR = "PK15KHYB0001002003004005"


def _notice(
    returns: list[camt054.Return], *, message_id: str = "RTN-1", iban: str = DEBTOR
) -> bytes:
    out = io.BytesIO()
    camt054.write_camt054(
        out,
        message_id=message_id,
        created_at=datetime(2026, 12, 4, 10, 0, tzinfo=UTC),
        account_iban=iban,
        returns=returns,
    )
    return out.getvalue()


# --------------------------------------------------------------------------- camt.054


def test_a_return_notification_reads_back_what_was_written() -> None:
    data = _notice([camt054.Return("KEY1", 13_500, "AC04"), camt054.Return("KEY2", 9_000, "AC06")])
    notice = camt054.parse_camt054(data)
    assert notice.message_id == "RTN-1" and notice.account == DEBTOR
    assert notice.returns == (
        camt054.Return("KEY1", 13_500, "AC04"),
        camt054.Return("KEY2", 9_000, "AC06"),
    )


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda d: b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + d[38:], "DOCTYPE"),
        (lambda d: d.replace(b"camt.054.001.08", b"camt.053.001.08"), "camt.054.001.08"),
        (lambda d: d.replace(b">13500.00<", b">13500.50<", 1), "whole rupees"),
        (lambda d: d.replace(b"<EndToEndId>KEY1</EndToEndId>", b""), "EndToEndId"),
        (lambda d: d.replace(b'Ccy="PKR"', b'Ccy="USD"', 1), "PKR"),
        (lambda d: d[:200], "well-formed"),
        (lambda d: d.replace(b">AC04<", b">closed<"), "not allowed"),
    ],
)
def test_bad_notifications_are_refused_with_the_reason(mangle: Any, fragment: str) -> None:
    data = mangle(_notice([camt054.Return("KEY1", 13_500, "AC04")]))
    with pytest.raises(camt054.Camt054Error) as refused:
        camt054.parse_camt054(data)
    assert fragment in str(refused.value)


# --------------------------------------------------------------------------- returns


def test_the_bank_closes_a_credited_account_and_the_money_comes_back(
    sent_cycle: dict[str, Any], settings: Any
) -> None:
    """The reference bank credits, then closes the account and returns the payment."""
    settings.RAHDARI_REFERENCE_BANK_RETURN_RATE = 1.0
    # Sent before the rate was set: send the same file again under a fresh bank folder.
    payment = sent_cycle["payment"]
    settings.RAHDARI_REFERENCE_BANK_DIR = settings.RAHDARI_REFERENCE_BANK_DIR.parent / "bank2"
    from rahdari.payments.models import PaymentBatch
    from rahdari.payments.providers import bank_rail

    batch = PaymentBatch.objects.get(pk=payment.batch_id)
    path = services.batch_file_write(batch=batch, directory_path=settings.RAHDARI_PAYMENT_FILES_DIR)
    bank_rail().send(bank=batch.provider, path=path)
    # The pain.002 (paid), then the camt.054, due a millisecond after it.
    time.sleep(0.002)
    assert services.reports_collect() == 2
    payment.refresh_from_db()
    assert (payment.status, payment.reason_code) == ("returned", "AC04")
    assert PaymentAccount.objects.get(pk=payment.account_id).verification == "closed"
    event = PaymentEvent.objects.get(payment=payment, status="returned")
    assert event.source == "camt054" and event.leaf_hash
    ledger_integrate()
    entry = entries.decode_entry(bytes(LogEntry.objects.get(kind="payments.returned").body))
    assert entry["payment"] == payment.key and entry["amount"] == 13_500
    sms = OutboundMessage.objects.get(template="payments.failed_account")
    assert "13,500" in sms.text
    assert AuditEntry.objects.filter(action="payments.returns_applied").count() == 1


def test_a_notification_twice_or_for_another_payment_changes_nothing(
    sent_cycle: dict[str, Any],
) -> None:
    services.reports_collect()
    payment = Payment.objects.get(pk=sent_cycle["payment"].pk)
    assert payment.status == "paid"
    data = _notice(
        [
            camt054.Return(payment.key, 13_500, "AC04"),
            camt054.Return("NOSUCHPAYMENT", 100, "AC04"),
        ]
    )
    first = reconcile.returns_ingest(data=data)
    assert first.counts == {"returned": 1, "unknown": 1, "repeated": 0, "amount_differs": 0}
    again = reconcile.returns_ingest(data=data)
    assert again.pk == first.pk
    assert PaymentEvent.objects.filter(payment=payment, status="returned").count() == 1
    wrong_amount = _notice([camt054.Return(payment.key, 100, "AC04")], message_id="RTN-2")
    assert reconcile.returns_ingest(data=wrong_amount).counts["repeated"] == 1  # not paid now


def test_a_notification_for_another_account_or_malformed_is_refused_and_audited(
    sent_cycle: dict[str, Any],
) -> None:
    services.reports_collect()
    key = sent_cycle["payment"].key
    other = _notice([camt054.Return(key, 13_500, "AC04")], iban="PK36SCBL0000001123456702")
    with pytest.raises(ApplicationError) as refused:
        reconcile.returns_ingest(data=other)
    assert refused.value.code == "other_account" and refused.value.status == 422
    with pytest.raises(ApplicationError) as malformed:
        reconcile.returns_ingest(data=b"<Document/>")
    assert malformed.value.code == "malformed_report"
    assert Payment.objects.get(key=key).status == "paid"
    assert not ProviderMessage.objects.filter(source="bank-returns").exists()
    assert AuditEntry.objects.filter(action="payments.returns_refused").count() == 2


def test_a_returned_payment_is_paid_again_to_her_new_account(
    sent_cycle: dict[str, Any], officers: tuple[Any, Any], make_staff: Callable[..., Any]
) -> None:
    services.reports_collect()
    payment = Payment.objects.get(pk=sent_cycle["payment"].pk)
    reconcile.returns_ingest(data=_notice([camt054.Return(payment.key, 13_500, "AC04")]))
    with pytest.raises(Conflict) as no_account:
        reconcile.payment_repay(payment=payment, reason="new_account", actor=officers[0])
    assert no_account.value.code == "no_account"
    with pytest.raises(Forbidden):
        reconcile.payment_repay(
            payment=payment, reason="new_account", actor=make_staff(Role.PAYMENT_AGENT)
        )
    new = _account(sent_cycle["paid"], 9)
    with pytest.raises(ApplicationError) as bad_reason:
        reconcile.payment_repay(payment=payment, reason="because", actor=officers[0])
    assert bad_reason.value.code == "invalid_reason"
    repaid = reconcile.payment_repay(payment=payment, reason="new_account", actor=officers[0])
    assert (repaid.status, repaid.account_id, repaid.reason_code) == ("pending", new.pk, "")
    assert "Rs 13,500" in OutboundMessage.objects.get(template="payments.repaid").text
    job_run(job_id=str(services.batches_build(cycle=sent_cycle["cycle"], actor=officers[0]).pk))
    repaid.refresh_from_db()
    assert (repaid.status, repaid.attempts) == ("instructed", 2)
    assert AuditEntry.objects.filter(action="payments.payment_repaid").count() == 1


# --------------------------------------------------------------------------- unclaimed


@pytest.fixture
def paid_wallet(wallet_cycle: dict[str, Any]) -> dict[str, Any]:
    services.reports_collect()
    payment = Payment.objects.get(batch=wallet_cycle["batch"])
    assert payment.status == "paid"
    wallet = ReferenceAccount.objects.get(
        channel="wallet",
        number_index=account_index("wallet", "jazzcash", str(wallet_cycle["person"].mobile)),
    )
    assert wallet.balance == 13_500  # the operator credited the wallet
    Payment.objects.filter(pk=payment.pk).update(paid_at=timezone.now() - timedelta(days=91))
    return {**wallet_cycle, "payment": payment, "wallet": wallet}


def test_money_nobody_collected_is_recalled_as_unclaimed(paid_wallet: dict[str, Any]) -> None:
    assert reconcile.unclaimed_sweep() == 1
    payment = Payment.objects.get(pk=paid_wallet["payment"].pk)
    assert payment.status == "unclaimed"
    paid_wallet["wallet"].refresh_from_db()
    assert paid_wallet["wallet"].balance == 0
    ledger_integrate()
    entry = entries.decode_entry(bytes(LogEntry.objects.get(kind="payments.unclaimed").body))
    assert entry["payment"] == payment.key
    sms = OutboundMessage.objects.get(template="payments.unclaimed")
    assert "13,500" in sms.text and "90" in sms.text
    assert reconcile.unclaimed_sweep() == 0  # once


def test_money_taken_out_elsewhere_or_at_an_agent_is_not_recalled(
    paid_wallet: dict[str, Any], make_staff: Callable[..., Any]
) -> None:
    ReferenceAccount.objects.filter(pk=paid_wallet["wallet"].pk).update(balance=500)
    assert reconcile.unclaimed_sweep() == 0
    payment = Payment.objects.get(pk=paid_wallet["payment"].pk)
    assert payment.status == "paid"
    assert PaymentEvent.objects.filter(payment=payment, source="collected").count() == 1
    ReferenceAccount.objects.filter(pk=paid_wallet["wallet"].pk).update(balance=13_500)
    assert reconcile.unclaimed_sweep() == 0  # her answer is kept: not asked again


def test_a_recent_payment_is_not_recalled(paid_wallet: dict[str, Any]) -> None:
    Payment.objects.filter(pk=paid_wallet["payment"].pk).update(
        paid_at=timezone.now() - timedelta(days=89)
    )
    assert reconcile.unclaimed_sweep() == 0


# --------------------------------------------------------------------------- reversals


def test_an_unclaimed_payment_is_reversed_with_its_reason(
    paid_wallet: dict[str, Any], officers: tuple[Any, Any]
) -> None:
    reconcile.unclaimed_sweep()
    payment = Payment.objects.get(pk=paid_wallet["payment"].pk)
    reversed_ = reconcile.payment_reverse(payment=payment, reason="unclaimed", actor=officers[0])
    assert reversed_.status == "reversed"
    ledger_integrate()
    assert LogEntry.objects.filter(kind="payments.reversed").count() == 1
    assert "cancelled" in OutboundMessage.objects.get(template="payments.reversed").text
    with pytest.raises(Conflict):
        reconcile.payment_reverse(payment=payment, reason="unclaimed", actor=officers[0])
    with pytest.raises(Conflict):
        reconcile.payment_repay(payment=payment, reason="came_forward", actor=officers[0])
    assert AuditEntry.objects.filter(action="payments.payment_reversed").count() == 1


def test_a_paid_wallet_payment_made_in_error_is_recalled_unless_collected(
    paid_wallet: dict[str, Any], officers: tuple[Any, Any], make_staff: Callable[..., Any]
) -> None:
    payment = Payment.objects.get(pk=paid_wallet["payment"].pk)
    agent = make_staff(Role.PAYMENT_AGENT)
    CashOut.objects.create(
        payment=payment,
        person=paid_wallet["person"],
        agent=agent,
        amount_due=payment.amount,
        amount_handed=payment.amount,
        status="confirmed",
    )
    with pytest.raises(Conflict) as collected:
        reconcile.payment_reverse(payment=payment, reason="deceased", actor=officers[0])
    assert collected.value.code == "already_withdrawn"
    CashOut.objects.all().delete()
    reversed_ = reconcile.payment_reverse(payment=payment, reason="deceased", actor=officers[0])
    assert reversed_.status == "reversed"
    paid_wallet["wallet"].refresh_from_db()
    assert paid_wallet["wallet"].balance == 0


def test_a_paid_bank_payment_is_recalled_through_the_bank(
    sent_cycle: dict[str, Any], officers: tuple[Any, Any]
) -> None:
    services.reports_collect()
    payment = Payment.objects.get(pk=sent_cycle["payment"].pk)
    with pytest.raises(Conflict) as refused:
        reconcile.payment_reverse(payment=payment, reason="deceased", actor=officers[0])
    assert refused.value.code == "recall_through_bank"
    payment.refresh_from_db()
    assert payment.status == "paid"
    assert not PaymentEvent.objects.filter(payment=payment, status="reversed").exists()


def test_persons_are_named_only_by_commitment_in_the_ledger(
    paid_wallet: dict[str, Any],
) -> None:
    reconcile.unclaimed_sweep()
    ledger_integrate()
    body = bytes(LogEntry.objects.get(kind="payments.unclaimed").body)
    person: Person = paid_wallet["person"]
    assert str(person.rahdari_number).encode() not in body
    assert str(person.mobile).encode() not in body


# --------------------------------------------------------------------------- pages and API


def tr(language: str, message: str) -> str:
    from django.utils import translation

    with translation.override(language):
        return str(translation.gettext(message))


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_an_officer_sees_what_needs_a_decision_and_pays_it_again(
    sent_cycle: dict[str, Any], officers: tuple[Any, Any], lang: str
) -> None:
    from django.urls import reverse

    from tests.payments.test_views import _html, _login

    services.reports_collect()
    payment = Payment.objects.get(pk=sent_cycle["payment"].pk)
    reconcile.returns_ingest(data=_notice([camt054.Return(payment.key, 13_500, "AC04")]))
    client = _login(officers[0])
    cycle_page = _html(
        client.get(reverse("payments:cycle", args=[sent_cycle["cycle"].pk]) + f"?lang={lang}")
    )
    assert 'data-attention="returned"' in cycle_page
    assert tr(lang, "Payments needing a decision") in cycle_page
    url = reverse("payments:payment", args=[payment.key])
    page = _html(client.get(url))
    assert 'data-payment-status="returned"' in page and "data-repay" in page
    assert 'data-event="returned"' in page
    # Opening it was recorded on her.
    from rahdari.payments import selectors

    assert selectors.payment_reads_of(sent_cycle["paid"]).exists()
    no_account = client.post(
        reverse("payments:payment_repay", args=[payment.key]), {"reason": "new_account"}
    )
    assert no_account.status_code == 200
    assert tr(lang, "She has no verified payment account: record one first.") in _html(no_account)
    empty = client.post(reverse("payments:payment_repay", args=[payment.key]), {})
    assert empty.status_code == 200 and 'aria-invalid="true"' in _html(empty)
    _account(sent_cycle["paid"], 9)
    done = client.post(
        reverse("payments:payment_repay", args=[payment.key]), {"reason": "new_account"}
    )
    assert done.status_code == 302
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_reversing_on_the_page_and_refusals(
    paid_wallet: dict[str, Any], officers: tuple[Any, Any], make_staff: Callable[..., Any]
) -> None:
    from django.urls import reverse

    from tests.payments.test_views import _html, _login

    payment = paid_wallet["payment"]
    url = reverse("payments:payment_reverse", args=[payment.key])
    approver_only = _login(make_staff(Role.AUDITOR))
    assert approver_only.get(reverse("payments:payment", args=[payment.key])).status_code == 200
    assert "data-reverse" not in _html(
        approver_only.get(reverse("payments:payment", args=[payment.key]))
    )
    assert approver_only.post(url, {"reason": "deceased"}).status_code == 403
    client = _login(officers[0])
    done = client.post(url, {"reason": "deceased"})
    assert done.status_code == 302
    payment.refresh_from_db()
    assert payment.status == "reversed"
    again = client.post(url, {"reason": "deceased"})
    assert again.status_code == 200  # the form is gone; nothing changed
    assert PaymentEvent.objects.filter(payment=payment, status="reversed").count() == 1
    assert client.get(reverse("payments:payment", args=["NOSUCHKEY"])).status_code == 404


def test_the_reconciliation_api(
    sent_cycle: dict[str, Any], officers: tuple[Any, Any], make_staff: Callable[..., Any]
) -> None:
    from tests.payments.test_views import _login

    [(name, report)] = (
        __import__("rahdari.payments.providers", fromlist=["bank_rail"]).bank_rail().receive()
    )
    client = _login(officers[0])
    applied = client.post(
        "/api/v1/payments/bank-reports", data=report, content_type="application/xml"
    )
    assert applied.status_code == 200, applied.content
    assert applied.json()["counts"]["paid"] == 1
    key = sent_cycle["payment"].key
    notice = _notice([camt054.Return(key, 13_500, "AC04")])
    returned = client.post(
        "/api/v1/payments/bank-reports", data=notice, content_type="application/xml"
    )
    assert returned.json()["counts"]["returned"] == 1
    bad = client.post("/api/v1/payments/bank-reports", data=b"<x/>", content_type="application/xml")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "malformed_report"
    got = client.get(f"/api/v1/payments/payments/{key}")
    assert got.status_code == 200
    assert [e["status"] for e in got.json()["events"]][-2:] == ["paid", "returned"]
    refused = client.post(
        f"/api/v1/payments/payments/{key}/repay",
        {"reason": "new_account"},
        content_type="application/json",
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_account"
    reversed_ = client.post(
        f"/api/v1/payments/payments/{key}/reverse",
        {"reason": "returned"},
        content_type="application/json",
    )
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed"
    agent = _login(make_staff(Role.PAYMENT_AGENT))
    assert agent.get(f"/api/v1/payments/payments/{key}").status_code == 403
    assert (
        agent.post(
            "/api/v1/payments/bank-reports", data=notice, content_type="application/xml"
        ).status_code
        == 403
    )


def test_a_return_before_its_status_report_is_read_again_later(
    sent_cycle: dict[str, Any],
) -> None:
    payment = Payment.objects.get(pk=sent_cycle["payment"].pk)
    assert payment.status == "instructed"
    early = _notice([camt054.Return(payment.key, 13_500, "AC04")])
    with pytest.raises(Conflict) as pending:
        reconcile.returns_ingest(data=early)
    assert pending.value.code == "report_pending"
    assert not ProviderMessage.objects.filter(source="bank-returns").exists()
    services.reports_collect()  # the status report: paid
    assert reconcile.returns_ingest(data=early).counts["returned"] == 1
