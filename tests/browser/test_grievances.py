"""Grievances in a real Chromium, in Pashto (right to left).

A woman with only a phone number lodges a complaint in Pashto; the Swat desk's officer
takes it and answers it; she checks it with its number and her phone, sees the answer
and rates it. A second complaint that nobody answered in time escalates to the Malakand
divisional cell, and she sees that on her status page; the cell's officer finds it in
the queue and on the dashboard. Every page is checked with axe-core. Elements are found
by form field names and data attributes, so the test holds when translations land.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from rahdari.accounts.roles import Role
from rahdari.core.models import District, OutboundMessage
from rahdari.grievances import services
from rahdari.grievances.models import Complaint, Desk
from tests.browser.conftest import Deferred, axe_check, expect_language, staff_log_in
from tests.conftest import districts_named

pytestmark = pytest.mark.browser

LANGUAGE = "ps"
PHONE = "0345 7654321"


@pytest.fixture
def desks(transactional_db: None) -> dict[str, Desk]:
    districts_named(["Swat"])  # the reference list, after a transactional test's flush
    services.desks_setup(actor=None)
    return {
        "swat": Desk.objects.get(level=1, area="Swat"),
        "malakand": Desk.objects.get(level=2, area="Malakand"),
    }


def _officer(make_staff: Callable[..., Any], desk: Desk) -> Any:
    officer = make_staff(Role.GRIEVANCE_OFFICER)
    services.desk_officer_add(desk=desk, officer=officer, actor=None)
    return officer


def _check_status(page: Page, number: str) -> None:
    page.goto(f"/grievances/status/?lang={LANGUAGE}")
    expect_language(page, LANGUAGE)
    form = page.locator("form[data-form=status]")
    form.locator("input[name=number]").fill(number)
    form.locator("input[name=phone]").fill(PHONE)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/grievances/status/[0-9a-f-]+/$"))


def test_a_complaint_in_pashto_is_answered_rated_and_an_overdue_one_escalates(
    page: Page,
    deferred: Deferred,
    desks: dict[str, Desk],
    make_staff: Callable[..., Any],
) -> None:
    swat = District.objects.get(name="Swat")
    officer = _officer(make_staff, desks["swat"])

    # She lodges a complaint with her phone number only, in Pashto.
    page.goto(f"/grievances/?lang={LANGUAGE}")
    expect_language(page, LANGUAGE)
    axe_check(page, "complaints home (ps)", deferred)
    page.locator("a[data-action=lodge]").click()
    page.wait_for_url("**/grievances/new/")
    expect_language(page, LANGUAGE)
    axe_check(page, "lodge form (ps)", deferred)
    form = page.locator("form[data-form=lodge]")
    form.locator("input[name=category][value=payment_not_received]").check()
    form.locator("textarea[name=text]").fill("زما د اکتوبر پیسې په والټ کې نه دي راغلي.")
    form.locator("input[name=phone]").fill(PHONE)
    form.locator("select[name=district]").select_option(str(swat.pk))
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/grievances/status/[0-9a-f-]+/$"))
    expect_language(page, LANGUAGE)
    number_shown = page.locator("[data-tracking-number]")
    expect(number_shown).to_be_visible()
    number = number_shown.get_attribute("data-tracking-number") or ""
    expect(page.locator("dd[data-status=new]")).to_be_visible()
    axe_check(page, "status after lodging (ps)", deferred)
    complaint = Complaint.objects.get(number=number)
    assert complaint.language == "ps" and complaint.desk == desks["swat"]
    sms = OutboundMessage.objects.get(template="grievances.lodged")
    assert sms.language == "ps"

    # The Swat desk takes it and answers it.
    page.context.clear_cookies()
    staff_log_in(page, officer, LANGUAGE)
    page.goto("/grievances/desk/")
    expect_language(page, LANGUAGE)
    row = page.locator(f"tr[data-complaint='{number}']")
    expect(row).to_be_visible()
    axe_check(page, "desk queue (ps)", deferred)
    row.locator("a").click()
    page.wait_for_url(f"**/grievances/desk/{complaint.pk}/")
    expect(page.locator("[data-complaint-text]")).to_contain_text("والټ")
    axe_check(page, "complaint at the desk (ps)", deferred)
    page.locator("form[data-form=take] button[type=submit]").click()
    expect(page.locator("dd[data-status=in_progress]")).to_be_visible()
    answer = page.locator("form[data-form=resolve]")
    answer.locator("select[name=outcome]").select_option("fixed")
    answer.locator("textarea[name=resolution]").fill("پیسې بیا ولیږل شوې، ۲۵ نومبر.")
    answer.locator("button[type=submit]").click()
    expect(page.locator("dd[data-status=resolved]")).to_be_visible()
    axe_check(page, "answered complaint (ps)", deferred)

    # She checks it with its number and her phone, sees the answer and rates it.
    page.context.clear_cookies()
    _check_status(page, number[:4] + " " + number[4:8] + " " + number[8:])
    expect(page.locator("[data-resolution=fixed]")).to_contain_text("۲۵ نومبر")
    axe_check(page, "status with the answer (ps)", deferred)
    rate = page.locator("form[data-form=rate]")
    rate.locator("input[name=rating][value='4']").check()
    rate.locator("button[type=submit]").click()
    expect(page.locator("[data-rating='4']")).to_be_visible()
    axe_check(page, "status after rating (ps)", deferred)
    complaint.refresh_from_db()
    assert complaint.rating == 4

    # A second complaint is not answered in time: the worker escalates it.
    late = services.complaint_lodge(
        category="agent_deduction",
        text="اجنټ له ما نه زر روپۍ واخیستې.",
        phone=PHONE,
        language=LANGUAGE,
        channel="web_phone",
        actor=None,
        district=swat,
    )
    assert services.complaints_escalate_overdue(now=timezone.now() + timedelta(days=6)) == 1
    _check_status(page, late.number)
    expect(page.locator("li[data-event=escalated]")).to_contain_text("Malakand")
    axe_check(page, "status after escalation (ps)", deferred)

    cell = _officer(make_staff, desks["malakand"])
    page.context.clear_cookies()
    staff_log_in(page, cell, LANGUAGE)
    page.goto("/grievances/desk/")
    expect(page.locator(f"tr[data-complaint='{late.number}']")).to_be_visible()
    page.goto("/grievances/desk/dashboard/")
    expect_language(page, LANGUAGE)
    expect(page.locator("svg.bar-chart")).to_have_count(4)
    expect(
        page.locator("table[data-table=chart-category] tr[data-key=agent_deduction] td")
    ).to_have_text("1")
    axe_check(page, "grievance dashboard (ps)", deferred)
    deferred.settle()
