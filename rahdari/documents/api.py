"""Documents API: upload a paper (multipart), list one's own or — officers — a person's
papers, a document's versions, and a version's content. A citizen acts for herself; an
enrolment officer for the persons of her districts (her uploads are recorded as
assisted, her reads are recorded on the person). Refusals carry a stable code:
``too_large`` (413), ``unsupported_type``, ``corrupt_image``, ``image_too_large``,
``truncated``, ``incomplete_upload``, ``corrupt_pdf``, ``encrypted_pdf``,
``active_pdf``, ``infected``, ``no_file``, ``invalid_kind`` (422)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.responses import Status
from ninja.security import SessionAuth, django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import client_errors
from rahdari.core.errors import Forbidden, NotFound
from rahdari.core.http import is_verified
from rahdari.documents import selectors, services, uploads
from rahdari.documents.forms import SCAN_TEXTS
from rahdari.documents.models import Document, DocumentKind, DocumentVersion
from rahdari.documents.views import content_response
from rahdari.identity.models import Person

router = Router(tags=["documents"], auth=django_auth)


class UploadAuth(SessionAuth):
    """The session login, after the upload handlers are set: the file is received in
    memory, capped at the size limit, before the CSRF check reads the body."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.method == "POST":
            uploads.prepare(request)
        return super().__call__(request)


# --------------------------------------------------------------------------- schemas

# The upload's body, read by the view itself (so that a missing file or a bad kind gets
# its own refusal code rather than a generic validation error): documented here.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "kind"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "kind": {"type": "string", "enum": list(DocumentKind.values)},
                    "person_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "Officers: whose paper it is",
                    },
                    "document_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "A new version of this document",
                    },
                },
            }
        }
    },
}


class VersionOut(Schema):
    id: UUID
    document_id: UUID
    person_id: UUID
    kind: str
    number: int
    media_type: str = Field(description="Detected from the bytes: image/jpeg, image/png, PDF")
    size: int = Field(description="Bytes stored (photos re-encoded without metadata)")
    original_size: int
    sha256: str = Field(description="SHA-256 of the stored content, hex")
    original_sha256: str = Field(description="SHA-256 of the bytes as uploaded, hex")
    width: int | None
    height: int | None
    assisted: bool = Field(description="Uploaded by an officer on the person's behalf")
    uploaded_by: str | None
    scan_status: str = Field(description="clean, not_scanned or unavailable")
    scan_text: str
    created_at: datetime
    content_url: str


class DocumentOut(Schema):
    id: UUID
    person_id: UUID
    kind: str
    kind_label: str
    version_count: int
    versions: list[VersionOut] = Field(description="Newest first")
    created_at: datetime


def _version_out(version: DocumentVersion, document: Document) -> dict[str, Any]:
    uploader = version.uploaded_by
    return {
        "id": version.pk,
        "document_id": document.pk,
        "person_id": document.person_id,
        "kind": document.kind,
        "number": version.number,
        "media_type": version.media_type,
        "size": version.size,
        "original_size": version.original_size,
        "sha256": version.sha256,
        "original_sha256": version.original_sha256,
        "width": version.width,
        "height": version.height,
        "assisted": version.assisted,
        "uploaded_by": uploader.get_username() if uploader else None,
        "scan_status": version.scan_status,
        "scan_text": str(SCAN_TEXTS.get(version.scan_status, version.scan_status)),
        "created_at": version.created_at,
        "content_url": f"/api/v1/documents/versions/{version.pk}/content",
    }


def _document_out(document: Document) -> dict[str, Any]:
    return {
        "id": document.pk,
        "person_id": document.person_id,
        "kind": document.kind,
        "kind_label": str(document.get_kind_display()),
        "version_count": document.version_count,
        "versions": [_version_out(v, document) for v in document.versions.all()],
        "created_at": document.created_at,
    }


def _staff(user: User, *, upload: bool = False) -> None:
    allowed = selectors.may_upload(user) if upload else selectors.may_view(user)
    if not allowed or (user.requires_totp and not is_verified(user)):
        raise Forbidden("You may not do this.")


