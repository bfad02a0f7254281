"""Pages: the counter's verifier, My QR, the ID card, officers' actions, public keys and lists."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, ImageFile
from pypdf import PdfReader

from rahdari.accounts.roles import Role
from rahdari.core import qr
from rahdari.core.models import AuditEntry
from rahdari.credentials import cwt, services
from rahdari.credentials.models import CardBatch, Credential
from rahdari.identity.models import Person

pytestmark = pytest.mark.django_db

URDU_INVALID = "درست نہیں"


def _png(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("qr.png", qr.qr_png(text), content_type="image/png")


def _tampered(text: str) -> str:
    raw = bytearray(cwt._inflate(cwt.b45decode(text)))
    raw[-5] ^= 0x01  # a bit of the signature
    return cwt.b45encode(cwt.zlib.compress(bytes(raw)))


@pytest.fixture
def holder(active_person: Callable[..., Person], make_citizen: Callable[..., Any]) -> Any:
    person = active_person()
    citizen = make_citizen(language="ur")
    Person.objects.filter(pk=person.pk).update(account=citizen)
    client = Client()
    client.force_login(citizen)
    client.person = person  # type: ignore[attr-defined]
    client.credential = Credential.objects.get(person=person)  # type: ignore[attr-defined]
    return client


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_verifier_page_opens_in_every_language(client: Client, lang: str) -> None:
    response = client.get(f"/credentials/verify/?lang={lang}")
    assert response.status_code == 200
    assert f'lang="{lang}"' in response.content.decode()
    assert "vendor/jsqr/jsQR.js" in response.content.decode()


def test_valid_qr_text_shows_green_with_name_and_face(client: Client, holder: Any) -> None:
    card = holder.credential.qr_card
    response = client.post("/credentials/verify/?lang=en", {"qr": card})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-reason="valid"' in body and "verify-ok" in body
    assert holder.person.full_name in body and "گل بی بی" in body
    assert "data:image/webp;base64," in body
    assert "Swat" in body


def test_tampered_qr_is_red_with_the_reason_in_urdu(client: Client, holder: Any) -> None:
    response = client.post(
        "/credentials/verify/?lang=ur", {"qr": _tampered(holder.credential.qr_compact)}
    )
    body = response.content.decode()
    assert 'data-reason="bad_signature"' in body and "verify-bad" in body
    assert URDU_INVALID in body
    assert holder.person.full_name not in body  # nothing from a forged QR is shown


def test_revoked_qr_is_red(client: Client, holder: Any, officer: Any) -> None:
    services.credential_revoke(credential=holder.credential, reason="lost", actor=officer)
    body = client.post("/credentials/verify/?lang=en", {"qr": holder.credential.qr_compact})
    assert 'data-reason="revoked"' in body.content.decode()


def test_photo_upload_is_decoded_server_side(client: Client, holder: Any) -> None:
    response = client.post(
        "/credentials/verify/?lang=ps", {"image": _png(holder.credential.qr_compact)}
    )
    assert 'data-reason="valid"' in response.content.decode()


@pytest.mark.parametrize(
    ("upload", "status", "code_text"),
    [
        (SimpleUploadedFile("a.jpg", b"MZ\x90\x00 not an image", "image/jpeg"), 422, "JPEG, PNG"),
        ("blank", 422, "No QR code"),
        (
            SimpleUploadedFile("big.jpg", b"\xff" * (10 * 1024 * 1024 + 1), "image/jpeg"),
            413,
            "10 MB",
        ),
    ],
)
def test_bad_uploads_get_a_clear_error(
    client: Client, upload: Any, status: int, code_text: str
) -> None:
    if upload == "blank":
        out = io.BytesIO()
        Image.new("RGB", (640, 480), (230, 230, 230)).save(out, format="JPEG")
        upload = SimpleUploadedFile("blank.jpg", out.getvalue(), "image/jpeg")
    response = client.post("/credentials/verify/?lang=en", {"image": upload})
    assert response.status_code == status
    assert code_text in response.content.decode()


def test_empty_form_asks_for_a_code(client: Client) -> None:
    response = client.post("/credentials/verify/?lang=en", {})
    assert response.status_code == 200
    assert "Scan a QR code" in response.content.decode()


def test_verifier_is_rate_limited_per_address(client: Client, settings: Any) -> None:
    settings.RAHDARI_VERIFY_RATE_PER_MINUTE = 2
    for _ in range(2):
        assert client.post("/credentials/verify/", {"qr": "X"}).status_code == 200
    response = client.post("/credentials/verify/?lang=en", {"qr": "X"})
    assert response.status_code == 429
    assert "Too many requests" in response.content.decode()


def test_staff_check_is_shown_to_the_person(holder: Any, staff_client: Any) -> None:
    counter = staff_client(Role.SERVICE_OPERATOR, ["Swat"])
    counter.post("/credentials/verify/", {"qr": holder.credential.qr_compact})
    reads = AuditEntry.objects.filter(
        subject_id=str(holder.person.pk), action="identity.person.viewed"
    )
    assert reads.filter(actor=counter.user).exists()
    page = holder.get("/identity/me/?lang=en").content.decode()
    assert counter.user.username in page or "service counter" in page


def test_my_qr_page_and_downloads(holder: Any) -> None:
    page = holder.get("/credentials/me/?lang=ur")
    body = page.content.decode()
    assert page.status_code == 200 and "<svg" in body and 'dir="rtl"' in body
    png = holder.get("/credentials/me/qr.png")
    assert png["Content-Type"] == "image/png"
    assert qr.read_qr_texts(png.content) == [holder.credential.qr_compact]
    svg = holder.get("/credentials/me/qr.svg")
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content


def test_id_card_pdf_has_front_and_back(holder: Any) -> None:
    response = holder.get("/credentials/me/card.pdf?lang=ur")
    assert response["Content-Type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(response.content))
    assert len(pdf.pages) == 2
    fonts = {
        str(font["/BaseFont"])
        for page in pdf.pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert any("NotoNastaliqUrdu" in f.replace("-", "") for f in fonts), fonts
    assert holder.person.full_name in pdf.pages[0].extract_text()
    width, height = pdf.pages[0].mediabox.width, pdf.pages[0].mediabox.height
    assert round(float(width) / 72 * 25.4, 1) == 85.6 and round(float(height) / 72 * 25.4) == 54
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # WeasyPrint's import turned it on
    back = pdf.pages[1]
    assert "/XObject" in back["/Resources"]  # type: ignore[operator]


def test_my_qr_without_credential_explains(make_citizen: Callable[..., Any]) -> None:
    client = Client()
    client.force_login(make_citizen())
    response = client.get("/credentials/me/?lang=en")
    assert response.status_code == 200 and "do not have a QR ID yet" in response.content.decode()
    assert client.get("/credentials/me/qr.png").status_code == 404


def test_staff_cannot_open_my_qr(staff_client: Any) -> None:
    assert staff_client(Role.ENROLMENT_OFFICER, ["Swat"]).get("/credentials/me/").status_code == 403


def test_officer_reissues_then_revokes_from_the_page(
    active_person: Callable[..., Person], staff_client: Any
) -> None:
    person = active_person()
    first = Credential.objects.get(person=person)
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    url = f"/credentials/persons/{person.pk}/?lang=en"
    assert officer.get(url).status_code == 200
    officer.post(url, {"action": "issue", "reason": "card lost"})
    first.refresh_from_db()
    assert first.status == "superseded"
    current = services.current_credential(person)
    assert current is not None
    response = officer.post(url, {"action": "revoke", "reason": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    officer.post(url, {"action": "revoke", "reason": "fraud"})
    current.refresh_from_db()
    assert current.status == "revoked"


def test_officer_of_another_district_cannot_touch_the_credential(
    active_person: Callable[..., Person], staff_client: Any
) -> None:
    person = active_person()
    stranger = staff_client(Role.ENROLMENT_OFFICER, ["Peshawar"])
    assert stranger.get(f"/credentials/persons/{person.pk}/").status_code == 404
    grievance = staff_client(Role.GRIEVANCE_OFFICER, ["Swat"])
    assert grievance.get(f"/credentials/persons/{person.pk}/").status_code == 403


def test_bulk_issue_and_card_batches_from_the_page(
    active_person: Callable[..., Person],
    staff_client: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.VAR_DIR = tmp_path
    persons = [active_person(photo=False) for _ in range(3)]
    Credential.objects.filter(person=persons[0]).delete()
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    from rahdari.core.jobs import job_run
    from rahdari.core.models import District, Job

    swat = District.objects.get(name="Swat")
    response = officer.post(
        "/credentials/bulk/", {"district": swat.pk, "job": "issue", "language": "ur"}
    )
    assert response.status_code == 302
    job = Job.objects.get(kind="credentials.issue_district")
    job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result == {"issued": 1}
    officer.post("/credentials/bulk/", {"district": swat.pk, "job": "cards", "language": "ps"})
    cards = Job.objects.get(kind="credentials.print_cards")
    job_run(job_id=str(cards.pk))
    batch = CardBatch.objects.get()
    assert batch.cards == 3
    download = officer.get(f"/credentials/cards/{batch.pk}/")
    assert download.status_code == 200
    pdf = PdfReader(io.BytesIO(b"".join(download.streaming_content)))
    assert len(pdf.pages) == 6
    assert (
        AuditEntry.objects.filter(action="identity.person.viewed", actor=officer.user).count() == 3
    )


def test_public_keys_and_status_lists(client: Client, holder: Any) -> None:
    keys = client.get("/.well-known/rahdari-keys.json")
    assert keys.status_code == 200 and "max-age" in keys["Cache-Control"]
    keyset = cwt.KeySet.from_json(keys.json())
    status = client.get("/status/1")
    assert status["Content-Type"] == "application/statuslist+cwt"
    status_list = cwt.parse_status_list_token(status.content, keyset)
    verifier = cwt.Verifier(keyset, [status_list])
    assert verifier.verify(holder.credential.qr_compact).valid
    assert client.get("/status/99").status_code == 404


def test_counter_officers_behind_one_address_each_have_their_own_limit(
    staff_client: Any, settings: Any
) -> None:
    settings.RAHDARI_VERIFY_RATE_PER_MINUTE = 1
    first = staff_client(Role.SERVICE_OPERATOR, ["Peshawar"])
    second = staff_client(Role.SERVICE_OPERATOR, ["Peshawar"])
    assert first.post("/credentials/verify/", {"qr": "A"}).status_code == 200
    assert second.post("/credentials/verify/", {"qr": "A"}).status_code == 200
    assert first.post("/credentials/verify/", {"qr": "A"}).status_code == 429
