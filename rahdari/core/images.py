"""Photos and scans: checked by content, re-encoded, stripped of metadata."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from rahdari.core.errors import ApplicationError

MAX_EDGE = 640


def reencode_photo(data: bytes, *, max_bytes: int, field: str = "photo") -> bytes:
    """A JPEG of at most 640 px a side, with no EXIF (no location), from any image file.

    The file name and the declared type are ignored: Pillow reads the content. A
    file that is not an image, is corrupt or is over `max_bytes` is refused.
    """
    if len(data) > max_bytes:
        message = _("The photo is larger than %(mb)d MB.") % {"mb": max_bytes // (1024 * 1024)}
        raise ApplicationError(message, code="photo_too_large", fields={field: [message]})
    not_image = _("This file is not a photo (JPEG, PNG or WebP).")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in {"JPEG", "PNG", "WEBP"}:
                raise ApplicationError(not_image, code="not_an_image", fields={field: [not_image]})
            upright = ImageOps.exif_transpose(image).convert("RGB")
            upright.thumbnail((MAX_EDGE, MAX_EDGE))
            out = io.BytesIO()
            upright.save(out, format="JPEG", quality=82, optimize=True)
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise ApplicationError(not_image, code="not_an_image", fields={field: [not_image]}) from exc
    return out.getvalue()