def _own_person(user: User) -> Person:
    person = selectors.person_of_citizen(user)
    if person is None:
        raise NotFound("You are not enrolled yet.", code="no_person")
    return person


# --------------------------------------------------------------------------- endpoints


@router.post(
    "/",
    response={201: VersionOut, **client_errors(401, 403, 404, 413, 422)},
    auth=UploadAuth(),
    openapi_extra={"requestBody": UPLOAD_BODY},
    summary="Upload a paper (a new version of the person's document of that kind)",
    description=(
        "multipart/form-data with `file` (JPEG, PNG or PDF, judged by its bytes; at most "
        "`RAHDARI_DOCUMENT_MAX_BYTES`), `kind` (cnic_front, cnic_back, b_form, "
        "death_certificate, income_proof, disability_certificate, photo, other), optionally "
        "`document_id` (a new version of that document) and — officers — `person_id`. "
        "Photos are re-encoded without EXIF/XMP/ICC; PDFs with scripts, actions on "
        "opening, embedded files, rich media or XFA are refused."
    ),
)
def document_upload(request: HttpRequest) -> Status[dict[str, Any]]:
    user = request_user(request)
    data = uploads.received_file(request)
    kind = request.POST.get("kind", "")
    person_id = request.POST.get("person_id", "")
    if user.is_citizen:
        if person_id:
            raise Forbidden("You may upload only your own papers.")
        person, assisted = _own_person(user), False
    else:
        _staff(user, upload=True)
        if not person_id:
            raise NotFound("Say whose paper it is (person_id).", code="no_person")
        person, assisted = selectors.person_get(user=user, person_id=_uuid(person_id)), True
    document = None
    if request.POST.get("document_id"):
        document = selectors.document_of_person(
            person=person, document_id=_uuid(request.POST["document_id"])
        )
    version = services.document_upload(
        person=person, kind=kind, data=data, actor=user, assisted=assisted, document=document
    )
    return Status(201, _version_out(version, version.document))


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError as exc:
        raise NotFound("No such record.", code="not_found") from exc


@router.get(
    "/mine",
    response={200: list[DocumentOut], **client_errors(401, 403, 404)},
    summary="My papers with their versions (citizens)",
)
def documents_mine(request: HttpRequest) -> list[dict[str, Any]]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden("Only citizens have their own papers here.")
    return [_document_out(d) for d in selectors.documents_of(_own_person(user))]


@router.get(
    "/persons/{person_id}",
    response={200: list[DocumentOut], **client_errors(401, 403, 404)},
    summary="A person's papers (officers of her district; the look is recorded on her)",
)
def documents_of_person(request: HttpRequest, person_id: UUID) -> list[dict[str, Any]]:
    user = request_user(request)
    _staff(user)
    person = selectors.person_get(user=user, person_id=person_id)
    services.documents_list_read(person=person, actor=user)
    return [_document_out(d) for d in selectors.documents_of(person)]


@router.get(
    "/{document_id}",
    response={200: DocumentOut, **client_errors(401, 404)},
    summary="One document with its versions",
)
def document_get(request: HttpRequest, document_id: UUID) -> dict[str, Any]:
    user = request_user(request)
    document = selectors.document_visible(user=user, document_id=document_id)
    if not user.is_citizen:
        services.documents_list_read(person=document.person, actor=user)
    return _document_out(
        selectors.document_of_person(person=document.person, document_id=document.pk)
    )


@router.get(
    "/versions/{version_id}/content",
    response={200: bytes, **client_errors(401, 404, 409)},
    summary="A version's content, inline (the look is recorded on the person)",
    description="409 `infected`: a virus was found in it after it was stored (blocked).",
)
def version_content(request: HttpRequest, version_id: UUID) -> HttpResponse:
    user = request_user(request)
    if not user.is_citizen and not selectors.may_view(user):
        raise PermissionDenied
    version = selectors.version_visible(user=user, version_id=version_id)
    data = services.document_version_open(version=version, actor=user)
    return content_response(version, data)
