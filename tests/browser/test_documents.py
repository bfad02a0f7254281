"""Documents in a real Chromium: a citizen sends a photo of her ID card from "My
documents" in Urdu (right to left), and an enrolment officer at the office opens it
inline; the look is recorded on her. Each page state is checked with axe-core."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from rahdari.accounts.forms import CnicForm, LoginCodeForm
from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.core.models import OutboundMessage
from rahdari.documents.models import DocumentVersion
from rahdari.documents.services import READ_PURPOSE
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person
from tests.browser.conftest import Deferred, axe_check, expect_language, staff_log_in, tr
from tests.documents.conftest import photo
from tests.identity import conftest as identity_fixtures

pytestmark = pytest.mark.browser

registered = identity_fixtures.registered
LANGUAGE = "ur"


@pytest.fixture(autouse=True)
def _documents_dir(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "documents")},
        },
    }
    settings.RAHDARI_CLAMAV_SOCKET = ""


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


def test_a_citizen_sends_a_photo_in_urdu_and_an_officer_views_it_inline(
    page: Page,
    deferred: Deferred,
    registered: Callable[..., Any],
    make_staff: Callable[..., User],
    make_citizen: Callable[..., User],
) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"], full_name="Aisha Khan")
    enrolment = identity_fixtures.enrol(registered(), officer)
    person = Person.objects.get(pk=enrolment.person_id)
    cnic = "1730198765432"
    citizen = make_citizen(cnic=cnic, phone=str(person.mobile), language=LANGUAGE)
    Person.objects.filter(pk=person.pk).update(account=citizen)

    _citizen_log_in(page, LANGUAGE, cnic)
    page.locator("nav.main-nav").get_by_role(
        "link", name=tr(LANGUAGE, "My documents"), exact=True
    ).click()
    page.wait_for_url("**/documents/")
    expect_language(page, LANGUAGE)
    main = page.locator("main")
    file_input = main.locator("input[type=file]")
    expect(file_input).to_have_attribute("accept", "image/*,application/pdf")
    expect(file_input).to_have_attribute("capture", "environment")
    axe_check(page, "my documents, empty (ur)", deferred)

    # The button without a paper: the refusal is next to the field, in Urdu.
    main.get_by_role("radio", name=tr(LANGUAGE, "ID card (CNIC) — front")).check()
    main.get_by_role("button", name=tr(LANGUAGE, "Send"), exact=True).click()
    expect(main.locator("#id_file_error")).to_be_visible()
    expect_language(page, LANGUAGE)
    axe_check(page, "my documents, no file chosen (ur)", deferred)

    main.get_by_role("radio", name=tr(LANGUAGE, "ID card (CNIC) — front")).check()
    picture = photo((1200, 800), gps=True)
    file_input.set_input_files(
        {"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": picture}
    )
    main.get_by_role("button", name=tr(LANGUAGE, "Send"), exact=True).click()
    page.wait_for_url("**/documents/")
    row = main.locator("[data-kind=cnic_front]")
    expect(row).to_be_visible()
    expect(row.get_by_role("link")).to_have_attribute(
        "href", f"/documents/versions/{DocumentVersion.objects.get().pk}/"
    )
    axe_check(page, "my documents, one paper (ur)", deferred)
    version = DocumentVersion.objects.get()
    assert version.uploaded_by == citizen and not version.assisted

    # The officer at the office: finds her, opens the paper; it shows inline.
    page.context.clear_cookies()
    staff_log_in(page, officer)
    page.locator("nav.main-nav").get_by_role("link", name="Documents", exact=True).click()
    page.wait_for_url("**/documents/office/")
    axe_check(page, "documents office (en)", deferred)
    page.get_by_label("Rahdari number").fill(str(person.rahdari_number))
    page.locator("main form").get_by_role("button", name="Open her documents").click()
    page.wait_for_url(f"**/documents/office/{person.pk}/")
    axe_check(page, "her documents (en)", deferred)
    page.locator("[data-kind=cnic_front]").get_by_role("link", name="Open version 1").click()
    page.wait_for_url(f"**/documents/versions/{version.pk}/")
    image = page.locator(".document-viewer img")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('.document-viewer img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1200, 800]
    axe_check(page, "the inline viewer (en)", deferred)

    read = identity.reads_of(person).filter(changes__fields=["documents.cnic_front"]).get()
    assert read.actor == officer and read.changes["purpose"] == READ_PURPOSE
    # What reached the officer is the cleaned photo: no EXIF location.
    response = page.request.get(f"/documents/versions/{version.pk}/content")
    assert response.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(response.body())) as served:
        assert not served.getexif()
    deferred.settle()
