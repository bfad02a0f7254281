"""The public ledger's pages: the transparency page in every language with the real log's
head, totals and entries; one entry with its public receipt (QR, link, PDF); the receipt
checker without JavaScript, which passes a true receipt and names the check that a
changed entry, proof, signature or number fails."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from PIL import Image
from pypdf import PdfReader

from rahdari.core import qr
from rahdari.ledger import entries, merkle, receipts, selectors, services, views
from rahdari.ledger.services import Submitted
from tests.conftest import districts_named
from tests.ledger.conftest import cycle_event, payment_event

pytestmark = pytest.mark.django_db

NUMBER = "482109375562"
SWAT_UR = "سوات"


@dataclass
class Log:
    submitted: list[Submitted]
    size: int

    def receipt(self, position: int, *, salt: bool = True) -> entries.Receipt:
        item = self.submitted[position]
        found = selectors.receipt(leaf_hash=item.leaf_hash, salt=item.salt if salt else None)
        assert found is not None
        return found


@pytest.fixture
def log() -> Log:
    """A cycle approved for Swat and Peshawar, then its payments: instructed, paid (one of
    them to NUMBER), one failed; and a second cycle with one payment. All signed."""
    districts_named(["Swat", "Peshawar", "Mardan"])  # their names in Urdu script
    events = [
        cycle_event([("Swat", 3, 40_500), ("Peshawar", 1, 13_500)]),
        payment_event("instructed", district="Swat"),
        payment_event("paid", district="Swat", number=NUMBER),
        payment_event("paid", district="Swat", amount=13_500),
        payment_event("paid", district="Peshawar", amount=13_500),
        payment_event("failed", district="Swat", amount=13_500),
        cycle_event([("Mardan", 1, 7_000)], cycle="2027-Q1"),
    ]
    submitted = services.ledger_submit_many(events=events)
    head = services.ledger_publish()
    assert head is not None and head.tree_size == len(events)
    return Log(submitted=submitted, size=head.tree_size)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


class _Tables(HTMLParser):
    """The totals tables as {"program/cycle": [[cell text, ...], ...]}, header row first."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table" and values.get("data-totals"):
            self._table = str(values["data-totals"])
            self.tables[self._table] = []
        elif self._table and tag == "tr":
            self.tables[self._table].append([])
        elif self._table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif self._table and tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _tr(language: str, text: Any) -> str:
    with translation.override(language):
        return translation.gettext(text) if isinstance(text, str) else str(text)


# --- the transparency page -------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ur", "ps"])
def test_transparency_page_shows_the_signed_head_totals_and_entries(
    client: Client, log: Log, language: str
) -> None:
    response = client.get(f"/ledger/?lang={language}")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'lang="{language}"' in body
    assert ('dir="rtl"' in body) == (language != "en")
    head = selectors.latest_tree_head()
    assert head is not None
    assert f"<dd data-sth-size>{log.size}</dd>" in body
    assert entries.b64(bytes(head.root_hash)) in body
    assert head.key.key_id in body
    assert entries.b64(bytes(head.key.public_key)) in body  # the public keys
    assert "rahdari ledger verify --url http://testserver" in body
    assert "/api/v1/ledger/proof/consistency" in body
    # the latest entries, newest first, each linked to its page
    links = re.findall(r'href="/ledger/entries/(\d+)/"', body)
    assert links == [str(i) for i in reversed(range(log.size))]
    if language != "en":
        assert SWAT_UR in body  # district names in the reader's script
    assert _tr(language, receipts.KIND_NAMES["payments.paid"]) in body


def test_totals_table_has_a_column_per_kind_present_and_grand_totals(
    client: Client, log: Log
) -> None:
    tables = _tables(client.get("/ledger/?lang=en").content.decode())
    assert list(tables) == ["cash-transfer/2026-Q4", "cash-transfer/2027-Q1"]
    q4 = tables["cash-transfer/2026-Q4"]
    assert q4[0] == ["District", "Approved", "Instructed", "Paid", "Failed"]  # no returned…
    rows = {row[0]: row[1:] for row in q4[1:]}
    assert rows["Peshawar"] == ["1 Rs 13,500", "– none", "1 Rs 13,500", "– none"]
    assert rows["Swat"] == ["3 Rs 40,500", "1 Rs 13,500", "2 Rs 27,000", "1 Rs 13,500"]
    assert rows["All districts"] == ["4 Rs 54,000", "1 Rs 13,500", "3 Rs 40,500", "1 Rs 13,500"]
    q1 = tables["cash-transfer/2027-Q1"]
    assert q1[0] == ["District", "Approved"]
    assert q1[1:] == [["Mardan", "1 Rs 7,000"], ["All districts", "1 Rs 7,000"]]


