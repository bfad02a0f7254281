"""Prepaid cards: issued by an officer and confirmed with her code, activated with a code,
blocked at once (by her, logged in, or an officer; no code), replaced with her code and
the balance carried over exactly — through the reference card issuer, whose books grow
when a card payment is paid and shrink at a cash-out. Refusals (wrong code, a card
blocked twice, an active card replaced, the issuer unreachable) change nothing. The
pages in English, Urdu and Pashto, and the API with its error shape."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from rahdari.accounts.roles import Role
from rahdari.core.errors import ApplicationError
from rahdari.core.jobs import job_run
from rahdari.core.keyring import blind_index
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.credentials.services import credential_issue
from rahdari.identity.models import Person
from rahdari.payments import cards, services
from rahdari.payments.models import (
    Payment,
    PaymentAccount,
    PaymentBatch,
    ReferenceAccount,
)
from rahdari.payments.providers import CardRefused, ReferenceCardIssuer, account_index
from rahdari.programs.models import Program
from tests.payments.conftest import (
    cycle_approve_and_batch,
    cycle_batched,
    last_action_code,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/payments"


@pytest.fixture(autouse=True)
def _codes_enough(settings: Any) -> None:
    # A card's life sends her several codes within minutes; the per-number limit is
    # tested with the login codes.
    settings.CITIZEN_OTP_MAX_PER_WINDOW = 50


def tr(language: str, message: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def code_of(person: Person, template: str) -> str:
    """The newest code of ``template`` sent to her phone."""
    message = (
        OutboundMessage.objects.filter(
            recipient_index=blind_index("phone", str(person.mobile)), template=template
        )
        .order_by("-created_at")
        .first()
    )
    assert message is not None, f"no {template} was sent"
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match, message.text
    return match.group(1)


def book(card: PaymentAccount) -> ReferenceAccount:
    """The issuer's row for a card."""
    return ReferenceAccount.objects.get(
        channel="card", provider=card.provider, number_index=card.number_index
    )


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def officer(make_staff: Callable[..., Any]) -> Any:
    user = make_staff(Role.ENROLMENT_OFFICER, ["Swat"], full_name="Rubina Khattak")
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


@pytest.fixture
def her(enrolled_payee: Callable[..., Person], make_citizen: Callable[..., Any]) -> Any:
    """An enrolled payee in Swat with a citizen login of her own."""
    person = enrolled_payee()
    citizen = make_citizen(phone=str(person.mobile))
    Person.objects.filter(pk=person.pk).update(account=citizen)
    person.refresh_from_db()
    return person, citizen


def issued(person: Person, officer: Any) -> PaymentAccount:
    """A card ordered by the officer and confirmed with her code: her account, not started."""
    card = cards.card_issue(person=person, provider="bok-card", actor=officer)
    return services.payment_account_confirm(
        account=card, code=last_action_code(person), actor=officer
    )


def active_card(person: Person, officer: Any) -> PaymentAccount:
    card = issued(person, officer)
    cards.card_activation_request(account=card, actor=officer)
    return cards.card_activate(
        account=card, code=code_of(person, "payments.card_activation_code"), actor=officer
    )


# --------------------------------------------------------------------------- services


def test_a_card_is_issued_confirmed_and_activated(her: Any, officer: Any) -> None:
    person, citizen = her
    card = cards.card_issue(person=person, provider="bok-card", actor=officer)
    assert (card.status, card.card_status, card.channel) == ("awaiting_code", "issued", "card")
    row = book(card)
    # The display shows the card number's last four digits, from the issuer; the token
    # is what payments are addressed to, and never a card number.
    assert card.display == f"bok-card •••• {row.pan_last4}"
    assert not str(card.number).isdigit() and len(str(card.number)) >= 16
    assert row.holder_name == str(person.full_name) and row.district == "Swat"
    assert row.state == "open" and row.activated_at is None and row.balance == 0
    sms = OutboundMessage.objects.filter(template="payments.account_code").latest("created_at")
    assert row.pan_last4 in sms.text and str(card.number) not in sms.text
    assert AuditEntry.objects.filter(
        action="payments.card_issued", subject_id=str(card.pk)
    ).exists()

    confirmed = services.payment_account_confirm(
        account=card, code=last_action_code(person), actor=officer
    )
    assert (confirmed.status, confirmed.verification) == ("active", "verified")
    assert confirmed.card_status == "issued"

    # She starts it from her own login once it is in her hands.
    cards.card_activation_request(account=confirmed, actor=citizen)
    with pytest.raises(ApplicationError) as wrong:
        cards.card_activate(account=confirmed, code="000000", actor=citizen)
    assert wrong.value.code == "invalid_code"
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "issued"
    code = code_of(person, "payments.card_activation_code")
    active = cards.card_activate(account=confirmed, code=code, actor=citizen)
    assert active.card_status == "active" and book(active).activated_at is not None
    entry = AuditEntry.objects.get(action="payments.card_activated")
    assert entry.subject_id == str(card.pk) and entry.changes["assisted"] is False
    with pytest.raises(ApplicationError) as again:
        cards.card_activation_request(account=active, actor=citizen)
    assert again.value.code == "already_active" and again.value.status == 409


