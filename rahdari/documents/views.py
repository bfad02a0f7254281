"""Documents pages.

Citizens: "My documents" — what each kind of paper is (a picture and one sentence),
one big button that opens the phone's camera or file chooser, and every paper she has
with its versions. Enrolment officers: find a person of their districts by Rahdari
number, upload a paper on her behalf (recorded as assisted), and view any version
inline. The file itself is only ever served by :func:`version_content`, which checks
who asks; every look by someone other than her is recorded and shown to her.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.http import is_verified
from rahdari.documents import selectors, services, uploads
from rahdari.documents.forms import KIND_HELP, KIND_PICTURE, SCAN_TEXTS, PersonFindForm, UploadForm
from rahdari.documents.models import Document, DocumentKind, DocumentVersion
from rahdari.identity import rules as identity_rules
from rahdari.identity.models import Person

# The content of a PDF runs in a sandbox: no scripts, no forms, no same-origin access.
PDF_POLICY = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)
IMAGE_POLICY = "default-src 'none'; frame-ancestors 'self'"


# --------------------------------------------------------------------------- helpers


def _officer(request: HttpRequest, *, upload: bool = False) -> User:
    user = request_user(request)
    allowed = selectors.may_upload(user) if upload else selectors.may_view(user)
    if not allowed or (user.requires_totp and not is_verified(user)):
        raise PermissionDenied
    return user


def _citizen(request: HttpRequest) -> tuple[User, Person | None]:
    user = request_user(request)
    if not user.is_citizen:
        raise PermissionDenied
    return user, selectors.person_of_citizen(user)


def _found(loader: Any, **kwargs: Any) -> Any:
    try:
        return loader(**kwargs)
    except NotFound as error:
        raise Http404(str(error.message)) from error


def kinds_explained() -> list[dict[str, Any]]:
    return [
        {
            "value": kind.value,
            "label": kind.label,
            "help": KIND_HELP[kind],
            "picture": KIND_PICTURE[kind],
        }
        for kind in DocumentKind
    ]


def _version_row(version: DocumentVersion) -> dict[str, Any]:
    uploader = version.uploaded_by
    return {
        "version": version,
        "type_label": _("PDF") if version.media_type == "application/pdf" else _("Photo"),
        "kb": max(1, round(version.size / 1024)),
        "uploader": uploader.display_name if uploader else "",
        "scan": SCAN_TEXTS.get(version.scan_status, version.scan_status),
    }


def _document_rows(person: Person) -> list[dict[str, Any]]:
    rows = []
    for document in selectors.documents_of(person):
        versions = list(document.versions.all())
        rows.append(
            {
                "document": document,
                "label": document.get_kind_display(),
                "help": KIND_HELP[DocumentKind(document.kind)],
                "picture": KIND_PICTURE[DocumentKind(document.kind)],
                "latest": _version_row(versions[0]) if versions else None,
                "older": [_version_row(v) for v in versions[1:]],
            }
        )
    return rows


def receive_upload(
    request: HttpRequest, *, person: Person, actor: User, assisted: bool
) -> tuple[UploadForm, DocumentVersion | None]:
    """Parse and store one upload (after ``uploads.prepare``, under CSRF protection); a
    refusal comes back on the form, in her language. Applications use it too."""
    try:
        data = uploads.received_file(request)
    except ApplicationError as error:
        return refused_upload_form(error, request.POST), None
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return form, None
    try:
        version = services.document_upload(
            person=person,
            kind=form.cleaned_data["kind"],
            data=data,
            actor=actor,
            assisted=assisted,
        )
    except ApplicationError as error:
        form.add_error("kind" if "kind" in error.fields else "file", str(error.message))
        return form, None
    return form, version


def refused_upload_form(error: ApplicationError, data: Any = None) -> UploadForm:
    form = UploadForm(data if data is not None else {})
    form.is_valid()
    if data is None:  # the body was never read: only the file's refusal to show
        form.errors.pop("kind", None)
    form.add_error("file", str(error.message))
    return form


def _uploaded_message(version: DocumentVersion) -> str:
    return _("Saved: %(kind)s, version %(number)d.") % {
        "kind": version.document.get_kind_display(),
        "number": version.number,
    }


# --------------------------------------------------------------------------- citizens


def _my_page(
    request: HttpRequest, person: Person | None, form: UploadForm, status: int = 200
) -> HttpResponse:
    context = {
        "person": person,
        "form": form,
        "kinds": kinds_explained(),
        "rows": _document_rows(person) if person else [],
        "reads": selectors.document_reads_of(person)[:50] if person else [],
    }
    return render(request, "documents/my_documents.html", context, status=status)


@login_required
@require_GET
def my_documents(request: HttpRequest) -> HttpResponse:
    _user, person = _citizen(request)
    return _my_page(request, person, UploadForm())


@csrf_exempt  # the upload handlers are set before the body is read; CSRF checked below
@login_required
@require_POST
def my_upload(request: HttpRequest) -> HttpResponse:
    try:
        uploads.prepare(request)
    except ApplicationError as error:  # refused before reading the body: nothing changes
        _user, person = _citizen(request)
        return _my_page(request, person, refused_upload_form(error), status=error.status)
    return _my_upload(request)


@csrf_protect
def _my_upload(request: HttpRequest) -> HttpResponse:
    user, person = _citizen(request)
    if person is None:
        raise PermissionDenied
    form, version = receive_upload(request, person=person, actor=user, assisted=False)
    if version is None:
        return _my_page(request, person, form)
    messages.success(request, _uploaded_message(version))
    return redirect("documents:mine")


# --------------------------------------------------------------------------- at the office


@login_required
@require_http_methods(["GET", "POST"])
def office(request: HttpRequest) -> HttpResponse:
    """Find the person by Rahdari number (sent in the body, never in the address)."""
    user = _officer(request)
    form = PersonFindForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            person = selectors.person_find(
                user=user, rahdari_number=form.cleaned_data["rahdari_number"]
            )
        except NotFound as error:
            form.add_error("rahdari_number", str(error.message))
        else:
            return redirect("documents:person", person_id=person.pk)
    return render(request, "documents/office.html", {"form": form})


def _person_page(
    request: HttpRequest, user: User, person: Person, form: UploadForm | None, status: int = 200
) -> HttpResponse:
    services.documents_list_read(person=person, actor=user)
    context = {
        "person": person,
        "number": identity_rules.format_rahdari_number(person.rahdari_number or ""),
        "form": form or UploadForm(),
        "kinds": kinds_explained(),
        "rows": _document_rows(person),
        "can_upload": selectors.may_upload(user),
    }
    return render(request, "documents/person.html", context, status=status)


@login_required
@require_GET
def person_documents(request: HttpRequest, person_id: str) -> HttpResponse:
    user = _officer(request)
    person = _found(selectors.person_get, user=user, person_id=person_id)
    return _person_page(request, user, person, None)


@csrf_exempt  # as my_upload
@login_required
@require_POST
def person_upload(request: HttpRequest, person_id: str) -> HttpResponse:
    try:
        uploads.prepare(request)
    except ApplicationError as error:  # refused before reading the body: nothing changes
        user = _officer(request, upload=True)
        person = _found(selectors.person_get, user=user, person_id=person_id)
        return _person_page(request, user, person, refused_upload_form(error), status=error.status)
    return _person_upload(request, person_id)


@csrf_protect
def _person_upload(request: HttpRequest, person_id: str) -> HttpResponse:
    user = _officer(request, upload=True)
    person = _found(selectors.person_get, user=user, person_id=person_id)
    form, version = receive_upload(request, person=person, actor=user, assisted=True)
    if version is None:
        return _person_page(request, user, person, form)
    messages.success(request, _uploaded_message(version))
    return redirect("documents:person", person_id=person.pk)


# --------------------------------------------------------------------------- viewing


def _viewer(request: HttpRequest) -> User:
    user = request_user(request)
    if not user.is_citizen:
        _officer(request)
    return user


@login_required
@require_GET
def version_view(request: HttpRequest, version_id: str) -> HttpResponse:
    """A page with the paper shown inline: a photo as an image, a PDF in a frame."""
    user = _viewer(request)
    version = _found(selectors.version_visible, user=user, version_id=version_id)
    document: Document = version.document
    back = (
        reverse("documents:mine")
        if user.is_citizen
        else reverse("documents:person", kwargs={"person_id": document.person_id})
    )
    return render(
        request,
        "documents/view.html",
        {
            "row": _version_row(version),
            "document": document,
            "label": document.get_kind_display(),
            "back_url": back,
        },
    )


@never_cache
@xframe_options_sameorigin
@login_required
@require_GET
def version_content(request: HttpRequest, version_id: str) -> HttpResponse:
    """The file itself, for the viewer's <img> or <iframe>; never a public address."""
    user = _viewer(request)
    version = _found(selectors.version_visible, user=user, version_id=version_id)
    try:
        data = services.document_version_open(version=version, actor=user)
    except ApplicationError as refused:  # found infected after it was stored: blocked
        return HttpResponse(
            str(refused.message), status=refused.status, content_type="text/plain; charset=utf-8"
        )
    return content_response(version, data)


def content_response(version: DocumentVersion, data: bytes) -> HttpResponse:
    """Inline, typed by what we detected, never sniffed, PDFs sandboxed."""
    response = HttpResponse(data, content_type=version.media_type)
    extension = {"image/jpeg": "jpg", "image/png": "png"}.get(version.media_type, "pdf")
    response["Content-Disposition"] = (
        f'inline; filename="{version.document.kind}-v{version.number}.{extension}"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = (
        PDF_POLICY if version.media_type == "application/pdf" else IMAGE_POLICY
    )
    response["Cache-Control"] = "private, no-store"
    return response
