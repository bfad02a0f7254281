"""Documents pages: a citizen's "My documents" and her uploads, the officer's assisted
upload and inline viewer, refusals in the user's language, and district scoping."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from django.utils import translation

from rahdari.documents import services
from rahdari.documents.models import Document, DocumentVersion
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person
from tests.documents.conftest import EXECUTABLE, logged_in, pdf, photo, stored_files

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "ur", "ps"]


def tr(language: str, message: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def refusal(language: str, code: str) -> str:
    with translation.override(language):
        return services.refusal_message(code)


def _html(response: Any) -> str:
    return str(response.content.decode())


def _send(client: Client, url: str, data: bytes, kind: str = "cnic_front", **extra: Any) -> Any:
    return client.post(url, {"kind": kind, "file": _named(data, "photo.jpg")}, **extra)


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


@pytest.mark.parametrize("language", LANGUAGES)
def test_my_documents_explains_each_kind_and_opens_the_camera(citizen: Any, language: str) -> None:
    response = logged_in(citizen).get(reverse("documents:mine") + f"?lang={language}")
    html = _html(response)
    assert response.status_code == 200
    assert f'lang="{language}"' in html
    assert tr(language, "My documents") in html
    assert tr(language, "ID card (CNIC) — front") in html
    assert tr(language, "The side of your ID card with your photo.") in html
    assert 'accept="image/*,application/pdf"' in html and 'capture="environment"' in html
    assert 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_renamed_executable_is_refused_in_her_language(
    citizen: Any, language: str, documents_dir: Path
) -> None:
    client = logged_in(citizen)
    url = reverse("documents:my_upload") + f"?lang={language}"
    response = _send(client, url, EXECUTABLE)
    assert response.status_code == 200
    assert refusal(language, "unsupported_type") in _html(response)
    assert stored_files(documents_dir) == [] and not Document.objects.exists()


def test_she_uploads_a_photo_and_sees_it_with_its_versions(
    citizen: Any, person: Person, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(citizen)
    with django_capture_on_commit_callbacks(execute=True):
        first = _send(client, reverse("documents:my_upload"), photo(gps=True))
        second = _send(client, reverse("documents:my_upload"), photo((640, 480)))
    assert first.status_code == second.status_code == 302
    versions = list(DocumentVersion.objects.filter(document__person=person).order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert not any(v.assisted for v in versions) and versions[0].uploaded_by == citizen
    page = _html(client.get(reverse("documents:mine")))
    assert reverse("documents:view", kwargs={"version_id": versions[1].pk}) in page
    assert reverse("documents:view", kwargs={"version_id": versions[0].pk}) in page
    content = client.get(reverse("documents:content", kwargs={"version_id": versions[0].pk}))
    assert content["Content-Type"] == "image/jpeg"
    assert b"Exif" not in content.content  # read back: the location is gone
    assert not identity.reads_of(person).exists()  # her own looks are not "reads"


def test_oversize_is_refused_before_the_body_is_read(
    citizen: Any, settings: Any, documents_dir: Path
) -> None:
    settings.RAHDARI_DOCUMENT_MAX_BYTES = 100_000
    response = _send(logged_in(citizen), reverse("documents:my_upload"), b"\xff" * 300_000)
    assert response.status_code == 413
    assert refusal("en", "too_large") in _html(response)
    assert stored_files(documents_dir) == []


def test_an_upload_cut_off_half_way_is_refused(citizen: Any, documents_dir: Path) -> None:
    client = logged_in(citizen)
    # The browser announced the whole body, the connection delivered half of it.
    body = encode_multipart(BOUNDARY, {"kind": "photo", "file": _named(photo(), "p.jpg")})
    cut = body[: len(body) // 2]
    response = client.generic(
        "POST",
        reverse("documents:my_upload"),
        data=cut,
        content_type=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": io.BytesIO(cut)},
    )
    assert response.status_code == 200
    assert refusal("en", "incomplete_upload") in _html(response)
    assert stored_files(documents_dir) == [] and not Document.objects.exists()


def test_the_officer_uploads_for_her_and_views_it_inline(
    officer: Any, person: Person, citizen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(officer)
    page = client.get(reverse("documents:person", kwargs={"person_id": person.pk}))
    assert page.status_code == 200 and 'capture="environment"' in _html(page)
    url = reverse("documents:person_upload", kwargs={"person_id": person.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"kind": "income_proof", "file": _named(pdf(), "a.pdf")})
    assert response.status_code == 302
    version = DocumentVersion.objects.get()
    assert version.assisted and version.uploaded_by == officer
    viewer = client.get(reverse("documents:view", kwargs={"version_id": version.pk}))
    content_url = reverse("documents:content", kwargs={"version_id": version.pk})
    assert f'<iframe src="{content_url}"' in _html(viewer)
    content = client.get(content_url)
    assert content.status_code == 200 and content.content.startswith(b"%PDF")
    assert content["Content-Type"] == "application/pdf"
    assert content["Content-Disposition"] == 'inline; filename="income_proof-v1.pdf"'
    assert content["X-Content-Type-Options"] == "nosniff"
    assert content["Content-Security-Policy"].startswith("sandbox;")
    assert content["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in content["Cache-Control"]
    # She sees who looked at her papers, on "My documents" and on her ID record.
    reads = identity.reads_of(person)
    assert reads.filter(changes__fields=["documents.income_proof"]).count() == 1
    assert reads.filter(changes__fields=["documents"]).exists()  # the list she has
    mine = _html(logged_in(citizen).get(reverse("documents:mine")))
    assert "Aisha Khan" in mine and tr("en", services.READ_PURPOSE) in mine


def test_a_photo_is_shown_in_an_img(officer: Any, person: Person) -> None:
    version = services.document_upload(person=person, kind="photo", data=photo(), actor=None)
    html = _html(
        logged_in(officer).get(reverse("documents:view", kwargs={"version_id": version.pk}))
    )
    url = reverse("documents:content", kwargs={"version_id": version.pk})
    assert f'<img src="{url}"' in html


def test_another_districts_officer_gets_404(mardan_officer: Any, person: Person) -> None:
    version = services.document_upload(person=person, kind="photo", data=photo(), actor=None)
    client = logged_in(mardan_officer)
    for url in (
        reverse("documents:person", kwargs={"person_id": person.pk}),
        reverse("documents:view", kwargs={"version_id": version.pk}),
        reverse("documents:content", kwargs={"version_id": version.pk}),
    ):
        assert client.get(url).status_code == 404, url
    upload = reverse("documents:person_upload", kwargs={"person_id": person.pk})
    assert _send(client, upload, photo()).status_code == 404
    assert DocumentVersion.objects.count() == 1
    assert not identity.reads_of(person).exists()


def test_another_citizen_gets_404(person: Person, make_citizen: Any) -> None:
    version = services.document_upload(person=person, kind="photo", data=photo(), actor=None)
    stranger = logged_in(make_citizen())
    url = reverse("documents:content", kwargs={"version_id": version.pk})
    assert stranger.get(url).status_code == 404


def test_the_officer_finds_her_by_rahdari_number(officer: Any, person: Person) -> None:
    client = logged_in(officer)
    response = client.post(reverse("documents:office"), {"rahdari_number": person.rahdari_number})
    assert response.status_code == 302
    assert response["Location"] == reverse("documents:person", kwargs={"person_id": person.pk})


def test_citizens_and_officers_get_their_nav_item(citizen: Any, officer: Any) -> None:
    assert reverse("documents:mine") in _html(logged_in(citizen).get(reverse("core:home")))
    assert reverse("documents:office") in _html(logged_in(officer).get(reverse("core:home")))


def test_the_pages_take_as_many_queries_for_many_papers_as_for_one(
    citizen: Any, officer: Any, person: Person
) -> None:
    """No query per document or per version (an N+1 would show as a growing count)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def counts() -> tuple[int, int]:
        mine, hers = logged_in(citizen), logged_in(officer)
        with CaptureQueriesContext(connection) as own:
            assert mine.get(reverse("documents:mine")).status_code == 200
        with CaptureQueriesContext(connection) as office:
            url = reverse("documents:person", kwargs={"person_id": person.pk})
            assert hers.get(url).status_code == 200
        return len(own), len(office)

    services.document_upload(person=person, kind="photo", data=photo((320, 240)), actor=None)
    one = counts()
    for kind in ("cnic_front", "cnic_back", "b_form", "income_proof"):
        for _ in range(2):
            services.document_upload(person=person, kind=kind, data=pdf(), actor=None)
    assert counts() == one


def test_a_file_over_the_limit_within_the_envelope_is_stopped_while_received(
    citizen: Any, settings: Any, documents_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The announced size passes the first check (limit + room for the form), the file
    itself is over the limit: reading stops there and the refusal says why."""
    settings.RAHDARI_DOCUMENT_MAX_BYTES = 100_000

    def never(*_args: Any, **_kw: Any) -> None:
        raise AssertionError("the upload handler should have stopped this file")

    monkeypatch.setattr(services.content, "clean", never)
    response = _send(logged_in(citizen), reverse("documents:my_upload"), b"\xff" * 130_000)
    assert response.status_code == 200
    assert refusal("en", "too_large") in _html(response)
    assert stored_files(documents_dir) == [] and not Document.objects.exists()