def test_issuing_is_for_officers_and_one_card_at_a_time(
    her: Any, officer: Any, make_staff: Callable[..., Any]
) -> None:
    person, citizen = her
    for actor in (citizen, make_staff(Role.PROGRAM_OFFICER, ["Swat"])):
        with pytest.raises(ApplicationError) as refused:
            cards.card_issue(person=person, provider="bok-card", actor=actor)
        assert refused.value.status == 403
    with pytest.raises(ApplicationError) as bad:
        cards.card_issue(person=person, provider="visa", actor=officer)
    assert bad.value.code == "invalid_provider" and "provider" in bad.value.fields
    active_card(person, officer)
    with pytest.raises(ApplicationError) as twice:
        cards.card_issue(person=person, provider="bop-card", actor=officer)
    assert twice.value.code == "has_card"
    assert ReferenceAccount.objects.filter(channel="card").count() == 1


def test_she_blocks_her_lost_card_at_once_without_a_code(her: Any, officer: Any) -> None:
    person, citizen = her
    card = active_card(person, officer)
    codes_before = OutboundMessage.objects.filter(template__endswith="_code").count()
    blocked = cards.card_block(account=card, reason="lost", actor=citizen)
    assert blocked.card_status == "blocked" and blocked.status == "active"
    assert book(blocked).state == "blocked"
    assert OutboundMessage.objects.filter(template__endswith="_code").count() == codes_before
    notice = OutboundMessage.objects.get(template="payments.card_blocked")
    assert notice.recipient_index == blind_index("phone", str(person.mobile))
    assert card.display[-4:] in notice.text
    entry = AuditEntry.objects.get(action="payments.card_blocked")
    assert entry.changes == {"reason": "lost", "was": "active", "assisted": False}

    with pytest.raises(ApplicationError) as twice:
        cards.card_block(account=blocked, reason="lost", actor=citizen)
    assert (twice.value.code, twice.value.status) == ("already_blocked", 409)
    with pytest.raises(ApplicationError) as start:
        cards.card_activation_request(account=blocked, actor=citizen)
    assert start.value.code == "card_blocked"
    assert AuditEntry.objects.filter(action="payments.card_blocked").count() == 1


def test_blocking_needs_a_reason_and_her_or_an_officer(
    her: Any, officer: Any, make_citizen: Callable[..., Any]
) -> None:
    person, _citizen = her
    card = active_card(person, officer)
    with pytest.raises(ApplicationError) as reason:
        cards.card_block(account=card, reason="misplaced", actor=officer)
    assert reason.value.code == "invalid_reason" and "reason" in reason.value.fields
    stranger = make_citizen()
    with pytest.raises(ApplicationError) as other:
        cards.card_block(account=card, reason="lost", actor=stranger)
    assert other.value.status == 403
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "active"
    assert cards.card_block(account=card, reason="stolen", actor=officer).card_status == "blocked"
    assert AuditEntry.objects.get(action="payments.card_blocked").changes["assisted"] is True


