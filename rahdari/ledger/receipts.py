"""Receipts for people: the link and QR code that open the public checker, a printable
PDF, and an entry's facts in words — what a page or a letter shows of one ledger entry.

The receipt travels in the link's fragment (``/ledger/verify/#r=…``), which a browser
never sends to a server: the checker runs in the reader's own browser, so checking a
receipt tells nobody which payment was looked at. The payments app prints these for
beneficiaries (with the salt, so they can check it was their payment); the entry pages
show them without the salt.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import numberformat, timezone, translation
from django.utils.formats import date_format, get_format
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from PIL import Image

from rahdari.core import qr
from rahdari.core.models import District
from rahdari.ledger import entries

# The receipt link is a long text in byte mode (base64url is not QR's alphanumeric set):
# about 1.1 KB for a young log and 1.7 KB at 10 million entries (24 proof hashes). Level
# L holds that in a version-30 symbol, level M would need version 35 and runs out
# (version 40) near a billion entries. Fewer, larger modules are what a phone camera
# needs to read a dense code off paper or a screen; L's 7 % damage tolerance is enough
# for a fresh print or a screen (cards carried in a wallet for years use M, core/qr.py).
RECEIPT_EC_LEVEL = "L"
QR_DISPLAY_PX = 330

# Kinds in the order of a payment's life; words for a person, short words for a column.
KIND_NAMES: dict[str, Promise] = {
    "programs.enrolment_approved": gettext_lazy("Enrolment approved"),
    "payments.cycle_approved": gettext_lazy("Payment cycle approved"),
    "payments.instructed": gettext_lazy("Payment sent to the bank or wallet"),
    "payments.paid": gettext_lazy("Payment made"),
    "payments.failed": gettext_lazy("Payment failed"),
    "payments.returned": gettext_lazy("Payment returned"),
    "payments.unclaimed": gettext_lazy("Payment not collected (recalled)"),
    "payments.reversed": gettext_lazy("Payment reversed"),
}
KIND_COLUMNS: dict[str, Promise] = {
    "programs.enrolment_approved": gettext_lazy("Enrolled"),
    "payments.cycle_approved": gettext_lazy("Approved"),
    "payments.instructed": gettext_lazy("Instructed"),
    "payments.paid": gettext_lazy("Paid"),
    "payments.failed": gettext_lazy("Failed"),
    "payments.returned": gettext_lazy("Returned"),
    "payments.unclaimed": gettext_lazy("Not collected"),
    "payments.reversed": gettext_lazy("Reversed"),
}
CHANNEL_NAMES: dict[str, Promise] = {
    "bank": gettext_lazy("Bank account"),
    "wallet": gettext_lazy("Mobile wallet"),
    "card": gettext_lazy("Prepaid card"),
}
FACT_LABELS: dict[str, Promise] = {
    "kind": gettext_lazy("What happened"),
    "amount": gettext_lazy("Amount"),
    "program": gettext_lazy("Program"),
    "cycle": gettext_lazy("Payment cycle"),
    "run": gettext_lazy("Enrolment run"),
    "period": gettext_lazy("Period"),
    "district": gettext_lazy("District"),
    "districts": gettext_lazy("Districts"),
    "count": gettext_lazy("Payments"),
    "people": gettext_lazy("People enrolled"),
    "channel": gettext_lazy("Paid through"),
    "payment": gettext_lazy("Payment reference"),
    "at": gettext_lazy("Date"),
}


@dataclass(frozen=True)
class Fact:
    """One line of an entry in words, e.g. ("amount", "Amount", "Rs 13,500")."""

    key: str
    label: str
    value: str
    ltr: bool = False  # codes and references read left to right in every language


def format_number(value: int) -> str:
    """Grouped in every language (as the programs' texts write amounts), with the
    locale's separator and grouping where it has one, by thousands where it has none."""
    return numberformat.format(
        value,
        str(get_format("DECIMAL_SEPARATOR")),
        grouping=get_format("NUMBER_GROUPING") or 3,
        thousand_sep=str(get_format("THOUSAND_SEPARATOR")),
        force_grouping=True,
    )


def rupees(value: int) -> str:
    return _("Rs %(amount)s") % {"amount": format_number(value)}


def number_format_settings() -> dict[str, Any]:
    """What the browser's checker needs to group numbers as :func:`format_number` does."""
    grouping = get_format("NUMBER_GROUPING") or 3
    return {
        "separator": str(get_format("THOUSAND_SEPARATOR")),
        "grouping": list(grouping) if isinstance(grouping, list | tuple) else [grouping],
    }


def is_payment(entry: dict[str, Any]) -> bool:
    """One payment's event (instructed, paid …), as opposed to a cycle's or a run's totals."""
    return "payment" in entry


def entry_time(entry: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(entry.get("at")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def district_names() -> dict[str, str]:
    """District names as the reader's language writes them (Urdu script for Urdu and
    Pashto; the entries hold the English names of the reference list)."""
    if not translation.get_language_bidi():
        return {}
    return dict(District.objects.values_list("name", "name_ur"))


def entry_facts(entry: dict[str, Any], districts: dict[str, str] | None = None) -> list[Fact]:
    """A checked entry's fields in words, in the reader's language."""
    districts = districts or {}
    kind = str(entry.get("kind", ""))
    facts = [Fact("kind", str(FACT_LABELS["kind"]), str(KIND_NAMES.get(kind, kind)))]

    def add(key: str, value: str, *, ltr: bool = False, label: str = "") -> None:
        facts.append(Fact(key, label or str(FACT_LABELS[key]), value, ltr))

    if is_payment(entry):
        add("amount", rupees(int(entry["amount"])))
        add("program", str(entry["program"]), ltr=True)
        add("cycle", str(entry["cycle"]), ltr=True)
        district = str(entry["district"])
        add("district", districts.get(district, district))
        channel = str(entry["channel"])
        add("channel", str(CHANNEL_NAMES.get(channel, channel)))
        add("payment", str(entry["payment"]), ltr=True)
    elif "totals" in entry:
        rows = entry["totals"]
        add("amount", rupees(sum(int(r["amount"]) for r in rows)))
        add("program", str(entry["program"]), ltr=True)
        if "cycle" in entry:
            add("cycle", str(entry["cycle"]), ltr=True)
        else:
            add("run", str(entry["run"]), ltr=True)
            add("period", str(entry["period"]), ltr=True)
        add("districts", format_number(len(rows)))
        count = format_number(sum(int(r["count"]) for r in rows))
        add("people" if "run" in entry else "count", count)
    at = entry_time(entry)
    if at is not None:
        add("at", date_format(timezone.localtime(at), "DATETIME_FORMAT"))
    return facts


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- The receipt's link, QR and PDF --------------------------------------------------


def receipt_url(receipt: entries.Receipt) -> str:
    """The public checker's address with the receipt in its fragment (never sent to a server)."""
    return f"{settings.RAHDARI_PUBLIC_URL}{reverse('ledger:verify')}#r={receipt.encode()}"


def receipt_qr_svg(receipt: entries.Receipt) -> str:
    """The QR of :func:`receipt_url` as an SVG element to put in a page or a file: it
    scales to its box (viewBox) and carries no XML prolog and no fixed id."""
    svg = qr.qr_svg(receipt_url(receipt), ec_level=RECEIPT_EC_LEVEL)
    svg = svg[svg.index("<svg") :]
    head, rest = svg.split(">", 1)
    size = head.split('width="', 1)[1].split('"', 1)[0]
    head = head.replace(
        f'width="{size}"',
        f'viewBox="0 0 {size} {size}" width="{size}" shape-rendering="crispEdges"',
        1,
    )
    return head + ">" + rest.replace(' id="barcode"', "", 1)


def receipt_qr_png(receipt: entries.Receipt, *, scale: int = 1) -> bytes:
    """The same QR as a 1-bit PNG; at one pixel per module it is a few KB (the SVG of a
    version-30 symbol is about 60 KB), so pages and PDFs show it scaled without smoothing."""
    return qr.qr_png(receipt_url(receipt), ec_level=RECEIPT_EC_LEVEL, scale=scale)


def _png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def receipt_context(
    receipt: entries.Receipt, *, pdf_url: str = "", districts: dict[str, str] | None = None
) -> dict[str, Any]:
    """What ``ledger/_receipt.html`` shows: the QR, the link, the tree head, the facts."""
    try:
        entry = entries.decode_entry(receipt.entry)
    except entries.EntryError:
        entry = {}
    head = receipt.tree_head
    png = receipt_qr_png(receipt)
    with Image.open(io.BytesIO(png)) as image:
        modules = image.width  # one pixel per module, quiet zone included
    return {
        "url": receipt_url(receipt),
        "link": f"{reverse('ledger:verify')}#r={receipt.encode()}",
        "qr": _png_data_uri(png),
        # Shown at a whole number of CSS pixels per module, about 330 px wide: a scaled
        # code with uneven modules is harder for a camera to read.
        "qr_size": modules * max(2, round(QR_DISPLAY_PX / modules)),
        "pdf_url": pdf_url,
        "facts": entry_facts(entry, districts) if entry else [],
        "payment": is_payment(entry),
        "index": format_number(receipt.index),
        "tree_size": format_number(head.tree_size),
        "signed_at": datetime.fromtimestamp(head.timestamp_ms / 1000, UTC),
        "root_hash": entries.b64(head.root_hash),
        "key_id": head.key_id,
        "has_salt": receipt.salt is not None,
    }


def receipt_pdf(receipt: entries.Receipt, *, language: str) -> bytes:
    """A printable A5 receipt in ``language``: the entry in words, the QR that opens the
    public checker, and where in the log the entry sits."""
    from PIL import ImageFile
    from weasyprint import HTML  # imported late: Pango loads once, only where PDFs are made

    # As in credentials/cards.py: WeasyPrint lets Pillow accept truncated images on
    # import; the upload checks elsewhere rely on Pillow refusing them.
    ImageFile.LOAD_TRUNCATED_IMAGES = False

    with translation.override(language):
        context = receipt_context(receipt, districts=district_names())
        html = render_to_string(
            "ledger/receipt_pdf.html",
            {
                "receipt": context,
                "language": get_language(),
                "bidi": translation.get_language_bidi(),
            },
        )
    return bytes(HTML(string=html, base_url=None).write_pdf())
