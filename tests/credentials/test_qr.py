"""QR images (rahdari.core.qr), without a database: draw a credential, read it back."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from rahdari.core import qr
from rahdari.credentials import cwt

ISSUER = "https://id.kp.gov.pk"
NOW = 1_790_000_000
YEAR = 365 * 86_400


def signing_key() -> cwt.SigningKey:
    seed = hashlib.sha256(b"qr tests").digest()
    return cwt.SigningKey(kid=seed[:8], seed=seed)  # 8-byte kid, as services issues


def compact_identity() -> dict[int, Any]:
    """A realistic compact credential: no photo, Latin and Urdu names of 25 characters."""
    identity = {
        cwt.ID: "202412345678",
        cwt.VERSION: cwt.PROFILE_VERSION,
        cwt.LANGUAGE: "eng",
        cwt.FULL_NAME: "Muhammad Sher Khan Afridi",
        cwt.DATE_OF_BIRTH: "1985-03-12",
        cwt.GENDER: 1,
        cwt.ADDRESS: "Babuzai, Swat",
        cwt.NATIONALITY: "PAK",
        cwt.GUARDIAN: "Abdul Rahim Khan Yousafza",
        cwt.SECONDARY_FULL_NAME: "محمد شیر خان آفریدی صاحب ج",
        cwt.SECONDARY_LANGUAGE: "urd",
        cwt.LOCATION_CODE: "Swat",
        cwt.COUNTRY_OF_ISSUANCE: "PAK",
    }
    return identity


def credential(*, identity: dict[int, Any] | None = None, status_index: int = 9_999_999) -> str:
    claims = cwt.credential_claims(
        identity=compact_identity() if identity is None else identity,
        issuer=ISSUER,
        issued_at=NOW,
        expires_at=NOW + 5 * YEAR,
        status_uri=f"{ISSUER}/status/12",
        status_index=status_index,
    )
    return cwt.encode(claims, signing_key())


def photo_credential() -> str:
    face = Image.new("RGB", (96, 120), (200, 170, 140))
    ImageDraw.Draw(face).ellipse((16, 12, 80, 108), fill=(225, 190, 160), outline=(90, 60, 40))
    out = io.BytesIO()
    face.save(out, format="WEBP", quality=30)
    identity = compact_identity()
    identity.update({cwt.PHOTO: out.getvalue(), cwt.PHOTO_FORMAT: 4})
    return credential(identity=identity)


def encoded(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header and carries no pixels (a bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def text() -> str:
    return credential()


# --- drawing ---------------------------------------------------------------------------------


def test_compact_credential_fits_version_17_at_level_q(text: str) -> None:
    """Issue requirement: the phone-screen QR of a compact credential is version 17 or less."""
    identity = compact_identity()
    assert len(identity[cwt.ID]) == 12
    assert len(identity[cwt.FULL_NAME]) == 25
    assert len(identity[cwt.GUARDIAN]) >= 25
    assert len(identity[cwt.SECONDARY_FULL_NAME]) >= 25
    assert cwt.PHOTO not in identity
    assert qr.EC_COMPACT == "Q"
    assert qr.qr_version(text) <= 17
    assert qr.qr_version(text, "Q") == qr.qr_version(text)
    assert qr.qr_version(text, qr.EC_CARD) <= qr.qr_version(text, qr.EC_COMPACT)


@pytest.mark.parametrize(
    ("content", "ec_level", "version"),
    [
        ("A", "L", 1),
        ("0" * 41, "L", 1),  # version 1-L holds 41 digits
        ("0" * 42, "L", 2),
        ("A" * 25, "L", 1),  # ... and 25 alphanumeric characters
        ("A" * 26, "L", 2),
        ("A" * 16, "Q", 1),  # 1-Q: 16 alphanumeric
        ("A" * 17, "Q", 2),
        ("A" * 4296, "L", 40),  # the largest alphanumeric QR
    ],
)
def test_qr_version_matches_the_capacity_tables(content: str, ec_level: str, version: int) -> None:
    assert qr.qr_version(content, ec_level) == version


def test_credential_text_uses_alphanumeric_mode(text: str) -> None:
    """base45 exists so the QR is alphanumeric: 11 bits per 2 characters, not 8 per character."""
    assert set(text) <= set(cwt.ALPHABET.decode())
    byte_mode = qr.qr_version(text.lower())  # lower-case letters force byte mode
    assert qr.qr_version(text) < byte_mode


@pytest.mark.parametrize("ec_level", ["L", "M", "Q", "H"])
@pytest.mark.parametrize("scale", [1, 3, 6])
def test_qr_png_is_a_one_bit_png_of_the_right_size(text: str, ec_level: str, scale: int) -> None:
    png = qr.qr_png(text, ec_level=ec_level, scale=scale)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.mode == "1"
        modules = 17 + 4 * qr.qr_version(text, ec_level)
        assert image.size == ((modules + 8) * scale, (modules + 8) * scale)  # with quiet zone
        pixels = np.asarray(image.convert("L"))
    assert set(np.unique(pixels)) == {0, 255}
    quiet = 4 * scale
    assert (pixels[:quiet] == 255).all() and (pixels[-quiet:] == 255).all()
    assert (pixels[:, :quiet] == 255).all() and (pixels[:, -quiet:] == 255).all()
    assert pixels[quiet, quiet] == 0  # the finder pattern's corner is black


@pytest.mark.parametrize("ec_level", ["L", "M", "Q", "H"])
def test_qr_png_reads_back_to_the_same_text(text: str, ec_level: str) -> None:
    assert qr.read_qr_texts(qr.qr_png(text, ec_level=ec_level)) == [text]


def test_photo_credential_reads_back() -> None:
    text = photo_credential()
    assert qr.qr_version(text, qr.EC_CARD) > qr.qr_version(credential(), qr.EC_CARD)
    (read,) = qr.read_qr_texts(qr.qr_png(text, ec_level=qr.EC_CARD, scale=4))
    assert read == text
    keyset = cwt.KeySet()
    key = signing_key()
    keyset.add(cwt.PublicKey(key.kid, key.public_key, ISSUER, NOW - YEAR, None, NOW + 10 * YEAR))
    result = cwt.Verifier(keyset).verify(read, now=NOW + 1)
    assert result.valid
    assert result.claims["photo_media_type"] == "image/webp"


def svg_pixels(svg: str) -> np.ndarray:
    """Rasterise the SVG (a white rect, then one path of 'MxyhWvHh-WZ' boxes) at 1 px/unit."""
    root = ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", svg))  # noqa: S314 — our own SVG
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    width, height = int(float(root.attrib["width"])), int(float(root.attrib["height"]))
    pixels = np.full((height, width), 255, dtype=np.uint8)
    (path,) = root.findall(".//{http://www.w3.org/2000/svg}path")
    boxes = re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)h-\d+Z", path.attrib["d"])
    assert boxes and len("".join(f"M{x} {y}h{w}v{h}h-{w}Z" for x, y, w, h in boxes)) == len(
        path.attrib["d"]
    )
    for x, y, w, h in (map(int, box) for box in boxes):
        pixels[y : y + h, x : x + w] = 0
    return pixels


def test_qr_svg_is_the_same_symbol_as_the_png(text: str) -> None:
    svg = qr.qr_svg(text)
    assert isinstance(svg, str)
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    pixels = svg_pixels(svg)
    modules = 17 + 4 * qr.qr_version(text)
    assert pixels.shape == (modules + 8, modules + 8)  # with the quiet zone
    with Image.open(io.BytesIO(qr.qr_png(text, scale=1))) as png:
        assert (pixels == np.asarray(png.convert("L"))).all()
    big = Image.fromarray(pixels).resize((pixels.shape[1] * 4,) * 2, Image.Resampling.NEAREST)
    assert qr.read_qr_texts(encoded(big)) == [text]


def test_qr_svg_depends_on_the_error_correction_level(text: str) -> None:
    assert qr.qr_svg(text, ec_level="L") != qr.qr_svg(text, ec_level="H")


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "1", {}),
        ("PNG", "RGB", {}),
        ("PNG", "RGBA", {}),
        ("JPEG", "RGB", {"quality": 70}),
        ("JPEG", "L", {"quality": 60}),
        ("WEBP", "RGB", {"quality": 70}),
        ("GIF", "P", {}),
        ("BMP", "RGB", {}),
        ("TIFF", "L", {}),
    ],
)
def test_read_qr_texts_reads_common_formats(text: str, fmt: str, mode: str, options: Any) -> None:
    with Image.open(io.BytesIO(qr.qr_png(text))) as image:
        converted = image.convert(mode)
    assert qr.read_qr_texts(encoded(converted, fmt, **options)) == [text]


def test_read_qr_texts_finds_a_qr_in_a_photo_of_a_counter(text: str) -> None:
    """1280×720 noisy background, the QR pasted off-centre and rotated 7°, saved as JPEG."""
    rng = np.random.default_rng(7)
    noise = rng.integers(60, 200, (720, 1280, 3), dtype=np.uint8)
    photo = Image.fromarray(noise, "RGB").filter(ImageFilter.GaussianBlur(0.6))
    with Image.open(io.BytesIO(qr.qr_png(text, scale=4))) as symbol:
        tilted = symbol.convert("L").rotate(
            7, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC
        )
    assert tilted.width < 720
    photo.paste(tilted.convert("RGB"), (612, 64))
    assert qr.read_qr_texts(encoded(photo, "JPEG", quality=80)) == [text]


def test_read_qr_texts_reads_every_qr_in_the_image(text: str) -> None:
    other = credential(status_index=42)
    left = Image.open(io.BytesIO(qr.qr_png(text, scale=3)))
    right = Image.open(io.BytesIO(qr.qr_png(other, scale=3)))
    sheet = Image.new("L", (left.width + right.width + 40, max(left.height, right.height)), 255)
    sheet.paste(left, (0, 0))
    sheet.paste(right, (left.width + 40, 0))
    assert sorted(qr.read_qr_texts(encoded(sheet))) == sorted([text, other])


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (640, 480), 255),
        Image.new("RGB", (640, 480), (0, 0, 0)),
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (480, 640), dtype=np.uint8)),
        Image.new("1", (1, 1), 1),
    ],
    ids=["white", "black", "noise", "one pixel"],
)
def test_image_without_qr_raises_no_qr_found(image: Image.Image) -> None:
    with pytest.raises(qr.NoQrFound):
        qr.read_qr_texts(encoded(image))


def test_text_that_is_not_a_qr_raises_no_qr_found() -> None:
    image = Image.new("L", (400, 100), 255)
    ImageDraw.Draw(image).text((10, 40), "RAHDARI 202412345678", fill=0)
    with pytest.raises(qr.NoQrFound):
        qr.read_qr_texts(encoded(image, "JPEG"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        np.random.default_rng(2).bytes(4096),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"\x89PNG\r\n\x1a\n",  # signature only
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,  # a JPEG that stops in its header
    ],
    ids=["empty", "prose", "random bytes", "pdf", "png signature", "jpeg header"],
)
def test_non_images_raise_not_an_image(data: bytes) -> None:
    with pytest.raises(qr.NotAnImage):
        qr.read_qr_texts(data)


def test_truncated_image_raises_not_an_image(text: str) -> None:
    png = qr.qr_png(text)
    with pytest.raises(qr.NotAnImage):
        qr.read_qr_texts(png[: len(png) // 2])


@pytest.mark.parametrize(
    ("width", "height"),
    [(8_000, 6_000), (40_001, 1_000), (20_000, 10_000), (65_535, 65_535)],
)
def test_images_with_too_many_pixels_raise_not_an_image(width: int, height: int) -> None:
    """Refused from the header alone, before any pixel is decoded."""
    assert width * height > qr.MAX_PIXELS
    with pytest.raises(qr.NotAnImage):
        qr.read_qr_texts(png_header_only(width, height))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_in_pillows_warning_band_raises_not_an_image() -> None:
    """Between Pillow's warning (89 M pixels) and error (179 M) limits, with default warnings."""
    with pytest.raises(qr.NotAnImage):
        qr.read_qr_texts(png_header_only(10_000, 10_000))


def test_image_in_pillows_warning_band_raises_not_an_image_with_warnings_as_errors() -> None:
    with pytest.raises(qr.NotAnImage):
        qr.read_qr_texts(png_header_only(10_000, 10_000))


def test_reading_is_limited_to_qr_codes(text: str) -> None:
    """Only QR codes are read: text drawn from another symbology is not returned."""
    import zxingcpp

    code128 = zxingcpp.create_barcode("RAHDARI12345", zxingcpp.BarcodeFormat.Code128)
    strip = Image.fromarray(np.asarray(code128.to_image(scale=3)))
    with pytest.raises(qr.NoQrFound):
        qr.read_qr_texts(encoded(strip))
    sheet = Image.new("L", (strip.width + 400, strip.height + 400), 255)
    sheet.paste(strip, (0, 0))
    with Image.open(io.BytesIO(qr.qr_png(text, scale=2))) as symbol:
        sheet.paste(symbol, (10, strip.height + 20))
    assert qr.read_qr_texts(encoded(sheet)) == [text]
