"""Entries, commitments, tree heads and receipts: the pure format, without a database."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from rahdari.ledger import entries, merkle

SALT = bytes(range(32))


def _payment(**changes: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "id": "f075d1d840277be62eeae0e2ba193c32",
        "kind": "payments.paid",
        "at": "2026-11-23T09:30:00Z",
        "program": "cash-transfer",
        "cycle": "2026-Q4",
        "district": "Swat",
        "payment": "PAY00000001",
        "channel": "bank",
        "amount": 13_500,
        "beneficiary": entries.commitment("RD0000012345", SALT),
    } | changes


def test_an_entry_is_canonical_json() -> None:
    body = entries.encode_entry(_payment(district="سوات"))
    assert body.startswith(b'{"amount":13500,"at":"2026-11-23T09:30:00Z","beneficiary":"')
    assert "سوات".encode() in body  # UTF-8, not \\u escapes
    assert entries.decode_entry(body) == _payment(district="سوات")
    spaced = json.dumps(_payment(), sort_keys=True).encode()
    with pytest.raises(entries.EntryError, match="canonical"):
        entries.decode_entry(spaced)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_payment(cnic="1730112345671"), "not in the schema"),
        ({k: v for k, v in _payment().items() if k != "amount"}, "missing amount"),
        (_payment(amount=-5), "positive"),
        (_payment(amount=13.5), "wrong type"),
        (_payment(amount=True), "wrong type"),
        (_payment(amount=2**60), "out of range"),
        (_payment(beneficiary="RD0000012345"), "commitment"),
        (_payment(kind="payments.stolen"), "unknown kind"),
        (_payment(v=2), "version"),
        (_payment(id="x"), "hex"),
        (_payment(at="yesterday"), "UTC"),
        (
            {
                **{
                    k: v
                    for k, v in _payment().items()
                    if k not in ("district", "payment", "channel", "amount", "beneficiary")
                },
                "kind": "payments.cycle_approved",
                "totals": [{"district": "Swat", "count": 1, "amount": 1}] * 2,
            },
            "twice",
        ),
        (
            {
                **{
                    k: v
                    for k, v in _payment().items()
                    if k not in ("district", "payment", "channel", "amount", "beneficiary")
                },
                "kind": "payments.cycle_approved",
                "totals": [{"district": "Swat", "count": 1}],
            },
            "district, count and amount",
        ),
    ],
)
def test_entries_outside_the_schema_are_refused(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(entries.EntryError, match=message):
        entries.encode_entry(entry)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_decoding_never_crashes_on_random_bytes(raw: bytes) -> None:
    with contextlib.suppress(entries.EntryError):
        entries.decode_entry(raw)


def test_commitments_need_the_salt() -> None:
    one = entries.commitment("RD0000012345", SALT)
    assert one != entries.commitment("RD0000012345", bytes(32))
    assert one != entries.commitment("RD0000012346", SALT)
    with pytest.raises(ValueError):
        entries.commitment("RD0000012345", b"short")


def _signed_head(size: int, root: bytes) -> tuple[entries.TreeHead, dict[str, bytes]]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    message = entries.tree_head_message(size, 1_795_000_000_000, root)
    assert len(message) == 50 and message[:2] == b"\x00\x01"
    head = entries.TreeHead(
        size, 1_795_000_000_000, root, key.sign(message), entries.key_id(public)
    )
    return head, {head.key_id: public}


def test_tree_heads_round_trip_and_verify() -> None:
    head, keys = _signed_head(7, bytes(32))
    assert entries.TreeHead.from_json(head.as_json()) == head
    assert head.verify(keys)
    assert not head.verify({})
    assert not entries.TreeHead(
        8, head.timestamp_ms, head.root_hash, head.signature, head.key_id
    ).verify(keys)
    for broken in (
        {},
        {**head.as_json(), "sha256_root_hash": "AAAA"},
        {**head.as_json(), "tree_size": -1},
    ):
        with pytest.raises(ValueError):
            entries.TreeHead.from_json(broken)


def _receipt() -> tuple[entries.Receipt, dict[str, bytes]]:
    bodies = [entries.encode_entry(_payment(payment=f"PAY{i:08d}")) for i in range(11)]
    leaves = [merkle.leaf_hash(b) for b in bodies]
    head, keys = _signed_head(11, merkle.root_hash(leaves))
    receipt = entries.Receipt(bodies[6], SALT, 6, merkle.inclusion_proof(leaves, 6), head)
    return receipt, keys


def test_a_receipt_fits_a_qr_code_and_round_trips() -> None:
    receipt, keys = _receipt()
    text = receipt.encode()
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert entries.Receipt.decode(text) == receipt
    assert receipt.check(keys, subject="RD0000012345") == []
    # As people type it: groups, dashes, Urdu digits.
    assert entries.normalise_number("۴۸۲۱ 0937-5562") == "482109375562"
    # At ten million entries (24 proof hashes) it still fits a version-40 QR code at level L.
    big = entries.Receipt(receipt.entry, SALT, 6, [bytes(32)] * 24, receipt.tree_head)
    assert len(big.encode()) < 1_800


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("1.", "2.", 1),  # version
        lambda t: ".".join(t.split(".")[:8]),  # a field missing
        lambda t: ".".join([*t.split(".")[:2], "01", *t.split(".")[3:]]),  # index 01
        lambda t: ".".join([*t.split(".")[:2], "x", *t.split(".")[3:]]),
        lambda t: ".".join([*t.split(".")[:8], "NOTHEX0000000000", *t.split(".")[9:]]),
        lambda t: ".".join([*t.split(".")[:6], "AAAA", *t.split(".")[7:]]),  # short root
        lambda t: ".".join([*t.split(".")[:3], "AAA", *t.split(".")[4:]]),  # proof not 32n
    ],
)
def test_malformed_receipts_are_refused(mutate: Any) -> None:
    receipt, _keys = _receipt()
    with pytest.raises(ValueError):
        entries.Receipt.decode(mutate(receipt.encode()))


def test_a_boolean_version_is_not_an_entry() -> None:
    body = json.dumps(_payment(v=True), sort_keys=True, separators=(",", ":"))
    with pytest.raises(entries.EntryError, match="version"):
        entries.decode_entry(body)


def test_a_receipt_that_lies_fails_its_check() -> None:
    receipt, keys = _receipt()
    other_head, other_keys = _signed_head(11, receipt.tree_head.root_hash)
    wrong_key = entries.Receipt(receipt.entry, SALT, 6, receipt.proof, other_head)
    assert wrong_key.check(keys) == ["tree head: signature does not verify"]
    wrong_index = entries.Receipt(receipt.entry, SALT, 5, receipt.proof, receipt.tree_head)
    assert wrong_index.check(keys) == ["inclusion: the entry is not under the tree head's root"]
    no_salt = entries.Receipt(receipt.entry, None, 6, receipt.proof, receipt.tree_head)
    assert no_salt.check(keys, subject="RD0000012345") == [
        "commitment: this receipt names no beneficiary"
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_receipt_decoding_only_ever_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        entries.Receipt.decode(text)
