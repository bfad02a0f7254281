"""Applying for the cash transfer, in a real Chromium, in Urdu (right to left).

A woman of Swat opens "My applications", applies to the cash transfer: the form shows
what the ID and the registry already know, she photographs both sides of her ID card
right on the application and sends it; the number she can read out appears. A program
officer finds it in the work queue, takes it up and asks for a clearer photo. She sees
the request, sends a new photo and answers; the officer approves it. She sees the whole
timeline, and every step reached her phone as an SMS in Urdu. Each page state is
checked with axe-core against WCAG 2.2 AA.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.applications.models import Application
from rahdari.core.models import OutboundMessage
from rahdari.identity.models import Person
from rahdari.programs.models import Beneficiary
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
from tests.documents import conftest as document_fixtures
from tests.identity import conftest as identity_fixtures
from tests.payments import conftest as payment_fixtures
from tests.registry import conftest as registry_fixtures

pytestmark = pytest.mark.browser

enrolled_payee = payment_fixtures.enrolled_payee
approved_run = payment_fixtures.approved_run
officers = payment_fixtures.officers
registered = identity_fixtures.registered
make_household = registry_fixtures.make_household
survey_round = registry_fixtures.survey_round
documents_dir = document_fixtures.documents_dir

LANGUAGE = "ur"


@pytest.fixture(autouse=True)
def _codes(settings: Any) -> None:
    settings.CITIZEN_OTP_MAX_PER_WINDOW = 20


def _photo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(document_fixtures.photo(gps=True))
    return path


def test_she_applies_answers_a_request_and_is_approved_in_urdu(
    page: Page,
    browser: Browser,
    live_server: Any,
    deferred: Deferred,
    tmp_path: Path,
    make_staff: Callable[..., User],
    enrolled_payee: Callable[..., Person],
    make_citizen: Callable[..., User],
    approved_run: Callable[[], Any],
) -> None:
    approved_run()
    person = enrolled_payee()
    Beneficiary.objects.filter(household__members__person=person).delete()
    cnic = "1730198765411"
    citizen = make_citizen(cnic=cnic, phone=str(person.mobile), language=LANGUAGE)
    Person.objects.filter(pk=person.pk).update(account=citizen)
    officer = make_staff(Role.PROGRAM_OFFICER, ["Swat"], full_name="Saima Yousaf")

    # She applies: what is known is shown, the papers are asked for.
    _citizen_log_in(page, LANGUAGE, cnic)
    page.goto("/applications/")
    expect_language(page, LANGUAGE)
    axe_check(page, "my applications (ur)", deferred)
    page.locator('[data-program="cash-transfer"]').get_by_role(
        "button", name=tr(LANGUAGE, "Apply")
    ).click()
    application = Application.objects.get(person=person)
    page.wait_for_url(f"**/applications/{application.pk}/")
    expect_language(page, LANGUAGE)
    main = page.locator("main")
    expect(main.locator("dl.facts")).to_contain_text(str(person.guardian_name))
    expect(main.locator('[data-paper="cnic_front"]')).to_have_attribute("data-have", "no")
    axe_check(page, "a new application (ur)", deferred)

    # Sending without papers is refused, naming them.
    main.get_by_role("button", name=tr(LANGUAGE, "Send the application")).click()
    expect(main.locator(".messages, [role=alert]").first).to_contain_text(
        tr(LANGUAGE, "ID card (CNIC) — front")
    )
    for kind, name in (("cnic_front", "front.jpg"), ("cnic_back", "back.jpg")):
        main.locator("#id_paper_kind").select_option(kind)
        main.locator("input[type=file]").set_input_files(_photo(tmp_path, name))
        main.get_by_role("button", name=tr(LANGUAGE, "Send this paper")).click()
        page.wait_for_url(f"**/applications/{application.pk}/*")
        expect(main.locator(f'[data-paper="{kind}"]')).to_have_attribute("data-have", "yes")
    main.get_by_label(tr(LANGUAGE, "Anything the officer should know (optional)")).fill(
        "ہم چھ لوگ ہیں، شوہر دیہاڑی دار مزدور ہیں۔"
    )
    main.get_by_role("button", name=tr(LANGUAGE, "Send the application")).click()
    page.wait_for_url(f"**/applications/{application.pk}/")
    expect(main.locator("[data-status]").first).to_have_attribute("data-status", "submitted")
    expect(main.locator(f'[data-number="{application.number}"]')).to_be_visible()
    axe_check(page, "application sent (ur)", deferred)

    # The officer takes it up from the queue and asks for a clearer photo.
    context = browser.new_context(locale="ur-PK", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    office = context.new_page()
    problems = watch_problems(office)
    request = "پشت کی تصویر دھندلی ہے، صاف تصویر بھیجیں۔"
    try:
        staff_log_in(office, officer, LANGUAGE)
        office.goto("/applications/queue/")
        expect_language(office, LANGUAGE)
        row = office.locator(f'tr[data-number="{application.number}"]')
        expect(row).to_be_visible()
        axe_check(office, "work queue (ur)", deferred)
        row.get_by_role("link").click()
        office.wait_for_url(f"**/applications/review/{application.pk}/")
        desk = office.locator("main")
        expect(desk.locator("[data-rules]")).to_have_attribute("data-rules", "eligible")
        axe_check(office, "review (ur)", deferred)
        desk.get_by_role("button", name=tr(LANGUAGE, "Take up for review")).click()
        office.wait_for_url(f"**/applications/review/{application.pk}/")
        desk.get_by_label(tr(LANGUAGE, "Reason (the applicant reads this)")).fill(request)
        desk.get_by_role("button", name=tr(LANGUAGE, "Ask for more information")).click()
        office.wait_for_url(f"**/applications/review/{application.pk}/")
        expect(desk.locator("[data-status]").first).to_have_attribute(
            "data-status", "info_requested"
        )

        # She sees the request, sends a clearer photo and answers.
        page.reload()
        expect(main.locator("[data-request]")).to_have_text(request)
        axe_check(page, "information requested (ur)", deferred)
        main.locator("#id_paper_kind").select_option("cnic_back")
        main.locator("input[type=file]").set_input_files(_photo(tmp_path, "back2.jpg"))
        main.get_by_role("button", name=tr(LANGUAGE, "Send this paper")).click()
        page.wait_for_url(f"**/applications/{application.pk}/*")
        main.get_by_role("button", name=tr(LANGUAGE, "Send my answer")).click()
        page.wait_for_url(f"**/applications/{application.pk}/")
        expect(main.locator("[data-status]").first).to_have_attribute("data-status", "submitted")

        # The officer approves.
        office.reload()
        desk.get_by_role("button", name=tr(LANGUAGE, "Take up for review")).click()
        office.wait_for_url(f"**/applications/review/{application.pk}/")
        desk.get_by_role("button", name=tr(LANGUAGE, "Approve")).click()
        office.wait_for_url(f"**/applications/review/{application.pk}/")
        expect(desk.locator("[data-status]").first).to_have_attribute("data-status", "approved")
        axe_check(office, "approved (ur)", deferred)
    finally:
        context.close()
    assert not problems, "\n".join(problems)

    # Her timeline, and an SMS in Urdu for every step.
    page.reload()
    expect(main.locator("[data-status]").first).to_have_attribute("data-status", "approved")
    steps = main.locator("[data-timeline] [data-status]")
    expect(steps).to_have_count(7)
    axe_check(page, "approved, with the timeline (ur)", deferred)
    texts = [
        m.template
        for m in OutboundMessage.objects.order_by("created_at")
        if m.recipient == person.mobile and m.template.startswith("applications.")
    ]
    assert texts == [
        "applications.submitted",
        "applications.under_review",
        "applications.info_requested",
        "applications.submitted",
        "applications.under_review",
        "applications.approved",
    ]
    assert all(
        m.language == LANGUAGE
        for m in OutboundMessage.objects.filter(template__startswith="applications.")
    )
    assert Beneficiary.objects.filter(household__members__person=person, status="active").exists()
    deferred.settle()