def test_totals_in_pashto_are_grouped_and_in_urdu_script(client: Client, log: Log) -> None:
    tables = _tables(client.get("/ledger/?lang=ps").content.decode())
    rows = {row[0]: row[1:] for row in tables["cash-transfer/2026-Q4"][1:]}
    assert SWAT_UR in rows
    assert _tr("ps", "Rs %(amount)s") % {"amount": "40,500"} in rows[SWAT_UR][0]


def test_transparency_page_of_an_empty_log(client: Client) -> None:
    body = client.get("/ledger/?lang=en").content.decode()
    assert "Nothing has been written into the log yet." in body
    assert "data-totals" not in body


def test_transparency_page_queries_do_not_grow_with_the_log(
    client: Client, log: Log, django_assert_num_queries: Any
) -> None:
    # head, entries, totals, keys, district names
    with django_assert_num_queries(5):
        client.get("/ledger/?lang=ur")
    services.ledger_submit_many(events=[payment_event(district="Mardan") for _ in range(40)])
    services.ledger_publish()
    with django_assert_num_queries(5):
        response = client.get("/ledger/?lang=ur")
    assert len(re.findall(r'href="/ledger/entries/(\d+)/"', response.content.decode())) == 20
    with django_assert_num_queries(4):  # English needs no district names
        client.get("/ledger/?lang=en")


def test_the_footer_links_to_the_ledger(client: Client) -> None:
    assert 'href="/ledger/"' in client.get("/").content.decode()


# --- one entry -----------------------------------------------------------------------


def _qr_texts_of_data_uri(body: str) -> list[str]:
    found = re.search(r'class="ledger-qr" src="data:image/png;base64,([^"]+)"', body)
    assert found
    with Image.open(io.BytesIO(base64.b64decode(found.group(1)))) as image:
        big = image.convert("L").resize(
            (image.width * 4, image.height * 4), Image.Resampling.NEAREST
        )
        out = io.BytesIO()
        big.save(out, format="PNG")
    return qr.read_qr_texts(out.getvalue())


@pytest.mark.parametrize("language", ["en", "ur"])
def test_entry_page_shows_the_fields_in_words_and_the_public_receipt(
    client: Client, log: Log, language: str
) -> None:
    response = client.get(f"/ledger/entries/2/?lang={language}")
    assert response.status_code == 200
    body = response.content.decode()
    public = log.receipt(2, salt=False)
    fields = entries.decode_entry(public.entry)
    assert _tr(language, receipts.KIND_NAMES["payments.paid"]) in body
    assert _tr(language, "Rs %(amount)s") % {"amount": "13,500"} in body
    assert fields["payment"] in body and "2026-Q4" in body
    assert (SWAT_UR if language == "ur" else "Swat") in body
    assert entries.b64(merkle.leaf_hash(public.entry)) in body
    # the QR drawn on the page opens the checker with the public receipt (no salt)
    url = receipts.receipt_url(public)
    assert _qr_texts_of_data_uri(body) == [url]
    assert url.startswith("http://testserver/ledger/verify/#r=")
    assert entries.Receipt.decode(url.split("#r=")[1]).salt is None
    assert f'href="/ledger/verify/#r={public.encode()}"' in body
    assert 'href="/ledger/entries/2/receipt.pdf"' in body
    assert 'href="/ledger/entries/1/"' in body and 'href="/ledger/entries/3/"' in body


def test_entry_page_of_a_cycle_shows_its_totals(client: Client, log: Log) -> None:
    body = client.get("/ledger/entries/0/?lang=en").content.decode()
    assert "Payment cycle approved" in body
    assert "Rs 54,000" in body  # 40,500 + 13,500
    assert '<dd data-fact="districts">2</dd>' in body
    assert '<dd data-fact="count">4</dd>' in body