def test_a_blocked_card_is_replaced_with_its_balance_and_waiting_payments(
    her: Any,
    officer: Any,
    approved_run: Callable[[], Any],
    officers: tuple[Any, Any],
    approver: Any,
) -> None:
    person, citizen = her
    card = active_card(person, officer)
    # Earlier loads on the card, by the issuer's books.
    ReferenceAccount.objects.filter(pk=book(card).pk).update(balance=27_001)
    approved_run()
    cycle = services.cycle_prepare(
        program=Program.objects.get(code="cash-transfer"), label="2026-Q4", actor=officers[0]
    )
    job_run(job_id=str(cycle.job_id))
    waiting = Payment.objects.get(cycle=cycle, person=person)
    assert (waiting.status, waiting.account_id) == ("pending", card.pk)

    # Replacing a card that is not blocked is refused before her code is spent.
    with pytest.raises(ApplicationError) as active:
        cards.card_replacement_request(account=card, actor=officer)
    assert (active.value.code, active.value.status) == ("card_not_blocked", 409)
    cards.card_block(account=card, reason="lost", actor=citizen)
    with pytest.raises(ApplicationError) as hers:
        cards.card_replacement_request(account=card, actor=citizen)
    assert hers.value.status == 403
    cards.card_replacement_request(account=card, actor=officer)
    with pytest.raises(ApplicationError) as wrong:
        cards.card_replace(account=card, code="000000", actor=officer)
    assert wrong.value.code == "invalid_code"
    assert PaymentAccount.objects.filter(person=person).count() == 1

    new = cards.card_replace(
        account=card, code=code_of(person, "payments.card_replacement_code"), actor=officer
    )
    old = PaymentAccount.objects.get(pk=card.pk)
    assert (old.status, old.card_status) == ("replaced", "replaced") and old.replaced_at
    assert (new.status, new.card_status, new.verification) == ("active", "active", "verified")
    assert new.number != old.number and new.display != old.display
    assert book(new).balance == 27_001 and book(old).balance == 0
    assert book(old).state == "closed" and book(new).state == "open"
    assert cards.card_balance(account=new) == 27_001
    waiting.refresh_from_db()
    assert waiting.account_id == new.pk and waiting.status == "pending"
    entry = AuditEntry.objects.get(action="payments.card_replaced")
    assert entry.subject_id == str(new.pk)
    assert entry.changes == {"replaces": str(old.pk), "balance_moved": 27_001, "payments_moved": 1}
    sms = OutboundMessage.objects.get(template="payments.card_replaced")
    assert "27,001" in sms.text and new.display[-4:] in sms.text
    assert cards.card_current(person) == new

    # Replacing the replaced card again is refused; the new one must be blocked first.
    with pytest.raises(ApplicationError) as gone:
        cards.card_replacement_request(account=old, actor=officer)
    assert gone.value.code == "card_replaced"
    with pytest.raises(ApplicationError) as not_blocked:
        cards.card_replacement_request(account=new, actor=officer)
    assert not_blocked.value.code == "card_not_blocked"

    # The waiting payment goes to the new card; the issuer loads it there.
    cycle = cycle_approve_and_batch(cycle, officers, approver)
    batch = PaymentBatch.objects.get(cycle=cycle)
    assert (batch.channel, batch.provider) == ("card", "bok-card")


def test_an_unreachable_issuer_changes_nothing(her: Any, officer: Any, settings: Any) -> None:
    person, citizen = her
    card = active_card(person, officer)
    ReferenceAccount.objects.filter(pk=book(card).pk).update(balance=13_500)
    audits, messages = AuditEntry.objects.count(), OutboundMessage.objects.count()
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 1.0

    with pytest.raises(ApplicationError) as block:
        cards.card_block(account=card, reason="lost", actor=citizen)
    assert (block.value.code, block.value.status) == ("issuer_unavailable", 503)
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "active"
    assert book(card).state == "open"
    assert (AuditEntry.objects.count(), OutboundMessage.objects.count()) == (audits, messages)

    with pytest.raises(ApplicationError) as balance:
        cards.card_balance(account=card)
    assert balance.value.code == "issuer_unavailable"

    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0
    cards.card_block(account=card, reason="lost", actor=citizen)
    cards.card_replacement_request(account=card, actor=officer)
    code = code_of(person, "payments.card_replacement_code")
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 1.0
    audits = AuditEntry.objects.count()
    with pytest.raises(ApplicationError) as replace:
        cards.card_replace(account=card, code=code, actor=officer)
    assert replace.value.code == "issuer_unavailable"
    assert list(PaymentAccount.objects.filter(person=person).values_list("pk", flat=True)) == [
        card.pk
    ]
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "blocked"
    assert book(card).balance == 13_500 and book(card).state == "blocked"
    assert ReferenceAccount.objects.filter(channel="card").count() == 1
    assert not AuditEntry.objects.filter(action="payments.card_replaced").exists()
    assert AuditEntry.objects.count() == audits  # her code is used up; nothing else changed


