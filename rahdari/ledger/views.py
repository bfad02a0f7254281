"""The public log's pages, open to everyone without login: the transparency page (the
signed tree head, the totals, the latest entries, how to check it all), one page per
entry with its public receipt, and the receipt checker.

The checker runs in the reader's browser (``static/rahdari/ledger/verify.js``) from the
receipt in the link's fragment, which never reaches a server. Without JavaScript the
same page posts the receipt and the server runs the same checks. A Rahdari number typed
there is only ever in a POST body: never in a URL, a log or an error report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from rahdari.core.errors import ApplicationError
from rahdari.ledger import entries, merkle, receipts, selectors
from rahdari.ledger.models import SignedTreeHead

RECENT_ENTRIES = 20
_MAX_DB_INT = 2**63 - 1

# What each check of a receipt says, in the server's page and in the browser's checker
# alike (verify.js receives these through json_script).
CHECKS: dict[str, dict[str, Promise]] = {
    "entry": {
        "title": gettext_lazy("The entry is well-formed"),
        "pass": gettext_lazy("It is complete and written exactly as the log writes entries."),
        "fail": gettext_lazy(
            "It is damaged, or it is not written exactly as the log writes entries."
        ),
    },
    "leaf": {
        "title": gettext_lazy("The entry's fingerprint"),
        "pass": gettext_lazy("SHA-256 of the entry (its leaf hash): %(hash)s"),
        "fail": gettext_lazy("The fingerprint could not be computed."),
    },
    "inclusion": {
        "title": gettext_lazy("The entry is in the signed tree"),
        "pass": gettext_lazy(
            "The proof leads from this entry to the root hash of the signed tree head."
        ),
        "fail": gettext_lazy(
            "The proof does not lead from this entry to the root hash: the entry or the "
            "proof was changed."
        ),
    },
    "signature": {
        "title": gettext_lazy("The tree head is signed by the log"),
        "pass": gettext_lazy("The signature verifies with the log's published key %(key)s."),
        "fail": gettext_lazy("The signature does not verify with any key the log publishes."),
    },
    "log": {
        "title": gettext_lazy("The log still holds it"),
        "pass": gettext_lazy(
            "The log's latest signed tree head (%(size)s entries) holds this receipt's tree "
            "unchanged."
        ),
        "fail": gettext_lazy(
            "The log's latest signed tree head does not hold this receipt's tree."
        ),
        "offline": gettext_lazy(
            "The public log could not be reached. Check again when you are online."
        ),
    },
    "commitment": {
        "title": gettext_lazy("The payment was for you"),
        "pass": gettext_lazy("The Rahdari number you typed matches this entry."),
        "fail": gettext_lazy("The Rahdari number you typed does not match this entry."),
        "skip": gettext_lazy("Type your Rahdari number to check that this payment was for you."),
        "public": gettext_lazy(
            "This is a public receipt: it does not show who was paid, so it cannot check a number."
        ),
    },
}
CHECK_ORDER = ["entry", "leaf", "inclusion", "signature", "log", "commitment"]
STRINGS: dict[str, Promise] = {
    "ok_payment": gettext_lazy("This payment is in the public log"),
    "ok_entry": gettext_lazy("This entry is in the public log"),
    "bad": gettext_lazy("This receipt does not check out"),
    "failed": gettext_lazy("Failed: %(checks)s"),
    "not_receipt": gettext_lazy(
        "This is not a ledger receipt. Copy the whole text of the receipt, or scan its QR "
        "code again."
    ),
    "checking": gettext_lazy("Checking…"),
    "no_crypto": gettext_lazy(
        "This browser cannot check receipts itself. Press “Check”: the server will check it "
        "for you."
    ),
    "pass": gettext_lazy("Passed"),
    "fail": gettext_lazy("Failed"),
    "skip": gettext_lazy("Not checked"),
    "checks": gettext_lazy("The checks"),
    "index": gettext_lazy("Entry number in the log"),
    "tree_size": gettext_lazy("Entries in the signed tree"),
    "signed_at": gettext_lazy("Tree head signed"),
    "root_hash": gettext_lazy("Root hash"),
    "key_id": gettext_lazy("Signing key"),
    "list_separator": gettext_lazy(", "),
}


# --- The transparency page -------------------------------------------------------------


def _totals_tables(rows: Iterable[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """One table per program and cycle: a row per district, a column per kind present
    (in the order of a payment's life), and the grand total per kind."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["program"], row["cycle"]), []).append(row)
    order = list(receipts.KIND_COLUMNS)
    tables = []
    for (program, cycle), group in groups.items():
        present = {kind for row in group for kind in row["counts"]}
        kinds = [k for k in order if k in present] + sorted(present - set(order))
        counts = {k: sum(row["counts"].get(k, 0) for row in group) for k in kinds}
        amounts = {k: sum(row["amounts"].get(k, 0) for row in group) for k in kinds}
        tables.append(
            {
                "program": program,
                "cycle": cycle,
                "columns": [(k, receipts.KIND_COLUMNS.get(k, k)) for k in kinds],
                "rows": [
                    {
                        "key": row["district"],
                        "district": names.get(row["district"], row["district"]),
                        "cells": [_cell(row["counts"], row["amounts"], k) for k in kinds],
                    }
                    for row in group
                ],
                "totals": [_cell(counts, amounts, k) for k in kinds],
            }
        )
    return tables


def _cell(counts: dict[str, int], amounts: dict[str, int], kind: str) -> dict[str, str] | None:
    if kind not in counts:
        return None
    return {
        "count": receipts.format_number(counts[kind]),
        "amount": receipts.rupees(amounts.get(kind, 0)),
    }


def _recent_row(index: int, body: bytes, names: dict[str, str]) -> dict[str, Any]:
    try:
        entry = entries.decode_entry(body)
    except entries.EntryError:
        entry = {}
    kind = str(entry.get("kind", ""))
    row: dict[str, Any] = {
        "index": index,
        "number": receipts.format_number(index),
        "kind": receipts.KIND_NAMES.get(kind, kind),
        "district": "",
        "amount": "",
        "at": receipts.entry_time(entry),
    }
    if receipts.is_payment(entry):
        row["district"] = names.get(entry["district"], entry["district"])
        row["amount"] = receipts.rupees(entry["amount"])
    elif "totals" in entry:
        row["district"] = _("%(count)s districts") % {
            "count": receipts.format_number(len(entry["totals"]))
        }
        row["amount"] = receipts.rupees(sum(r["amount"] for r in entry["totals"]))
    return row


def _head_context(head: SignedTreeHead) -> dict[str, Any]:
    return {
        "size": receipts.format_number(head.tree_size),
        "signed_at": datetime.fromtimestamp(head.timestamp_ms / 1000, UTC),
        "root_hash": entries.b64(bytes(head.root_hash)),
        "key_id": head.key.key_id,
    }


def _api_endpoints() -> list[tuple[str, str, str]]:
    def url(name: str, query: str = "") -> str:
        return reverse(f"api-v1:{name}") + query

    return [
        ("GET", url("latest"), _("The latest signed tree head")),
        ("GET", url("history"), _("Every signed tree head, oldest first")),
        ("GET", url("keys"), _("The public keys that sign tree heads")),
        ("GET", url("entry_range", "?start=0&end=100"), _("The entries, in order")),
        (
            "GET",
            url("inclusion", "?tree_size=…&leaf_index=…"),
            _("Proof that an entry is in a signed tree"),
        ),
        (
            "GET",
            url("consistency", "?first=…&second=…"),
            _("Proof that an older tree is the start of a newer one"),
        ),
        ("GET", url("totals"), _("Totals per program, cycle and district")),
        ("POST", url("receipt_check"), _("Check a receipt")),
    ]


@require_GET
def transparency(request: HttpRequest) -> HttpResponse:
    """The log at a glance, and how to check it without trusting this site."""
    head = selectors.latest_tree_head()
    size = head.tree_size if head is not None else 0
    names = receipts.district_names()
    recent = []
    if size:
        rows = selectors.entries_range(start=max(0, size - RECENT_ENTRIES), end=size)
        recent = [_recent_row(index, body, names) for index, body in reversed(rows)]
    return render(
        request,
        "ledger/transparency.html",
        {
            "head": _head_context(head) if head is not None else None,
            "tables": _totals_tables(selectors.district_totals(), names),
            "recent": recent,
            "keys": [
                {
                    "key_id": key.key_id,
                    "public_key": entries.b64(bytes(key.public_key)),
                    "status": key.get_status_display(),
                }
                for key in selectors.public_keys()
            ],
            "site": settings.RAHDARI_PUBLIC_URL,
            "endpoints": _api_endpoints(),
        },
    )


# --- One entry and its public receipt ------------------------------------------------


def _signed_entry(index: int) -> tuple[bytes, entries.Receipt]:
    """An entry under the latest signed head and its receipt without salt; 404 for an
    index not signed yet."""
    head = selectors.latest_tree_head()
    if head is None or index >= head.tree_size:
        raise Http404
    rows = selectors.entries_range(start=index, end=index + 1)
    if not rows:
        raise Http404
    body = rows[0][1]
    receipt = selectors.receipt(leaf_hash=merkle.leaf_hash(body), salt=None)
    if receipt is None:
        raise Http404
    return body, receipt


@require_GET
def entry(request: HttpRequest, index: int) -> HttpResponse:
    body, receipt = _signed_entry(index)
    names = receipts.district_names()
    try:
        fields = entries.decode_entry(body)
    except entries.EntryError:
        fields = {}
    pdf_url = reverse("ledger:entry_pdf", args=[index])
    signed = receipt.tree_head.tree_size
    return render(
        request,
        "ledger/entry.html",
        {
            "index": index,
            "number": receipts.format_number(index),
            "facts": receipts.entry_facts(fields, names),
            "payment": receipts.is_payment(fields),
            "leaf_hash": entries.b64(merkle.leaf_hash(body)),
            "body": body.decode(),
            "receipt": receipts.receipt_context(receipt, pdf_url=pdf_url, districts=names),
            "previous": index - 1 if index > 0 else None,
            "next": index + 1 if index + 1 < signed else None,
        },
    )


@require_GET
def entry_pdf(request: HttpRequest, index: int) -> HttpResponse:
    _body, receipt = _signed_entry(index)
    pdf = receipts.receipt_pdf(receipt, language=get_language() or settings.LANGUAGE_CODE)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="rahdari-ledger-entry-{index}.pdf"'
    return response


# --- The receipt checker ---------------------------------------------------------------


class _UnfilledInput(forms.TextInput):
    """A text box that never writes its value back into the page (the Rahdari number)."""

    def format_value(self, value: Any) -> str | None:
        return None


class ReceiptCheckForm(forms.Form):
    receipt = forms.CharField(
        label=gettext_lazy("Receipt"),
        max_length=20_000,
        help_text=gettext_lazy(
            "Paste the text of the receipt, or the whole link from its QR code."
        ),
        widget=forms.Textarea(
            attrs={"rows": 4, "dir": "ltr", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    rahdari_number = forms.CharField(
        label=gettext_lazy("Your Rahdari number (optional)"),
        required=False,
        max_length=40,
        help_text=gettext_lazy(
            "Only to check that the payment was for you. It is not kept or recorded."
        ),
        widget=_UnfilledInput(attrs={"autocomplete": "off", "inputmode": "numeric", "dir": "ltr"}),
    )

    def clean_receipt(self) -> str:
        return receipt_text(self.cleaned_data["receipt"])


def receipt_text(text: str) -> str:
    """The receipt from what a person pastes: the text itself, or the whole link."""
    text = text.strip()
    if "#r=" in text:
        text = text.split("#r=", 1)[1]
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class CheckLine:
    name: str
    status: str  # pass, fail or skip
    title: str
    text: str


def _line(name: str, ok: bool, *, message: str = "", **values: Any) -> CheckLine:
    texts = CHECKS[name]
    status = "pass" if ok else "fail"
    text = str(texts[message or status])
    return CheckLine(name, status, str(texts["title"]), text % values if values else text)


def _log_line(head: entries.TreeHead, keys: dict[str, bytes]) -> CheckLine:
    """The log published this head, and its latest signed head still holds that tree."""
    if not 0 < head.tree_size <= _MAX_DB_INT:
        return _line("log", False)
    published = selectors.tree_head_at(head.tree_size)
    latest = selectors.latest_tree_head()
    if published is None or latest is None or bytes(published.root_hash) != head.root_hash:
        return _line("log", False)
    latest_head = selectors.head_value(latest)
    try:
        proof = selectors.consistency_proof(first=head.tree_size, second=latest.tree_size)
    except ApplicationError:
        return _line("log", False)
    ok = latest_head.verify(keys) and merkle.verify_consistency(
        head.tree_size, latest.tree_size, head.root_hash, latest_head.root_hash, proof
    )
    return _line("log", ok, size=receipts.format_number(latest.tree_size))


@sensitive_variables("number", "subject")
def check_receipt(text: str, number: str = "") -> dict[str, Any]:
    """The server's run of the checker's checks (as ``/api/v1/ledger/receipts/check``):
    the receipt's own proof and signature, then the log's published heads."""
    try:
        receipt = entries.Receipt.decode(text)
    except ValueError:
        return {"error": str(STRINGS["not_receipt"])}
    subject = entries.normalise_number(number) if number else None
    keys = selectors.public_key_map()
    problems = receipt.check(keys, subject=subject)
    failed = {problem.split(":", 1)[0] for problem in problems}
    try:
        fields = entries.decode_entry(receipt.entry)
    except entries.EntryError:
        fields = {}
    head = receipt.tree_head
    lines = [
        _line("entry", "entry" not in failed),
        _line("leaf", True, hash=entries.b64(merkle.leaf_hash(receipt.entry))),
        _line("inclusion", "inclusion" not in failed),
        _line("signature", "tree head" not in failed, key=head.key_id),
        _log_line(head, keys),
    ]
    if subject is None:
        message = "skip" if receipt.salt is not None else "public"
        texts = CHECKS["commitment"]
        lines.append(CheckLine("commitment", "skip", str(texts["title"]), str(texts[message])))
    elif receipt.salt is None or "beneficiary" not in fields:
        lines.append(_line("commitment", False, message="public"))
    else:
        lines.append(_line("commitment", "commitment" not in failed))
    known = {"entry", "tree head", "inclusion", "commitment"}
    bad = [line for line in lines if line.status == "fail"]
    ok = not bad and not (failed - known)
    payment = receipts.is_payment(fields)
    verdict = STRINGS["ok_payment" if payment else "ok_entry"] if ok else STRINGS["bad"]
    separator = str(STRINGS["list_separator"])
    return {
        "ok": ok,
        "verdict": str(verdict),
        "failed": str(STRINGS["failed"]) % {"checks": separator.join(line.title for line in bad)}
        if bad
        else "",
        "facts": receipts.entry_facts(fields, receipts.district_names()) if fields else [],
        "head": {
            "index": receipts.format_number(receipt.index),
            "tree_size": receipts.format_number(head.tree_size),
            "signed_at": datetime.fromtimestamp(head.timestamp_ms / 1000, UTC)
            if 0 <= head.timestamp_ms < 2**53
            else None,
            "root_hash": entries.b64(head.root_hash),
            "key_id": head.key_id,
        },
        "checks": lines,
    }


def _checker_config() -> dict[str, Any]:
    """Everything verify.js needs, in the reader's language: no English in the script."""

    def strings(values: dict[str, Promise]) -> dict[str, str]:
        return {key: str(value) for key, value in values.items()}

    return {
        "strings": strings(STRINGS),
        "checks": {name: strings(CHECKS[name]) for name in CHECK_ORDER},
        "labels": strings(receipts.FACT_LABELS),
        "kinds": strings(receipts.KIND_NAMES),
        "channels": strings(receipts.CHANNEL_NAMES),
        "districts": receipts.district_names(),
        "rupees": _("Rs %(amount)s"),
        "number": receipts.number_format_settings(),
        "language": get_language() or settings.LANGUAGE_CODE,
        "keys": [
            {"key_id": key.key_id, "public_key": entries.b64(bytes(key.public_key))}
            for key in selectors.public_keys()
        ],
        "sth_url": reverse("api-v1:latest"),
        "consistency_url": reverse("api-v1:consistency"),
    }


@sensitive_post_parameters("rahdari_number")
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """GET: the checker (it reads ``#r=…`` in the browser). POST, without JavaScript:
    the server checks the pasted receipt and shows the same results."""
    form = ReceiptCheckForm(request.POST if request.method == "POST" else None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = check_receipt(
            form.cleaned_data["receipt"], form.cleaned_data.get("rahdari_number") or ""
        )
        if "error" in result:
            form.add_error("receipt", result["error"])
            result = None
    return render(
        request,
        "ledger/verify.html",
        {
            "form": form,
            "result": result,
            "config": _checker_config(),
            "action": request.get_full_path(),
        },
    )
