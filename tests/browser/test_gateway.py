"""Service desk journeys in a real Chromium: a hospital operator in Urdu scans a citizen's
QR with the camera, the citizen reads out the SMS code, the details appear and "admitted"
is recorded; the citizen (Pashto) then sees the release and its receipt. A standing
consent, asked for at the first visit, releases without a code at the second. A person
who answers on their phone updates the waiting counter by itself. Every page state is
checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import ngettext
from playwright.sync_api import Browser, Locator, Page, expect

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.core.models import OutboundMessage
from rahdari.credentials.models import Credential
from rahdari.gateway import services
from rahdari.gateway.forms import OUTCOME_LABELS, CodeForm, OutcomeForm, ScanForm
from rahdari.gateway.models import ConsentRequest, Release, Service
from rahdari.identity.models import Person
from rahdari.identity.rules import format_rahdari_number
from tests.browser import test_credentials as credential_journeys
from tests.browser.conftest import (
    TIMEOUT_MS,
    Deferred,
    axe_check,
    expect_language,
    staff_log_in,
    tr,
    watch_problems,
)
from tests.credentials import conftest as credential_fixtures
from tests.gateway.conftest import last_code
from tests.identity import conftest as identity_fixtures

pytestmark = pytest.mark.browser

# Fixtures of the identity and credential tests (assigned rather than imported so the
# test arguments do not shadow an import), and the fake camera of the verifier's tests.
registered = identity_fixtures.registered
officer = credential_fixtures.officer
active_person = credential_fixtures.active_person
camera_page = credential_journeys.camera_page

URDU_NAME = "گل بی بی"
HOSPITAL = "Saidu Teaching Hospital, Swat"
SEHAT = ["identity.name", "identity.birth", "identity.guardian", "identity.photo"]
DESK = "/gateway/desk/sehat-card/"


@pytest.fixture
def hospital_operator(
    transactional_db: None, make_staff: Callable[..., User]
) -> Callable[..., User]:
    """`hospital_operator()`: a counter operator of a hospital that runs the Sehat Card."""

    def make() -> User:
        # A transactional test's flush empties the catalogue the migration loaded.
        launch = importlib.import_module("rahdari.gateway.migrations.0002_launch_services")
        for row in launch.SERVICES:
            Service.objects.update_or_create(slug=row["slug"], defaults=row)
        partner, _client_id, _secret = services.partner_register(
            name=HOSPITAL,
            department="Health Department",
            contact_email="admissions@example.gov.pk",
            services=Service.objects.filter(slug="sehat-card"),
            allowed_scopes=SEHAT,
            actor=make_staff(Role.ADMINISTRATOR),
        )
        operator = make_staff(Role.SERVICE_OPERATOR, full_name="Counter Operator")
        partner.operators.add(operator)
        return operator

    return make


def _main(page: Page) -> Locator:
    return page.locator("main")


def _field(page: Page, language: str, form: Any, name: str) -> Locator:
    label = tr(language, form.base_fields[name].label)
    return page.locator("main form").get_by_label(label, exact=True)


def _button(page: Page, language: str, name: str) -> Locator:
    return page.locator("main form").get_by_role("button", name=tr(language, name), exact=True)


def _nav(page: Page, language: str, name: str) -> Locator:
    return page.locator("nav.main-nav").get_by_role("link", name=tr(language, name), exact=True)


def _state(page: Page, state: str) -> Locator:
    return page.locator(f"#desk-state [data-desk-state={state}]")


def _open_desk(page: Page, language: str) -> None:
    """From the workspace: the navigation's Service desk, then the hospital's service."""
    _nav(page, language, "Service desk").click()
    page.wait_for_url("**/gateway/desk/")
    expect_language(page, language)
    expect(_main(page).locator("h2")).to_have_text(HOSPITAL)
    _main(page).locator('a[data-service="sehat-card"]').click()
    page.wait_for_url(f"**{DESK}")
    expect_language(page, language)
    expect(_state(page, "scan")).to_be_visible()


def _type_and_ask(page: Page, language: str, text: str, remember: bool = False) -> None:
    """What a hand-held scanner (or an operator typing the number) does."""
    _field(page, language, ScanForm, "qr").fill(text)
    if remember:
        _field(page, language, ScanForm, "remember").check()
    with page.expect_navigation():
        _button(page, language, "Ask for the details").click()
    expect_language(page, language)


def _give_code(page: Page, language: str, code: str) -> None:
    _field(page, language, CodeForm, "code").fill(code)
    with page.expect_navigation():
        _button(page, language, "Check the code").click()
    expect_language(page, language)


def _expect_released(page: Page, person: Person) -> Locator:
    shown = _state(page, "released")
    expect(shown).to_be_visible()
    expect(shown).to_be_focused()  # a screen reader reads the result first
    card = shown.locator("dl.person-card")
    expect(card.locator('[data-attribute="full_name"]')).to_have_text(person.full_name)
    expect(card.locator('[data-attribute="full_name_ur"]')).to_have_text(URDU_NAME)
    expect(card.locator('[data-attribute="full_name_ur"]')).to_have_attribute("lang", "ur")
    expect(card.locator('[data-attribute="guardian_name"]')).to_have_text(person.guardian_name)
    expect(card.locator('[data-attribute="date_of_birth"]')).to_have_text(person.date_of_birth)
    expect(card.locator('[data-attribute="rahdari_number"]')).to_have_text(
        format_rahdari_number(person.rahdari_number or "")
    )
    photo = shown.locator("img.verify-photo")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0"), "the photo did not load"
    return shown


def _record(page: Page, language: str, outcome: str) -> None:
    group = tr(language, OutcomeForm.base_fields["outcome"].label)
    choices = page.locator("main form").get_by_role("group", name=group, exact=True)
    choices.get_by_label(tr(language, OUTCOME_LABELS[outcome]), exact=True).check()
    with page.expect_navigation():
        _button(page, language, "Record and take the next person").click()
    expect_language(page, language)
    expect(_main(page).locator("[role=status]")).to_contain_text(
        tr(language, OUTCOME_LABELS[outcome])
    )
    expect(_state(page, "scan")).to_be_visible()


def _consent_codes() -> int:
    return OutboundMessage.objects.filter(template__startswith="gateway.consent_code").count()


def test_hospital_operator_scans_with_the_camera_in_urdu_and_the_citizen_sees_the_receipt(
    camera_page: Any,
    page: Page,
    deferred: Deferred,
    active_person: Any,
    hospital_operator: Any,
    make_citizen: Any,
) -> None:
    person = active_person(full_name_ur=URDU_NAME)
    cnic, phone = "1730198765431", "+923001987654"
    citizen = make_citizen(cnic=cnic, phone=phone, language="ps")
    Person.objects.filter(pk=person.pk).update(account=citizen)
    credential = Credential.objects.get(person=person, status="active")
    operator = hospital_operator()

    tab = camera_page(credential_journeys._qr_on_white(credential.qr_compact))
    staff_log_in(tab, operator, language="ur")
    _open_desk(tab, "ur")
    expect(tab.locator("main h1")).to_have_text(
        Service.objects.get(slug="sehat-card").name_ur or ""
    )
    axe_check(tab, "service desk: scan (ur)", deferred)

    start = _main(tab).get_by_role("button", name=tr("ur", "Scan with the camera"), exact=True)
    expect(start).to_be_visible()  # scan.js found a camera and jsQR
    with tab.expect_navigation(wait_until="load"):
        start.click()  # the scanner submits what it read
    expect_language(tab, "ur")
    waiting = _state(tab, "pending")
    expect(waiting.locator("h2")).to_have_text(
        tr("ur", "Ask the person for the 6-digit code from their SMS")
    )
    expect(waiting.locator("[data-desk-poll]")).to_have_attribute("hx-trigger", re.compile("every"))
    assert "/gateway/desk/sehat-card/" in tab.url and person.rahdari_number not in tab.url
    expect(_main(tab)).not_to_contain_text(person.full_name)  # nothing before consent
    axe_check(tab, "service desk: waiting for the code (ur)", deferred)

    # The person reads a wrong code first: the counter is told how many tries are left.
    code = last_code(person)
    _give_code(tab, "ur", "000000" if code != "000000" else "111111")
    error = _main(tab).locator(".field-error [role=alert]")
    with translation.override("ur"):
        told = ngettext(
            "The code is not right. %(left)d try left.",
            "The code is not right. %(left)d tries left.",
            2,
        ) % {"left": 2}
    expect(error).to_contain_text(told)
    axe_check(tab, "service desk: wrong code (ur)", deferred)

    _give_code(tab, "ur", code)
    shown = _expect_released(tab, person)
    release = Release.objects.get(request__person=person)
    expect(shown.locator("[data-receipt]")).to_have_text(str(release.pk))
    axe_check(tab, "service desk: released (ur)", deferred)

    _record(tab, "ur", "admitted")
    expect(_main(tab).locator("[role=status]")).to_contain_text(str(release.pk)[:8])
    expect(_main(tab)).not_to_contain_text(person.full_name)  # ready for the next person
    axe_check(tab, "service desk: outcome recorded (ur)", deferred)
    assert ConsentRequest.objects.get(pk=release.request_id).outcome == "admitted"

    # The citizen sees who saw what, and why, with the receipt.
    credential_journeys._citizen_log_in(page, "ps", cnic, phone)
    _nav(page, "ps", "My data sharing").click()
    page.wait_for_url("**/gateway/me/")
    expect_language(page, "ps")
    row = page.locator(f'main tr[data-release="{release.pk}"]')
    expect(row).to_contain_text(HOSPITAL)
    receipt = row.get_by_role("link", name=str(release.pk)[:8], exact=True)
    expect(receipt).to_be_visible()
    axe_check(page, "my data sharing after the desk (ps)", deferred)
    with page.expect_download() as started:
        receipt.click()
    assert started.value.suggested_filename == f"receipt-{release.pk}.json"
    deferred.settle()


def test_standing_consent_asked_at_the_first_visit_skips_the_code_at_the_second(
    page: Page, deferred: Deferred, active_person: Any, hospital_operator: Any
) -> None:
    person = active_person(full_name_ur=URDU_NAME)
    credential = Credential.objects.get(person=person, status="active")
    operator = hospital_operator()
    staff_log_in(page, operator, language="ur")
    _open_desk(page, "ur")

    # A number nobody has: a clear refusal in Urdu, and the form is still there.
    _type_and_ask(page, "ur", "1234 5678 9012")
    error = _main(page).locator(".field-error [role=alert]")
    expect(error).to_have_text(tr("ur", "No active person with this Rahdari number."))
    axe_check(page, "service desk: unknown person (ur)", deferred)

    remember = _field(page, "ur", ScanForm, "remember")
    expect(remember).to_have_accessible_description(
        tr("ur", ScanForm.base_fields["remember"].help_text)
    )
    _type_and_ask(page, "ur", credential.qr_compact, remember=True)
    expect(_state(page, "pending")).to_be_visible()
    assert OutboundMessage.objects.filter(template="gateway.consent_code_standing").count() == 1
    _give_code(page, "ur", last_code(person))
    _expect_released(page, person)
    _record(page, "ur", "outpatient")

    # The second visit: the Rahdari number typed, released at once under the consent.
    sent = _consent_codes()
    _type_and_ask(page, "ur", format_rahdari_number(person.rahdari_number or ""))
    shown = _expect_released(page, person)
    release = Release.objects.filter(request__person=person).latest("released_at")
    assert release.consent_type == "standing" and release.consent is not None
    expect(shown).to_contain_text(tr("ur", Release.ConsentType.STANDING.label))
    expect(shown.locator("[data-receipt]")).to_have_text(str(release.pk))
    assert _consent_codes() == sent, "a standing consent needs no code"
    axe_check(page, "service desk: released under a standing consent (ur)", deferred)
    _record(page, "ur", "referred")
    deferred.settle()


def test_the_waiting_counter_updates_when_the_person_agrees_on_their_phone(
    page: Page,
    browser: Browser,
    live_server: Any,
    deferred: Deferred,
    active_person: Any,
    hospital_operator: Any,
    make_citizen: Any,
) -> None:
    person = active_person(full_name_ur=URDU_NAME)
    cnic, phone = "1730198765433", "+923001987655"
    citizen = make_citizen(cnic=cnic, phone=phone, language="ps")
    Person.objects.filter(pk=person.pk).update(account=citizen)
    credential = Credential.objects.get(person=person, status="active")
    staff_log_in(page, hospital_operator())
    _open_desk(page, "en")
    _type_and_ask(page, "en", credential.qr_compact)
    expect(_state(page, "pending")).to_be_visible()

    phone_context = browser.new_context(locale="en-US", base_url=live_server.url)
    phone_context.set_default_timeout(TIMEOUT_MS)
    on_phone = phone_context.new_page()
    problems = watch_problems(on_phone)
    try:
        credential_journeys._citizen_log_in(on_phone, "ps", cnic, phone)
        on_phone.goto("/gateway/me/")
        ask = on_phone.locator("main form.consent-ask")
        expect(ask).to_contain_text(HOSPITAL)
        axe_check(on_phone, "my data sharing: a request waits (ps)", deferred)
        with on_phone.expect_navigation():
            ask.get_by_role("button", name=tr("ps", "Agree"), exact=True).click()
    finally:
        phone_context.close()
    assert not problems, "\n".join(problems)

    # No click at the counter: the page's poll brings the details in.
    released = page.locator("#desk-state [data-desk-state=released]")
    expect(released).to_be_visible(timeout=TIMEOUT_MS)
    expect(released.locator('[data-attribute="full_name"]')).to_have_text(person.full_name)
    assert Release.objects.get(request__person=person).collection_method == "web_approval"
    axe_check(page, "service desk: released after an answer on the phone", deferred)
    _record(page, "en", "admitted")
    deferred.settle()


def test_only_the_hospitals_operators_see_the_desk(
    page: Page, deferred: Deferred, make_staff: Any, hospital_operator: Any
) -> None:
    hospital_operator()
    outsider = make_staff(Role.SERVICE_OPERATOR)  # an operator, but of no partner
    staff_log_in(page, outsider, language="ur")
    expect(_nav(page, "ur", "Service desk")).to_have_count(0)
    # Fetched with the tab's cookies (a 4xx document would be a console error).
    assert page.request.get(DESK).status == 403
    assert page.request.get("/gateway/desk/").ok  # the index says whom to ask
    deferred.settle()