def test_an_unreachable_issuer_issues_no_card(her: Any, officer: Any, settings: Any) -> None:
    person, _citizen = her
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 1.0
    with pytest.raises(ApplicationError) as issue:
        cards.card_issue(person=person, provider="bok-card", actor=officer)
    assert issue.value.code == "issuer_unavailable" and issue.value.status == 503
    assert not PaymentAccount.objects.filter(person=person).exists()
    assert not ReferenceAccount.objects.filter(channel="card").exists()
    assert not OutboundMessage.objects.filter(template="payments.account_code").exists()


def test_the_reference_issuer_refuses_what_an_issuer_refuses() -> None:
    issuer = ReferenceCardIssuer(latency=0, failure_rate=0)
    card = issuer.issue(provider="bop-card", name="Gul Bibi Yousafzai", district="Swat")
    assert re.fullmatch(r"\d{4}", card.last4) and card.balance == 0
    with pytest.raises(CardRefused) as early:
        issuer.replace(provider="bop-card", token=card.token)
    assert early.value.reason == "not_blocked"
    issuer.activate(provider="bop-card", token=card.token)
    issuer.activate(provider="bop-card", token=card.token)  # again: nothing more
    ReferenceAccount.objects.filter(
        number_index=account_index("card", "bop-card", card.token)
    ).update(balance=500)
    with pytest.raises(CardRefused) as much:
        issuer.withdraw(provider="bop-card", token=card.token, amount=501, reference="x")
    assert much.value.reason == "insufficient_balance"
    assert issuer.withdraw(provider="bop-card", token=card.token, amount=200, reference="x") == 300
    issuer.block(provider="bop-card", token=card.token, reason="lost")
    issuer.block(provider="bop-card", token=card.token, reason="lost")  # idempotent
    for call in (
        lambda: issuer.activate(provider="bop-card", token=card.token),
        lambda: issuer.withdraw(provider="bop-card", token=card.token, amount=1, reference="y"),
    ):
        with pytest.raises(CardRefused) as blocked:
            call()
        assert blocked.value.reason == "blocked"
    first = issuer.replace(provider="bop-card", token=card.token)
    again = issuer.replace(provider="bop-card", token=card.token)  # a lost answer, asked again
    assert first.balance == 300 and (again.token, again.last4) == (first.token, first.last4)
    assert issuer.balance(provider="bop-card", token=first.token) == 300
    assert issuer.balance(provider="bop-card", token=card.token) == 0
    with pytest.raises(CardRefused) as closed:
        issuer.block(provider="bop-card", token=card.token, reason="lost")
    assert closed.value.reason == "closed"
    with pytest.raises(CardRefused) as unknown:
        issuer.balance(provider="bop-card", token="NoSuchCardToken12345")
    assert unknown.value.reason == "unknown_card"


@pytest.fixture
def paid_card(
    her: Any,
    officer: Any,
    approved_run: Callable[[], Any],
    officers: tuple[Any, Any],
    approver: Any,
    settings: Any,
    tmp_path: Path,
) -> dict[str, Any]:
    """Her active card paid a cycle's 13,500 through the reference disbursement provider."""
    settings.RAHDARI_REFERENCE_BANK_DIR = tmp_path / "providers"
    settings.RAHDARI_REFERENCE_BANK_DELAY_SECONDS = 0
    person, citizen = her
    card = active_card(person, officer)
    approved_run()
    cycle = cycle_batched(officers, approver)
    assert services.cycle_send(cycle=cycle, actor=officers[0]) == 1
    services.reports_collect()
    payment = Payment.objects.get(cycle=cycle, person=person)
    assert payment.status == "paid" and payment.channel == "card"
    return {"person": person, "citizen": citizen, "card": card, "payment": payment}


