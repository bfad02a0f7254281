"""A targeting run in a real Chromium, in Urdu (right to left): officer A opens the cash
transfer from the navigation, starts a run and watches the progress bar finish (the
test runs the job, as a worker would, while the page polls); the page tells A that
someone else must approve; officer B opens the run and approves it. Each page state is
checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.core.jobs import job_run
from rahdari.programs import services
from rahdari.programs.models import Beneficiary, TargetingRun
from tests.browser.conftest import (
    TIMEOUT_MS,
    Deferred,
    axe_check,
    expect_language,
    staff_log_in,
    tr,
    watch_problems,
)
from tests.registry import conftest as registry_fixtures

pytestmark = pytest.mark.browser

# The registry tests' fixtures (assigned rather than imported so the test arguments do
# not shadow an import).
survey_round = registry_fixtures.survey_round
make_household = registry_fixtures.make_household

LANGUAGE = "ur"
CASH_TRANSFER_UR = "غیر مشروط نقد مالی امداد"


def test_officer_a_runs_targeting_and_officer_b_approves_it_in_urdu(
    page: Page,
    browser: Browser,
    live_server: Any,
    deferred: Deferred,
    make_staff: Callable[..., User],
    make_household: Callable[..., Any],
) -> None:
    services.programs_seed()  # a transactional test's flush emptied what the migration loaded
    poor = make_household()
    make_household(has_car=True)
    make_household(district="Mardan")
    maker = make_staff(Role.PROGRAM_OFFICER, ["Swat", "Mardan"], full_name="Nasreen Afridi")
    checker = make_staff(Role.PROGRAM_OFFICER, ["Swat", "Mardan"], full_name="Gul Rehman")

    staff_log_in(page, maker, LANGUAGE)
    nav = page.locator("nav.main-nav")
    nav.get_by_role("link", name=tr(LANGUAGE, "Programs"), exact=True).click()
    page.wait_for_url("**/programs/")
    expect_language(page, LANGUAGE)
    axe_check(page, "programs (ur)", deferred)
    page.locator("main").get_by_role("link", name=CASH_TRANSFER_UR).click()
    page.wait_for_url("**/programs/cash-transfer/")
    expect(page.locator("main h1")).to_have_text(CASH_TRANSFER_UR)
    axe_check(page, "program rules (ur)", deferred)

    start = tr(LANGUAGE, "Start a targeting run")
    page.locator("main form").get_by_role("button", name=start, exact=True).click()
    page.wait_for_url("**/programs/runs/*/")
    expect_language(page, LANGUAGE)
    expect(page.locator("[data-run-status=queued]")).to_be_visible()
    expect(page.locator("progress#run-bar")).to_have_attribute("value", "0")
    axe_check(page, "run queued (ur)", deferred)

    # No worker in tests: run the job here, as the worker would, while the page polls.
    run = TargetingRun.objects.get()
    assert page.url.rstrip("/").endswith(str(run.pk))
    job_run(job_id=str(run.job_id))
    expect(page.locator("[data-run-status=computed]")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("progress#run-bar")).to_have_attribute("value", "100")
    expect(page.locator("[data-count=evaluated]")).to_have_text("3")
    expect(page.locator("[data-count=eligible]")).to_have_text("2")
    expect(page.locator("[data-four-eyes]")).to_be_visible()
    approve = tr(LANGUAGE, "Approve the run")
    expect(page.get_by_role("button", name=approve)).to_have_count(0)
    expect(page.locator('tr[data-district="Swat"] th')).to_have_text("سوات")
    axe_check(page, "run computed, seen by its preparer (ur)", deferred)

    # What-if, in place: every household that passes the other rules.
    what_if = page.locator("#whatif")
    what_if.get_by_label(tr(LANGUAGE, "Cut-off to try")).fill("100")
    what_if.get_by_role("button", name=tr(LANGUAGE, "Count"), exact=True).click()
    expect(page.locator('#whatif [data-total="whatif"]')).to_have_text("2")
    axe_check(page, "run with a what-if (ur)", deferred)

    # Officer B, in a browser of their own.
    context = browser.new_context(locale="ur-PK", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    second = context.new_page()
    problems = watch_problems(second)
    try:
        staff_log_in(second, checker, LANGUAGE)
        second.goto(f"/programs/runs/{run.pk}/")
        expect_language(second, LANGUAGE)
        expect(second.locator("[data-four-eyes]")).to_have_count(0)
        axe_check(second, "run computed, seen by a second officer (ur)", deferred)
        second.get_by_role("button", name=approve, exact=True).click()
        expect(second.locator("[data-run-status=approved]")).to_be_visible()
        expect(second.locator("[data-decided]")).to_contain_text(checker.username)
        axe_check(second, "run approved (ur)", deferred)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    run.refresh_from_db()
    assert run.status == "approved" and run.decided_by_id == checker.pk
    assert Beneficiary.objects.filter(household=poor, status="active").exists()
    deferred.settle()
