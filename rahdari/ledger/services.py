"""Writing the public log: submit entries, sequence them into the tree, sign tree heads.

An app submits entries in the same transaction as the change they record (a payment
marked paid and its "payments.paid" entry commit together or not at all). Submitting
takes no lock. Sequencing — giving queued entries their leaf index, storing the new
perfect subtrees and the derived totals — runs after the commit under one lock, so the
tree never forks; it takes every entry waiting, in batches, so a million payments cost
a few dozen transactions, not a million. The worker sequences and signs a tree head
every minute in any case.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from rahdari.core.audit import audit_record
from rahdari.core.keyring import keyring
from rahdari.core.sql import among, insert_rows
from rahdari.ledger import entries, merkle
from rahdari.ledger.models import LedgerKey, PendingEntry, SignedTreeHead
from rahdari.ledger.selectors import compact_range, compact_range_of, tile_edges, tree_size

logger = logging.getLogger(__name__)

INTEGRATE_BATCH = 50_000
_ADVISORY_LOCK_ID = 0x4C454447  # "LEDG": one sequencer at a time (PostgreSQL)
_last_integrated = [0.0]
_signers: dict[str, Ed25519PrivateKey] = {}
_signers_lock = threading.Lock()


@dataclass(frozen=True)
class Event:
    """One entry to submit: its kind, its fields, and — for an entry about one
    beneficiary — their Rahdari number, which only enters the log as a commitment."""

    kind: str
    fields: Mapping[str, Any]
    beneficiary: str | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """A queued entry: its leaf hash finds it in the log once sequenced; ``salt`` goes on
    the beneficiary's receipt (and ``entry_salt(entry_id)`` gives it again later)."""

    leaf_hash: bytes
    entry_id: str
    salt: bytes | None


def entry_salt(entry_id: str) -> bytes:
    """The private salt of an entry's commitment: HMAC of the entry's id under the key
    ring's index key. Unguessable without that key (so the public cannot link entries to
    Rahdari numbers), and nothing per entry to store: a receipt recomputes it."""
    return hmac.digest(keyring().index_key, b"ledger-salt\x00" + entry_id.encode(), "sha256")


def ledger_submit(
    *, kind: str, fields: Mapping[str, Any], beneficiary: str | None = None
) -> Submitted:
    """Queue one entry in the caller's transaction; sequenced after the commit."""
    return ledger_submit_many(events=[Event(kind, fields, beneficiary)])[0]


def ledger_submit_many(*, events: Sequence[Event]) -> list[Submitted]:
    """Queue entries in the caller's transaction (COPY or one prepared insert, no lock).

    Raises ``entries.EntryError`` for an entry the log's schema refuses — a programming
    error, never the public's input.
    """
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    submitted: list[Submitted] = []
    rows: list[tuple[Any, ...]] = []
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    ids = secrets.token_hex(16 * len(events))  # each entry's id: 32 hex digits of it
    for number, event in enumerate(events):
        salt = None
        entry_id = ids[32 * number : 32 * number + 32]
        entry = {"v": entries.ENTRY_VERSION, "id": entry_id, "kind": event.kind, "at": at}
        entry.update(event.fields)
        if event.beneficiary is not None:
            salt = entry_salt(entry_id)
            entry["beneficiary"] = entries.commitment(event.beneficiary, salt)
        body = entries.encode_entry(entry)
        leaf = merkle.leaf_hash(body)
        totals = "\n".join(
            "\t".join([*key, kind, str(count), str(amount)])
            for key, kind, count, amount in entries.entry_totals(entry)
        )
        key = int.from_bytes(leaf[:8], "big", signed=True)
        rows.append((leaf, key, body, event.kind, totals, now))
        submitted.append(Submitted(leaf_hash=leaf, entry_id=entry_id, salt=salt))
    if rows:
        with connection.cursor() as cursor:
            insert_rows(
                cursor,
                PendingEntry._meta.db_table,
                ("leaf_hash", "leaf_key", "body", "kind", "totals", "submitted_at"),
                rows,
            )
        transaction.on_commit(_integrate_after_commit)
    return submitted


def _integrate_after_commit() -> None:
    # Throttled per process: under load one sequencing takes the entries of many commits.
    now = time.monotonic()
    if now - _last_integrated[0] < settings.RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS:
        return
    _last_integrated[0] = now
    try:
        ledger_publish(wait=False, force_sign=False)
    except DatabaseError:
        logger.exception("ledger entries left for the next sequencing")


