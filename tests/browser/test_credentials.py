"""QR credential journeys in a real Chromium: a counter checks a photo of a citizen's QR
in Urdu and catches a forged one, a counter scans a QR with the camera in Pashto (a fake
camera playing a video of the QR), a citizen shows and downloads their QR and ID card in
Pashto, and an officer revokes or suspends a credential, which the verifier then refuses.
Every page state is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect
from pypdf import PdfReader

from rahdari.accounts.forms import CnicForm, LoginCodeForm
from rahdari.core import qr
from rahdari.core.models import OutboundMessage
from rahdari.credentials import cwt
from rahdari.credentials.forms import ReasonForm, VerifyForm
from rahdari.credentials.models import Credential
from rahdari.credentials.selectors import REASON_TEXTS
from rahdari.identity.forms import PurposeForm, StatusForm
from rahdari.identity.models import Person
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    Deferred,
    axe_check,
    expect_language,
    staff_log_in,
    tr,
    watch_problems,
)
from tests.credentials import conftest as credential_fixtures
from tests.identity import conftest as identity_fixtures

pytestmark = pytest.mark.browser

# Fixtures of the identity and credential tests (assigned rather than imported so the
# test arguments do not shadow an import): `active_person` enrols and approves a person
# in Swat, and the enrolment event issues their credential; `officer` enrolled them.
registered = identity_fixtures.registered
officer = credential_fixtures.officer
active_person = credential_fixtures.active_person

URDU_NAME = "گل بی بی"


# --- helpers -----------------------------------------------------------------------------


def _credential(person: Person) -> Credential:
    return Credential.objects.get(person=person, status="active")


def _tampered(text: str) -> str:
    """The same QR with one bit of its signature flipped: well-formed, but forged."""
    raw = bytearray(cwt._inflate(cwt.b45decode(text)))
    raw[-5] ^= 0x01
    return cwt.b45encode(zlib.compress(bytes(raw)))


def _field(page: Page, language: str, form: Any, name: str) -> Locator:
    label = tr(language, form.base_fields[name].label)
    return page.locator("main form").get_by_label(label, exact=True)


def _button(page: Page, language: str, name: str) -> Locator:
    return page.locator("main form").get_by_role("button", name=tr(language, name), exact=True)


def _nav(page: Page, language: str, name: str) -> Locator:
    return page.locator("nav.main-nav").get_by_role("link", name=tr(language, name), exact=True)


def _rgb(locator: Locator) -> tuple[int, int, int]:
    css = locator.evaluate("e => getComputedStyle(e).backgroundColor")
    red, green, blue = (int(v) for v in re.findall(r"\d+", css)[:3])
    return red, green, blue


def _expect_verdict(page: Page, language: str, reason: str) -> Locator:
    """The verifier's result: green for a valid QR, red otherwise, big, with the reason
    in the page's language."""
    result = page.locator("main section.verify-result")
    expect(result).to_have_attribute("data-reason", reason)
    expect(result).to_be_focused()  # a screen reader reads the verdict first
    valid = reason == cwt.VALID
    expect(result).to_have_class(re.compile(r"\bverify-ok\b" if valid else r"\bverify-bad\b"))
    expect(result).to_have_attribute("role", "status")
    verdict = result.locator(".verify-verdict")
    expect(verdict).to_have_text(tr(language, "Valid" if valid else "Not valid"))
    expect(result.locator(".verify-message")).to_have_text(tr(language, REASON_TEXTS[reason]))
    red, green, blue = _rgb(result)
    assert (green > red) if valid else (red > green), f"{reason} on rgb({red}, {green}, {blue})"
    size = float(verdict.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
    assert size >= 32, f"the verdict is {size}px, too small to read across a counter"
    return result


def _check_qr_text(page: Page, language: str, text: str) -> None:
    """What a hand-held scanner does: type the QR text into the box, then Check."""
    _field(page, language, VerifyForm, "qr").fill(text)
    with page.expect_navigation():
        _button(page, language, "Check").click()
    expect_language(page, language)


def _open_person(page: Page, language: str, person: Person) -> None:
    """An officer opens the record, giving the reason the person will see (asked once
    per session and record)."""
    page.goto(f"/identity/persons/{person.pk}/")
    expect_language(page, language)
    heading = page.locator("main h1")
    expect(heading).to_have_text(
        re.compile(re.escape(tr(language, "Open a record")) + "|" + re.escape(person.full_name))
    )
    if heading.inner_text().strip() != person.full_name:
        _field(page, language, PurposeForm, "purpose").fill("Counter reported a lost card")
        _button(page, language, "Open the record").click()
    expect(heading).to_have_text(person.full_name)


FRAME_SIZE = (640, 480)


def _qr_on_white(text: str) -> Image.Image:
    """A 640×480 frame: the QR as a phone shows it, as large as fits, on white."""
    width, height = FRAME_SIZE
    for scale in range(6, 0, -1):
        symbol = Image.open(io.BytesIO(qr.qr_png(text, scale=scale))).convert("L")
        if symbol.width <= height - 40:
            break
    frame = Image.new("L", FRAME_SIZE, 255)
    frame.paste(symbol, ((width - symbol.width) // 2, (height - symbol.height) // 2))
    return frame.convert("RGB")


def _write_y4m(path: Path, frame: Image.Image, frames: int = 5) -> Path:
    """A short YUV4MPEG2 video of one still frame, for Chromium's fake camera.

    C420jpeg is full-range YCbCr with 2×2 chroma subsampling: Pillow's YCbCr is the
    JPEG conversion, and NumPy averages each 2×2 block of the chroma planes."""
    width, height = frame.size
    ycc = np.asarray(frame.convert("YCbCr"), dtype=np.float32)

    def subsample(plane: np.ndarray) -> bytes:
        blocks = plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        return bytes(np.clip(np.rint(blocks), 0, 255).astype(np.uint8).tobytes())

    luma = ycc[:, :, 0].astype(np.uint8).tobytes()
    chroma = subsample(ycc[:, :, 1]) + subsample(ycc[:, :, 2])
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma)
    return path


@pytest.fixture
def camera_page(browser: Browser, live_server: Any, tmp_path: Path) -> Iterator[Any]:
    """`camera_page(frame)`: a tab of a Chromium of its own whose camera films `frame`
    (a y4m video; Chromium's fake capture device, permission granted). Like the `page`
    fixture, any console or script error and any 5xx fails the test."""
    launched: list[Browser] = []
    watched: list[list[str]] = []

    def launch(frame: Image.Image) -> Page:
        video = _write_y4m(tmp_path / "camera.y4m", frame).resolve()
        args = [
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",  # no permission prompt
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ]
        chromium = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
        launched.append(chromium)
        context = chromium.new_context(locale="en-US", base_url=live_server.url)
        context.grant_permissions(["camera"], origin=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        tab = context.new_page()
        watched.append(watch_problems(tab))
        return tab

    yield launch
    for chromium in launched:
        chromium.close()
    problems = [problem for found in watched for problem in found]
    assert not problems, "\n".join(problems)


# --- journeys ----------------------------------------------------------------------------


def test_counter_checks_a_photo_of_the_qr_then_catches_a_forgery_in_urdu(
    page: Page, deferred: Deferred, active_person: Any, tmp_path: Path
) -> None:
    person = active_person(full_name_ur=URDU_NAME)
    credential = _credential(person)
    photo = tmp_path / "qr-photo.png"
    photo.write_bytes(qr.qr_png(credential.qr_card, ec_level="M"))  # the printed card's QR

    # Anyone may check a QR: the counter operator needs no account.
    page.goto("/credentials/verify/?lang=ur")
    expect_language(page, "ur")
    expect(page.locator("main h1")).to_have_text(tr("ur", "Check a QR ID"))
    expect(page.locator("main section.verify-result")).to_have_count(0)
    for name in ("qr", "image"):  # the help is announced with each field
        help_text = tr("ur", VerifyForm.base_fields[name].help_text)
        expect(_field(page, "ur", VerifyForm, name)).to_have_accessible_description(help_text)
    axe_check(page, "verifier (ur)", deferred)

    _field(page, "ur", VerifyForm, "image").set_input_files(photo)
    with page.expect_navigation():
        _button(page, "ur", "Check").click()
    expect_language(page, "ur")
    result = _expect_verdict(page, "ur", cwt.VALID)
    face = result.locator("img.verify-photo")
    expect(face).to_be_visible()
    expect(face).to_have_attribute("alt", tr("ur", "Photo in the QR code"))
    expect(face).to_have_attribute("src", re.compile(r"^data:image/webp;base64,"))
    assert face.evaluate("img => img.complete && img.naturalWidth > 0"), "the face did not load"
    card = result.locator("dl.person-card")
    expect(card).to_contain_text(person.full_name)
    expect(card.locator("dd[lang=ur]")).to_have_text(URDU_NAME)
    expect(card).to_contain_text(person.district.name_ur)  # سوات, in an Urdu page
    expect(card).to_contain_text(person.rahdari_number[:4])
    axe_check(page, "verifier: valid photo (ur)", deferred)

    _check_qr_text(page, "ur", _tampered(credential.qr_compact))
    result = _expect_verdict(page, "ur", cwt.BAD_SIGNATURE)
    # Nothing from a forged QR is shown.
    expect(result.locator("dl.person-card")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(person.full_name)
    axe_check(page, "verifier: forged QR (ur)", deferred)
    deferred.settle()


def test_counter_scans_the_qr_with_the_camera_in_pashto(
    camera_page: Any, transactional_db: None, deferred: Deferred, active_person: Any
) -> None:
    """Headless Chromium's fake camera plays a video of the citizen's phone screen; the
    page's scanner (getUserMedia + jsQR) reads it and submits the form by itself."""
    person = active_person()
    credential = _credential(person)
    tab = camera_page(_qr_on_white(credential.qr_compact))
    tab.goto("/credentials/verify/?lang=ps")
    expect_language(tab, "ps")
    start = tab.locator("main").get_by_role("button", name=tr("ps", "Scan with the camera"))
    expect(start).to_be_visible()  # scan.js found a camera API and jsQR
    axe_check(tab, "verifier with a camera (ps)", deferred)

    with tab.expect_navigation(wait_until="load"):
        start.click()  # no further click: the scanner submits what it read
    expect_language(tab, "ps")
    result = _expect_verdict(tab, "ps", cwt.VALID)
    expect(result.locator("dl.person-card")).to_contain_text(person.full_name)
    # The form was sent with exactly the text of the QR on the phone.
    expect(_field(tab, "ps", VerifyForm, "qr")).to_have_value(credential.qr_compact)
    axe_check(tab, "verifier: scanned with the camera (ps)", deferred)
    deferred.settle()


def _citizen_log_in(page: Page, language: str, cnic: str, phone: str) -> None:
    page.goto(f"/accounts/login/citizen/?lang={language}")
    page.get_by_label(tr(language, CnicForm.base_fields["cnic"].label)).fill(cnic)
    page.locator("main form").get_by_role("button", name=tr(language, "Send me a code")).click()
    code_field = page.get_by_label(tr(language, LoginCodeForm.base_fields["code"].label))
    expect(code_field).to_be_visible()
    expect(page.locator("main [role=status]")).to_contain_text(phone[-4:])
    message = OutboundMessage.objects.filter(template="accounts.login_code").latest("created_at")
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match, "the login SMS carries no 6-digit code"
    code_field.fill(match.group(1))
    page.locator("main form").get_by_role("button", name=tr(language, "Log in")).click()
    page.wait_for_url("**/accounts/me/")


def test_citizen_shows_and_downloads_their_qr_in_pashto(
    page: Page, deferred: Deferred, active_person: Any, make_citizen: Any
) -> None:
    person = active_person(full_name_ur=URDU_NAME)
    cnic, phone = "1730198765431", "+923001987654"
    citizen = make_citizen(cnic=cnic, phone=phone, language="ps")
    Person.objects.filter(pk=person.pk).update(account=citizen)
    credential = _credential(person)
    _citizen_log_in(page, "ps", cnic, phone)

    _nav(page, "ps", "My QR ID").click()
    page.wait_for_url("**/credentials/me/")
    expect_language(page, "ps")
    expect(page.locator("main h1")).to_have_text(tr("ps", "My QR ID"))
    image = page.locator("main").get_by_role("img", name=tr("ps", "Your QR code"), exact=True)
    svg = image.locator("svg")
    expect(svg).to_be_visible()
    # The code on the screen is the one a counter reads: decode a screenshot of it.
    assert qr.read_qr_texts(svg.screenshot()) == [credential.qr_compact]
    main = page.locator("main")
    expect(main.locator(".person-card")).to_contain_text(person.full_name)
    expect(main.locator(".person-card [lang=ur]")).to_have_text(URDU_NAME)
    number = person.rahdari_number
    expect(main.locator(".person-card .big")).to_have_text(
        f"{number[:4]} {number[4:8]} {number[8:]}"
    )
    expect(main.get_by_role("button", name=tr("ps", "Print"), exact=True)).to_be_visible()
    axe_check(page, "my QR (ps)", deferred)

    def download(name: str) -> tuple[str, bytes]:
        with page.expect_download() as started:
            main.get_by_role("link", name=tr("ps", name), exact=True).click()
        done = started.value
        assert done.failure() is None, done.failure()
        return done.suggested_filename, Path(done.path()).read_bytes()

    filename, png = download("Download the QR (PNG)")
    assert filename == "rahdari-qr.png" and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert qr.read_qr_texts(png) == [credential.qr_compact]

    filename, svg_file = download("Download the QR (SVG)")
    assert filename == "rahdari-qr.svg" and b"<svg" in svg_file

    filename, pdf = download("Download my ID card (PDF)")
    assert filename == "rahdari-id-card.pdf" and pdf.startswith(b"%PDF-")
    card = PdfReader(io.BytesIO(pdf))
    assert len(card.pages) == 2  # front and back
    assert person.full_name in card.pages[0].extract_text()
    deferred.settle()


def test_officer_revokes_in_urdu_and_the_verifier_refuses_the_qr(
    page: Page, deferred: Deferred, active_person: Any, officer: Any
) -> None:
    person = active_person()
    credential = _credential(person)
    staff_log_in(page, officer, language="ur")
    _open_person(page, "ur", person)
    page.locator("main").get_by_role("link", name=tr("ur", "QR credential"), exact=True).click()
    page.wait_for_url(f"**/credentials/persons/{person.pk}/")
    expect_language(page, "ur")
    current = page.locator("main dl.person-card")
    expect(current.locator(".status-ok")).to_have_text(tr("ur", Credential.Status.ACTIVE.label))
    expect(current).to_contain_text(credential.key.kid)
    axe_check(page, "person's credential (ur)", deferred)

    what = tr("ur", ReasonForm.base_fields["action"].label)
    expect(page.locator("main form").get_by_role("group", name=what, exact=True)).to_be_visible()
    reason = _field(page, "ur", ReasonForm, "reason")
    expect(reason).to_have_accessible_description(
        tr("ur", ReasonForm.base_fields["reason"].help_text)
    )
    revoke = dict(ReasonForm.ACTIONS)["revoke"]
    page.locator("main form").get_by_label(tr("ur", revoke), exact=True).check()
    reason.fill("reported stolen")
    with page.expect_navigation():
        _button(page, "ur", "Confirm").click()
    page.wait_for_url(f"**/credentials/persons/{person.pk}/")
    expect_language(page, "ur")
    expect(page.locator("main [role=status]")).to_contain_text(
        tr("ur", "Done. The status list was updated.")
    )
    expect(page.locator("main")).to_contain_text(tr("ur", "This person has no current credential."))
    history = page.locator("main table tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text(tr("ur", Credential.Status.REVOKED.label))
    expect(history.first).to_contain_text("reported stolen")
    axe_check(page, "person's credential, revoked (ur)", deferred)
    credential.refresh_from_db()
    assert credential.status == "revoked" and credential.status_reason == "reported stolen"

    _nav(page, "ur", "Check a QR ID").click()
    page.wait_for_url("**/credentials/verify/")
    _check_qr_text(page, "ur", credential.qr_compact)
    _expect_verdict(page, "ur", cwt.REVOKED)
    axe_check(page, "verifier: revoked QR (ur)", deferred)
    deferred.settle()


def test_suspending_the_person_suspends_the_qr_until_reinstated(
    page: Page, deferred: Deferred, active_person: Any, officer: Any
) -> None:
    person = active_person()
    credential = _credential(person)
    staff_log_in(page, officer)
    _open_person(page, "en", person)
    axe_check(page, "person record", deferred)

    statuses: Any = StatusForm.base_fields["status"]

    def change_status(status: str, reason: str) -> None:
        choice = dict(statuses.choices)[status]
        _field(page, "en", StatusForm, "status").select_option(label=tr("en", choice))
        _field(page, "en", StatusForm, "reason").fill(reason)
        with page.expect_navigation():
            _button(page, "en", "Change").click()
        expect(page.locator("main [role=status]")).to_contain_text(
            tr("en", "The status was changed.")
        )

    change_status("suspended", "investigation of a complaint")
    person.refresh_from_db()
    credential.refresh_from_db()
    assert person.status == "suspended" and credential.status == "suspended"

    _nav(page, "en", "Check a QR ID").click()
    page.wait_for_url("**/credentials/verify/")
    _check_qr_text(page, "en", credential.qr_compact)
    _expect_verdict(page, "en", cwt.SUSPENDED)
    axe_check(page, "verifier: suspended QR", deferred)

    # Lifting the suspension makes the same QR valid again: no new card is needed.
    _open_person(page, "en", person)
    change_status("active", "complaint withdrawn")
    credential.refresh_from_db()
    assert credential.status == "active"
    page.goto("/credentials/verify/")
    _check_qr_text(page, "en", credential.qr_compact)
    _expect_verdict(page, "en", cwt.VALID)
    deferred.settle()


def test_scanner_shows_the_preview_and_the_camera_can_be_stopped(
    camera_page: Any, transactional_db: None, deferred: Deferred
) -> None:
    """A camera that sees no QR: the preview runs until the operator stops it."""
    tab = camera_page(Image.new("RGB", FRAME_SIZE, (200, 200, 200)))
    tab.goto("/credentials/verify/?lang=ur")
    main = tab.locator("main")
    start = main.get_by_role("button", name=tr("ur", "Scan with the camera"), exact=True)
    stop = main.get_by_role("button", name=tr("ur", "Stop the camera"), exact=True)
    preview = main.locator("video[data-scanner-video]")
    expect(start).to_be_visible()
    expect(preview).to_be_hidden()
    expect(stop).to_be_hidden(timeout=500)
    start.click()
    expect(preview).to_be_visible()
    expect(stop).to_be_visible()
    expect(start).to_be_hidden(timeout=500)
    tab.wait_for_function(
        "() => { const v = document.querySelector('video[data-scanner-video]');"
        " return v.videoWidth > 0 && !v.paused; }"
    )
    axe_check(tab, "verifier: camera preview (ur)", deferred)
    stop.click()
    expect(preview).to_be_hidden()
    expect(start).to_be_visible()
    expect(stop).to_be_hidden(timeout=500)
    live = "() => { const s = document.querySelector('video[data-scanner-video]').srcObject;"
    live += " return !!s && s.getTracks().some(t => t.readyState === 'live'); }"
    assert not tab.evaluate(live), "the camera is still on after Stop"
    assert "/credentials/verify/" in tab.url and not main.locator(".verify-result").count()
    deferred.settle()


def test_without_a_camera_the_scanner_says_so_and_typing_still_works(
    page: Page, deferred: Deferred, active_person: Any
) -> None:
    credential = _credential(active_person())
    page.goto("/credentials/verify/?lang=ps")
    main = page.locator("main")
    start = main.get_by_role("button", name=tr("ps", "Scan with the camera"), exact=True)
    start.click()  # this Chromium has no camera
    note = main.locator("[data-scanner-note]")
    expect(note).to_be_visible()
    expect(note).to_have_text(
        tr("ps", "The camera is not available. Type the code, or take a photo of it below.")
    )
    expect(start).to_be_hidden(timeout=500)
    axe_check(page, "verifier without a camera (ps)", deferred)
    _check_qr_text(page, "ps", credential.qr_compact)
    _expect_verdict(page, "ps", cwt.VALID)
    deferred.settle()
