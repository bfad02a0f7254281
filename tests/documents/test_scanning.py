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
