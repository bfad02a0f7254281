"""Payments in a real Chromium, in Urdu (right to left).

A citizen opens "My payments", chooses a bank account from the big pictures, types her
IBAN, gets the code by SMS, enters it and sees the account checked in her name.
A program officer prepares a cycle and watches its progress (the test runs the job, as
a worker would, while the page polls); the page tells her that someone else must
approve; a payment approver, logged in with her authenticator, is refused with a wrong
code and approves with the current one; the officer makes the batches, and the payee
finds the payment in her history with its receipt from the public ledger. An enrolment
officer records a wallet for a person at the office; she reads out the code. Each page
state is checked with axe-core against WCAG 2.2 AA.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, expect

from rahdari.accounts.forms import CnicForm, LoginCodeForm
from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.core.jobs import job_run
from rahdari.core.models import Job, OutboundMessage
from rahdari.identity.models import Person
from rahdari.ledger.services import ledger_publish
from rahdari.payments.forms import AccountForm, CodeForm, CycleDecideForm, PrepareForm
from rahdari.payments.models import PaymentAccount, PaymentCycle
from rahdari.programs import services as programs
from tests.browser.conftest import (
    TIMEOUT_MS,
    Deferred,
    axe_check,
    expect_language,
    staff_log_in,
    tr,
    watch_problems,
)
from tests.identity import conftest as identity_fixtures
from tests.payments import conftest as payment_fixtures
from tests.registry import conftest as registry_fixtures

pytestmark = pytest.mark.browser

# The payments, identity and registry tests' fixtures (assigned rather than imported so
# the test arguments do not shadow an import).
enrolled_payee = payment_fixtures.enrolled_payee
approved_run = payment_fixtures.approved_run
officers = payment_fixtures.officers
registered = identity_fixtures.registered
make_household = registry_fixtures.make_household
survey_round = registry_fixtures.survey_round

LANGUAGE = "ur"


@pytest.fixture(autouse=True)
def _instant_providers(settings: Any) -> None:
    settings.RAHDARI_PAYMENT_PROVIDER_LATENCY = 0
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0


def _citizen_log_in(page: Page, language: str, cnic: str) -> None:
    page.goto(f"/accounts/login/citizen/?lang={language}")
    page.get_by_label(tr(language, CnicForm.base_fields["cnic"].label)).fill(cnic)
    page.locator("main form").get_by_role("button", name=tr(language, "Send me a code")).click()
    code_field = page.get_by_label(tr(language, LoginCodeForm.base_fields["code"].label))
    expect(code_field).to_be_visible()
    message = OutboundMessage.objects.filter(template="accounts.login_code").latest("created_at")
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match, "the login SMS carries no 6-digit code"
    code_field.fill(match.group(1))
    page.locator("main form").get_by_role("button", name=tr(language, "Log in")).click()
    page.wait_for_url("**/accounts/me/")


def test_a_citizen_changes_her_account_to_a_bank_account_in_urdu(
    page: Page,
    deferred: Deferred,
    enrolled_payee: Callable[..., Person],
    make_citizen: Callable[..., User],
) -> None:
    person = enrolled_payee()
    cnic = "1730198765432"
    citizen = make_citizen(cnic=cnic, phone=str(person.mobile), language=LANGUAGE)
    Person.objects.filter(pk=person.pk).update(account=citizen)
    iban = payment_fixtures.iban_for(42)
    payment_fixtures.bank_book(iban, f"MRS {str(person.full_name).upper()}")

    _citizen_log_in(page, LANGUAGE, cnic)
    page.locator("nav.main-nav").get_by_role(
        "link", name=tr(LANGUAGE, "My payments"), exact=True
    ).click()
    page.wait_for_url("**/payments/me/")
    expect_language(page, LANGUAGE)
    main = page.locator("main")
    expect(main.locator("[data-account=none]")).to_be_visible()
    axe_check(page, "my payments, no account (ur)", deferred)

    form = page.locator("#account-form")
    form.get_by_role("radio", name=tr(LANGUAGE, "Bank account")).check()
    expect(form.locator("label[data-channel=bank] input")).to_be_checked()
    form.get_by_label(tr(LANGUAGE, str(AccountForm.base_fields["number"].label))).fill(
        iban[:4] + " " + iban[4:]
    )
    form.get_by_role("button", name=tr(LANGUAGE, "Send me the code")).click()
    page.wait_for_url("**/payments/me/code/")
    expect_language(page, LANGUAGE)
    expect(main.locator("[data-awaiting]")).to_contain_text(iban[-4:])
    axe_check(page, "the code step (ur)", deferred)

    # A wrong code first: the error is next to the field, in Urdu.
    code_label = tr(LANGUAGE, str(CodeForm.base_fields["code"].label))
    main.get_by_label(code_label).fill("000000")
    main.get_by_role("button", name=tr(LANGUAGE, "Confirm"), exact=True).click()
    expect(main.locator("#id_code_error")).to_be_visible()
    axe_check(page, "the code step with a wrong code (ur)", deferred)

    main.get_by_label(code_label).fill(payment_fixtures.last_action_code(person))
    main.get_by_role("button", name=tr(LANGUAGE, "Confirm"), exact=True).click()
    page.wait_for_url("**/payments/me/")
    card = main.locator("[data-verification=verified]")
    expect(card).to_be_visible()
    expect(card.locator("[data-account-display]")).to_contain_text(iban[-4:])
    expect(card.locator("[data-verification-text]")).to_have_text(
        tr(LANGUAGE, "Checked: the account is in your name. Your payments go to it.")
    )
    axe_check(page, "my payments, account verified (ur)", deferred)
    account = PaymentAccount.objects.get(person=person, status="active")
    assert account.channel == "bank" and account.verification == "verified"
    deferred.settle()


def _next_code(user: User) -> str:
    """The authenticator's code for the next 30-second step: the login used the current
    one, and a code is accepted once (the device allows one step of drift)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=1)
    return f"{code:06d}"


