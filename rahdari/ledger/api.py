"""Ledger API: the public log for anyone — tree heads, entries, proofs, totals. No login.

Hashes and signatures are standard base64. Answers that can never change (a complete
range of entries, a proof for a published size, a head) are cacheable for a year;
the latest head for a few seconds.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from rahdari.core.api import client_errors
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.ledger import entries, selectors
from rahdari.ledger.models import SignedTreeHead

router = Router(tags=["ledger"])
ERRORS = client_errors(400, 404, 422)
FOREVER = "public, max-age=31536000, immutable"
LATEST = "public, max-age=5"


class TreeHeadOut(Schema):
    tree_size: int
    timestamp: int
    sha256_root_hash: str
    tree_head_signature: str
    key_id: str


class TreeHeadsOut(Schema):
    count: int
    start: int
    heads: list[TreeHeadOut]


class KeyOut(Schema):
    key_id: str
    algorithm: str
    public_key: str
    status: str


class EntryOut(Schema):
    leaf_index: int
    leaf_hash: str
    entry: str


class EntriesOut(Schema):
    start: int
    end: int
    entries: list[EntryOut]


class InclusionOut(Schema):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyOut(Schema):
    first: int
    second: int
    consistency: list[str]


class TotalOut(Schema):
    program: str
    cycle: str
    district: str
    counts: dict[str, int]
    amounts: dict[str, int]


class TotalsOut(Schema):
    tree_size: int
    rows: list[TotalOut]


class InclusionQuery(Schema):
    tree_size: int
    leaf_index: int | None = None
    leaf_hash: str | None = None


class ReceiptCheckIn(Schema):
    receipt: str
    rahdari_number: str | None = None


class ReceiptCheckOut(Schema):
    valid: bool
    problems: list[str]
    leaf_index: int
    tree_size: int
    entry: dict[str, Any]


def _head(head: SignedTreeHead) -> dict[str, Any]:
    return selectors.head_value(head).as_json()


@router.get(
    "/sth",
    response={200: TreeHeadOut, **ERRORS},
    auth=None,
    summary="The latest signed tree head",
    description=(
        "`tree_head_signature` is Ed25519 over RFC 6962's TreeHeadSignature structure "
        "(version 0, signature type 1, uint64 timestamp in ms, uint64 tree_size, the "
        "32-byte root), by the key `key_id` from `/keys`. 404 `empty_log` before the "
        "first head."
    ),
)
def latest(request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
    head = selectors.latest_tree_head()
    if head is None:
        raise NotFound(_("The log has no signed tree head yet."), code="empty_log")
    response["Cache-Control"] = LATEST
    return _head(head)


@router.get(
    "/sth/history",
    response={200: TreeHeadsOut, **ERRORS},
    auth=None,
    summary="Every signed tree head, oldest first, a page at a time",
    description="`start` counts heads from the first (0); at most 1,000 per page.",
)
def history(
    request: HttpRequest, response: HttpResponse, start: int = 0, limit: int = 1000
) -> dict[str, Any]:
    if start < 0 or limit < 1:
        raise ApplicationError(_("start must be 0 or more and limit 1 or more."), code="bad_range")
    heads = selectors.tree_heads(start=start, limit=limit)
    count = selectors.tree_head_count()
    response["Cache-Control"] = FOREVER if len(heads) == limit else LATEST
    return {"count": count, "start": start, "heads": [_head(h) for h in heads]}


@router.get(
    "/keys",
    response={200: list[KeyOut]},
    auth=None,
    summary="The public keys that sign tree heads (retired ones included)",
)
def keys(request: HttpRequest, response: HttpResponse) -> list[dict[str, Any]]:
    response["Cache-Control"] = "public, max-age=3600"
    return [
        {
            "key_id": k.key_id,
            "algorithm": "Ed25519",
            "public_key": entries.b64(bytes(k.public_key)),
            "status": k.status,
        }
        for k in selectors.public_keys()
    ]


@router.get(
    "/entries",
    response={200: EntriesOut, **ERRORS},
    auth=None,
    summary="Entries [start, end), at most 10,000 per page",
    description=(
        "Each `entry` is the canonical JSON text whose UTF-8 bytes are the leaf: its "
        "`leaf_hash` is SHA-256(0x00 || those bytes). A shorter page than asked means "
        "the log ends there."
    ),
)
def entry_range(request: HttpRequest, start: int, end: int) -> HttpResponse:
    rows = selectors.entries_page(start=start, end=end)
    full = len(rows) == min(end - start, selectors.MAX_ENTRIES_PER_PAGE)
    # Up to 10,000 entries a page for verifiers that download millions: encoded straight
    # to JSON (the schema above documents it) instead of validated item by item.
    body = {
        "start": start,
        "end": start + len(rows),
        "entries": [
            {"leaf_index": i, "leaf_hash": entries.b64(leaf), "entry": text.decode()}
            for i, leaf, text in rows
        ],
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        content_type="application/json",
    )
    response["Cache-Control"] = FOREVER if full else LATEST
    return response


def _leaf_hash_param(text: str) -> bytes:
    try:
        value = entries.unb64(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise ApplicationError(
            _("A leaf hash is 32 bytes in base64."),
            code="bad_leaf_hash",
            fields={"leaf_hash": [_("Not a base64 SHA-256 hash.")]},
        )
    return value


@router.get(
    "/proof/inclusion",
    response={200: InclusionOut, **ERRORS},
    auth=None,
    summary="Inclusion proof of one entry (by leaf_index or leaf_hash) in a published tree",
    description=(
        "RFC 9162 §2.1.3: `audit_path` from the leaf up. `tree_size` must be the size of "
        "a published head (or below the latest). Errors: 400 `bad_tree_size`, "
        "`bad_index`, `bad_leaf_hash`; 404 `entry_not_found`."
    ),
)
def inclusion(
    request: HttpRequest, response: HttpResponse, query: Query[InclusionQuery]
) -> dict[str, Any]:
    if (query.leaf_index is None) == (query.leaf_hash is None):
        raise ApplicationError(
            _("Give either leaf_index or leaf_hash."),
            code="bad_request",
            fields={"leaf_index": [_("Give exactly one of leaf_index and leaf_hash.")]},
        )
    if query.leaf_hash is not None:
        index = selectors.entry_index(_leaf_hash_param(query.leaf_hash))
    else:
        index = int(query.leaf_index or 0)
    path = selectors.inclusion_proof(index=index, tree_size=query.tree_size)
    leaf = selectors.subtree_hashes([(0, index)], full_below=query.tree_size).get((0, index))
    if leaf is None:
        raise NotFound(_("That part of the log does not exist."), code="not_in_log")
    response["Cache-Control"] = FOREVER
    return {
        "leaf_index": index,
        "tree_size": query.tree_size,
        "leaf_hash": entries.b64(leaf),
        "audit_path": [entries.b64(h) for h in path],
    }


@router.get(
    "/proof/consistency",
    response={200: ConsistencyOut, **ERRORS},
    auth=None,
    summary="Consistency proof between two tree sizes",
    description=(
        "RFC 9162 §2.1.4: shows the tree of `first` leaves is a prefix of the tree of "
        "`second` leaves; both up to the latest published size, 0 < first <= second."
    ),
)
def consistency(
    request: HttpRequest, response: HttpResponse, first: int, second: int
) -> dict[str, Any]:
    proof = selectors.consistency_proof(first=first, second=second)
    response["Cache-Control"] = FOREVER
    return {"first": first, "second": second, "consistency": [entries.b64(h) for h in proof]}


@router.get(
    "/totals",
    response={200: TotalsOut},
    auth=None,
    summary="Totals per program, cycle and district, derived from the entries alone",
    description=(
        "`counts` and `amounts` (whole rupees) per entry kind, over the first `tree_size` "
        "entries (which may run ahead of the latest signed head by the entries sequenced "
        "since). `rahdari ledger verify` recomputes them from the entries and compares."
    ),
)
def totals(
    request: HttpRequest, response: HttpResponse, program: str | None = None
) -> dict[str, Any]:
    response["Cache-Control"] = LATEST
    size, rows = selectors.totals_snapshot(program=program)
    return {"tree_size": size, "rows": rows}


@router.post(
    "/receipts/check",
    response={200: ReceiptCheckOut, **ERRORS},
    auth=None,
    summary="Check a receipt's text (the QR's content after `#r=`)",
    description=(
        "Checks the tree head's signature, the entry's inclusion under it and, when "
        "`rahdari_number` is given, that the entry's commitment is to that number. "
        "It also checks that this log published that head. The same checks run in the "
        "browser on `/ledger/verify/`. 422 `bad_receipt` for text that is not a receipt."
    ),
)
def receipt_check(request: HttpRequest, payload: ReceiptCheckIn) -> dict[str, Any]:
    try:
        receipt = entries.Receipt.decode(payload.receipt)
    except ValueError as exc:
        raise ApplicationError(
            _("This is not a ledger receipt."), code="bad_receipt", status=422
        ) from exc
    problems = receipt.check(selectors.public_key_map(), subject=payload.rahdari_number)
    published = selectors.tree_head_at(receipt.tree_head.tree_size)
    if published is None or bytes(published.root_hash) != receipt.tree_head.root_hash:
        problems.append("tree head: not among the heads this log published")
    try:
        entry = entries.decode_entry(receipt.entry)
    except entries.EntryError:
        entry = {}
    return {
        "valid": not problems,
        "problems": problems,
        "leaf_index": receipt.index,
        "tree_size": receipt.tree_head.tree_size,
        "entry": entry,
    }
