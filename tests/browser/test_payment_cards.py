"""A prepaid card's bad day, in a real Chromium, in Urdu (right to left).

A beneficiary whose card holds Rs 13,500 opens "My payments", sees her card and the money
on it, and blocks it because she lost it (no code: she is logged in). An enrolment
officer opens her payments at the office, sees the card blocked, sends her the code,
types the code she reads out and replaces the card. She sees the new card — another
number — with the same Rs 13,500. Each page state is checked with axe-core against
WCAG 2.2 AA.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.identity.models import Person
from rahdari.payments.card_forms import BLOCK_REASON_TEXTS
from rahdari.payments.forms import CodeForm
from rahdari.payments.models import PaymentAccount, ReferenceAccount
from tests.browser.conftest import (
    TIMEOUT_MS,
    Deferred,
    axe_check,
    expect_language,
    staff_log_in,
    tr,
    watch_problems,
)
from tests.browser.test_payments import _citizen_log_in
from tests.identity import conftest as identity_fixtures
from tests.payments import conftest as payment_fixtures
from tests.payments.test_cards import active_card, book, code_of
from tests.registry import conftest as registry_fixtures

pytestmark = pytest.mark.browser

enrolled_payee = payment_fixtures.enrolled_payee
registered = identity_fixtures.registered
make_household = registry_fixtures.make_household
survey_round = registry_fixtures.survey_round

LANGUAGE = "ur"


@pytest.fixture(autouse=True)
def _instant_providers(settings: Any) -> None:
    settings.RAHDARI_PAYMENT_PROVIDER_LATENCY = 0
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0
    # Her login, the card's confirmation, its activation and the replacement: four codes
    # to one phone within minutes.
    settings.CITIZEN_OTP_MAX_PER_WINDOW = 20


def test_she_blocks_her_lost_card_and_an_officer_replaces_it_in_urdu(
    page: Page,
    browser: Browser,
    live_server: Any,
    deferred: Deferred,
    make_staff: Callable[..., User],
    enrolled_payee: Callable[..., Person],
    make_citizen: Callable[..., User],
) -> None:
    person = enrolled_payee()
    cnic = "1730198765499"
    citizen = make_citizen(cnic=cnic, phone=str(person.mobile), language=LANGUAGE)
    Person.objects.filter(pk=person.pk).update(account=citizen)
    person.refresh_from_db()
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"], full_name="Rubina Khattak")
    card = active_card(person, officer)
    ReferenceAccount.objects.filter(pk=book(card).pk).update(balance=13_500)

    # She finds her card and the money on it, and blocks it.
    _citizen_log_in(page, LANGUAGE, cnic)
    page.goto("/payments/me/")
    expect_language(page, LANGUAGE)
    panel = page.locator("#card-panel")
    expect(panel).to_have_attribute("data-card", "active")
    expect(panel.locator("[data-card-display]")).to_have_text(card.display)
    expect(panel.locator("[data-card-balance]")).to_contain_text("13,500")
    axe_check(page, "my payments with my card (ur)", deferred)
    panel.get_by_role("link", name=tr(LANGUAGE, "Block my card (lost)")).click()
    page.wait_for_url("**/payments/me/card/block/")
    expect_language(page, LANGUAGE)
    axe_check(page, "block my card (ur)", deferred)
    main = page.locator("main")
    main.get_by_label(tr(LANGUAGE, BLOCK_REASON_TEXTS["lost"])).check()
    main.get_by_role("button", name=tr(LANGUAGE, "Block my card now")).click()
    page.wait_for_url("**/payments/me/")
    expect(panel).to_have_attribute("data-card", "blocked")
    expect(panel.get_by_role("link", name=tr(LANGUAGE, "Block my card (lost)"))).to_have_count(0)
    expect(panel.locator("[data-card-balance]")).to_contain_text("13,500")
    axe_check(page, "my card blocked (ur)", deferred)
    assert PaymentAccount.objects.get(pk=card.pk).card_status == "blocked"

    # At the office, the officer replaces it with the code she reads out.
    context = browser.new_context(locale="ur-PK", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    office = context.new_page()
    problems = watch_problems(office)
    try:
        staff_log_in(office, officer, LANGUAGE)
        office.goto(f"/payments/accounts/{person.pk}/")
        expect_language(office, LANGUAGE)
        theirs = office.locator("#card-panel")
        expect(theirs.locator("[data-card=blocked]")).to_be_visible()
        axe_check(office, "her blocked card at the office (ur)", deferred)
        theirs.get_by_role("link", name=tr(LANGUAGE, "Give her a new card")).click()
        office.wait_for_url(f"**/payments/accounts/{person.pk}/card/replace/")
        axe_check(office, "replace her card (ur)", deferred)
        desk = office.locator("main")
        desk.get_by_role("button", name=tr(LANGUAGE, "Send her the code")).click()
        code_label = tr(LANGUAGE, str(CodeForm.base_fields["code"].label))
        expect(desk.get_by_label(code_label)).to_be_visible()
        expect(desk.locator("[data-code-sent]")).to_contain_text(str(person.mobile)[-4:])
        axe_check(office, "waiting for her code to replace the card (ur)", deferred)
        desk.get_by_label(code_label).fill("000000")
        desk.get_by_role("button", name=tr(LANGUAGE, "Replace the card")).click()
        expect(desk.locator("#id_code_error")).to_be_visible()
        desk.get_by_label(code_label).fill(code_of(person, "payments.card_replacement_code"))
        desk.get_by_role("button", name=tr(LANGUAGE, "Replace the card")).click()
        office.wait_for_url(f"**/payments/accounts/{person.pk}/")
        expect(theirs.locator("[data-card=active]")).to_be_visible()
        expect(theirs.locator("[data-card-balance]")).to_contain_text("13,500")
        axe_check(office, "her new card at the office (ur)", deferred)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    new = PaymentAccount.objects.get(person=person, status="active")
    assert new.pk != card.pk and new.display != card.display

    # She sees the new card with the same money.
    page.reload()
    expect(panel).to_have_attribute("data-card", "active")
    expect(panel.locator("[data-card-display]")).to_have_text(new.display)
    expect(panel.locator("[data-card-balance]")).to_contain_text("13,500")
    axe_check(page, "my new card (ur)", deferred)
    deferred.settle()