@pytest.mark.parametrize("language", ["en", "ur", "ps"])
def test_unknown_or_unsigned_index_is_404_in_the_readers_language(
    client: Client, log: Log, language: str
) -> None:
    services.ledger_submit_many(events=[payment_event()])
    services.ledger_integrate()  # sequenced as leaf 7, not signed yet
    for path in (f"/ledger/entries/{log.size}/", "/ledger/entries/999/"):
        for suffix in ("", "receipt.pdf"):
            response = client.get(f"{path}{suffix}?lang={language}")
            assert response.status_code == 404
            body = response.content.decode()
            assert f'lang="{language}"' in body
            assert _tr(language, "Page not found") in body


def test_no_entry_page_before_the_first_head(client: Client) -> None:
    assert client.get("/ledger/entries/0/").status_code == 404


def _pdf_qr_texts(pdf: bytes) -> list[str]:
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    texts = []
    for picture in page.images:
        with Image.open(io.BytesIO(picture.data)) as image:
            gray = image.convert("L")
            big = gray.resize((gray.width * 4, gray.height * 4), Image.Resampling.NEAREST)
            out = io.BytesIO()
            big.save(out, format="PNG")
        texts += qr.read_qr_texts(out.getvalue())
    return texts


@pytest.mark.parametrize("language", ["en", "ur", "ps"])
def test_receipt_pdf_has_the_facts_and_a_qr_that_opens_the_checker(
    client: Client, log: Log, language: str
) -> None:
    response = client.get(f"/ledger/entries/2/receipt.pdf?lang={language}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "rahdari-ledger-entry-2.pdf" in response["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1  # one A5 page, Nastaliq included
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (148, 210)
    text = reader.pages[0].extract_text()
    assert "13,500" in text
    public = log.receipt(2, salt=False)
    assert entries.decode_entry(public.entry)["payment"] in text
    assert _pdf_qr_texts(response.content) == [receipts.receipt_url(public)]


def test_receipt_pdf_with_salt_for_a_beneficiary(log: Log) -> None:
    receipt = log.receipt(2)
    pdf = receipts.receipt_pdf(receipt, language="ur")
    assert _pdf_qr_texts(pdf) == [receipts.receipt_url(receipt)]
    assert entries.Receipt.decode(receipts.receipt_url(receipt).split("#r=")[1]).salt


# --- the receipt component -------------------------------------------------------------


def _rasterise_svg(svg: str) -> bytes:
    """The zxing SVG (one path of h/v moves on a white rect) as a PNG, 4 px a module."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    pixels = Image.new("L", (size, size), 255)
    path = re.search(r'<path d="([^"]+)"', svg).group(1)  # type: ignore[union-attr]
    for x, y, w, h in re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)", path):
        pixels.paste(0, (int(x), int(y), int(x) + int(w), int(y) + int(h)))
    out = io.BytesIO()
    pixels.resize((size * 4, size * 4), Image.Resampling.NEAREST).save(out, format="PNG")
    return out.getvalue()


def test_receipt_url_and_qr_svg(log: Log) -> None:
    receipt = log.receipt(2)
    url = receipts.receipt_url(receipt)
    assert url == f"http://testserver/ledger/verify/#r={receipt.encode()}"
    svg = receipts.receipt_qr_svg(receipt)
    assert svg.startswith("<svg") and "<?xml" not in svg and 'id="' not in svg
    assert qr.read_qr_texts(_rasterise_svg(svg)) == [url]


def test_a_receipt_at_ten_million_entries_fits_one_qr() -> None:
    entry = entries.encode_entry(
        {
            "v": 1,
            "id": "0" * 32,
            "kind": "payments.paid",
            "at": "2026-11-23T09:30:00Z",
            "program": "cash-transfer",
            "cycle": "2026-Q4",
            "district": "Dera Ismail Khan",
            "payment": "PAY00000001",
            "channel": "wallet",
            "amount": 13_500,
            "beneficiary": "a" * 64,
        }
    )
    head = entries.TreeHead(10_000_000, 1_795_000_000_000, b"r" * 32, b"g" * 64, "5be1c2d0a9e4f731")
    receipt = entries.Receipt(
        entry=entry, salt=b"s" * 32, index=9_999_999, proof=[b"p" * 32] * 24, tree_head=head
    )
    url = receipts.receipt_url(receipt)
    assert 1_500 < len(url) < 1_800
    assert qr.qr_version(url, receipts.RECEIPT_EC_LEVEL) <= 30
    png = receipts.receipt_qr_png(receipt, scale=4)
    assert qr.read_qr_texts(png) == [url]


def test_receipt_include_renders_for_other_pages(log: Log) -> None:
    from django.template.loader import render_to_string

    receipt = log.receipt(2)
    context = receipts.receipt_context(receipt, pdf_url="/payments/x/receipt.pdf")
    html = render_to_string("ledger/_receipt.html", {"receipt": context})
    assert context["qr"] in html and "/payments/x/receipt.pdf" in html
    assert f"/ledger/verify/#r={receipt.encode()}" in html
    with Image.open(io.BytesIO(base64.b64decode(context["qr"].split(",")[1]))) as image:
        modules = image.width  # a pixel per module: shown at a whole number of px each
    assert context["qr_size"] % modules == 0 and 280 <= context["qr_size"] <= 400


# --- the checker without JavaScript ----------------------------------------------------


def _check(client: Client, text: str, number: str = "", language: str = "en") -> str:
    response = client.post(
        f"/ledger/verify/?lang={language}", {"receipt": text, "rahdari_number": number}
    )
    assert response.status_code == 200
    return response.content.decode()


def _statuses(body: str) -> dict[str, str]:
    return dict(re.findall(r'data-check="(\w+)" data-status="(\w+)"', body))


_FIELDS = {"e": 1, "i": 2, "p": 3, "n": 4, "ts": 5, "r": 6, "g": 7, "k": 8, "s": 9}


def _reencoded(receipt: entries.Receipt, **changes: Any) -> str:
    """The receipt text with fields replaced (``e`` as entry text, others as written)."""
    fields = receipt.encode().split(".")
    for key, value in changes.items():
        fields[_FIELDS[key]] = receipts.b64url(value.encode()) if key == "e" else str(value)
    return ".".join(fields)


def test_checker_page_carries_the_keys_and_words_for_the_script(client: Client, log: Log) -> None:
    response = client.get("/ledger/verify/?lang=ur")
    body = response.content.decode()
    assert 'lang="ur"' in body and "rahdari/ledger/verify.js" in body
    config = json.loads(
        re.search(
            r'<script id="ledger-verify-config" type="application/json">(.*?)</script>', body
        ).group(1)  # type: ignore[union-attr]
    )
    key = selectors.public_keys()[0]
    assert config["keys"] == [
        {"key_id": key.key_id, "public_key": entries.b64(bytes(key.public_key))}
    ]
    assert config["sth_url"] == "/api/v1/ledger/sth"
    assert config["consistency_url"] == "/api/v1/ledger/proof/consistency"
    assert config["strings"]["ok_payment"] == _tr("ur", views.STRINGS["ok_payment"])
    assert config["districts"]["Swat"] == SWAT_UR
    assert set(config["checks"]) == set(views.CHECK_ORDER)


def test_a_true_receipt_passes_every_check(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    body = _check(client, receipt.encode(), NUMBER)
    assert 'data-verdict="ok"' in body and "This payment is in the public log" in body
    assert _statuses(body) == {name: "pass" for name in views.CHECK_ORDER}
    assert "Rs 13,500" in body and "Swat" in body
    assert NUMBER not in body  # the number typed is not written back into the page


def test_the_whole_link_and_urdu_digits_in_groups_work_too(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    urdu_number = "۴۸۲۱ ۰۹۳۷ ۵۵۶۲"
    body = _check(client, receipts.receipt_url(receipt), urdu_number, language="ur")
    assert 'data-verdict="ok"' in body
    assert _tr("ur", views.STRINGS["ok_payment"]) in body
    assert _statuses(body)["commitment"] == "pass"


def test_a_receipt_of_an_older_head_still_checks_out(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    services.ledger_submit_many(events=[payment_event() for _ in range(9)])
    services.ledger_publish()
    assert selectors.tree_size() > receipt.tree_head.tree_size
    body = _check(client, receipt.encode())
    assert 'data-verdict="ok"' in body
    assert _statuses(body)["log"] == "pass" and _statuses(body)["commitment"] == "skip"


def test_a_cycle_entry_is_an_entry_not_a_payment(client: Client, log: Log) -> None:
    body = _check(client, log.receipt(0).encode())
    assert "This entry is in the public log" in body
    assert _statuses(body)["commitment"] == "skip"
    assert "public receipt" in body


def test_a_changed_amount_fails_the_inclusion_check(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    changed = receipt.entry.decode().replace('"amount":13500', '"amount":135000')
    body = _check(client, _reencoded(receipt, e=changed))
    statuses = _statuses(body)
    assert 'data-verdict="bad"' in body and "This receipt does not check out" in body
    assert statuses["entry"] == "pass" and statuses["inclusion"] == "fail"
    assert "Failed: The entry is in the signed tree" in body
    assert "Rs 135,000" in body  # what the receipt claims is shown, marked as failed


def test_a_badly_formed_entry_fails_the_first_check(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    changed = receipt.entry.decode().replace('"amount":13500', '"amount": 13500')
    body = _check(client, _reencoded(receipt, e=changed))
    assert _statuses(body)["entry"] == "fail" and _statuses(body)["inclusion"] == "fail"
    assert "Failed: The entry is well-formed, The entry is in the signed tree" in body


def test_a_changed_proof_fails_the_inclusion_check(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    proof = bytearray(b"".join(receipt.proof))
    proof[0] ^= 1
    body = _check(client, _reencoded(receipt, p=receipts.b64url(bytes(proof))))
    statuses = _statuses(body)
    assert statuses["inclusion"] == "fail"
    assert [name for name, status in statuses.items() if status == "fail"] == ["inclusion"]


def test_a_changed_signature_fails_the_signature_check(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    signature = bytearray(receipt.tree_head.signature)
    signature[5] ^= 1
    body = _check(client, _reencoded(receipt, g=receipts.b64url(bytes(signature))), NUMBER)
    statuses = _statuses(body)
    assert [name for name, status in statuses.items() if status == "fail"] == ["signature"]
    assert "Failed: The tree head is signed by the log" in body


def test_a_head_the_log_never_published_fails_the_log_check(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    body = _check(client, _reencoded(receipt, n=receipt.tree_head.tree_size + 1_000))
    statuses = _statuses(body)
    assert statuses["log"] == "fail" and statuses["signature"] == "fail"
    assert 'data-verdict="bad"' in body


def test_a_wrong_number_fails_the_commitment_check(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    body = _check(client, receipt.encode(), "482109375563", language="ps")
    statuses = _statuses(body)
    assert [name for name, status in statuses.items() if status == "fail"] == ["commitment"]
    assert _tr("ps", views.CHECKS["commitment"]["fail"]) in body
    assert _tr("ps", views.STRINGS["bad"]) in body


def test_a_number_against_a_public_receipt_fails(client: Client, log: Log) -> None:
    body = _check(client, log.receipt(2, salt=False).encode(), NUMBER)
    assert _statuses(body)["commitment"] == "fail"
    assert "This is a public receipt" in body


@pytest.mark.parametrize("garbage", ["hello", "eyJ2IjoxfQ", "#r=%%%", "A" * 5000])
def test_garbage_is_not_a_receipt(client: Client, log: Log, garbage: str) -> None:
    body = _check(client, garbage, language="ur")
    assert _tr("ur", views.STRINGS["not_receipt"]) in body
    assert 'role="alert"' in body and "data-verdict" not in body


def test_an_empty_form_asks_for_the_receipt(client: Client) -> None:
    response = client.post("/ledger/verify/", {"receipt": "  "})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_the_number_stays_out_of_logs_and_error_reports(
    client: Client, log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    receipt = log.receipt(2)
    with caplog.at_level("DEBUG"):
        _check(client, receipt.encode(), NUMBER)
    assert NUMBER not in caplog.text
    response = client.post("/ledger/verify/", {"receipt": receipt.encode(), "rahdari_number": "1"})
    # hidden from Django's error reports, and posted: never in a URL
    assert response.wsgi_request.sensitive_post_parameters == ("rahdari_number",)  # type: ignore[attr-defined]
    form = re.search(r"<form[^>]*>", response.content.decode())
    assert form and 'method="post"' in form.group(0)


def test_the_api_and_the_page_agree(client: Client, log: Log) -> None:
    receipt = log.receipt(2)
    api = client.post(
        "/api/v1/ledger/receipts/check",
        {"receipt": receipt.encode(), "rahdari_number": NUMBER},
        content_type="application/json",
    ).json()
    assert api["valid"] is True
    assert views.check_receipt(receipt.encode(), NUMBER)["ok"] is True
