"""Documents API: status, body, and the uniform error shape."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from rahdari.documents.content import sha256
from rahdari.documents.models import DocumentVersion
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person
from tests.documents.conftest import EXECUTABLE, logged_in, pdf, photo, stored_files

pytestmark = pytest.mark.django_db
BASE = "/api/v1/documents"


def _file(data: bytes, name: str = "scan.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return dict(body["error"])


def test_a_citizen_uploads_lists_and_downloads(
    citizen: Any, person: Person, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(citizen)
    original = photo(gps=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}/", {"kind": "cnic_back", "file": _file(original)})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "cnic_back" and body["number"] == 1 and body["assisted"] is False
    assert body["media_type"] == "image/jpeg" and body["original_sha256"] == sha256(original)
    assert body["person_id"] == str(person.pk) and body["scan_status"] == "not_scanned"
    mine = client.get(f"{BASE}/mine").json()
    assert [d["kind"] for d in mine] == ["cnic_back"]
    assert [v["id"] for v in mine[0]["versions"]] == [body["id"]]
    one = client.get(f"{BASE}/{body['document_id']}").json()
    assert one["version_count"] == 1
    content = client.get(body["content_url"])
    assert content.status_code == 200 and sha256(content.content) == body["sha256"]
    # A new version of the same document.
    again = client.post(
        f"{BASE}/",
        {"kind": "cnic_back", "document_id": body["document_id"], "file": _file(pdf(), "x.pdf")},
    )
    assert again.status_code == 201 and again.json()["number"] == 2


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (EXECUTABLE, "unsupported_type"),
        (photo()[:20_000], "truncated"),
        (pdf(javascript=True), "active_pdf"),
        (pdf(password="x"), "encrypted_pdf"),
    ],
)
def test_refusals_have_the_uniform_shape(
    citizen: Any, documents_dir: Path, data: bytes, code: str
) -> None:
    response = logged_in(citizen).post(f"{BASE}/", {"kind": "photo", "file": _file(data)})
    error = _error(response, 422, code)
    assert error["fields"] == {"file": [error["message"]]}
    assert stored_files(documents_dir) == []


def test_oversize_is_413(citizen: Any, settings: Any) -> None:
    settings.RAHDARI_DOCUMENT_MAX_BYTES = 100_000
    response = logged_in(citizen).post(f"{BASE}/", {"kind": "photo", "file": _file(b"x" * 300_000)})
    _error(response, 413, "too_large")


def test_messages_follow_the_language(citizen: Any) -> None:
    from django.utils import translation

    from rahdari.documents.services import refusal_message

    for language in ("en", "ur", "ps"):
        response = logged_in(citizen).post(
            f"{BASE}/?lang={language}", {"kind": "photo", "file": _file(EXECUTABLE)}
        )
        with translation.override(language):
            expected = refusal_message("unsupported_type")
        assert _error(response, 422, "unsupported_type")["message"] == expected


def test_missing_file_and_bad_kind(citizen: Any) -> None:
    client = logged_in(citizen)
    _error(client.post(f"{BASE}/", {"kind": "photo"}), 422, "no_file")
    _error(
        client.post(f"{BASE}/", {"kind": "passport", "file": _file(photo())}), 400, "invalid_kind"
    )


def test_anonymous_is_401() -> None:
    _error(Client().get(f"{BASE}/mine"), 401, "unauthenticated")
    _error(
        Client().post(f"{BASE}/", {"kind": "photo", "file": _file(photo())}), 401, "unauthenticated"
    )


def test_officers_upload_assisted_and_read_with_a_record(officer: Any, person: Person) -> None:
    client = logged_in(officer)
    response = client.post(
        f"{BASE}/", {"kind": "photo", "person_id": str(person.pk), "file": _file(photo())}
    )
    assert response.status_code == 201 and response.json()["assisted"] is True
    assert response.json()["uploaded_by"] == officer.get_username()
    listed = client.get(f"{BASE}/persons/{person.pk}")
    assert listed.status_code == 200 and listed.json()[0]["kind"] == "photo"
    content = client.get(response.json()["content_url"])
    assert content.status_code == 200 and content["X-Content-Type-Options"] == "nosniff"
    fields = [r.changes["fields"] for r in identity.reads_of(person)]
    assert ["documents.photo"] in fields and ["documents"] in fields


def test_another_districts_officer_gets_404(mardan_officer: Any, person: Person) -> None:
    from rahdari.documents import services

    version = services.document_upload(person=person, kind="photo", data=photo(), actor=None)
    client = logged_in(mardan_officer)
    _error(client.get(f"{BASE}/persons/{person.pk}"), 404, "no_person")
    _error(client.get(f"{BASE}/{version.document_id}"), 404, "no_document")
    _error(client.get(f"{BASE}/versions/{version.pk}/content"), 404, "no_document")
    upload = client.post(
        f"{BASE}/", {"kind": "photo", "person_id": str(person.pk), "file": _file(photo())}
    )
    _error(upload, 404, "no_person")
    assert DocumentVersion.objects.count() == 1 and not identity.reads_of(person).exists()


def test_a_citizen_cannot_upload_for_someone_else(citizen: Any, person: Person) -> None:
    response = logged_in(citizen).post(
        f"{BASE}/", {"kind": "photo", "person_id": str(person.pk), "file": _file(photo())}
    )
    _error(response, 403, "forbidden")


def test_the_upload_is_described_in_openapi() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    upload = schema["paths"]["/api/v1/documents/"]["post"]
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file", "kind"] and "photo" in body["properties"]["kind"]["enum"]
    assert {"201", "413", "422"} <= set(upload["responses"])
    assert "/api/v1/documents/versions/{version_id}/content" in schema["paths"]
