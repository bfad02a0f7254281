"""Documents: upload (a new version of the person's document of that kind), open (an
audited read when it is not her own), and the sweep of temporary files.

An upload is checked by content, cleaned and scanned before anything is written; the
encrypted file is written under a temporary name, and the version row, the document's
version count and the audit entry commit in one transaction, after which the file is
moved to its final name. A refused upload writes nothing; a failed transaction removes
its temporary file; a crash in between leaves a temporary file for the sweep.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Conflict
from rahdari.documents import content, storage
from rahdari.documents.models import Document, DocumentKind, DocumentVersion, ScanStatus
from rahdari.documents.scanning import CLEAN, INFECTED, NoScanner, scanner
from rahdari.identity.models import Person

logger = logging.getLogger(__name__)

# What the person reads in "Who looked at my data" (translated when shown).
READ_PURPOSE = gettext_noop("Her documents, to check her papers")
LIST_FIELDS = ["documents"]


def refusal_message(code: str) -> str:
    """The reason an upload was refused, in plain words, in the user's language."""
    max_mb = settings.RAHDARI_DOCUMENT_MAX_BYTES // (1024 * 1024)
    messages = {
        "empty": _("The file is empty. Take the photo again or choose another file."),
        "too_large": _("The file is too big. It must be smaller than %(mb)d MB.") % {"mb": max_mb},
        "unsupported_type": _(
            "This file is not a photo or a PDF. Send a photo (JPEG or PNG) or a PDF."
        ),
        "corrupt_image": _("The photo is damaged and cannot be opened. Take it again."),
        "image_too_large": _(
            "The picture has too many pixels to open safely. Take a normal photo instead."
        ),
        "truncated": _(
            "The file did not arrive complete. Check your connection and send it again."
        ),
        "incomplete_upload": _(
            "The file did not arrive complete. Check your connection and send it again."
        ),
        "corrupt_pdf": _("The PDF is damaged and cannot be opened. Send another copy."),
        "encrypted_pdf": _(
            "The PDF is locked with a password. Send a copy without a password, or a photo "
            "of the paper."
        ),
        "active_pdf": _(
            "The PDF contains programs or attached files, which we do not accept. Send a "
            "photo of the paper, or a plain PDF."
        ),
        "infected": _("The file contains a virus and was not accepted."),
        "no_file": _("Choose a photo or a PDF first."),
        "invalid_kind": _("Choose what kind of paper this is."),
    }
    return messages.get(code, messages["corrupt_image"])


def refusal(code: str) -> ApplicationError:
    message = refusal_message(code)
    status = 413 if code == "too_large" else 422
    return ApplicationError(message, code=code, fields={"file": [message]}, status=status)


def document_upload(
    *,
    person: Person,
    kind: str,
    data: bytes,
    actor: User | None,
    assisted: bool = False,
    document: Document | None = None,
) -> DocumentVersion:
    """Store a new version of the person's document of ``kind`` (or of ``document``).

    Side effects: an encrypted file in the ``documents`` storage, an audit entry
    ``documents.version_uploaded`` (assisted uploads name the officer); an infected
    file is refused and audited as ``documents.upload_refused``.
    """
    if kind not in DocumentKind.values:
        message = refusal_message("invalid_kind")
        raise ApplicationError(message, code="invalid_kind", fields={"kind": [message]})
    if document is not None and (document.person_id != person.pk or document.kind != kind):
        message = refusal_message("invalid_kind")
        raise ApplicationError(message, code="invalid_kind", fields={"kind": [message]})
    if assisted and actor is None:
        raise ApplicationError(_("An assisted upload names the officer."), code="invalid")
    try:
        cleaned = content.clean(
            data,
            max_bytes=settings.RAHDARI_DOCUMENT_MAX_BYTES,
            max_pixels=settings.RAHDARI_DOCUMENT_MAX_PIXELS,
            max_edge=settings.RAHDARI_DOCUMENT_MAX_EDGE,
        )
    except content.Refused as refused:
        raise refusal(refused.code) from None
    scan = scanner().scan(data)
    if scan.status == INFECTED:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="documents.upload_refused",
                subject=person,
                changes={"kind": kind, "reason": "infected", "signature": scan.detail},
            )
        raise refusal("infected")

    version_id = uuid.uuid4()
    token = storage.new_token()
    key, key_text = storage.new_key()
    temporary = storage.write_temporary(token, storage.seal(key, str(version_id), cleaned.data))
    try:
        with transaction.atomic():
            target = document or _document_for(person=person, kind=kind)
            target = Document.objects.select_for_update().get(pk=target.pk)
            target.version_count += 1
            target.save(update_fields=["version_count", "updated_at"])
            version = DocumentVersion.objects.create(
                id=version_id,
                document=target,
                number=target.version_count,
                media_type=cleaned.media_type,
                size=len(cleaned.data),
                original_size=len(data),
                sha256=cleaned.sha256,
                original_sha256=cleaned.original_sha256,
                width=cleaned.width,
                height=cleaned.height,
                storage_name=storage.final_name(token),
                content_key=key_text,
                uploaded_by=actor,
                assisted=assisted,
                scan_status=scan.status,
                scan_detail=scan.detail,
            )
            audit_record(
                actor=actor,
                action="documents.version_uploaded",
                subject=version,
                changes={
                    "person": str(person.pk),
                    "document": str(target.pk),
                    "kind": kind,
                    "number": version.number,
                    "media_type": version.media_type,
                    "size": version.size,
                    "sha256": version.sha256,
                    "assisted": assisted,
                    "scan": scan.status,
                },
            )
            # robust: a failed move is logged and left to the sweep (or the next read),
            # the upload itself has committed.
            transaction.on_commit(lambda: storage.promote(token), robust=True)
    except BaseException:
        storage.discard(temporary)
        raise
    return version


