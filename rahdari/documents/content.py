"""What a document file is, judged by its bytes, and its cleaned copy. No Django here.

Only JPEG, PNG and PDF are accepted, recognised by their magic bytes (the file name and
the declared type are ignored). A photo is decoded in full (a truncated or corrupt one
fails), turned upright by its EXIF orientation and re-encoded from its pixels alone, so
no EXIF (location, phone model), XMP or ICC profile survives. A PDF is parsed and
refused when it is encrypted, truncated, or carries anything that acts on its own
(JavaScript, actions on opening, launch actions, embedded files, rich media, XFA forms);
an accepted PDF is kept byte for byte (a signed certificate keeps its signature).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
MEDIA_TYPES = (JPEG, PNG, PDF)
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}

# Keys and action types that make a PDF do something by itself when it is opened or
# clicked, or carry other files: refused (ISO 32000-1 §12.6 actions, §7.11.4 embedded
# files, §12.7.8 XFA; Adobe's RichMedia extension).
ACTIVE_KEYS = frozenset(
    {"/JS", "/JavaScript", "/OpenAction", "/AA", "/Launch", "/EmbeddedFile", "/EmbeddedFiles"}
    | {"/RichMedia", "/RichMediaContent", "/RichMediaSettings", "/XFA"}
)
ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/RichMediaExecute", "/GoToE"}
)
MAX_PDF_OBJECTS = 200_000  # more objects than this is not a scan or a certificate
PDF_TAIL = 1024  # %%EOF must be within the last kilobyte (ISO 32000-1 §7.5.5)
JPEG_QUALITY = 90


class Refused(Exception):
    """The file is not accepted; ``code`` is stable and names the reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Cleaned:
    media_type: str
    data: bytes
    original_sha256: str
    sha256: str
    width: int | None = None
    height: int | None = None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The media type the first bytes announce, or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def clean(data: bytes, *, max_bytes: int, max_pixels: int, max_edge: int) -> Cleaned:
    """The cleaned copy of an uploaded file, or :class:`Refused`.

    Codes: ``empty``, ``too_large``, ``unsupported_type``, ``corrupt_image``,
    ``image_too_large`` (pixel count: a decompression bomb), ``truncated``,
    ``corrupt_pdf``, ``encrypted_pdf``, ``active_pdf``.
    """
    if not data:
        raise Refused("empty")
    if len(data) > max_bytes:
        raise Refused("too_large")
    media_type = sniff(data)
    if media_type is None:
        raise Refused("unsupported_type")
    if media_type == PDF:
        check_pdf(data)
        digest = sha256(data)
        return Cleaned(PDF, data, digest, digest)
    cleaned, width, height = clean_image(data, media_type, max_pixels=max_pixels, max_edge=max_edge)
    return Cleaned(media_type, cleaned, sha256(data), sha256(cleaned), width, height)


def clean_image(
    data: bytes, media_type: str, *, max_pixels: int, max_edge: int
) -> tuple[bytes, int, int]:
    """Decode every pixel, turn upright, re-encode from the pixels alone."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a global some library might have switched on
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay off")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb limit warns first and fails at twice the limit (ours is
            # the pixel count below, checked before any pixel is decoded); its other
            # warnings are about metadata that is dropped anyway (corrupt EXIF).
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                expected = {JPEG: "JPEG", PNG: "PNG"}[media_type]
                if image.format != expected:
                    raise Refused("corrupt_image")
                if image.width * image.height > max_pixels:
                    raise Refused("image_too_large")
                image.load()  # every pixel: a truncated or corrupt file fails here
                upright = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as exc:
        raise Refused("image_too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc).lower()
        raise Refused("truncated" if "truncated" in message else "corrupt_image") from exc
    if upright.mode not in ("RGB", "L", "RGBA", "LA"):
        upright = upright.convert("RGBA" if "transparency" in upright.info else "RGB")
    if max(upright.size) > max_edge:
        upright.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: no info dictionary, so nothing (EXIF, XMP,
    # ICC, PNG text chunks) can ride along into the saved file.
    bare = Image.frombytes(upright.mode, upright.size, upright.tobytes())
    out = io.BytesIO()
    if media_type == JPEG:
        if bare.mode not in ("RGB", "L"):
            bare = bare.convert("RGB")
        bare.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        bare.save(out, format="PNG", optimize=False)
    return out.getvalue(), bare.width, bare.height


def check_pdf(data: bytes) -> None:
    """Refuse a truncated, corrupt, encrypted or active PDF."""
    if b"%%EOF" not in data[-PDF_TAIL:]:
        raise Refused("truncated")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Refused("encrypted_pdf")
        if len(reader.pages) < 1:
            raise Refused("corrupt_pdf")
        _refuse_active(reader.trailer)
    except Refused:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise Refused("corrupt_pdf") from exc


def _refuse_active(root: Any) -> None:
    """Walk every object reachable from the trailer (dictionaries and arrays; stream
    data is not interpreted). pypdf decodes names, so ``/J#61vaScript`` is caught too."""
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [root]
    visited = 0
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            ref = (node.idnum, node.generation)
            if ref in seen:
                continue
            seen.add(ref)
            node = node.get_object()
        visited += 1
        if visited > MAX_PDF_OBJECTS:
            raise Refused("corrupt_pdf")
        if isinstance(node, DictionaryObject):  # streams are dictionaries too
            for key, value in node.items():
                if str(key) in ACTIVE_KEYS:
                    raise Refused("active_pdf")
                if key == "/S" and isinstance(value, NameObject) and value in ACTIVE_ACTIONS:
                    raise Refused("active_pdf")
                stack.append(value)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
