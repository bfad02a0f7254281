"""The public self-assessment in a real Chromium: a person reads it in Pashto (right to
left), taps the picture buttons and the number steppers through every question to the
result; the same journey works with JavaScript switched off. The start page, question
pages of each kind and the result are checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from rahdari.programs import selfassess, services
from rahdari.programs.definition import seeded_definition
from rahdari.programs.models import ProgramVersion
from rahdari.registry import survey
from tests.browser.conftest import (
    TIMEOUT_MS,
    Deferred,
    axe_check,
    expect_language,
    tr,
    watch_problems,
)
from tests.programs.test_selfassess import POOR

pytestmark = pytest.mark.browser


@pytest.fixture
def programs(transactional_db: None) -> None:
    """The published programs (a transactional test's flush empties what the migration loaded)."""
    services.programs_seed()


def _question(page: Page) -> Any:
    return page.locator('#selfassess form.sa-form input[name="question"]')


def _answer(page: Page, language: str, name: str, raw: str) -> None:
    """Answer the question on screen as a person would: a picture, or − / + and Next."""
    expect(_question(page)).to_have_value(name)
    form = page.locator("#selfassess form.sa-form")
    question = selfassess.QUESTION_BY_VARIABLE[name]
    if question.kind == "number":
        box = form.locator("#sa-answer")
        if name == "household_size":  # the stepper, from an empty box: 1, 2, … 6
            more = form.get_by_role("button", name=tr(language, "More"), exact=True)
            for _ in range(int(raw)):
                more.click()
            expect(box).to_have_value(raw)
        else:
            box.fill(raw)
        if name == "rooms":  # Enter in the box means Next
            box.press("Enter")
        else:
            form.get_by_role("button", name=tr(language, "Next"), exact=True).click()
        return
    choices = selfassess.YES_NO if question.kind == "bool" else question.choices
    label = next(choice.label for choice in choices if choice.value == raw)
    form.get_by_role("button", name=tr(language, label), exact=True).click()


def test_a_person_does_the_self_assessment_in_pashto(
    page: Page, programs: None, deferred: Deferred
) -> None:
    page.goto("/eligibility/?lang=ps")
    expect_language(page, "ps")
    expect(page.locator("main h1")).to_have_text(tr("ps", "Can my family get support?"))
    axe_check(page, "self-assessment start (ps)", deferred)
    page.get_by_role("link", name=tr("ps", "Start"), exact=True).click()
    expect_language(page, "ps")

    checked = set()
    names = list(POOR)
    for number, name in enumerate(names, start=1):
        expect(page.locator("#sa-progress")).to_have_text(
            tr("ps", "Question %(n)s of %(total)s") % {"n": number, "total": len(names)}
        )
        kind = selfassess.QUESTION_BY_VARIABLE[name].kind
        if kind not in checked:  # one page of each kind: pictures, yes/no, a number
            checked.add(kind)
            axe_check(page, f"self-assessment question {name} (ps)", deferred)
        if number > 1:  # htmx swapped the question in: reading starts at its heading
            expect(page.locator("#sa-title")).to_be_focused()
        if name == "rooms":  # a person goes back one question and forward again
            page.get_by_role("button", name=tr("ps", "Back"), exact=True).click()
            expect(_question(page)).to_have_value("head_education_years")
            expect(page.locator("#sa-answer")).to_have_value(POOR["head_education_years"])
            page.get_by_role("button", name=tr("ps", "Next"), exact=True).click()
        if name == "has_tv":  # the header's language links keep the answers too
            page.locator("nav.language-switcher").get_by_role("link", name="اردو").click()
            expect_language(page, "ur")
            expect(_question(page)).to_have_value("has_tv")
            page.locator("nav.language-switcher").get_by_role("link", name="پښتو").click()
            expect_language(page, "ps")
            expect(page.locator("#sa-progress")).to_contain_text(str(len(names)))
        _answer(page, "ps", name, POOR[name])

    results = page.locator(".sa-results")
    expect(results).to_be_visible()
    expect_language(page, "ps")
    cash = seeded_definition("cash-transfer", survey.CATALOGUE).name.ps
    likely = tr("ps", "You are likely eligible for %(name)s") % {"name": cash}
    expect(page.locator('[data-program="cash-transfer"] h2')).to_have_text(likely)
    expect(page.locator('[data-program="cash-transfer"] .sa-amount')).to_contain_text("13,500")
    expect(page.locator("main")).to_contain_text(tr("ps", "Nothing you answered has been saved."))
    axe_check(page, "self-assessment result (ps)", deferred)
    assert ProgramVersion.objects.count() == 3  # and nothing else was written
    deferred.settle()


@pytest.fixture
def no_script_page(browser: Browser, live_server: Any, programs: None) -> Iterator[Page]:
    context = browser.new_context(
        locale="en-US", base_url=live_server.url, java_script_enabled=False
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = watch_problems(tab)
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def test_the_self_assessment_works_without_javascript(no_script_page: Page) -> None:
    page = no_script_page
    page.goto("/eligibility/?lang=ur")
    page.get_by_role("link", name=tr("ur", "Start"), exact=True).click()
    for name in list(POOR)[:2]:
        _answer(page, "ur", name, POOR[name])  # − and + post the form and come back
    expect(_question(page)).to_have_value("dependants")
    page.locator("#sa-answer").fill("40")
    page.get_by_role("button", name=tr("ur", "Next"), exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("(6)")
    expect(_question(page)).to_have_value("dependants")
    # Another language keeps the answers so far.
    page.locator("form.sa-languages").get_by_role("button", name="پښتو").click()
    expect_language(page, "ps")
    expect(_question(page)).to_have_value("dependants")
    page.get_by_role("button", name=tr("ps", "Back"), exact=True).click()
    expect(page.locator("#sa-answer")).to_have_value("6")
