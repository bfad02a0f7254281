"""Reading the public log: tree heads, entries, proofs from stored subtree hashes, totals.

A proof for any published tree size reads at most two stored hashes per level (one
query for leaves, one for subtrees above them) whatever the log's size; nothing is
recomputed from the leaves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.hotcache import HotCache
from rahdari.ledger import entries, merkle
from rahdari.ledger.models import DistrictTotal, LedgerKey, LogEntry, SignedTreeHead

MAX_ENTRIES_PER_PAGE = 10_000
MAX_HEADS_PER_PAGE = 1_000
_LEVEL_SHIFT = 48


def tree_size() -> int:
    """Leaves sequenced so far (signed or not yet)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(leaf_index) FROM ledger_logentry")
        row = cursor.fetchone()
    return 0 if row[0] is None else int(row[0]) + 1


def subtree_hashes(subtrees: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of perfect subtrees given as (level, index); level 0 is a leaf.
    One query on the compact node table (leaves included), whatever the levels."""
    ids = sorted({level << _LEVEL_SHIFT | index for level, index in subtrees})
    found: dict[tuple[int, int], bytes] = {}
    if not ids:
        return found
    mask = (1 << _LEVEL_SHIFT) - 1
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, hash FROM ledger_treenode WHERE id IN ({marks})", ids)  # noqa: S608
        for position, digest in cursor.fetchall():
            position = int(position)
            found[(position >> _LEVEL_SHIFT, position & mask)] = bytes(digest)
    return found


def _range_hashes(ranges: list[tuple[int, int]]) -> list[bytes]:
    pieces = [merkle.perfect_subtrees(start, end) for start, end in ranges]
    stored = subtree_hashes(p for piece in pieces for p in piece)
    try:
        return [merkle.fold_subtrees([stored[p] for p in piece]) for piece in pieces]
    except KeyError as exc:  # the tree is not that large (yet)
        raise NotFound(_("That part of the log does not exist."), code="not_in_log") from exc


def compact_range(size: int) -> merkle.CompactRange:
    """The tree of ``size`` leaves as its right-border subtrees (what an append extends)."""
    subtrees = merkle.perfect_subtrees(0, size) if size else []
    stored = subtree_hashes(subtrees)
    return merkle.CompactRange.from_hashes(size, [stored[p] for p in subtrees])


def root_at(size: int) -> bytes:
    return merkle.fold_subtrees(_range_hashes([(0, size)])) if size else merkle.EMPTY_ROOT


def latest_tree_head() -> SignedTreeHead | None:
    return SignedTreeHead.objects.select_related("key").order_by("-tree_size").first()


def tree_head_at(size: int) -> SignedTreeHead | None:
    return SignedTreeHead.objects.select_related("key").filter(tree_size=size).first()


_published: HotCache[int] = HotCache("ledger.published_size", maxsize=1)


def _read_published_size() -> int:
    head = SignedTreeHead.objects.order_by("-tree_size").values_list("tree_size", flat=True)
    return head.first() or 0


def _published_size(at_least: int = 0) -> int:
    """The latest published tree size. Heads only grow, so a cached size that already
    covers ``at_least`` is the right answer; a larger question reads it again."""
    size = _published.get("size", _read_published_size)
    if at_least > size:
        _published.clear()
        size = _published.get("size", _read_published_size)
    return size


def tree_heads(*, start: int = 0, limit: int = MAX_HEADS_PER_PAGE) -> list[SignedTreeHead]:
    """Published heads oldest first, from the ``start``-th one."""
    limit = max(1, min(limit, MAX_HEADS_PER_PAGE))
    query = SignedTreeHead.objects.select_related("key").order_by("tree_size")
    return list(query[max(0, start) : max(0, start) + limit])


def tree_head_count() -> int:
    return SignedTreeHead.objects.count()


def _check_size(tree_size: int) -> None:
    published = _published_size(tree_size)
    if not 0 < tree_size <= published:
        raise ApplicationError(
            _("Ask for a tree size between 1 and the latest published size (%(size)s).")
            % {"size": published},
            code="bad_tree_size",
            fields={"tree_size": [_("Not a published size of the log.")]},
        )


def inclusion_proof(*, index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[tree_size]) from stored hashes, for a size up to the latest head."""
    _check_size(tree_size)
    if not 0 <= index < tree_size:
        raise ApplicationError(
            _("That entry is not in a tree of this size."),
            code="bad_index",
            fields={"leaf_index": [_("Must be below the tree size.")]},
        )
    return _range_hashes(merkle.inclusion_ranges(index, tree_size))


def consistency_proof(*, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) from stored hashes: the first tree is a prefix of the second."""
    _check_size(second)
    if not 0 < first <= second:
        raise ApplicationError(
            _("The first size must be at least 1 and at most the second."),
            code="bad_tree_size",
            fields={"first": [_("Must be between 1 and the second size.")]},
        )
    return _range_hashes(merkle.consistency_ranges(first, second))


def leaf_key(leaf_hash: bytes) -> int:
    """The indexed 8-byte key of a leaf hash (its first 8 bytes, signed)."""
    return int.from_bytes(leaf_hash[:8], "big", signed=True)


def _by_hash(leaf_hash: bytes) -> Any:
    return LogEntry.objects.filter(leaf_key=leaf_key(leaf_hash), leaf_hash=leaf_hash)


def entry_index(leaf_hash: bytes) -> int:
    index = _by_hash(leaf_hash).values_list("leaf_index", flat=True).first()
    if index is None:
        raise NotFound(_("No entry in the log has that leaf hash."), code="entry_not_found")
    return int(index)


def entries_range(*, start: int, end: int) -> list[tuple[int, bytes]]:
    """(index, body) of the sequenced leaves in [start, end), at most one page."""
    return [(index, body) for index, _leaf, body in entries_page(start=start, end=end)]


def entries_page(*, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
    """(index, leaf hash, body) of the sequenced leaves in [start, end), at most a page."""
    if start < 0 or end <= start:
        raise ApplicationError(
            _("Ask for a range with start ≥ 0 and end > start."), code="bad_range"
        )
    end = min(end, start + MAX_ENTRIES_PER_PAGE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT leaf_index, leaf_hash, body FROM ledger_logentry "
            "WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index",
            [start, end],
        )
        return [(int(i), bytes(h), bytes(b)) for i, h, b in cursor.fetchall()]


def public_keys() -> list[LedgerKey]:
    """Every key that signed or signs heads (retired ones keep old heads verifiable)."""
    return list(LedgerKey.objects.order_by("created_at"))


def public_key_map() -> dict[str, bytes]:
    return {k.key_id: bytes(k.public_key) for k in public_keys()}


def head_value(head: SignedTreeHead) -> entries.TreeHead:
    return entries.TreeHead(
        tree_size=head.tree_size,
        timestamp_ms=head.timestamp_ms,
        root_hash=bytes(head.root_hash),
        signature=bytes(head.signature),
        key_id=head.key.key_id,
    )


def receipt(*, leaf_hash: bytes, salt: bytes | None) -> entries.Receipt | None:
    """A receipt for one entry under the latest head, or None while the entry waits to be
    sequenced and signed (seconds normally; at most a minute)."""
    row = _by_hash(leaf_hash).values_list("leaf_index", "body").first()
    head = latest_tree_head()
    if row is None or head is None or head.tree_size <= row[0]:
        return None
    index, body = int(row[0]), bytes(row[1])
    return entries.Receipt(
        entry=body,
        salt=salt,
        index=index,
        proof=_range_hashes(merkle.inclusion_ranges(index, head.tree_size)),
        tree_head=head_value(head),
    )


def district_totals(*, program: str | None = None) -> list[dict[str, Any]]:
    """Totals per program, cycle and district, one row each with a column per kind."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    query = DistrictTotal.objects.all()
    if program:
        query = query.filter(program=program)
    for total in query.order_by("program", "cycle", "district", "kind"):
        row = rows.setdefault(
            (total.program, total.cycle, total.district),
            {
                "program": total.program,
                "cycle": total.cycle,
                "district": total.district,
                "counts": {},
                "amounts": {},
            },
        )
        row["counts"][total.kind] = total.count
        row["amounts"][total.kind] = total.amount
    return list(rows.values())


def totals_snapshot(*, program: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """The totals together with the number of leaves they cover (sequencing changes both
    in one transaction; read again if one happened in between)."""
    for _attempt in range(5):
        before = tree_size()
        rows = district_totals(program=program)
        if tree_size() == before:
            return before, rows
    return tree_size(), district_totals(program=program)  # a log that busy: best effort