def test_an_officer_prepares_a_cycle_and_an_approver_approves_it_in_urdu(
    page: Page,
    browser: Browser,
    live_server: Any,
    deferred: Deferred,
    make_staff: Callable[..., User],
    enrolled_payee: Callable[..., Person],
    approved_run: Callable[[], Any],
    officers: tuple[User, User],
    make_citizen: Callable[..., User],
) -> None:
    programs.programs_seed()  # a transactional test's flush emptied what the migration loaded
    payee = enrolled_payee()
    iban = payment_fixtures.iban_for(7)
    payment_fixtures.bank_book(iban, str(payee.full_name))
    from rahdari.payments import services

    requested = services.payment_account_request(
        person=payee, channel="bank", number=iban, provider="", actor=None
    )
    services.payment_account_confirm(
        account=requested, code=payment_fixtures.last_action_code(payee), actor=None
    )
    enrolled_payee(district="Mardan")  # no account: held
    approved_run()
    maker = officers[0]

    staff_log_in(page, maker, LANGUAGE)
    page.locator("nav.main-nav").get_by_role(
        "link", name=tr(LANGUAGE, "Payments"), exact=True
    ).click()
    page.wait_for_url("**/payments/")
    expect_language(page, LANGUAGE)
    axe_check(page, "payment cycles (ur)", deferred)
    main = page.locator("main")
    fields = PrepareForm.base_fields
    main.get_by_label(tr(LANGUAGE, str(fields["program"].label))).select_option("cash-transfer")
    main.get_by_label(tr(LANGUAGE, str(fields["label"].label))).fill("2026-Q4")
    main.get_by_role("button", name=tr(LANGUAGE, "Prepare the cycle"), exact=True).click()
    page.wait_for_url("**/payments/cycles/*/")
    expect_language(page, LANGUAGE)
    expect(page.locator("[data-cycle-status=computing]").first).to_be_visible()
    expect(page.locator("progress#cycle-bar")).to_have_attribute("value", "0")
    axe_check(page, "cycle computing (ur)", deferred)

    # No worker in tests: run the job here, as the worker would, while the page polls.
    cycle = PaymentCycle.objects.get()
    job_run(job_id=str(cycle.job_id))
    expect(page.locator("#cycle-body [data-cycle-status=prepared]")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.locator("[data-four-eyes]")).to_be_visible()
    expect(page.locator("[data-total=control]")).to_contain_text("13,500")
    expect(page.locator('tr[data-district="Swat"] th')).to_have_text("سوات")
    expect(page.locator("tr[data-hold=no_account]")).to_be_visible()
    approve = tr(LANGUAGE, "Approve the cycle")
    expect(page.get_by_role("button", name=approve)).to_have_count(0)
    axe_check(page, "cycle prepared, seen by its preparer (ur)", deferred)

    # The approver, in a browser of her own, logs in with her authenticator app.
    approver = make_staff(Role.PAYMENT_APPROVER, full_name="Shazia Gul")
    context = browser.new_context(locale="ur-PK", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    second = context.new_page()
    problems = watch_problems(second)
    try:
        staff_log_in(second, approver, LANGUAGE)
        second.goto(f"/payments/cycles/{cycle.pk}/")
        expect_language(second, LANGUAGE)
        expect(second.locator("[data-four-eyes]")).to_have_count(0)
        axe_check(second, "cycle prepared, seen by an approver (ur)", deferred)
        form = second.locator("#decide-form")
        code_label = tr(LANGUAGE, str(CycleDecideForm.base_fields["totp"].label))
        form.get_by_label(code_label).fill("000000")
        form.get_by_role("button", name=approve, exact=True).click()
        error = second.locator("#id_totp_error")
        expect(error).to_have_text(tr(LANGUAGE, "The code is missing or wrong."))
        expect(second.locator("main [role=alert]").first).to_be_visible()
        axe_check(second, "approval refused: wrong code (ur)", deferred)
        # django-otp slows down the try after a wrong code; a person would wait a moment.
        TOTPDevice.objects.filter(user=approver).update(
            throttling_failure_count=0, throttling_failure_timestamp=None
        )
        form = second.locator("#decide-form")
        form.get_by_label(code_label).fill(_next_code(approver))
        form.get_by_role("button", name=approve, exact=True).click()
        expect(second.locator("#cycle-body [data-cycle-status=approved]")).to_be_visible()
        expect(second.locator("[data-decided]")).to_contain_text(approver.username)
        axe_check(second, "cycle approved (ur)", deferred)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    cycle.refresh_from_db()
    assert cycle.status == "approved" and cycle.approved_by_id == approver.pk

    # The preparer makes the batches and watches the job.
    page.reload()
    make = page.get_by_role("button", name=tr(LANGUAGE, "Make batches"), exact=True)
    expect(make).to_be_visible()
    axe_check(page, "cycle approved, seen by its preparer (ur)", deferred)
    make.click()
    expect(page.locator("progress#batch-bar")).to_be_visible()
    job_run(job_id=str(Job.objects.get(kind="payments.build_batches").pk))
    batch = page.locator("table[data-table=batches] tr[data-batch='1']")
    expect(batch).to_be_visible(timeout=TIMEOUT_MS)
    expect(batch.locator("[data-download]")).to_be_visible()
    axe_check(page, "cycle with its batches (ur)", deferred)

    # The payee, a citizen, finds the payment in her history and opens its receipt.
    ledger_publish()
    cnic = "1730198765433"
    citizen = make_citizen(cnic=cnic, phone=str(payee.mobile), language=LANGUAGE)
    Person.objects.filter(pk=payee.pk).update(account=citizen)
    context = browser.new_context(locale="ur-PK", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    third = context.new_page()
    problems = watch_problems(third)
    try:
        _citizen_log_in(third, LANGUAGE, cnic)
        third.goto("/payments/me/")
        row = third.locator("tr[data-payment-status=instructed]")
        expect(row).to_contain_text("13,500")
        axe_check(third, "my payments with a payment (ur)", deferred)
        row.locator("[data-receipt-link]").click()
        third.wait_for_url("**/payments/me/receipts/*/")
        expect_language(third, LANGUAGE)
        expect(third.locator("img.ledger-qr")).to_be_visible()
        expect(third.locator("[data-fact=amount]")).to_contain_text("13,500")
        axe_check(third, "payment receipt (ur)", deferred)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    deferred.settle()


def test_an_officer_records_an_account_at_the_office_in_urdu(
    page: Page,
    deferred: Deferred,
    make_staff: Callable[..., User],
    enrolled_payee: Callable[..., Person],
) -> None:
    person = enrolled_payee()
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"], full_name="Rubina Khattak")
    staff_log_in(page, officer, LANGUAGE)
    page.locator("nav.main-nav").get_by_role(
        "link", name=tr(LANGUAGE, "Payment accounts"), exact=True
    ).click()
    page.wait_for_url("**/payments/accounts/")
    axe_check(page, "find a person for her account (ur)", deferred)
    main = page.locator("main")
    number = str(person.rahdari_number)
    main.get_by_label(tr(LANGUAGE, "Her Rahdari number")).fill(number)
    main.get_by_role("button", name=tr(LANGUAGE, "Open her payments"), exact=True).click()
    page.wait_for_url(f"**/payments/accounts/{person.pk}/")
    expect(main.locator("[data-read-recorded]")).to_be_visible()
    axe_check(page, "her payments at the office (ur)", deferred)

    form = page.locator("#account-form")
    form.get_by_role("radio", name=tr(LANGUAGE, "Mobile wallet")).check()
    form.get_by_label(tr(LANGUAGE, str(AccountForm.base_fields["number"].label))).fill(
        "0300 1234567"
    )
    form.get_by_label(tr(LANGUAGE, str(AccountForm.base_fields["provider"].label))).select_option(
        "jazzcash"
    )
    form.get_by_role("button", name=tr(LANGUAGE, "Send her the code")).click()
    code_label = tr(LANGUAGE, str(CodeForm.base_fields["code"].label))
    expect(main.get_by_label(code_label)).to_be_visible()
    axe_check(page, "waiting for her code (ur)", deferred)
    main.get_by_label(code_label).fill(payment_fixtures.last_action_code(person))
    main.get_by_role("button", name=tr(LANGUAGE, "Confirm the account"), exact=True).click()
    expect(main.locator("[data-account=wallet]")).to_be_visible()
    axe_check(page, "account recorded (ur)", deferred)
    account = PaymentAccount.objects.get(person=person, status="active")
    assert account.channel == "wallet" and account.requested_by_id == officer.pk
    deferred.settle()
