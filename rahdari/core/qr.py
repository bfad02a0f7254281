"""QR images: drawing a QR (PNG, SVG) — credentials, ledger receipts — and reading it back.

zxing-cpp does both: it encodes about ten times faster than segno with automatic
mask selection (benchmarks/credentials.py) and its reader copes with phone photos
of printed cards. The QR uses alphanumeric mode (base45 was made for it) at
error-correction level Q for phone screens and M for the denser card profile.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import zxingcpp
from PIL import Image, UnidentifiedImageError

EC_COMPACT = "Q"
EC_CARD = "M"
MAX_PIXELS = 40_000_000  # a 20 MB photo of a counter is far below; bombs are above
# Alphanumeric characters a version-17 symbol holds at level Q: the compact profile's limit,
# so a phone screen shows modules large enough for any counter's camera.
COMPACT_MAX_VERSION = 17
COMPACT_MAX_CHARS = 531


class NoQrFound(ValueError):
    """The image holds no readable QR code."""


class NotAnImage(ValueError):
    """The upload is not an image Pillow can read."""


def _symbol(text: str, ec_level: str) -> zxingcpp.Barcode:
    return zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ec_level)


def qr_version(text: str, ec_level: str = EC_COMPACT) -> int:
    """The QR version (1–40) of this text: a version-v symbol is 17 + 4v modules wide."""
    modules = _symbol(text, ec_level).to_image(scale=1, add_quiet_zones=False).shape[0]
    return (int(modules) - 17) // 4


def qr_png(text: str, *, ec_level: str = EC_COMPACT, scale: int = 6) -> bytes:
    """A black-on-white PNG with the four-module quiet zone, 1 bit per pixel.

    ``scale=1`` (one pixel per module) is the print image: the card PDF scales it
    without interpolation, so it stays sharp at any printer resolution and costs
    least to make. Screens get larger scales.
    """
    modules = np.asarray(_symbol(text, ec_level).to_image(scale=1))
    # The pixels are already pure black and white: dithering would only cost time.
    image = Image.fromarray(modules).convert("1", dither=Image.Dither.NONE)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_svg(text: str, *, ec_level: str = EC_COMPACT) -> str:
    return str(_symbol(text, ec_level).to_svg())


def read_qr_texts(data: bytes) -> list[str]:
    """Every QR text in an image file (JPEG, PNG, WebP …), decoded server-side."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89M and 179M pixels; here any bomb is refused.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                too_big = image.width * image.height > MAX_PIXELS
                gray = None if too_big else image.convert("L")
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise NotAnImage("not an image") from None
    if gray is None:
        raise NotAnImage("the image has too many pixels")
    found = zxingcpp.read_barcodes(
        gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    texts = [result.text for result in found if result.valid and result.text]
    if not texts:
        raise NoQrFound("no QR code in the image")
    return texts
