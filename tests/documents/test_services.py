"""Upload, storage and reads: state, files on disk, and audit entries."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rahdari.core.errors import ApplicationError
from rahdari.core.models import AuditEntry
from rahdari.documents import services, storage
from rahdari.documents.content import sha256
from rahdari.documents.models import Document, DocumentVersion
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person
from tests.documents.conftest import EXECUTABLE, GPS_IFD, pdf, photo, stored_files

pytestmark = pytest.mark.django_db


def upload(person: Person, data: bytes, kind: str = "cnic_front", **kw: Any) -> DocumentVersion:
    return services.document_upload(
        person=person, kind=kind, data=data, actor=kw.pop("actor", None), **kw
    )


def test_upload_stores_an_encrypted_cleaned_copy_with_its_hashes(
    person: Person, officer: Any, documents_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    original = photo(gps=True, orientation=6)
    with django_capture_on_commit_callbacks(execute=True):
        version = upload(person, original, actor=officer, assisted=True)
    assert version.media_type == "image/jpeg" and version.number == 1 and version.assisted
    assert version.original_sha256 == sha256(original) and version.original_size == len(original)
    assert version.scan_status == "not_scanned"
    # The name says nothing about her, the kind or the file she sent.
    assert version.storage_name.startswith("v/") and "cnic" not in version.storage_name
    files = stored_files(documents_dir)
    assert [f.relative_to(documents_dir).as_posix() for f in files] == [version.storage_name]
    stored = files[0].read_bytes()

    content = services.document_version_open(version=version, actor=officer)
    assert sha256(content) == version.sha256 and len(content) == version.size
    # Encrypted at rest: neither the cleaned photo, nor its JPEG markers, nor the original.
    assert content not in stored and content[:64] not in stored and b"JFIF" not in stored
    assert original[:64] not in stored
    # Read back: no EXIF location survived, and she stands upright.
    with Image.open(io.BytesIO(content)) as image:
        assert not image.getexif().get_ifd(GPS_IFD) and not image.getexif()
        assert image.size == (600, 800)
    entry = AuditEntry.objects.get(action="documents.version_uploaded")
    assert entry.actor == officer and entry.subject_id == str(version.pk)
    assert entry.changes["sha256"] == version.sha256 and entry.changes["assisted"] is True


def test_the_stored_file_is_bound_to_its_version(person: Person, officer: Any) -> None:
    first = upload(person, photo())
    second = upload(person, photo((640, 480)))
    first_blob = storage.read(storage.token_of(first.storage_name))
    key = storage.key_from_text(str(second.content_key))
    with pytest.raises(storage.StoredFileError):
        storage.unseal(key, str(second.pk), first_blob)


def test_a_second_upload_of_a_kind_is_a_new_version_and_the_old_one_is_kept(
    person: Person, officer: Any
) -> None:
    first = upload(person, photo())
    second = upload(person, pdf(), actor=officer, assisted=True)
    document = Document.objects.get(person=person, kind="cnic_front")
    assert document.version_count == 2
    assert [v.number for v in document.versions.all()] == [2, 1]
    assert (first.document_id, second.document_id) == (document.pk, document.pk)
    assert services.document_version_open(version=first, actor=officer)[:3] == b"\xff\xd8\xff"
    assert services.document_version_open(version=second, actor=officer).startswith(b"%PDF")
    # Each "other" paper is a document of its own.
    upload(person, pdf(), kind="other")
    upload(person, pdf(), kind="other")
    assert Document.objects.filter(person=person, kind="other").count() == 2


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: EXECUTABLE, "unsupported_type"),
        (lambda: photo()[:20_000], "truncated"),
        (lambda: pdf()[:300], "truncated"),
        (lambda: pdf(javascript=True), "active_pdf"),
        (lambda: pdf(open_action=True), "active_pdf"),
        (lambda: pdf(password="x"), "encrypted_pdf"),
    ],
)
def test_a_refused_upload_leaves_nothing_behind(
    person: Person, documents_dir: Path, make: Any, code: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        upload(person, make())
    assert refused.value.code == code and refused.value.status == 422
    assert refused.value.fields["file"] == [str(refused.value.message)]
    assert stored_files(documents_dir) == []
    assert not Document.objects.exists() and not DocumentVersion.objects.exists()


def test_oversize_is_refused_with_413(person: Person, settings: Any, documents_dir: Path) -> None:
    settings.RAHDARI_DOCUMENT_MAX_BYTES = 50_000
    with pytest.raises(ApplicationError) as refused:
        upload(person, photo())
    assert (refused.value.code, refused.value.status) == ("too_large", 413)
    assert stored_files(documents_dir) == []


def test_a_crash_inside_the_transaction_removes_the_temporary_file(
    person: Person, documents_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(**_kw: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(services, "audit_record", crash)
    with pytest.raises(RuntimeError):
        upload(person, photo())
    assert stored_files(documents_dir) == []
    assert not DocumentVersion.objects.exists()
    assert Document.objects.filter(person=person).count() == 0


def _age(path: Path, seconds: int) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_the_sweep_finishes_committed_uploads_and_removes_orphans(
    person: Person, officer: Any, documents_dir: Path
) -> None:
    # An upload whose process died after its commit, before moving its file into place.
    version = upload(person, photo())  # inside the test's transaction: not moved yet
    token = storage.token_of(version.storage_name)
    assert stored_files(documents_dir) == [documents_dir / storage.temp_name(token)]
    # And one whose process died before its commit: a temporary file and no row.
    storage.write_temporary("deadbeef" * 4, b"RDOC1 sealed bytes of a lost upload")
    fresh = storage.write_temporary("cafebabe" * 4, b"RDOC1 an upload in flight right now")
    for path in stored_files(documents_dir):
        if not path.name.startswith("cafebabe"):
            _age(path, 7200)
    assert services.temporary_files_sweep() == {"moved": 1, "removed": 1}
    names = [p.relative_to(documents_dir).as_posix() for p in stored_files(documents_dir)]
    assert names == [fresh, version.storage_name]  # the one in flight is left alone
    assert services.temporary_files_sweep(older_than=timedelta(0)) == {"moved": 0, "removed": 1}
    content = services.document_version_open(version=version, actor=officer)
    assert sha256(content) == version.sha256


def test_the_sweep_is_a_periodic_job() -> None:
    from rahdari.core.jobs import _PERIODIC

    assert _PERIODIC["documents.sweep_temporary"] is services.temporary_files_sweep


def test_an_officers_look_is_recorded_on_her_and_her_own_is_not(
    person: Person, officer: Any, citizen: Any
) -> None:
    version = upload(person, pdf(), kind="income_proof")
    services.document_version_open(version=version, actor=citizen)
    assert not identity.reads_of(person).exists()
    services.document_version_open(version=version, actor=officer)
    read = identity.reads_of(person).get()
    assert read.actor == officer
    assert read.changes == {"purpose": services.READ_PURPOSE, "fields": ["documents.income_proof"]}


def test_listing_her_documents_takes_two_queries(
    person: Person, django_assert_num_queries: Any
) -> None:
    from rahdari.documents import selectors

    for kind in ("cnic_front", "cnic_back", "photo"):
        upload(person, photo((320, 240)), kind=kind)
        upload(person, photo((320, 240)), kind=kind)
    with django_assert_num_queries(2):
        rows = [
            (d.kind, [v.number for v in d.versions.all()]) for d in selectors.documents_of(person)
        ]
    assert rows == [("cnic_back", [2, 1]), ("cnic_front", [2, 1]), ("photo", [2, 1])]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_uploads_of_one_kind_are_numbered_one_after_the_other(
    registered: Any, make_staff: Any, documents_dir: Path
) -> None:
    """Eight uploads of her first ID-card photo at the same moment (eight connections):
    one document, versions 1 to 8, one file each, no error."""
    import threading

    from django.db import connection as main_connection

    from rahdari.accounts.roles import Role
    from tests.identity.conftest import enrol

    if main_connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks across connections)")
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    person = Person.objects.get(pk=enrol(registered(), officer).person_id)
    pictures = [photo((320 + i, 240)) for i in range(8)]
    barrier = threading.Barrier(len(pictures))
    failures: list[BaseException] = []

    def one(data: bytes) -> None:
        from django.db import connection

        try:
            barrier.wait()
            upload(person, data, actor=officer, assisted=True)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(p,)) for p in pictures]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    document = Document.objects.get(person=person, kind="cnic_front")
    assert document.version_count == 8
    assert sorted(document.versions.values_list("number", flat=True)) == list(range(1, 9))
    assert len(stored_files(documents_dir)) == 8
    assert {v.original_sha256 for v in document.versions.all()} == {sha256(p) for p in pictures}
