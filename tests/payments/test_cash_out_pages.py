"""Cash-out end to end for people and machines: the agent's scanner page (QR text or a
photo of the QR), the code step, his list; her answer on "My payments" (all received,
or less — a deduction report) in English, Urdu and Pashto; the same over the API; her
SMS reply through the gateway webhook; the fraud review page and API (staff only,
audited)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from rahdari.accounts.roles import Role
from rahdari.core import inbound
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.core.qr import qr_png
from rahdari.credentials.services import credential_issue
from rahdari.identity.models import Person
from rahdari.payments import services
from rahdari.payments.models import CashOut, Payment
from tests.payments.test_views import _citizen_of, _html, _login

pytestmark = pytest.mark.django_db


def tr(language: str, message: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def _code() -> str:
    message = (
        OutboundMessage.objects.filter(template="payments.cash_out_code")
        .order_by("-created_at")
        .first()
    )
    assert message is not None
    found = re.search(r"\b(\d{6})\b", message.text)
    assert found
    return found.group(1)


@pytest.fixture
def paid(wallet_cycle: dict[str, Any], make_staff: Callable[..., Any]) -> dict[str, Any]:
    services.reports_collect()
    payment = Payment.objects.get(batch=wallet_cycle["batch"])
    assert payment.status == "paid"
    qr = str(credential_issue(person=wallet_cycle["person"], actor=None).qr_compact)
    agent = make_staff(Role.PAYMENT_AGENT, ["Swat"])
    return {**wallet_cycle, "payment": payment, "qr": qr, "agent": agent}


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_the_agent_scans_her_qr_and_records_the_cash(paid: dict[str, Any], lang: str) -> None:
    client = _login(paid["agent"])
    desk = reverse("payments:agent")
    page = client.get(desk + f"?lang={lang}")  # the language stays for the session
    assert page.status_code == 200
    assert tr(lang, "Scan her QR ID") in _html(page) and "data-scanner" in _html(page)
    started = client.post(desk, {"qr": paid["qr"], "location": "Mingora campsite"})
    assert started.status_code == 302
    cash_out = CashOut.objects.get()
    assert started["Location"] == reverse("payments:agent_cash_out", args=[cash_out.pk])
    step = client.get(started["Location"])
    assert "13,500" in _html(step) and str(paid["person"].mobile)[-4:] in _html(step)
    wrong = client.post(started["Location"], {"code": "000000", "amount": "13500"})
    assert wrong.status_code == 200 and 'aria-invalid="true"' in _html(wrong)
    too_much = client.post(started["Location"], {"code": _code(), "amount": "14,000"})
    assert tr(lang, "Between 1 and the amount due.") in _html(too_much)
    # Urdu keyboards type Eastern Arabic digits.
    done = client.post(started["Location"], {"code": _code(), "amount": "۱۳۵۰۰"})
    assert done.status_code == 302 and done["Location"] == desk
    cash_out.refresh_from_db()
    assert (cash_out.status, cash_out.amount_handed) == ("handed_over", 13_500)
    assert cash_out.location == "Mingora campsite"
    listing = _html(client.get(desk))
    assert 'data-cash-out="handed_over"' in listing and "13,500" in listing


def test_the_agent_can_use_a_photo_of_the_qr_and_gets_clear_errors(paid: dict[str, Any]) -> None:
    client = _login(paid["agent"])
    desk = reverse("payments:agent")
    empty = client.post(desk, {"location": "x"})
    assert empty.status_code == 200
    assert "Scan a QR code, type its text or choose a photo of it." in _html(empty)
    not_a_photo = client.post(desk, {"image": io.BytesIO(b"MZ\x90\x00 not an image")})
    assert "This file is not a photo" in _html(not_a_photo)
    forged = client.post(desk, {"qr": "RD1:NOTVALID"})
    assert forged.status_code == 200 and "not a valid Rahdari ID" in _html(forged)
    photo = io.BytesIO(qr_png(paid["qr"]))
    photo.name = "qr.png"
    started = client.post(desk, {"image": photo})
    assert started.status_code == 302 and CashOut.objects.count() == 1
    assert not CashOut.objects.filter(status="cancelled").exists()


def test_only_agents_open_the_cash_out_pages(
    paid: dict[str, Any], make_staff: Callable[..., Any], make_citizen: Any
) -> None:
    desk = reverse("payments:agent")
    assert _login(make_staff(Role.ENROLMENT_OFFICER)).get(desk).status_code == 403
    assert _login(make_citizen()).get(desk).status_code == 403
    assert Client().get(desk).status_code == 302  # to the login page
    cash_out = services.cash_out_start(agent=paid["agent"], qr=paid["qr"])
    other = _login(make_staff(Role.PAYMENT_AGENT))
    step = reverse("payments:agent_cash_out", args=[cash_out.pk])
    assert other.get(step).status_code == 404


def _handed_over(paid: dict[str, Any], amount: int = 13_500) -> CashOut:
    cash_out = services.cash_out_start(agent=paid["agent"], qr=paid["qr"])
    return services.cash_out_complete(
        cash_out=cash_out, code=_code(), amount=amount, agent=paid["agent"]
    )


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_she_confirms_or_reports_less_on_her_page(
    paid: dict[str, Any], make_citizen: Any, lang: str
) -> None:
    cash_out = _handed_over(paid)
    client = _citizen_of(paid["person"], make_citizen)
    me = reverse("payments:me")
    page = _html(client.get(me + f"?lang={lang}"))
    assert 'data-my-cash-out="handed_over"' in page
    assert tr(lang, "No, I received less") in page
    answer = reverse("payments:my_cash_out", args=[cash_out.pk])
    missing = client.post(answer, {"answer": "less"})
    assert missing.status_code == 200
    assert tr(lang, "Type the rupees you received.") in _html(missing)
    cash_out.refresh_from_db()
    assert cash_out.status == "handed_over"
    reported = client.post(answer, {"answer": "less", "amount": "12,000"}, follow=True)
    cash_out.refresh_from_db()
    assert (cash_out.status, cash_out.amount_confirmed, cash_out.confirmed_via) == (
        "disputed",
        12_000,
        "web",
    )
    assert 'data-my-cash-out="disputed"' in _html(reported)
    assert AuditEntry.objects.filter(action="payments.cash_out_disputed").count() == 1
    again = client.post(answer, {"answer": "all"}, follow=True)
    assert again.status_code == 200
    assert tr(lang, "This cash-out is not waiting for confirmation.") in _html(again)


def test_she_cannot_answer_for_someone_else(
    paid: dict[str, Any], make_citizen: Any, enrolled_payee: Callable[..., Person]
) -> None:
    cash_out = _handed_over(paid)
    stranger = _citizen_of(enrolled_payee(), make_citizen)
    answer = reverse("payments:my_cash_out", args=[cash_out.pk])
    assert stranger.post(answer, {"answer": "all"}).status_code == 404
    cash_out.refresh_from_db()
    assert cash_out.status == "handed_over"


def test_the_cash_out_over_the_api(paid: dict[str, Any], make_citizen: Any) -> None:
    agent = _login(paid["agent"])
    bad = agent.post("/api/v1/payments/cash-outs", {"qr": "RD1:X"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_qr"
    started = agent.post(
        "/api/v1/payments/cash-outs",
        {"qr": paid["qr"], "location": "Kabal"},
        content_type="application/json",
    )
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["status"] == "awaiting_code" and body["amount_due"] == 13_500
    assert body["phone_hint"] == str(paid["person"].mobile)[-4:]
    hand_over = f"/api/v1/payments/cash-outs/{body['id']}/hand-over"
    zero = agent.post(hand_over, {"code": _code(), "amount": 0}, content_type="application/json")
    assert zero.status_code == 400 and zero.json()["error"]["code"] == "invalid_amount"
    done = agent.post(
        hand_over, {"code": _code(), "amount": 13_500}, content_type="application/json"
    )
    assert done.status_code == 200 and done.json()["status"] == "handed_over"
    twice = agent.post(
        hand_over, {"code": _code(), "amount": 13_500}, content_type="application/json"
    )
    assert twice.status_code in (400, 409)
    assert [c["id"] for c in agent.get("/api/v1/payments/cash-outs").json()] == [body["id"]]

    her = _citizen_of(paid["person"], make_citizen)
    mine = her.get("/api/v1/payments/me/cash-outs").json()
    assert [(c["id"], c["status"]) for c in mine] == [(body["id"], "handed_over")]
    negative = her.post(
        f"/api/v1/payments/me/cash-outs/{body['id']}/confirm",
        {"amount_received": -5},
        content_type="application/json",
    )
    assert negative.status_code == 400
    confirmed = her.post(
        f"/api/v1/payments/me/cash-outs/{body['id']}/confirm",
        {"amount_received": 13_500},
        content_type="application/json",
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert agent.get("/api/v1/payments/me/cash-outs").status_code == 403


def _sms(client: Client, gateway_id: str, phone: str, text: str) -> Any:
    body = json.dumps({"id": gateway_id, "from": phone, "text": text}).encode()
    return client.post(
        "/api/v1/sms/inbound/jazz",
        data=body,
        content_type="application/json",
        headers={"X-Rahdari-Signature": inbound.sign_inbound("jazz", body)},
    )


def test_her_sms_reply_reaches_the_cash_out_through_the_gateway(paid: dict[str, Any]) -> None:
    cash_out = _handed_over(paid, amount=13_500)
    phone = str(paid["person"].mobile)
    answer = _sms(Client(), "jz-77", phone, "12000")
    assert answer.json() == {"id": "jz-77", "outcome": "handled", "handler": "payments.cash_out"}
    cash_out.refresh_from_db()
    assert (cash_out.status, cash_out.amount_confirmed) == ("disputed", 12_000)
    reply = OutboundMessage.objects.get(template="payments.cash_out_disputed")
    assert "12,000" in reply.text and "13,500" in reply.text
    # The gateway delivers the same message again: nothing changes, no second reply.
    assert _sms(Client(), "jz-77", phone, "12000").json()["outcome"] == "handled"
    assert OutboundMessage.objects.filter(template="payments.cash_out_disputed").count() == 1
    # "YES" with nothing waiting is not for payments: she gets the help text.
    other = _sms(Client(), "jz-78", phone, "YES")
    assert other.json()["outcome"] == "not_understood"


def test_the_fraud_review_for_staff_only_and_audited(
    paid: dict[str, Any], make_staff: Callable[..., Any], make_citizen: Any
) -> None:
    _handed_over(paid)
    services.cash_out_sms_reply(phone=str(paid["person"].mobile), text="10000")
    auditor = _login(make_staff(Role.AUDITOR))
    for lang in ("en", "ur", "ps"):
        page = auditor.get(reverse("payments:fraud") + f"?lang={lang}")
        assert page.status_code == 200
        assert tr(lang, "Agents reported for deductions") in _html(page)
    api = auditor.get("/api/v1/payments/fraud-review")
    assert api.status_code == 200 and set(api.json()) >= {"total", "agents_reported"}
    assert AuditEntry.objects.filter(action="payments.fraud_review_viewed").count() == 4
    assert _login(paid["agent"]).get(reverse("payments:fraud")).status_code == 403
    assert _login(make_citizen()).get("/api/v1/payments/fraud-review").status_code == 403


def test_the_cash_comes_out_of_her_wallet_or_is_not_handed_over(paid: dict[str, Any]) -> None:
    from rahdari.core.errors import Conflict
    from rahdari.payments.models import ReferenceAccount
    from rahdari.payments.providers import account_index

    wallet = ReferenceAccount.objects.get(
        channel="wallet",
        number_index=account_index("wallet", "jazzcash", str(paid["person"].mobile)),
    )
    assert wallet.balance == 13_500
    ReferenceAccount.objects.filter(pk=wallet.pk).update(balance=13_000)  # spent some
    cash_out = services.cash_out_start(agent=paid["agent"], qr=paid["qr"])
    with pytest.raises(Conflict) as short:
        services.cash_out_complete(
            cash_out=cash_out, code=_code(), amount=13_500, agent=paid["agent"]
        )
    assert short.value.code == "wallet_short"
    cash_out.refresh_from_db()
    assert cash_out.status == "awaiting_code" and cash_out.amount_handed is None
    # Her code was used up: the agent scans again, she reads out the new code.
    again = services.cash_out_start(agent=paid["agent"], qr=paid["qr"])
    done = services.cash_out_complete(
        cash_out=again, code=_code(), amount=13_000, agent=paid["agent"]
    )
    assert done.status == "handed_over"
    wallet.refresh_from_db()
    assert wallet.balance == 0


def test_a_code_sent_for_one_thing_never_confirms_another(
    paid: dict[str, Any], enrolled_payee: Callable[..., Person]
) -> None:
    """Her code for an account change cannot hand over cash, and the reverse."""
    from rahdari.core.errors import ApplicationError

    person = paid["person"]
    cash_out = services.cash_out_start(agent=paid["agent"], qr=paid["qr"])
    cash_code = _code()
    # Someone asks for an account change for her right after: its code is the newest.
    services.payment_account_request(
        person=person, channel="wallet", number=str(person.mobile), provider="jazzcash", actor=None
    )
    account_code = (
        OutboundMessage.objects.filter(template="payments.account_code")
        .order_by("-created_at")
        .first()
    )
    assert account_code is not None
    found = re.search(r"\b(\d{6})\b", account_code.text)
    assert found and found.group(1) != cash_code
    with pytest.raises(ApplicationError) as refused:
        services.cash_out_complete(
            cash_out=cash_out, code=found.group(1), amount=13_500, agent=paid["agent"]
        )
    assert refused.value.code == "invalid_code"
    cash_out.refresh_from_db()
    assert cash_out.status == "awaiting_code"
    # Her cash-out code still works: the account change's code did not replace it.
    done = services.cash_out_complete(
        cash_out=cash_out, code=cash_code, amount=13_500, agent=paid["agent"]
    )
    assert done.status == "handed_over"
