"""The face thumbnail printed inside the card QR: WebP, at most 1,000 bytes."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

MAX_THUMBNAIL_BYTES = 1000
SIZE = (48, 64)  # width × height: enough for a counter officer to compare a face


def face_thumbnail(jpeg: bytes, *, max_bytes: int = MAX_THUMBNAIL_BYTES) -> bytes:
    """A small greyscale WebP of the enrolment photo, as large as fits in ``max_bytes``.

    Greyscale halves the size for the same detail; quality steps down until the
    thumbnail fits. Raises ValueError if even the lowest quality does not fit.
    """
    with Image.open(io.BytesIO(jpeg)) as image:
        face = ImageOps.fit(image.convert("L"), SIZE, method=Image.Resampling.LANCZOS)
    for quality in (60, 50, 40, 30, 20, 10):
        out = io.BytesIO()
        face.save(out, format="WEBP", quality=quality, method=6)
        if out.tell() <= max_bytes:
            return out.getvalue()
    raise ValueError("the face thumbnail does not fit in the card QR")
