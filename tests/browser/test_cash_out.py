"""Cash-out at a campsite in a real Chromium, in Pashto (right to left).

A payment agent opens the cash-out page, his hand-held scanner types the beneficiary's
QR ID into the box; the code goes to her phone, she reads it out, he types it and the
rupees he hands over. She logs in, sees what the agent says he gave her, answers that
she received less and types the amount: a deduction report, shown to her at once. An
auditor finds the agent on the fraud review. Each page is checked with axe-core.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.core.models import OutboundMessage
from rahdari.credentials.services import credential_issue
from rahdari.identity.models import Person
from rahdari.payments import fraud, services
from rahdari.payments.agent_forms import HandOverForm, ReceivedForm, ScanForm
from rahdari.payments.models import CashOut
from tests.browser.conftest import Deferred, axe_check, expect_language, staff_log_in, tr
from tests.browser.test_payments import _citizen_log_in
from tests.identity import conftest as identity_fixtures
from tests.payments import conftest as payment_fixtures
from tests.registry import conftest as registry_fixtures

pytestmark = pytest.mark.browser

enrolled_payee = payment_fixtures.enrolled_payee
approved_run = payment_fixtures.approved_run
officers = payment_fixtures.officers
approver = payment_fixtures.approver
wallet_cycle = payment_fixtures.wallet_cycle
registered = identity_fixtures.registered
make_household = registry_fixtures.make_household
survey_round = registry_fixtures.survey_round

LANGUAGE = "ps"


@pytest.fixture(autouse=True)
def _instant_providers(settings: Any) -> None:
    settings.RAHDARI_PAYMENT_PROVIDER_LATENCY = 0
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0


def _label(field: Any) -> str:
    return tr(LANGUAGE, str(field.label))


def test_an_agent_hands_over_cash_and_she_reports_a_deduction_in_pashto(
    page: Page,
    deferred: Deferred,
    wallet_cycle: dict[str, Any],
    make_staff: Callable[..., Any],
    make_citizen: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services.reports_collect()  # the wallet operator's callback: paid
    person: Person = wallet_cycle["person"]
    qr = str(credential_issue(person=person, actor=None).qr_compact)
    agent = make_staff(Role.PAYMENT_AGENT, ["Swat"])

    staff_log_in(page, agent, LANGUAGE)
    page.locator("nav.main-nav").get_by_role("link", name=tr(LANGUAGE, "Cash-out")).click()
    page.wait_for_url("**/payments/agent/")
    expect_language(page, LANGUAGE)
    axe_check(page, "agent desk (ps)", deferred)
    main = page.locator("main")
    main.get_by_label(_label(ScanForm.base_fields["qr"])).fill(qr)
    main.get_by_label(_label(ScanForm.base_fields["location"])).fill("Mingora campsite")
    main.get_by_role("button", name=tr(LANGUAGE, "Send her the code")).click()
    page.wait_for_url(re.compile(r".*/payments/agent/cash-outs/[0-9a-f-]+/$"))
    expect(main.locator("[data-cash-out=awaiting_code]")).to_contain_text("13,500")
    axe_check(page, "the code step (ps)", deferred)
    code_sms = OutboundMessage.objects.filter(template="payments.cash_out_code").latest(
        "created_at"
    )
    found = re.search(r"\b(\d{6})\b", code_sms.text)
    assert found
    main.get_by_label(_label(HandOverForm.base_fields["code"])).fill(found.group(1))
    main.get_by_label(_label(HandOverForm.base_fields["amount"])).fill("13500")
    main.get_by_role("button", name=tr(LANGUAGE, "Record the cash handed over")).click()
    page.wait_for_url("**/payments/agent/")
    expect(main.locator("[data-cash-out=handed_over]")).to_be_visible()
    axe_check(page, "agent desk after the hand-over (ps)", deferred)

    # She says she received 12,000 (the agent kept 1,500).
    page.context.clear_cookies()
    cnic = "1560112345671"
    citizen = make_citizen(cnic=cnic, phone=str(person.mobile), language=LANGUAGE)
    Person.objects.filter(pk=person.pk).update(account=citizen)
    _citizen_log_in(page, LANGUAGE, cnic)
    page.goto("/payments/me/")
    expect_language(page, LANGUAGE)
    panel = main.locator("[data-my-cash-out=handed_over]")
    expect(panel).to_contain_text("13,500")
    axe_check(page, "my payments with a cash-out to confirm (ps)", deferred)
    answer = dict(ReceivedForm.base_fields["answer"].choices)["less"]
    panel.get_by_role("radio", name=tr(LANGUAGE, str(answer))).check()
    panel.get_by_label(_label(ReceivedForm.base_fields["amount"])).fill("۱۲۰۰۰")
    panel.get_by_role("button", name=tr(LANGUAGE, "Send my answer")).click()
    page.wait_for_url("**/payments/me/")
    expect(main.locator("[data-my-cash-out=disputed]")).to_contain_text("12,000")
    axe_check(page, "my payments after the deduction report (ps)", deferred)
    cash_out = CashOut.objects.get()
    assert (cash_out.status, cash_out.amount_confirmed) == ("disputed", 12_000)

    # The auditor finds the agent on the fraud review (one report is enough here).
    monkeypatch.setattr(fraud, "DEDUCTION_REPORTS", 1)
    page.context.clear_cookies()
    auditor = make_staff(Role.AUDITOR)
    staff_log_in(page, auditor, LANGUAGE)
    page.locator("nav.main-nav").get_by_role("link", name=tr(LANGUAGE, "Fraud review")).click()
    page.wait_for_url("**/payments/fraud-review/")
    expect(main.locator("table[data-table=agents]")).to_contain_text(agent.username)
    axe_check(page, "fraud review (ps)", deferred)
    deferred.settle()