def test_a_paid_card_payment_loads_the_card_and_a_cash_out_takes_it_off(
    paid_card: dict[str, Any], make_staff: Callable[..., Any]
) -> None:
    card, person, payment = paid_card["card"], paid_card["person"], paid_card["payment"]
    assert cards.card_balance(account=card) == payment.amount == 13_500
    agent = make_staff(Role.PAYMENT_AGENT, ["Swat"])
    qr = str(credential_issue(person=person, actor=None).qr_compact)
    cash_out = services.cash_out_start(agent=agent, qr=qr, location="Mingora campsite")
    done = services.cash_out_complete(
        cash_out=cash_out,
        code=code_of(person, "payments.cash_out_code"),
        amount=13_000,
        agent=agent,
    )
    assert done.status == "handed_over"
    assert cards.card_balance(account=card) == 500


def test_a_cash_out_from_a_blocked_card_is_refused_and_not_recorded(
    paid_card: dict[str, Any], make_staff: Callable[..., Any]
) -> None:
    card, person = paid_card["card"], paid_card["person"]
    cards.card_block(account=card, reason="stolen", actor=paid_card["citizen"])
    agent = make_staff(Role.PAYMENT_AGENT, ["Swat"])
    qr = str(credential_issue(person=person, actor=None).qr_compact)
    cash_out = services.cash_out_start(agent=agent, qr=qr)
    with pytest.raises(ApplicationError) as refused:
        services.cash_out_complete(
            cash_out=cash_out,
            code=code_of(person, "payments.cash_out_code"),
            amount=13_500,
            agent=agent,
        )
    assert refused.value.code == "issuer_blocked" and refused.value.status == 409
    cash_out.refresh_from_db()
    assert cash_out.status == "awaiting_code" and cash_out.amount_handed is None
    assert book(card).balance == 13_500


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_her_card_on_my_payments_in_three_languages(her: Any, officer: Any, lang: str) -> None:
    person, citizen = her
    card = active_card(person, officer)
    ReferenceAccount.objects.filter(pk=book(card).pk).update(balance=13_500)
    client = _login(citizen)
    page = client.get(reverse("payments:me") + f"?lang={lang}")
    assert page.status_code == 200
    body = page.content.decode()
    assert ('dir="rtl"' in body) == (lang != "en")
    assert 'id="card-panel" data-card="active"' in body and card.display in body
    assert tr(lang, "Block my card (lost)") in body
    assert tr(lang, "Working. Your payments go onto this card.") in body
    assert str(card.number) not in body  # the token never reaches a page
    balance = client.get(reverse("payments:my_card_balance"), HTTP_HX_REQUEST="true")
    assert "data-card-balance" in balance.content.decode() and "13,500" in balance.content.decode()
    # Without scripts, the link opens her card's page with the money on it.
    full = client.get(reverse("payments:my_card") + f"?lang={lang}").content.decode()
    assert "13,500" in full and card.display in full


@pytest.mark.parametrize("lang", ["ur", "ps"])
def test_she_blocks_her_card_on_the_page_and_refusals_are_in_her_language(
    her: Any, officer: Any, lang: str
) -> None:
    person, citizen = her
    card = active_card(person, officer)
    client = _login(citizen)
    url = reverse("payments:my_card_block") + f"?lang={lang}"
    page = client.get(url).content.decode()
    assert tr(lang, "I lost it") in page and tr(lang, "Block my card now") in page
    bad = client.post(url, {"reason": ""})
    assert bad.status_code == 200 and 'id="id_reason_error"' in bad.content.decode()
    done = client.post(url, {"reason": "lost"})
    assert done.status_code == 302 and done["Location"] == reverse("payments:me")
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "blocked"
    after = client.get(reverse("payments:me") + f"?lang={lang}").content.decode()
    assert 'data-card="blocked"' in after and tr(lang, "Block my card (lost)") not in after
    again = client.post(url, {"reason": "lost"})
    assert again.status_code == 200
    assert (
        tr(lang, "This card is blocked already. The money on it is safe until it is replaced.")
        in again.content.decode()
    )


def test_she_starts_her_card_with_a_code_on_the_page(her: Any, officer: Any) -> None:
    person, citizen = her
    card = issued(person, officer)
    client = _login(citizen)
    me = client.get(reverse("payments:me")).content.decode()
    assert 'data-card="issued"' in me and 'data-card-action="activate"' in me
    url = reverse("payments:my_card_activate")
    sent = client.post(url, {"step": "send"}).content.decode()
    assert "data-code-sent" in sent and 'id="card-code-form"' in sent
    wrong = client.post(url, {"step": "code", "code": "000000"})
    assert wrong.status_code == 200 and 'id="id_code_error"' in wrong.content.decode()
    code = code_of(person, "payments.card_activation_code")
    done = client.post(url, {"step": "code", "code": code})
    assert done.status_code == 302
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "active"