def _lock(cursor: Any, *, wait: bool) -> bool:
    """Take the sequencer's lock for this transaction. SQLite's transactions already
    begin IMMEDIATE (one writer); PostgreSQL takes an advisory lock."""
    if connection.vendor != "postgresql":
        return True
    if wait:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])
        return True
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])
    return bool(cursor.fetchone()[0])


def ledger_integrate(*, wait: bool = True, batch: int = INTEGRATE_BATCH) -> int:
    """Sequence every committed waiting entry into the tree, oldest first, ``batch`` per
    transaction; returns how many. With ``wait=False`` it returns 0 at once if another
    process is sequencing. A crash rolls back the batch, which stays queued."""
    integrated = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            if not _lock(cursor, wait=wait):
                return integrated
            cursor.execute(
                f"SELECT id, leaf_hash, totals FROM {PendingEntry._meta.db_table} "  # noqa: S608
                "ORDER BY id LIMIT %s",
                [batch],
            )
            waiting = cursor.fetchall()
            if not waiting:
                return integrated
            _append(cursor, waiting)
            integrated += len(waiting)
        if len(waiting) < batch:
            return integrated


def _append(cursor: Any, waiting: list[tuple[Any, ...]]) -> None:
    size = tree_size()
    edges = tile_edges(size)
    tree = compact_range_of(size, edges)
    leaves = [bytes(row[1]) for row in waiting]
    nodes = tree.extend_with_nodes(leaves)
    sums: dict[tuple[str, ...], list[int]] = {}
    for _, _, totals in waiting:
        for line in totals.split("\n") if totals else ():
            *names, count, amount = line.split("\t")
            total = sums.setdefault(tuple(names), [0, 0])
            total[0] += int(count)
            total[1] += int(amount)
    tile_rows, node_rows = _tiles_and_edge(size, edges, leaves, nodes)
    ids = [row[0] for row in waiting]
    _sequence(cursor, size, ids)
    insert_rows(cursor, "ledger_tile", ("id", "hashes", "interior"), tile_rows)
    insert_rows(cursor, "ledger_treenode", ("id", "hash"), node_rows)
    where, param = among("id", ids)
    cursor.execute(f"DELETE FROM ledger_pendingentry WHERE {where}", [param])  # noqa: S608
    if cursor.rowcount != len(ids):
        raise DatabaseError("the pending entries changed while they were sequenced")
    cursor.executemany(
        "INSERT INTO ledger_districttotal (program, cycle, district, kind, count, amount) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (program, cycle, district, kind) "
        "DO UPDATE SET count = ledger_districttotal.count + excluded.count, "
        "amount = ledger_districttotal.amount + excluded.amount",
        [(*names, count, amount) for names, (count, amount) in sums.items()],
    )


