"""Verification with no server: a key set file and status list files, as a counter caches them.

Used by `rahdari credential verify --keys rahdari-keys.json --status 1.cwt …`; it
needs neither Django nor a database, only the files a verifier downloaded from
``/.well-known/rahdari-keys.json`` and ``/status/<n>`` while it was online.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rahdari.core import qr
from rahdari.credentials import cwt

MAX_IMAGE_BYTES = 20 * 1024 * 1024


def load_verifier(keys_path: Path, status_paths: Sequence[Path] = ()) -> cwt.Verifier:
    """A verifier from cached files; a status list that does not verify is an error."""
    keyset = cwt.KeySet.from_json(json.loads(keys_path.read_text(encoding="utf-8")))
    verifier = cwt.Verifier(keyset)
    for path in status_paths:
        verifier.add_status_list(cwt.parse_status_list_token(path.read_bytes(), keyset))
    return verifier


def texts_from_argument(argument: str) -> list[str]:
    """The QR text itself, or the texts found in an image file (PNG, JPEG …) at that path."""
    path = Path(argument)
    if len(argument) < 4096 and path.is_file():
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise cwt.FormatError("too_large", "the image is larger than 20 MB")
        try:
            return qr.read_qr_texts(path.read_bytes())
        except qr.NoQrFound:
            raise cwt.FormatError("no_qr_found", "no QR code in the image") from None
        except qr.NotAnImage:
            raise cwt.FormatError("not_an_image", "the file is not an image") from None
    return [argument]
