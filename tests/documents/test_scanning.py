"""The virus-scan hook against a clamd that speaks the real INSTREAM protocol over a UNIX
socket (ClamAV itself is not installed here): an infected file is refused and audited,
a clean one recorded as scanned, an unreachable daemon recorded as not scanned."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rahdari.core.errors import ApplicationError
from rahdari.core.models import AuditEntry
from rahdari.documents import services
from rahdari.documents.models import DocumentVersion
from rahdari.documents.scanning import ClamdScanner
from rahdari.identity.models import Person
from tests.documents.conftest import pdf, stored_files

# The EICAR test signature, which every antivirus reports (split so no scanner of this
# repository's own files ever flags it).
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _serve(server: socket.socket, seen: list[bytes]) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            command = b""
            while not command.endswith(b"\0"):
                command += conn.recv(1)
            assert command == b"zINSTREAM\0"
            data = b""
            while True:
                (length,) = struct.unpack("!L", _exact(conn, 4))
                if length == 0:
                    break
                data += _exact(conn, length)
            seen.append(data)
            found = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in data
            conn.sendall(b"stream: Eicar-Test-Signature FOUND\0" if found else b"stream: OK\0")


def _exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            raise ConnectionError
        data += part
    return data


@pytest.fixture
def clamd(tmp_path: Path, settings: Any) -> Iterator[list[bytes]]:
    path = str(tmp_path / "clamd.ctl")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    seen: list[bytes] = []
    thread = threading.Thread(target=_serve, args=(server, seen), daemon=True)
    thread.start()
    settings.RAHDARI_CLAMAV_SOCKET = path
    yield seen
    server.close()


def test_the_clamd_client_streams_in_chunks(clamd: list[bytes]) -> None:
    from django.conf import settings

    scanner = ClamdScanner(settings.RAHDARI_CLAMAV_SOCKET)
    big = b"a" * 200_000  # four chunks
    assert scanner.scan(big).status == "clean"
    assert scanner.scan(EICAR).status == "infected"
    assert scanner.scan(EICAR).detail == "Eicar-Test-Signature"
    assert clamd[0] == big


@pytest.mark.django_db
def test_an_infected_pdf_is_refused_and_audited(
    person: Person, clamd: list[bytes], documents_dir: Path
) -> None:
    infected = pdf(payload=EICAR)  # the signature inside the page's content
    with pytest.raises(ApplicationError) as refused:
        services.document_upload(person=person, kind="other", data=infected, actor=None)
    assert refused.value.code == "infected"
    assert stored_files(documents_dir) == [] and not DocumentVersion.objects.exists()
    entry = AuditEntry.objects.get(action="documents.upload_refused")
    assert entry.changes["reason"] == "infected"
    assert entry.changes["signature"] == "Eicar-Test-Signature"


@pytest.mark.django_db
def test_a_clean_file_is_recorded_as_scanned(person: Person, clamd: list[bytes]) -> None:
    version = services.document_upload(person=person, kind="other", data=pdf(), actor=None)
    assert (version.scan_status, version.scan_detail) == ("clean", "clamav")
    assert len(clamd) == 1 and clamd[0].startswith(b"%PDF")


@pytest.mark.django_db
def test_an_unreachable_clamd_is_recorded_as_unavailable(
    person: Person, settings: Any, tmp_path: Path
) -> None:
    settings.RAHDARI_CLAMAV_SOCKET = str(tmp_path / "no-such.ctl")
    version = services.document_upload(person=person, kind="other", data=pdf(), actor=None)
    assert version.scan_status == "unavailable"


# --------------------------------------------------------------------------- later


def test_papers_stored_without_a_scanner_are_scanned_once_one_answers(
    person: Person, citizen: Any, clamd: list[bytes], settings: Any
) -> None:
    """Stored while no scanner was installed; the rescan marks the clean one clean and
    blocks the infected one (never served again, never linked to an application)."""
    from rahdari.documents import selectors

    socket_path = settings.RAHDARI_CLAMAV_SOCKET
    settings.RAHDARI_CLAMAV_SOCKET = ""
    clean = services.document_upload(person=person, kind="cnic_front", data=pdf(), actor=citizen)
    bad = services.document_upload(
        person=person, kind="income_proof", data=pdf(payload=EICAR), actor=citizen
    )
    assert {clean.scan_status, bad.scan_status} == {"not_scanned"}
    assert services.documents_rescan() == {"scanned": 0, "clean": 0, "infected": 0}
    settings.RAHDARI_CLAMAV_SOCKET = socket_path
    assert services.documents_rescan() == {"scanned": 2, "clean": 1, "infected": 1}
    clean.refresh_from_db()
    bad.refresh_from_db()
    assert (clean.scan_status, bad.scan_status) == ("clean", "infected")
    assert bad.scan_detail == "Eicar-Test-Signature"
    assert AuditEntry.objects.filter(
        action="documents.version_quarantined", subject_id=str(bad.pk)
    ).exists()
    with pytest.raises(ApplicationError) as blocked:
        services.document_version_open(version=bad, actor=citizen)
    assert blocked.value.code == "infected"
    assert services.document_version_open(version=clean, actor=citizen)
    latest = selectors.latest_versions(person=person, kinds=["cnic_front", "income_proof"])
    assert set(latest) == {"cnic_front"}
    assert services.documents_rescan() == {"scanned": 0, "clean": 0, "infected": 0}


def test_the_rescan_waits_while_the_scanner_is_away(
    person: Person, citizen: Any, tmp_path: Path, settings: Any
) -> None:
    settings.RAHDARI_CLAMAV_SOCKET = ""
    version = services.document_upload(person=person, kind="cnic_front", data=pdf(), actor=citizen)
    settings.RAHDARI_CLAMAV_SOCKET = str(tmp_path / "nobody-listens.sock")
    assert services.documents_rescan() == {"scanned": 0, "clean": 0, "infected": 0}
    version.refresh_from_db()
    assert version.scan_status == "not_scanned"
