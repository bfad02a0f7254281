"""The content rules on their own: real files made with Pillow and pypdf, no database."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rahdari.documents import content
from tests.documents.conftest import EXECUTABLE, GPS_IFD, pdf, photo, png_bomb

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 50_000_000, "max_edge": 4000}


def clean(data: bytes, **overrides: int) -> content.Cleaned:
    return content.clean(data, **(LIMITS | overrides))


def refused(data: bytes, **overrides: int) -> str:
    with pytest.raises(content.Refused) as caught:
        clean(data, **overrides)
    return caught.value.code


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (EXECUTABLE, "unsupported_type"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "unsupported_type"),
        (b"GIF89a" + b"\x00" * 100, "unsupported_type"),
        (b"\xff\xd8\xff\x00" + b"not really a jpeg" * 20, "corrupt_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "corrupt_image"),
        (photo()[:20_000], "truncated"),
        (photo(fmt="PNG")[:50_000], "truncated"),
        (pdf()[: len(pdf()) // 2], "truncated"),
        (b"%PDF-1.7\n garbage garbage\n%%EOF\n", "corrupt_pdf"),
        (pdf(javascript=True), "active_pdf"),
        (pdf(open_action=True), "active_pdf"),
        (pdf(password="secret"), "encrypted_pdf"),
    ],
    ids=[
        "empty",
        "exe-renamed-jpg",
        "elf",
        "gif",
        "corrupt-jpeg",
        "corrupt-png",
        "truncated-jpeg",
        "truncated-png",
        "truncated-pdf",
        "corrupt-pdf",
        "pdf-javascript",
        "pdf-openaction",
        "pdf-encrypted",
    ],
)
def test_refused(data: bytes, code: str) -> None:
    assert refused(data) == code


def test_a_png_bomb_is_refused_before_its_pixels_are_decoded() -> None:
    assert refused(png_bomb()) == "image_too_large"


def test_too_large_by_bytes() -> None:
    assert refused(photo(), max_bytes=1000) == "too_large"


@pytest.mark.parametrize("key", ["/AA", "/Launch", "/EmbeddedFiles", "/RichMedia", "/XFA", "/JS"])
def test_every_active_key_is_refused(key: str) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject

    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer._root_object[NameObject(key)] = DictionaryObject()
    out = io.BytesIO()
    writer.write(out)
    assert refused(out.getvalue()) == "active_pdf"


def test_a_photo_loses_its_exif_location_and_is_turned_upright() -> None:
    original = photo((800, 600), gps=True, orientation=6)
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD), "the test photo must carry a location"
    cleaned = clean(original)
    assert cleaned.media_type == content.JPEG
    with Image.open(io.BytesIO(cleaned.data)) as after:
        after.load()
        assert after.size == (600, 800)  # orientation 6: rotated upright before stripping
        assert not after.getexif()
        assert "exif" not in after.info and "icc_profile" not in after.info
    assert b"Exif" not in cleaned.data and b"PhoneMaker" not in cleaned.data
    assert cleaned.original_sha256 == content.sha256(original)
    assert cleaned.sha256 == content.sha256(cleaned.data) != cleaned.original_sha256


def test_a_png_keeps_its_type_and_loses_its_text_chunks() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 34.77N 72.36E")
    image = Image.new("RGB", (300, 200), (10, 120, 60))
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    cleaned = clean(out.getvalue())
    assert cleaned.media_type == content.PNG
    assert b"GPS" not in cleaned.data and b"tEXt" not in cleaned.data


def test_a_huge_photo_is_scaled_to_the_long_edge() -> None:
    cleaned = clean(photo((1200, 900)), max_edge=600)
    assert (cleaned.width, cleaned.height) == (600, 450)


def test_a_plain_pdf_is_kept_byte_for_byte() -> None:
    data = pdf()
    cleaned = clean(data)
    assert cleaned.data == data and cleaned.sha256 == cleaned.original_sha256


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"%PDF-1.4\n"]),
    body=st.binary(max_size=2048),
    tail=st.sampled_from([b"", b"\n%%EOF\n"]),
)
def test_random_bytes_are_refused_never_crash(prefix: bytes, body: bytes, tail: bytes) -> None:
    with contextlib.suppress(content.Refused):
        clean(prefix + body + tail)


def _hand_made_pdf(catalog_extra: bytes) -> bytes:
    """A minimal PDF written by hand (with a correct cross-reference table), so a name
    can be spelled with #xx escapes as an attacker would."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_a_hand_made_pdf_passes_and_an_escaped_javascript_name_does_not() -> None:
    assert clean(_hand_made_pdf(b"")).media_type == content.PDF
    # /Names tree is not even needed: an /OpenAction spelled /Op#65nAction, pointing at
    # an action whose type is /J#61vaScript.
    assert refused(_hand_made_pdf(b"/Op#65nAction 4 0 R")) == "active_pdf"
    assert refused(_hand_made_pdf(b"/Outlines << /First << /A 4 0 R >> >>")) == "active_pdf"
