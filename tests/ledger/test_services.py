"""The stored log: sequencing, stored proofs equal to the pure module's, signed heads,
append-only rows, totals derived from entries, crashes that lose nothing."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, transaction

from rahdari.core.models import AuditEntry
from rahdari.ledger import entries, merkle, selectors, services
from rahdari.ledger.models import (
    DistrictTotal,
    LogEntry,
    PendingEntry,
    SignedTreeHead,
    Tile,
    TreeNode,
)
from rahdari.ledger.services import Event
from tests.ledger.conftest import cycle_event, payment_event

pytestmark = pytest.mark.django_db


def _leaves() -> list[bytes]:
    return [
        bytes(h)
        for h in LogEntry.objects.order_by("leaf_index").values_list("leaf_hash", flat=True)
    ]


def test_submitted_entries_wait_until_sequenced_then_carry_no_personal_data(
    payment_events: Callable[..., list[Event]],
) -> None:
    events = payment_events(3)
    submitted = services.ledger_submit_many(events=events)
    assert PendingEntry.objects.count() == 3 and LogEntry.objects.count() == 0
    assert services.ledger_integrate() == 3
    assert PendingEntry.objects.count() == 0
    for sub, event, row in zip(
        submitted, events, LogEntry.objects.order_by("leaf_index"), strict=True
    ):
        body = bytes(row.body)
        assert bytes(row.leaf_hash) == sub.leaf_hash == merkle.leaf_hash(body)
        entry = entries.decode_entry(body)
        assert event.beneficiary not in body.decode()
        assert entry["beneficiary"] == entries.commitment(event.beneficiary or "", sub.salt or b"")
        assert entry["id"] == sub.entry_id and row.kind == event.kind


def test_an_entry_outside_the_schema_is_refused_and_nothing_is_queued() -> None:
    bad = Event("payments.paid", {**payment_event().fields, "cnic": "1730112345671"}, "RD1")
    with pytest.raises(entries.EntryError, match="not in the schema"):
        services.ledger_submit_many(events=[payment_event(), bad])
    assert PendingEntry.objects.count() == 0
    with pytest.raises(entries.EntryError, match="unknown kind"):
        services.ledger_submit(kind="payments.lost", fields={})
    with pytest.raises(entries.EntryError, match="positive"):
        services.ledger_submit_many(events=[payment_event(amount=0)])


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_stored_proofs_equal_the_pure_modules_for_every_size(batch: int) -> None:
    rng = random.Random(batch)
    sizes = []
    for chunk in (1, 2, 5, 8, 13, 31, 1, 64, 3):
        services.ledger_submit_many(events=[payment_event() for _ in range(chunk)])
        services.ledger_integrate(batch=batch)
        head = services.tree_head_sign()
        assert head is not None
        sizes.append(head.tree_size)
    leaves = _leaves()
    assert len(leaves) == sizes[-1] == 128
    # No tile is full yet (256 leaves): the right edge is the leaves, one row each.
    assert TreeNode.objects.count() == len(leaves) and Tile.objects.count() == 0
    for size in sizes:
        head = selectors.tree_head_at(size)
        assert head is not None
        assert bytes(head.root_hash) == merkle.root_hash(leaves[:size]) == selectors.root_at(size)
        for index in rng.sample(range(size), min(size, 6)):
            proof = selectors.inclusion_proof(index=index, tree_size=size)
            assert proof == merkle.inclusion_proof(leaves[:size], index)
        for first in rng.sample(range(1, size + 1), min(size, 6)):
            proof = selectors.consistency_proof(first=first, second=size)
            assert proof == merkle.consistency_proof(leaves[:size], first)


def test_tree_heads_are_signed_grow_and_are_not_repeated_for_the_same_size() -> None:
    services.ledger_submit_many(events=[payment_event() for _ in range(5)])
    first = services.ledger_publish()
    assert first is not None and first.tree_size == 5
    assert services.ledger_publish() is None  # nothing new: no new head
    services.ledger_submit_many(events=[payment_event()])
    second = services.ledger_publish()
    assert second is not None and second.tree_size == 6
    assert second.timestamp_ms > first.timestamp_ms
    keys = selectors.public_key_map()
    for head in (first, second):
        assert selectors.head_value(head).verify(keys)
    forged = selectors.head_value(second)
    assert not entries.TreeHead(
        6, forged.timestamp_ms + 1, forged.root_hash, forged.signature, forged.key_id
    ).verify(keys)
    assert AuditEntry.objects.filter(action="ledger.key_created").count() == 1


def test_a_head_waits_for_the_interval_unless_forced(settings: object) -> None:
    settings.RAHDARI_LEDGER_STH_INTERVAL_SECONDS = 3600  # type: ignore[attr-defined]
    services.ledger_submit_many(events=[payment_event()])
    assert services.ledger_publish(force_sign=False) is not None  # the first head
    services.ledger_submit_many(events=[payment_event()])
    assert services.ledger_publish(force_sign=False) is None
    assert services.ledger_publish(force_sign=True) is not None  # the worker's minute


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_logentry SET kind = 'payments.reversed'",
        "DELETE FROM ledger_logentry",
        "UPDATE ledger_treenode SET hash = hash",
        "DELETE FROM ledger_signedtreehead",
    ],
)
def test_the_log_is_append_only_in_the_database(statement: str) -> None:
    services.ledger_submit_many(events=[payment_event() for _ in range(4)])
    services.ledger_publish()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert LogEntry.objects.count() == 4 and SignedTreeHead.objects.count() == 1


def test_entries_submitted_in_a_rolled_back_transaction_never_reach_the_log() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ledger_submit_many(events=[payment_event() for _ in range(3)])
        raise RuntimeError("the payment update failed")
    assert services.ledger_integrate() == 0 and PendingEntry.objects.count() == 0


def test_a_crash_while_sequencing_loses_nothing_and_duplicates_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services.ledger_submit_many(events=[payment_event() for _ in range(10)])
    services.ledger_integrate()
    services.ledger_submit_many(events=[payment_event() for _ in range(25)])
    real = services.insert_rows

    def crash_after_leaves(cursor, table, columns, rows):  # type: ignore[no-untyped-def]
        real(cursor, table, columns, rows)
        if table == "ledger_treenode":
            raise DatabaseError("the server went away")

    monkeypatch.setattr(services, "insert_rows", crash_after_leaves)
    with pytest.raises(DatabaseError):
        services.ledger_integrate()
    assert LogEntry.objects.count() == 10 and PendingEntry.objects.count() == 25
    monkeypatch.setattr(services, "insert_rows", real)
    assert services.ledger_integrate(batch=7) == 25
    leaves = _leaves()
    assert len(leaves) == len(set(leaves)) == 35
    assert selectors.compact_range(35).root() == merkle.root_hash(leaves)


def test_totals_are_the_entries_totals(payment_events: Callable[..., list[Event]]) -> None:
    events = [
        cycle_event([("Swat", 3, 40_500), ("Peshawar", 2, 27_000)]),
        *payment_events(6),
        payment_event("failed", district="Swat"),
        payment_event("paid", district="Swat", amount=2_500),
    ]
    services.ledger_submit_many(events=events)
    services.ledger_integrate(batch=3)
    bodies = [
        entries.decode_entry(bytes(b)) for b in LogEntry.objects.values_list("body", flat=True)
    ]
    expected = {k: (t.counts, t.amounts) for k, t in entries.totals(bodies).items()}
    rows = selectors.district_totals()
    assert {
        (r["program"], r["cycle"], r["district"]): (r["counts"], r["amounts"]) for r in rows
    } == expected
    swat = next(r for r in rows if r["district"] == "Swat")
    assert swat["counts"] == {
        "payments.cycle_approved": 3,
        "payments.failed": 1,
        "payments.paid": 3,
    }
    assert swat["amounts"]["payments.paid"] == 2 * 13_500 + 2_500
    assert DistrictTotal.objects.filter(district="Swat").count() == 3


def test_a_receipt_proves_the_entry_and_the_beneficiary() -> None:
    submitted = services.ledger_submit_many(
        events=[payment_event(number="RD0000012345"), *[payment_event() for _ in range(20)]]
    )
    assert selectors.receipt(leaf_hash=submitted[0].leaf_hash, salt=submitted[0].salt) is None
    services.ledger_publish()
    receipt = selectors.receipt(leaf_hash=submitted[0].leaf_hash, salt=submitted[0].salt)
    assert receipt is not None
    keys = selectors.public_key_map()
    decoded = entries.Receipt.decode(receipt.encode())
    assert decoded == receipt
    assert decoded.check(keys, subject="RD0000012345") == []
    assert decoded.check(keys, subject="RD0000012346") == ["commitment: the number does not match"]
    entry = json.loads(receipt.entry)
    entry["amount"] = 135_000
    forged = entries.Receipt(
        entries.canonical_json(entry), receipt.salt, receipt.index, receipt.proof, receipt.tree_head
    )
    assert forged.check(keys) == ["inclusion: the entry is not under the tree head's root"]


def test_proofs_beyond_the_published_size_are_refused() -> None:
    from rahdari.core.errors import ApplicationError, NotFound

    services.ledger_submit_many(events=[payment_event() for _ in range(4)])
    services.ledger_publish()
    services.ledger_submit_many(events=[payment_event() for _ in range(4)])
    services.ledger_integrate()  # sequenced, not yet signed
    with pytest.raises(ApplicationError) as too_big:
        selectors.inclusion_proof(index=5, tree_size=8)
    assert too_big.value.code == "bad_tree_size"
    with pytest.raises(ApplicationError) as bad_index:
        selectors.inclusion_proof(index=4, tree_size=4)
    assert bad_index.value.code == "bad_index"
    with pytest.raises(NotFound):
        selectors.entry_index(b"\x00" * 32)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_one_sequencer_at_a_time_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    """While another process sequences, a non-waiting call gives way; nothing forks."""
    import threading

    from django.db import connections

    monkeypatch.setattr(services, "_integrate_after_commit", lambda: None)

    services.ledger_submit_many(events=[payment_event() for _ in range(5)])
    services.ledger_integrate()
    services.ledger_submit_many(events=[payment_event() for _ in range(3)])
    holding, release = threading.Event(), threading.Event()

    def other_sequencer() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [services._ADVISORY_LOCK_ID])
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_sequencer)
    thread.start()
    try:
        assert holding.wait(10)
        assert services.ledger_integrate(wait=False) == 0
        assert services.tree_head_sign(wait=False) is None
    finally:
        release.set()
        thread.join()
    assert services.ledger_integrate() == 3
    assert selectors.compact_range(8).root() == merkle.root_hash(_leaves())


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_entries_committed_while_others_are_sequenced_wait_for_the_next_sequencing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two submitters draw interleaved ids; the later one commits between the
    sequencer's read and its copy into the log. The sequencer takes what it read, the
    late entries wait for the next sequencing, and the tree holds every entry once."""
    import threading

    from django.db import connections

    monkeypatch.setattr(services, "_integrate_after_commit", lambda: None)
    services.ledger_submit_many(events=[payment_event()])  # id l, committed
    submitted, commit_now, committed = threading.Event(), threading.Event(), threading.Event()

    def late_submitter() -> None:
        try:
            with transaction.atomic():
                services.ledger_submit_many(events=[payment_event() for _ in range(2)])  # ids m
                submitted.set()
                assert commit_now.wait(10)
            committed.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=late_submitter)
    thread.start()
    try:
        assert submitted.wait(10)
        services.ledger_submit_many(events=[payment_event()])  # id h > m, committed
        read_size = services.tree_size

        def size_then_let_the_late_one_commit() -> int:
            size = read_size()  # called by the sequencer after it read the waiting rows
            commit_now.set()
            assert committed.wait(10)
            return size

        monkeypatch.setattr(services, "tree_size", size_then_let_the_late_one_commit)
        assert services.ledger_integrate() == 2  # l and h: what it read
    finally:
        commit_now.set()
        thread.join()
    monkeypatch.setattr(services, "tree_size", read_size)
    assert PendingEntry.objects.count() == 2
    assert services.ledger_integrate() == 2
    assert LogEntry.objects.count() == 4
    assert selectors.compact_range(4).root() == merkle.root_hash(_leaves())
