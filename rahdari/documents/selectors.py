"""Reads of documents, always scoped: a citizen sees her own, an officer those of the
persons of her districts (identity.selectors.persons_visible_to); anything else is
"not found", never "forbidden", so an identifier tells an outsider nothing."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from rahdari.accounts.models import User
from rahdari.core.errors import NotFound
from rahdari.core.models import AuditEntry
from rahdari.documents.models import Document, DocumentVersion, ScanStatus
from rahdari.documents.services import READ_PURPOSE
from rahdari.identity import rules as identity_rules
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person

UPLOAD_PERMISSION = "documents.upload_documents"
VIEW_PERMISSION = "documents.view_documents"


def _staff_member(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and not getattr(user, "is_citizen", True)


def may_upload(user: Any) -> bool:
    """An officer who uploads papers for persons at the office (assisted)."""
    return _staff_member(user) and bool(user.has_perm(UPLOAD_PERMISSION))


def may_view(user: Any) -> bool:
    return _staff_member(user) and bool(user.has_perm(VIEW_PERMISSION))


def person_of_citizen(user: User) -> Person | None:
    return identity.person_of_account(user)


def person_get(*, user: User, person_id: Any) -> Person:
    person = identity.persons_visible_to(user).filter(pk=person_id).first()
    if person is None:
        raise NotFound(_("No such person in your districts."), code="no_person")
    return person


def person_find(*, user: User, rahdari_number: str) -> Person:
    """A person of the officer's districts by Rahdari number (spaces and dashes allowed)."""
    digits = "".join(ch for ch in rahdari_number if ch.isdigit())
    person = None
    if len(digits) == 12 and identity_rules.is_valid_rahdari_number(digits):
        person = identity.persons_visible_to(user).filter(rahdari_number=digits).first()
    if person is None:
        raise NotFound(
            _("No enrolled person with this Rahdari number in your districts."),
            code="no_person",
            fields={"rahdari_number": [_("Check the number on her card or QR.")]},
        )
    return person


def documents_of(person: Person) -> QuerySet[Document]:
    """Her documents with every version (newest first) and who uploaded it: two queries."""
    versions = DocumentVersion.objects.select_related("uploaded_by").order_by("-number")
    return (
        Document.objects.filter(person=person)
        .prefetch_related(Prefetch("versions", queryset=versions))
        .order_by("kind", "-created_at")
    )


def document_of_person(*, person: Person, document_id: Any) -> Document:
    document = documents_of(person).filter(pk=document_id).first()
    if document is None:
        raise NotFound(_("No such document."), code="no_document")
    return document


def document_visible(*, user: User, document_id: Any) -> Document:
    """A document the user may see: her own as a citizen, her districts' as an officer."""
    documents = _documents_visible_to(user).select_related("person", "person__district")
    document = documents.filter(pk=document_id).first()
    if document is None:
        raise NotFound(_("No such document."), code="no_document")
    return document


def version_visible(*, user: User, version_id: Any) -> DocumentVersion:
    visible = _documents_visible_to(user)
    version = (
        DocumentVersion.objects.select_related("document", "document__person", "uploaded_by")
        .filter(pk=version_id, document__in=visible)
        .first()
    )
    if version is None:
        raise NotFound(_("No such document."), code="no_document")
    return version


def _documents_visible_to(user: User) -> QuerySet[Document]:
    if user.is_citizen:
        person = person_of_citizen(user)
        return Document.objects.filter(person=person) if person else Document.objects.none()
    if not may_view(user):
        return Document.objects.none()
    return Document.objects.filter(person__in=identity.persons_visible_to(user).values("pk"))


def document_reads_of(person: Person) -> QuerySet[AuditEntry]:
    """Who looked at her documents, newest first."""
    return identity.reads_of(person).filter(changes__purpose=READ_PURPOSE)


def latest_versions(*, person: Person, kinds: list[str]) -> dict[str, DocumentVersion]:
    """Her newest version of each of ``kinds`` she has (for "other" papers, of the newest
    such paper): what an application is sent with, so nothing is uploaded twice."""
    versions = (
        DocumentVersion.objects.filter(document__person=person, document__kind__in=kinds)
        .exclude(scan_status=ScanStatus.INFECTED)
        .select_related("document")
        .order_by("document__kind", "-created_at", "-number")
    )
    latest: dict[str, DocumentVersion] = {}
    for version in versions:
        latest.setdefault(version.document.kind, version)
    return latest
