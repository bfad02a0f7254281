"""Documents fixtures: a storage of its own per test, an enrolled woman of Swat with her
citizen login, enrolment officers of Swat and of Mardan, and real files made here
(Pillow photos with EXIF location, pypdf PDFs, with and without active content)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    TextStringObject,
)

from rahdari.accounts.roles import Role
from rahdari.identity.models import Person
from tests.identity.conftest import enrol, registered  # noqa: F401 — persons

GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture(autouse=True)
def documents_dir(settings: Any, tmp_path: Path) -> Path:
    """Each test stores its documents in a directory of its own."""
    location = tmp_path / "documents"
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    settings.RAHDARI_CLAMAV_SOCKET = ""
    return location


def stored_files(location: Path) -> list[Path]:
    return sorted(p for p in location.rglob("*") if p.is_file()) if location.exists() else []


@pytest.fixture
def officer(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.ENROLMENT_OFFICER, ["Swat"], full_name="Aisha Khan")


@pytest.fixture
def mardan_officer(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.ENROLMENT_OFFICER, ["Mardan"], full_name="Bilal Shah")


@pytest.fixture
def person(
    registered: Callable[..., Any],  # noqa: F811
    officer: Any,
    django_capture_on_commit_callbacks: Any,
) -> Person:
    with django_capture_on_commit_callbacks(execute=True):
        enrolment = enrol(registered(), officer)
    return Person.objects.get(pk=enrolment.person_id)


@pytest.fixture
def citizen(person: Person, make_citizen: Callable[..., Any]) -> Any:
    user = make_citizen(phone=str(person.mobile))
    Person.objects.filter(pk=person.pk).update(account=user)
    person.refresh_from_db()
    return user


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- files


def photo(
    size: tuple[int, int] = (800, 600),
    *,
    gps: bool = False,
    orientation: int | None = None,
    fmt: str = "JPEG",
) -> bytes:
    """A noisy picture (so a cut-off copy really lacks pixels), optionally with EXIF."""
    image = Image.effect_noise(size, 64).convert("RGB")
    ImageDraw.Draw(image).rectangle((10, 10, size[0] // 3, size[1] // 3), fill=(200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (34.0, 46.0, 12.0), 3: "E", 4: (72.0, 21.0, 36.0)}
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes())
    return out.getvalue()


def png_bomb(edge: int = 10_000) -> bytes:
    """A real PNG of edge x edge grey pixels (100 million for the default) that compresses
    to about 100 KB: decoding it would take 100 MB of memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack("!I", len(body)) + kind + body + struct.pack("!I", zlib.crc32(kind + body))
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" * (edge + 1)
    idat = b"".join(compressor.compress(row) for _ in range(edge)) + compressor.flush()
    header = struct.pack("!IIBBBBB", edge, edge, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def pdf(
    *, javascript: bool = False, open_action: bool = False, password: str = "", payload: bytes = b""
) -> bytes:
    """A one-page PDF; ``payload`` goes verbatim into the page's content stream."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "Income certificate"})
    if payload:
        stream = DecodedStreamObject()
        stream.set_data(b"% " + payload + b"\n")
        page[NameObject("/Contents")] = writer._add_object(stream)
    if javascript:  # a document-level script in the /Names tree (ISO 32000-1 §7.7.4)
        script = DictionaryObject(
            {
                NameObject("/S"): NameObject("/JavaScript"),
                NameObject("/JS"): TextStringObject("app.alert('hello');"),
            }
        )
        names = DictionaryObject(
            {
                NameObject("/Names"): ArrayObject(
                    [TextStringObject("hi"), writer._add_object(script)]
                )
            }
        )
        writer._root_object[NameObject("/Names")] = DictionaryObject(
            {NameObject("/JavaScript"): writer._add_object(names)}
        )
    if open_action:
        action = DictionaryObject(
            {NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject("http://x")}
        )
        writer._root_object[NameObject("/OpenAction")] = action
    if password:
        writer.encrypt(password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


EXECUTABLE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    + b"\x00" * 200
    + b"This program cannot be run in DOS mode"
)