def _document_for(*, person: Person, kind: str) -> Document:
    """The person's document of this kind (created on its first upload); every "other"
    paper is a document of its own."""
    if kind == DocumentKind.OTHER:
        return Document.objects.create(person=person, kind=kind)
    existing = Document.objects.filter(person=person, kind=kind).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Document.objects.create(person=person, kind=kind)
    except IntegrityError:  # a simultaneous first upload of the same kind won
        return Document.objects.get(person=person, kind=kind)


def document_version_open(*, version: DocumentVersion, actor: User) -> bytes:
    """The decrypted content. When someone other than the person opens it, the read is
    recorded on the person, who sees who looked and why."""
    if version.scan_status == ScanStatus.INFECTED:
        raise Conflict(
            _("A virus was found in this file after it was stored: it is blocked."),
            code="infected",
        )
    person = version.document.person
    if person.account_id != actor.pk:
        with transaction.atomic():
            audit_record_read(
                actor=actor,
                subject=person,
                purpose=READ_PURPOSE,
                fields=[f"documents.{version.document.kind}"],
            )
    return _decrypt(version)


RESCAN_BATCH = 200


def documents_rescan(*, limit: int = RESCAN_BATCH) -> dict[str, int]:
    """Scan the versions stored while no scanner was installed or reachable, oldest
    first, once a scanner answers. A clean one is marked clean; an infected one is
    blocked (never served again, never linked to an application) and audited as
    ``documents.version_quarantined``; one the scanner still cannot judge stays as it
    is for the next round. Runs every minute (periodic); safe to run twice at once."""
    active = scanner()
    if isinstance(active, NoScanner):
        return {"scanned": 0, "clean": 0, "infected": 0}
    waiting = DocumentVersion.objects.filter(
        scan_status__in=[ScanStatus.NOT_SCANNED, ScanStatus.UNAVAILABLE]
    ).order_by("created_at")[:limit]
    counts = {"scanned": 0, "clean": 0, "infected": 0}
    for version in waiting:
        result = active.scan(_decrypt(version))
        if result.status not in (CLEAN, INFECTED):
            break  # the daemon went away: the rest waits for the next round
        with transaction.atomic():
            live = (
                DocumentVersion.objects.select_for_update()
                .filter(pk=version.pk, scan_status=version.scan_status)
                .first()
            )
            if live is None:
                continue  # another worker scanned it meanwhile
            live.scan_status = ScanStatus.CLEAN if result.status == CLEAN else ScanStatus.INFECTED
            live.scan_detail = result.detail[:80]
            live.save(update_fields=["scan_status", "scan_detail", "updated_at"])
            audit_record(
                actor=None,
                action=(
                    "documents.version_quarantined"
                    if result.status == INFECTED
                    else "documents.version_rescanned"
                ),
                subject=live,
                changes={"scan": live.scan_status, "detail": live.scan_detail},
            )
        counts["scanned"] += 1
        counts["clean" if result.status == CLEAN else "infected"] += 1
    if counts["infected"]:
        logger.warning(
            "documents rescan: %d stored files were infected and are blocked", counts["infected"]
        )
    return counts


def documents_list_read(*, person: Person, actor: User) -> None:
    """An officer opened the list of her documents (which papers she has is personal)."""
    if person.account_id == actor.pk:
        return
    with transaction.atomic():
        audit_record_read(actor=actor, subject=person, purpose=READ_PURPOSE, fields=LIST_FIELDS)


def _decrypt(version: DocumentVersion) -> bytes:
    token = storage.token_of(version.storage_name)
    key = storage.key_from_text(str(version.content_key))
    return storage.unseal(key, str(version.pk), storage.read(token))


def temporary_files_sweep(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Finish or remove temporary files that a crash left behind: a file whose version
    row committed is moved into place, any other is deleted (no orphan files)."""
    age = older_than if older_than is not None else settings.RAHDARI_DOCUMENT_TEMP_MAX_AGE
    moved = removed = 0
    for token in storage.temporary_tokens(age):
        if DocumentVersion.objects.filter(storage_name=storage.final_name(token)).exists():
            moved += int(storage.promote(token))
        else:
            storage.discard(storage.temp_name(token))
            removed += 1
    if moved or removed:
        logger.info("documents sweep: %d moved into place, %d removed", moved, removed)
    return {"moved": moved, "removed": removed}
