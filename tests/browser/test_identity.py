"""Identity journeys in a real Chromium: an officer enrols a person in Urdu, a citizen
enrols themself in Pashto, a duplicate is caught and resolved, an officer of another
district cannot find, open or compare the person, and bad input gets inline errors in
Urdu. Every page a journey lands on is checked with axe-core against WCAG 2.2 AA, and
forms also for what axe cannot see (named radio groups, help and errors announced)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from rahdari.accounts.roles import Role
from rahdari.core.models import OutboundMessage
from rahdari.identity.forms import (
    AssistedEnrolmentForm,
    DuplicateDecisionForm,
    PhoneCodeForm,
    PhoneStartForm,
    SearchForm,
    SelfEnrolmentForm,
    consent_texts,
)
from rahdari.identity.models import DuplicateCandidate, Enrolment, Person
from rahdari.identity.services import PROBLEM_MESSAGES, PersonData
from tests.browser.conftest import Deferred, axe_check, expect_language, staff_log_in, tr
from tests.identity import conftest as identity_fixtures
from tests.identity.conftest import enrol

pytestmark = pytest.mark.browser

# The reference national-ID register, shared with the identity tests (assigned rather
# than imported so the test arguments do not shadow an import).
registered = identity_fixtures.registered

RAHDARI_NUMBER = re.compile(r"^\d{4} \d{4} \d{4}$")


def _label(language: str, form: Any, name: str) -> str:
    return tr(language, form.base_fields[name].label)


def _field(page: Page, language: str, form: Any, name: str) -> Locator:
    return page.locator("main form").get_by_label(_label(language, form, name), exact=True)


def _choice(page: Page, language: str, label: Any) -> Locator:
    """A radio button by the text of its own choice (``exact`` so Male ≠ Female)."""
    return page.locator("main form").get_by_label(tr(language, label), exact=True)


def _button(page: Page, language: str, name: str) -> Locator:
    return page.locator("main form").get_by_role("button", name=tr(language, name), exact=True)


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "face.png"
    Image.new("RGB", (64, 64), (196, 150, 120)).save(path, format="PNG")
    return path


def _fill_person(
    page: Page, language: str, form: Any, data: PersonData, *, mobile: bool = True
) -> None:
    """Every field of the person form, the way an officer or citizen types it."""
    _choice(page, language, "CNIC (adult)").check()
    _field(page, language, form, "national_id").fill(data.national_id)
    _field(page, language, form, "full_name").fill(data.full_name)
    if data.full_name_ur:
        _field(page, language, form, "full_name_ur").fill(data.full_name_ur)
    _field(page, language, form, "guardian_name").fill(data.guardian_name)
    _field(page, language, form, "date_of_birth").fill(data.date_of_birth.isoformat())
    _choice(page, language, {"M": "Male", "F": "Female"}[data.sex]).check()
    if mobile:
        _field(page, language, form, "mobile").fill(data.mobile)
    _field(page, language, form, "district").select_option(label=data.district.name)
    _field(page, language, form, "tehsil").fill(data.tehsil)
    _field(page, language, form, "village").fill(data.village)


def _group(page: Page, language: str, form: Any, name: str) -> Locator:
    """A set of radio buttons as assistive technology meets it: a named group."""
    label = _label(language, form, name)
    main = page.locator("main form")
    return main.get_by_role("group", name=label, exact=True).or_(
        main.get_by_role("radiogroup", name=label, exact=True)
    )


def _known_bug(deferred: Deferred, bug: str, check: Callable[[], None]) -> None:
    """A check whose failure is a reported bug (accessibility checks axe does not make,
    among others): the journey goes on and the test ends as xfail naming it. Once the
    bug is fixed the check passes and nothing needs to change here."""
    try:
        check()
    except AssertionError:
        deferred.add(bug)


RADIO_GROUP_BUG = (
    "includes/field.html renders a radio set with <label for=''> instead of "
    "<fieldset><legend>, so the group ({}) has no accessible name (WCAG 1.3.1)"
)


@contextmanager
def _error_page(page: Page, path: str, status: int) -> Iterator[Page]:
    """Open `path`, which must answer `status`, in a second tab of the same session.

    Chromium reports a document's 4xx on the console, which the `page` fixture rightly
    counts as a failure; this tab allows exactly that one message and nothing else."""
    tab = page.context.new_page()
    problems: list[tuple[str, str]] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append((message.text, message.location.get("url", "")))

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append((f"script error: {error}", tab.url)))
    response = tab.goto(path)
    assert response is not None and response.status == status, (path, response)
    expected = f"Failed to load resource: the server responded with a status of {status}"
    try:
        yield tab
        unexpected = [
            f"{text} ({url})"
            for text, url in problems
            if not (text.startswith(expected) and url == response.url)
        ]
        assert not unexpected, "\n".join(unexpected)
    finally:
        tab.close()


def _open_residents(page: Page, language: str) -> None:
    page.locator("nav.main-nav").get_by_role("link", name=tr(language, "Residents")).click()
    page.wait_for_url("**/identity/")
    expect_language(page, language)


def _open_enrolment_form(page: Page, language: str) -> None:
    _open_residents(page, language)
    page.locator("main").get_by_role("link", name=tr(language, "Enrol a person")).click()
    page.wait_for_url("**/identity/enrol/")
    expect_language(page, language)


def test_officer_enrols_a_person_in_urdu(
    page: Page, deferred: Deferred, make_staff: Any, registered: Any, tmp_path: Path
) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered(full_name="Gul Bibi Yousafzai", full_name_ur="گل بی بی یوسفزئی")
    staff_log_in(page, officer, language="ur")
    _open_residents(page, "ur")
    axe_check(page, "residents (ur)", deferred)
    _open_enrolment_form(page, "ur")
    axe_check(page, "enrol a person (ur)", deferred)

    form = AssistedEnrolmentForm
    # The purpose is shown in each language the person may read or hear.
    for code in ("ur", "ps", "en"):
        expect(page.locator(f"main .consent-{code}")).to_be_visible()
    for name in ("id_document", "sex", "consent_language"):
        _known_bug(
            deferred,
            RADIO_GROUP_BUG.format(name),
            lambda name=name: expect(_group(page, "ur", form, name)).to_have_count(1, timeout=500),
        )
    photo = _field(page, "ur", form, "photo")
    help_text = tr("ur", form.base_fields["photo"].help_text)
    _known_bug(
        deferred,
        "includes/field.html gives the help text id '<id>_help' but Django points the "
        "input's aria-describedby at '<id>_helptext': the photo rules are not announced",
        lambda: expect(photo).to_have_accessible_description(help_text, timeout=500),
    )

    _fill_person(page, "ur", form, data)
    photo.set_input_files(_photo(tmp_path))
    _choice(page, "ur", "پښتو").check()
    _field(page, "ur", form, "consent").check()
    _button(page, "ur", "Enrol").click()

    page.wait_for_url(re.compile(r"/identity/enrolments/[0-9a-f-]{36}/$"))
    expect_language(page, "ur")
    expect(page.locator("[data-enrolment-status=approved]")).to_be_visible()
    number = page.locator("[data-rahdari-number]")
    expect(number).to_have_text(RAHDARI_NUMBER)
    axe_check(page, "enrolment approved (ur)", deferred)

    enrolment = Enrolment.objects.select_related("person__district").get()
    person = enrolment.person
    assert number.inner_text().replace(" ", "") == person.rahdari_number
    assert enrolment.officer == officer and enrolment.consent_language == "ps"
    assert enrolment.consent_purpose == consent_texts()["ps"]  # the text the person heard
    assert person.full_name_ur == "گل بی بی یوسفزئی" and person.district.name == "Swat"
    assert person.photo, "the uploaded photo was not kept"
    deferred.settle()


def test_citizen_enrols_themself_in_pashto(page: Page, deferred: Deferred, registered: Any) -> None:
    data = registered(full_name="Zarmina Afridi", district="Peshawar")
    page.goto("/identity/enrol/self/?lang=ps")
    expect_language(page, "ps")
    axe_check(page, "self-enrolment: mobile (ps)", deferred)
    mobile_start = _field(page, "ps", PhoneStartForm, "mobile")

    # A number that is not a Pakistani mobile is refused, and no SMS goes out.
    mobile_start.fill("0912 345678")  # a Peshawar landline
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        _button(page, "ps", "Send me a code").click()
    assert answer.value.status == 200
    invalid = tr("ps", "Enter a Pakistani mobile number, for example 0300 1234567.")
    expect(page.locator("main [role=alert]")).to_contain_text(invalid)
    assert not OutboundMessage.objects.exists()
    axe_check(page, "self-enrolment: mobile refused (ps)", deferred)
    _known_bug(
        deferred,
        "self-enrolment start: phone_code_request reports the error on field 'phone', the "
        "form field is 'mobile', so the error is a form-level one, not tied to the input",
        lambda: expect(mobile_start).to_have_accessible_description(invalid, timeout=500),
    )

    local = "0" + data.mobile.removeprefix("+92")  # as people write it: 0345…
    mobile_start.fill(local)
    _button(page, "ps", "Send me a code").click()
    code_field = _field(page, "ps", PhoneCodeForm, "code")
    expect(code_field).to_be_visible()
    expect(page.locator("main [role=status]")).to_contain_text(data.mobile[-4:])
    expect_language(page, "ps")
    axe_check(page, "self-enrolment: code (ps)", deferred)
    message = OutboundMessage.objects.get(template="accounts.phone_code")
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match, "the SMS carries no 6-digit code"
    code_field.fill(match.group(1))
    _button(page, "ps", "Continue").click()

    form = SelfEnrolmentForm
    mobile = _field(page, "ps", form, "mobile")
    expect(mobile).to_be_disabled()
    expect(mobile).to_have_value(data.mobile)  # the number just proved, in E.164
    expect_language(page, "ps")
    axe_check(page, "self-enrolment: details (ps)", deferred)
    _fill_person(page, "ps", form, data, mobile=False)
    _field(page, "ps", form, "consent").check()
    _button(page, "ps", "Send my enrolment").click()

    page.wait_for_url(re.compile(r"/identity/enrolments/[0-9a-f-]{36}/$"))
    expect_language(page, "ps")
    number = page.locator("[data-rahdari-number]")
    expect(number).to_have_text(RAHDARI_NUMBER)
    shown = number.inner_text()
    axe_check(page, "self-enrolment: enrolment (ps)", deferred)

    page.locator("nav.main-nav").get_by_role("link", name=tr("ps", "My ID record")).click()
    page.wait_for_url("**/identity/me/")
    expect_language(page, "ps")
    expect(page.locator("[data-rahdari-number]")).to_have_text(shown)
    expect(page.locator("main .person-card")).to_contain_text(data.full_name)
    axe_check(page, "my ID record (ps)", deferred)

    person = Person.objects.select_related("account").get()
    assert person.status == "active" and person.mobile == data.mobile
    assert person.account is not None and person.account.preferred_language == "ps"
    assert Enrolment.objects.get().consent_purpose == consent_texts()["ps"]
    deferred.settle()


def _transliterated_pair(registered: Any, **second: Any) -> tuple[PersonData, PersonData]:
    """One man as two enrolments would spell him; both CNICs are known to the register."""
    same = {"sex": "M", "mobile": "+923451234001"}
    first = registered(full_name="Muhammad Yousaf Khan", guardian_name="Gul Muhammad", **same)
    variant = registered(
        full_name="Mohammad Yusuf Khan", guardian_name="Gul Mohammad", **same, **second
    )
    return first, variant


def _enrol_on_the_page(page: Page, language: str, data: PersonData) -> None:
    _open_enrolment_form(page, language)
    _fill_person(page, language, AssistedEnrolmentForm, data)
    _field(page, language, AssistedEnrolmentForm, "consent").check()
    _button(page, language, "Enrol").click()
    page.wait_for_url(re.compile(r"/identity/enrolments/[0-9a-f-]{36}/$"))


def test_duplicate_is_caught_and_resolved_by_an_officer(
    page: Page, deferred: Deferred, make_staff: Any, registered: Any
) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    first, variant = _transliterated_pair(registered)
    enrol(first, officer)
    staff_log_in(page, officer)
    _enrol_on_the_page(page, "en", variant)

    status = page.locator("[data-enrolment-status=duplicate_review]")
    expect(status).to_contain_text(
        tr("en", "This person may already be enrolled. An officer will compare the records.")
    )
    expect(page.locator("[data-rahdari-number]")).to_have_count(0)
    axe_check(page, "enrolment in duplicate review", deferred)

    _open_residents(page, "en")
    expect(page.locator("main [data-count=duplicates]")).to_contain_text("1")
    page.locator("main").get_by_role("link", name="Possible duplicates").click()
    page.wait_for_url("**/identity/duplicates/")
    axe_check(page, "duplicate queue", deferred)
    page.locator("main").get_by_role("link", name="Compare").click()
    page.wait_for_url(re.compile(r"/identity/duplicates/[0-9a-f-]{36}/$"))

    cards = page.locator("main .side-by-side .person-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text(variant.full_name)  # the new enrolment
    expect(cards.nth(1)).to_contain_text(first.full_name)  # already enrolled
    axe_check(page, "compare two records", deferred)
    _known_bug(
        deferred,
        RADIO_GROUP_BUG.format("decision"),
        lambda: expect(_group(page, "en", DuplicateDecisionForm, "decision")).to_have_count(
            1, timeout=500
        ),
    )
    same = DuplicateDecisionForm.base_fields["decision"].choices[0][1]
    _choice(page, "en", same).check()
    _field(page, "en", DuplicateDecisionForm, "reason").fill("Same photo and father; new CNIC")
    _button(page, "en", "Record the decision").click()

    page.wait_for_url("**/identity/duplicates/")
    expect(page.locator("main [role=status]")).to_contain_text(tr("en", "Decision recorded."))
    expect(page.locator("main [data-duplicate-link]")).to_have_count(0)
    expect(page.locator("main tbody")).to_contain_text(tr("en", "Nothing to check."))
    axe_check(page, "duplicate queue, emptied", deferred)

    candidate = DuplicateCandidate.objects.select_related("new_person").get()
    assert candidate.status == "merged" and candidate.decided_by == officer
    assert candidate.new_person.full_name == variant.full_name
    assert candidate.new_person.merged_into_id == candidate.existing_person_id
    assert candidate.new_person.enrolments.get().status == "rejected"
    deferred.settle()


def test_officer_of_another_district_cannot_find_or_open_the_person(
    page: Page, deferred: Deferred, make_staff: Any, registered: Any
) -> None:
    swat_officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    mardan_officer = make_staff(Role.ENROLMENT_OFFICER, ["Mardan"])
    swat = Person.objects.get(pk=enrol(registered(), swat_officer).person_id)
    mardan_person = registered(
        district="Mardan",
        full_name="Shah Wali Khattak",
        guardian_name="Said Akbar",
        sex="M",
        date_of_birth=date(1979, 7, 2),
    )
    mardan = Person.objects.get(pk=enrol(mardan_person, mardan_officer).person_id)
    assert swat.rahdari_number and mardan.rahdari_number

    staff_log_in(page, mardan_officer, language="ur")
    _open_residents(page, "ur")
    search = _field(page, "ur", SearchForm, "q")
    results = page.locator("#search-results")

    # The search finds a person of the officer's own district by Rahdari number…
    search.fill(mardan.rahdari_number)
    _button(page, "ur", "Search").click()
    expect(results.locator(f"a[href='/identity/persons/{mardan.pk}/']")).to_be_visible()
    # …and nobody for the number of a person of another district.
    search.fill(swat.rahdari_number)
    _button(page, "ur", "Search").click()
    expect(results).to_contain_text(tr("ur", "Nobody found in your districts."))
    expect(results.locator("a")).to_have_count(0)
    axe_check(page, "residents search, no result (ur)", deferred)

    # Typing the address of the Swat record gives the ordinary "page not found".
    with _error_page(page, f"/identity/persons/{swat.pk}/", 404) as missing:
        expect_language(missing, "ur")
        expect(missing.locator("main h1")).to_have_text(tr("ur", "Page not found"))
        expect(missing.locator("main")).not_to_contain_text(swat.full_name)
        axe_check(missing, "person of another district: 404 (ur)", deferred)
    deferred.settle()


def test_cross_district_duplicate_does_not_show_the_other_districts_person(
    page: Page, deferred: Deferred, make_staff: Any, registered: Any
) -> None:
    """A person who moved from Swat to Mardan is enrolled again there: the pair needs a
    review, but a Mardan officer still must not read the Swat record. Either the pair is
    left to someone who sees both districts, or the Swat side is shown without the data."""
    swat_officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    mardan_officer = make_staff(Role.ENROLMENT_OFFICER, ["Mardan"])
    in_swat, in_mardan = _transliterated_pair(registered, district="Mardan")
    enrol(in_swat, swat_officer)
    staff_log_in(page, mardan_officer)
    _enrol_on_the_page(page, "en", in_mardan)
    expect(page.locator("[data-enrolment-status=duplicate_review]")).to_be_visible()

    _open_residents(page, "en")
    page.locator("main").get_by_role("link", name="Possible duplicates").click()
    page.wait_for_url("**/identity/duplicates/")
    compare = page.locator("main [data-duplicate-link]")
    href = compare.first.get_attribute("href") if compare.count() else None
    probe = page.request.get(href) if href else None
    if probe is not None and probe.status >= 500:
        # Probed outside the tab so that the `page` fixture's 5xx check does not end the
        # test as an error before the report.
        deferred.add(
            f"GET {href} answers {probe.status}: duplicate_detail() calls person_view() "
            "on the Swat person for a Mardan officer, which raises Forbidden (uncaught)"
        )
    elif href:
        compare.first.click()
        page.wait_for_url(re.compile(r"/identity/duplicates/[0-9a-f-]{36}/$"))
        expect(page.locator("main .person-card").first).to_contain_text(in_mardan.full_name)
        axe_check(page, "compare, cross-district", deferred)
        main = page.locator("main")
        _known_bug(
            deferred,
            "duplicate compare page shows a Mardan officer the full Swat record (name, CNIC, "
            "mobile): open_duplicates_for() scopes by new_person only",
            lambda: (
                expect(main).not_to_contain_text(in_swat.full_name, timeout=500),
                expect(main).not_to_contain_text(in_swat.national_id[-7:], timeout=500),
            ),
        )
    deferred.settle()


def test_bad_input_gets_inline_errors_in_urdu_and_saves_nothing(
    page: Page, deferred: Deferred, make_staff: Any, registered: Any
) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered(sex="F")  # the CNIC ends in an even digit
    staff_log_in(page, officer, language="ur")
    _open_enrolment_form(page, "ur")
    form = AssistedEnrolmentForm
    _fill_person(page, "ur", form, data)
    _choice(page, "ur", "Male").check()  # contradicts the CNIC's last digit
    _field(page, "ur", form, "date_of_birth").fill("2999-01-01")
    _field(page, "ur", form, "consent").check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        _button(page, "ur", "Enrol").click()
    assert answer.value.status == 200

    expect_language(page, "ur")
    main = page.locator("main")
    sex_errors = main.locator(".field", has=page.locator("#id_sex")).locator(".errorlist")
    born_errors = main.locator(".field", has=page.locator("#id_date_of_birth")).locator(
        ".errorlist"
    )
    expect(sex_errors).not_to_be_empty()
    expect(born_errors).not_to_be_empty()
    _known_bug(
        deferred,
        "identity/services.py builds PROBLEM_MESSAGES at import with eager gettext "
        "(`gettext as _`), so these field errors are always English: use gettext_lazy",
        lambda: (
            expect(sex_errors).to_have_text(
                tr("ur", PROBLEM_MESSAGES["sex_contradicts_national_id"]), timeout=500
            ),
            expect(born_errors).to_have_text(
                tr("ur", PROBLEM_MESSAGES["future_birth_date"]), timeout=500
            ),
        ),
    )
    # The errors are announced with their fields.
    born = _field(page, "ur", form, "date_of_birth")
    expect(born).to_have_attribute("aria-invalid", "true")
    expect(born).to_have_accessible_description(born_errors.inner_text().strip())
    sex_error = sex_errors.inner_text().strip()
    _known_bug(
        deferred,
        "the sex error is not tied to the radio buttons (no group carrying "
        "aria-describedby): includes/field.html needs <fieldset aria-describedby=...>",
        lambda: expect(_group(page, "ur", form, "sex")).to_have_accessible_description(
            sex_error, timeout=500
        ),
    )
    # What was typed stays in the form.
    expect(_field(page, "ur", form, "full_name")).to_have_value(data.full_name)
    expect(_field(page, "ur", form, "national_id")).to_have_value(data.national_id)
    axe_check(page, "enrolment form with errors (ur)", deferred)
    assert not Person.objects.exists() and not Enrolment.objects.exists()

    # Corrected, the same form goes through.
    _choice(page, "ur", "Female").check()
    born.fill(data.date_of_birth.isoformat())
    _field(page, "ur", form, "consent").check()
    _button(page, "ur", "Enrol").click()
    page.wait_for_url(re.compile(r"/identity/enrolments/[0-9a-f-]{36}/$"))
    expect(page.locator("[data-rahdari-number]")).to_have_text(RAHDARI_NUMBER)
    assert Person.objects.get().date_of_birth == data.date_of_birth.isoformat()
    deferred.settle()
