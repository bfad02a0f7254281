"""Printable ID cards (PDF, rendered by WeasyPrint): front with photo and names, back with QR.

Cards are ID-1 size (85.6 × 54 mm), one page per side, so a card printer takes
the PDF as it is. The Urdu name is set in Noto Nastaliq Urdu (Debian's
fonts-noto-core); nothing is fetched from the network while rendering.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from rahdari.core import qr
from rahdari.credentials.models import Credential
from rahdari.identity.rules import format_rahdari_number


def _card(credential: Credential) -> dict[str, Any]:
    person = credential.person
    return {
        "credential": credential,
        "person": person,
        "number": format_rahdari_number(person.rahdari_number or ""),
        "photo": f"data:image/jpeg;base64,{person.photo}" if person.photo else "",
        "qr": "data:image/png;base64,"
        + base64.b64encode(qr.qr_png(credential.qr_card, ec_level=qr.EC_CARD, scale=1)).decode(),
    }


def render_cards(credentials: Sequence[Credential], *, language: str = "ur") -> bytes:
    """One PDF, two pages per card (front, back), labels in ``language``."""
    from PIL import ImageFile
    from weasyprint import HTML  # imported late: Pango loads once, only where cards are made

    # WeasyPrint switches Pillow to accepting truncated images when it is imported; the
    # upload checks (photos, QR photos) rely on Pillow refusing them, so switch it back.
    # The images on a card are made here and are never truncated.
    ImageFile.LOAD_TRUNCATED_IMAGES = False

    with translation.override(language):
        html = render_to_string(
            "credentials/card.html",
            {"cards": [_card(c) for c in credentials], "language": language},
        )
    return bytes(HTML(string=html, base_url=None).write_pdf())