def test_an_unreachable_issuer_is_a_message_not_an_error_page(
    her: Any, officer: Any, settings: Any
) -> None:
    person, citizen = her
    card = active_card(person, officer)
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 1.0
    client = _login(citizen)
    message = (
        "The card company could not be reached. Nothing was changed: try again in a few minutes."
    )
    for lang in ("en", "ur"):
        page = client.post(reverse("payments:my_card_block") + f"?lang={lang}", {"reason": "lost"})
        assert page.status_code == 200 and tr(lang, message) in page.content.decode()
        balance = client.get(reverse("payments:my_card_balance"), HTTP_HX_REQUEST="true")
        assert balance.status_code == 200 and "data-card-balance-error" in balance.content.decode()
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "active"


def test_an_officer_issues_blocks_and_replaces_her_card(her: Any, officer: Any) -> None:
    person, _citizen = her
    client = _login(officer)
    page_url = reverse("payments:person", args=[person.pk])
    page = client.get(page_url + "?lang=ur").content.decode()
    assert 'data-card="none"' in page and 'data-card-action="issue"' in page

    issue_url = reverse("payments:person_card_issue", args=[person.pk])
    assert client.post(issue_url, {"provider": "visa"}).status_code == 200
    assert client.post(issue_url, {"provider": "bok-card"}).status_code == 302
    card = PaymentAccount.objects.get(person=person, channel="card")
    assert card.status == "awaiting_code" and card.requested_by_id == officer.pk
    confirm = client.post(
        reverse("payments:person_code", args=[person.pk]), {"code": last_action_code(person)}
    )
    assert confirm.status_code == 302
    page = client.get(page_url).content.decode()
    assert 'data-card="issued"' in page and 'data-card-action="block"' in page

    ReferenceAccount.objects.filter(pk=book(card).pk).update(balance=9_250)
    block_url = reverse("payments:person_card_block", args=[person.pk])
    assert client.post(block_url, {"reason": "damaged"}).status_code == 302
    page = client.get(page_url).content.decode()
    assert 'data-card="blocked"' in page and 'data-card-action="replace"' in page

    replace_url = reverse("payments:person_card_replace", args=[person.pk])
    sent = client.post(replace_url + "?lang=ps", {"step": "send"}).content.decode()
    assert "data-code-sent" in sent and tr("ps", "Replace the card") in sent
    done = client.post(
        replace_url,
        {"step": "code", "code": code_of(person, "payments.card_replacement_code")},
    )
    assert done.status_code == 302 and done["Location"] == page_url
    new = PaymentAccount.objects.get(person=person, status="active")
    assert new.pk != card.pk and new.card_status == "active"
    page = client.get(page_url).content.decode()
    assert 'data-card="active"' in page and new.display in page
    balance = client.get(
        reverse("payments:person_card_balance", args=[person.pk]), HTTP_HX_REQUEST="true"
    )
    assert "9,250" in balance.content.decode()


def test_card_pages_are_refused_to_others(
    her: Any, officer: Any, make_citizen: Callable[..., Any], make_staff: Callable[..., Any]
) -> None:
    person, _citizen = her
    active_card(person, officer)
    stranger = _login(make_citizen())
    far = make_staff(Role.ENROLMENT_OFFICER, ["Mardan"])
    TOTPDevice.objects.create(user=far, name="phone", confirmed=True)
    far_client = _login(far)
    for name in ("person_card_issue", "person_card_block", "person_card_replace"):
        url = reverse(f"payments:{name}", args=[person.pk])
        assert stranger.get(url).status_code == 403
        assert far_client.get(url).status_code == 404
    # A citizen without a card is sent back to her payments page.
    assert stranger.get(reverse("payments:my_card_block")).status_code == 302
    assert PaymentAccount.objects.get(person=person).card_status == "active"