def _sequence(cursor: Any, size: int, ids: list[int]) -> None:
    """Give the queued entries ``ids`` (as read, in id order) their leaf indexes from
    ``size`` on, in id order: the database copies each body into the log itself (they
    never travel to Python and back).

    The entries are named one by one, not as the range from the first id to the last:
    two transactions submitting at once (a cycle's batches on two threads) draw ids
    from the same sequence, interleaved, and the one that commits later may commit
    between the read and this statement. The range would then take its entries too,
    the count below would not match, and the whole sequencing would be rolled back —
    again each time that happens.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    where, param = among("id", ids)
    cursor.execute(
        "INSERT INTO ledger_logentry (leaf_index, leaf_hash, leaf_key, body, kind, integrated_at) "  # noqa: S608
        "SELECT %s + ROW_NUMBER() OVER (ORDER BY id) - 1, leaf_hash, leaf_key, body, kind, %s "
        f"FROM ledger_pendingentry WHERE {where} ORDER BY id",
        [size, now, param],
    )
    if cursor.rowcount != len(ids):
        raise DatabaseError("the pending entries changed while they were sequenced")


def _tiles_and_edge(
    size: int,
    edges: dict[int, bytes],
    leaves: list[bytes],
    nodes: list[tuple[int, int, bytes]],
) -> tuple[list[tuple[int, bytes, bytes]], list[tuple[int, bytes]]]:
    """What an append of ``leaves`` to a tree of ``size`` stores: every tile that it
    fills (with the nodes of the old right edge at its start) as its bottom row and its
    interior, and the new nodes of tiles still partial as single rows (of the bottom
    level of each band only)."""
    levels: dict[int, list[bytes]] = {0: leaves}
    for level, _index, digest in nodes:  # in order of index within each level
        levels.setdefault(level, []).append(digest)
    tiles: list[tuple[int, bytes, bytes]] = []
    edge: list[tuple[int, bytes]] = []
    height, width, step = merkle.TILE_HEIGHT, merkle.TILE_WIDTH, merkle.TILE_BYTES
    for band in range(0, max(levels) + 1, height):
        new = levels.get(band)
        if not new:
            continue
        first = size >> band  # the index of the band's first new node
        tile = first // width
        old = edges.get(band, b"")
        bottom = old + b"".join(new)
        full = len(bottom) // step
        if full:
            # The rows above the bottom, from the first tile's start: the old edge's
            # nodes (hashed again from it: fewer than 256) then this append's.
            old_rows = merkle.tile_rows(old)
            rows = [
                (old_rows[j] if j < len(old_rows) else b"") + b"".join(levels.get(band + j, ()))
                for j in range(1, height + 1)
            ]
            for k in range(full):
                interior = b"".join(
                    row[k * (step >> j) : (k + 1) * (step >> j)]
                    for j, row in enumerate(rows, start=1)
                )
                if len(interior) != step - merkle.HASH_SIZE:
                    raise DatabaseError(f"tile {band}/{tile + k}: its interior is incomplete")
                tiles.append((band << 48 | tile + k, bottom[k * step : (k + 1) * step], interior))
        partial_from = (tile + full) * width
        edge += [
            (band << 48 | first + k, digest)
            for k, digest in enumerate(new)
            if first + k >= partial_from
        ]
    return tiles, edge


def ledger_key() -> LedgerKey:
    """The active tree-head signing key; the first call on a new installation creates it."""
    key = LedgerKey.objects.filter(status=LedgerKey.Status.ACTIVE).first()
    if key is not None:
        return key
    with transaction.atomic():
        key = LedgerKey.objects.select_for_update().filter(status="active").first()
        if key is None:
            seed = secrets.token_bytes(32)
            public = (
                Ed25519PrivateKey.from_private_bytes(seed)
                .public_key()
                .public_bytes(Encoding.Raw, PublicFormat.Raw)
            )
            key = LedgerKey.objects.create(
                key_id=entries.key_id(public),
                public_key=public,
                seed=base64.b64encode(seed).decode("ascii"),
            )
            audit_record(
                actor=None,
                action="ledger.key_created",
                subject=("ledger.ledgerkey", key.key_id),
                changes={"key_id": key.key_id},
            )
    return key


def _signer(key: LedgerKey) -> Ed25519PrivateKey:
    with _signers_lock:
        signer = _signers.get(key.key_id)
        if signer is None:
            signer = Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.seed))
            _signers[key.key_id] = signer
        return signer


def tree_head_sign(*, force: bool = True, wait: bool = True) -> SignedTreeHead | None:
    """Sign the tree as it stands, if it grew since the last head (and, unless ``force``,
    the last head is older than RAHDARI_LEDGER_STH_INTERVAL_SECONDS). Returns the new
    head, or None when there is nothing new to sign."""
    key = ledger_key()
    with transaction.atomic(), connection.cursor() as cursor:
        if not _lock(cursor, wait=wait):
            return None
        size = tree_size()
        last = SignedTreeHead.objects.order_by("-tree_size").first()
        if size == 0 or (last is not None and last.tree_size >= size):
            return None
        now_ms = int(time.time() * 1000)
        if last is not None:
            interval_ms = settings.RAHDARI_LEDGER_STH_INTERVAL_SECONDS * 1000
            if not force and now_ms - last.timestamp_ms < interval_ms:
                return None
            now_ms = max(now_ms, last.timestamp_ms + 1)  # heads never go back in time
        root = compact_range(size).root()
        signature = _signer(key).sign(entries.tree_head_message(size, now_ms, root))
        return SignedTreeHead.objects.create(
            tree_size=size, timestamp_ms=now_ms, root_hash=root, signature=signature, key=key
        )


def ledger_publish(*, wait: bool = True, force_sign: bool = True) -> SignedTreeHead | None:
    """Sequence what is waiting, then sign a new tree head if the tree grew (the worker
    calls this every minute; a process that submitted calls it after its commit)."""
    ledger_integrate(wait=wait)
    return tree_head_sign(force=force_sign, wait=wait)