# --------------------------------------------------------------------------- API


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    return dict(body["error"])


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def test_the_card_lifecycle_over_the_api(her: Any, officer: Any, settings: Any) -> None:
    person, citizen = her
    staff, she = _login(officer), _login(citizen)
    _error(
        _post(she, f"{API}/cards", {"rahdari_number": "x", "provider": "bok-card"}),
        403,
        "forbidden",
    )
    _error(_post(staff, f"{API}/cards", {"provider": "bok-card"}), 422, "invalid")
    _error(
        _post(staff, f"{API}/cards", {"rahdari_number": person.rahdari_number, "provider": "x"}),
        400,
        "invalid_provider",
    )
    made = _post(
        staff, f"{API}/cards", {"rahdari_number": person.rahdari_number, "provider": "bok-card"}
    )
    assert made.status_code == 201, made.content
    card = made.json()
    assert (card["status"], card["card_status"]) == ("awaiting_code", "issued")
    assert set(card) >= {"id", "display", "provider_name"} and "number" not in card
    base = f"{API}/cards/{card['id']}"
    _error(_post(she, f"{base}/activation-code"), 409, "not_confirmed")
    confirmed = _post(
        staff, f"{API}/accounts/{card['id']}/confirm", {"code": last_action_code(person)}
    )
    assert confirmed.status_code == 200 and confirmed.json()["verification"] == "verified"

    assert she.get(f"{API}/cards/me").json()["id"] == card["id"]
    sent = _post(she, f"{base}/activation-code")
    assert sent.status_code == 202 and sent.json()["sent_to"].endswith(str(person.mobile)[-4:])
    _error(_post(she, f"{base}/activate", {"code": "000000"}), 400, "invalid_code")
    code = code_of(person, "payments.card_activation_code")
    assert _post(she, f"{base}/activate", {"code": code}).json()["card_status"] == "active"

    ReferenceAccount.objects.filter(
        number_index=account_index(
            "card", "bok-card", str(PaymentAccount.objects.get(pk=card["id"]).number)
        )
    ).update(balance=40_500)
    balance = she.get(f"{base}/balance")
    assert balance.status_code == 200 and balance.json()["balance"] == 40_500

    _error(_post(she, f"{base}/block", {"reason": "misplaced"}), 400, "invalid_reason")
    _error(_post(staff, f"{base}/replacement-code"), 409, "card_not_blocked")
    blocked = _post(she, f"{base}/block", {"reason": "lost"})
    assert blocked.status_code == 200 and blocked.json()["card_status"] == "blocked"
    _error(_post(she, f"{base}/block", {"reason": "lost"}), 409, "already_blocked")

    _error(_post(she, f"{base}/replacement-code"), 403, "permission_denied")
    assert _post(staff, f"{base}/replacement-code").status_code == 202
    _error(_post(staff, f"{base}/replace", {"code": "000000"}), 400, "invalid_code")
    code = code_of(person, "payments.card_replacement_code")
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 1.0
    _error(_post(staff, f"{base}/replace", {"code": code}), 503, "issuer_unavailable")
    assert PaymentAccount.objects.filter(person=person).count() == 1
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0
    assert _post(staff, f"{base}/replacement-code").status_code == 202
    code = code_of(person, "payments.card_replacement_code")
    replaced = _post(staff, f"{base}/replace", {"code": code})
    assert replaced.status_code == 201, replaced.content
    new = replaced.json()
    assert new["id"] != card["id"] and new["card_status"] == "active"
    assert staff.get(f"{API}/cards/{new['id']}/balance").json()["balance"] == 40_500
    assert she.get(f"{base}/balance").json()["balance"] == 0
    _error(_post(staff, f"{API}/cards/{new['id']}/replacement-code"), 409, "card_not_blocked")
    _error(_post(she, f"{base}/block", {"reason": "lost"}), 409, "card_replaced")
    # An officer's look at her balance is recorded and shown to her.
    assert AuditEntry.objects.filter(
        subject_id=str(person.pk), action="identity.person.viewed"
    ).exists()


def test_the_api_never_shows_another_persons_card(
    her: Any, officer: Any, make_citizen: Callable[..., Any]
) -> None:
    person, _citizen = her
    card = active_card(person, officer)
    stranger = _login(make_citizen())
    for response in (
        stranger.get(f"{API}/cards/{card.pk}/balance"),
        _post(stranger, f"{API}/cards/{card.pk}/block", {"reason": "lost"}),
    ):
        _error(response, 404, "no_account")
    _error(stranger.get(f"{API}/cards/me"), 404, "no_card")
    _error(_login(officer).get(f"{API}/cards/me"), 403, "forbidden")
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "active"
