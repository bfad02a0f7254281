"""Reading the public log: tree heads, entries, proofs from stored tiles, totals.

The tree's hashes are stored in tiles of 256 nodes of one level (``Tile``; the right
edge, while its tiles are partial, as single nodes in ``TreeNode``). A proof for any
published tree size needs at most two subtrees per level, which lie in one or two tiles
per band of 8 levels: one query reads the tiles the process does not hold (at ten
million leaves, usually the leaf's tile alone), and the rest is hashing in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.hotcache import HotCache
from rahdari.ledger import entries, merkle
from rahdari.ledger.models import DistrictTotal, LedgerKey, LogEntry, SignedTreeHead

MAX_ENTRIES_PER_PAGE = 10_000
MAX_HEADS_PER_PAGE = 1_000
_LEVEL_SHIFT = 48
_MASK = (1 << _LEVEL_SHIFT) - 1


def tree_size() -> int:
    """Leaves sequenced so far (signed or not yet)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(leaf_index) FROM ledger_logentry")
        row = cursor.fetchone()
    return 0 if row[0] is None else int(row[0]) + 1


class _TileCache:
    """Tiles kept in the process, as their rows (LRU-bounded), and the hashes of the
    ranges of leaves that proofs ask for and that are not one perfect subtree (the
    right edge of a size: the same for most proofs of that size).

    What a tile holds never changes, only how far a partial tile reaches: a full tile is
    final, and a partial one (the right edge) is a true prefix, good for any question
    within its width; a question beyond it reads the tile again and keeps the wider
    one. A range's hash never changes once the log has reached its end. The first use
    loads the upper levels' full tiles (the highest first, up to half the bound): 153
    tiles at ten million leaves. Only what was read outside a transaction is kept (so
    never a row that a rollback could still take back), and nothing while the hot caches
    are off (RAHDARI_HOT_CACHE_SECONDS = 0, as in tests, whose databases are emptied and
    filled again with other trees).
    """

    def __init__(self, maxsize: int, max_ranges: int = 4_096) -> None:
        self.maxsize = maxsize
        self.max_ranges = max_ranges
        self.warm = False
        self._lock = threading.Lock()
        self._items: OrderedDict[int, list[bytes]] = OrderedDict()
        self._ranges: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    @staticmethod
    def usable() -> bool:
        return float(settings.RAHDARI_HOT_CACHE_SECONDS) > 0 and not connection.in_atomic_block

    def get(self, key: int, width: int) -> list[bytes] | None:
        """The tile's rows if the cached copy holds at least ``width`` bottom nodes."""
        with self._lock:
            rows = self._items.get(key)
            if rows is None or len(rows[0]) < width * merkle.HASH_SIZE:
                return None
            self._items.move_to_end(key)
            return rows

    def put(self, key: int, rows: list[bytes]) -> None:
        with self._lock:
            held = self._items.get(key)
            if held is None or len(held[0]) < len(rows[0]):
                self._items[key] = rows
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def get_range(self, key: tuple[int, int]) -> bytes | None:
        with self._lock:
            digest = self._ranges.get(key)
            if digest is not None:
                self._ranges.move_to_end(key)
            return digest

    def put_range(self, key: tuple[int, int], digest: bytes) -> None:
        with self._lock:
            self._ranges[key] = digest
            self._ranges.move_to_end(key)
            while len(self._ranges) > self.max_ranges:
                self._ranges.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._ranges.clear()
            self.warm = False


TILE_CACHE = _TileCache(maxsize=2_048)


def _stored_rows(bottom: Any, interior: Any) -> list[bytes]:
    """A stored tile's rows: sliced from its stored interior (tiles written since
    migration 0007), else hashed again from the bottom row (a tile built by 0005 before
    0007 filled it in, or the right edge's nodes)."""
    bottom = bytes(bottom)
    if interior is not None and len(bottom) == merkle.TILE_BYTES:
        interior = bytes(interior)
        if len(interior) == merkle.TILE_BYTES - merkle.HASH_SIZE:
            return merkle.tile_rows_with_interior(bottom, interior)
    return merkle.tile_rows(bottom)


def _warm_tile_cache() -> None:
    TILE_CACHE.warm = True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, hashes, interior FROM ledger_tile WHERE id >= %s ORDER BY id DESC LIMIT %s",
            [merkle.TILE_HEIGHT << _LEVEL_SHIFT, TILE_CACHE.maxsize // 2],
        )
        for position, hashes, interior in cursor.fetchall():
            TILE_CACHE.put(int(position), _stored_rows(hashes, interior))


def _tiles(widths: dict[int, int], full_below: int, caching: bool) -> dict[int, list[bytes]]:
    """The rows of the tiles ``band << 48 | index``, each holding at least the given
    number of bottom nodes: one query for what the cache does not hold. A tile whose
    leaves all lie below ``full_below`` (a size the log has reached) is full; another
    may still be partial, and then its stored nodes are read as well (a range of
    ``ledger_treenode``, the right edge). A tile the log does not reach is left out or
    comes back short."""
    found: dict[int, list[bytes]] = {}
    if caching and not TILE_CACHE.warm:
        _warm_tile_cache()
    wanted: list[int] = []
    for key, width in widths.items():
        rows = TILE_CACHE.get(key, width) if caching else None
        if rows is None:
            wanted.append(key)
        else:
            found[key] = rows
    if not wanted:
        return found
    width, height = merkle.TILE_WIDTH, merkle.TILE_HEIGHT
    partial = [k for k in wanted if ((k & _MASK) + 1) * width << (k >> _LEVEL_SHIFT) > full_below]
    params: list[int] = list(wanted)
    marks = ", ".join(["%s"] * len(params))
    query = f"SELECT 1, id, hashes, interior FROM ledger_tile WHERE id IN ({marks})"  # noqa: S608
    if partial:
        ranges = " OR ".join(["(id >= %s AND id < %s)"] * len(partial))
        query += f" UNION ALL SELECT 0, id, hash, NULL FROM ledger_treenode WHERE {ranges}"  # noqa: S608
        for key in partial:
            band, index = key >> _LEVEL_SHIFT, key & _MASK
            params += [
                band << _LEVEL_SHIFT | index * width,
                band << _LEVEL_SHIFT | (index + 1) * width,
            ]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        result = cursor.fetchall()
    nodes: dict[int, dict[int, bytes]] = {}
    for is_tile, position, data, interior in result:
        position = int(position)
        if is_tile:
            found[position] = _stored_rows(data, interior)
        else:
            band, node = position >> _LEVEL_SHIFT, position & _MASK
            nodes.setdefault(band << _LEVEL_SHIFT | node >> height, {})[node] = data
    for key, stored in nodes.items():
        if key in found:
            continue  # the tile completed: its row supersedes the edge's nodes
        first = (key & _MASK) * width
        prefix: list[bytes] = []
        while first + len(prefix) in stored:  # the nodes a partial tile holds: a prefix
            prefix.append(bytes(stored[first + len(prefix)]))
        found[key] = merkle.tile_rows(b"".join(prefix))
    if caching:
        for key in wanted:
            if key in found:
                TILE_CACHE.put(key, found[key])
    return found


def subtree_hashes(
    subtrees: Iterable[tuple[int, int]], *, full_below: int = 0
) -> dict[tuple[int, int], bytes]:
    """The hashes of perfect subtrees given as (level, index); level 0 is a leaf. Read
    from the tiles that hold them (one query at most, whatever the levels; the upper
    tiles usually come from the process); a subtree the log does not have is left out.
    ``full_below``: a size the log is known to have reached (saves reading the edge)."""
    wanted = set(subtrees)
    widths: dict[int, int] = {}
    for level, index in wanted:
        band, tile = merkle.tile_of(level, index)
        reach = ((index + 1) << (level - band)) - (tile << merkle.TILE_HEIGHT)
        key = band << _LEVEL_SHIFT | tile
        widths[key] = max(widths.get(key, 0), reach)
    tiles = _tiles(widths, full_below, _TileCache.usable())
    found: dict[tuple[int, int], bytes] = {}
    for level, index in wanted:
        band, tile = merkle.tile_of(level, index)
        rows = tiles.get(band << _LEVEL_SHIFT | tile)
        digest = None if rows is None else merkle.tile_hash(rows, level, index)
        if digest is not None:
            found[(level, index)] = digest
    return found


# Two nodes of one stored column closer than this are read as one slice: each slice of
# a TOASTed value is a look-up of its own (~12 µs), a byte of a read slice costs little.
_SLICE_GAP = 1_024


def _leaf_tile_slices(
    plans: list[tuple[int, list[tuple[int, int, int]]]],
    widths: dict[int, int],
    full_below: int,
    caching: bool,
) -> dict[tuple[int, int, int], bytes]:
    """On PostgreSQL, the nodes that proofs need from full leaf tiles (band 0) the
    process does not hold, read as slices of the stored rows rather than whole rows: a
    tile row is 16 KB, stored out of line (TOAST), and a proof needs about 8 of its 511
    hashes; ``substring`` of an uncompressed TOASTed value reads only the chunks the
    slice covers, and only those bytes are sent. Leaf tiles are where a proof's one cold
    read lies (at ten million leaves, 39,063 of them against 2,048 in the cache), so
    they are not cached; the upper bands' tiles are, and keep coming from ``_tiles``.
    Found nodes are returned as ``(key, row, offset)``; their tiles leave ``widths``.
    A tile whose row or interior is missing stays in ``widths`` (read whole, as before).
    """
    width, size = merkle.TILE_WIDTH, merkle.HASH_SIZE
    if caching and not TILE_CACHE.warm:
        _warm_tile_cache()
    needed: dict[int, set[tuple[int, int]]] = {}
    for _slot, subtrees in plans:
        for key, j, offset in subtrees:
            if key >> _LEVEL_SHIFT or ((key & _MASK) + 1) * width > full_below:
                continue  # an upper band's tile (cached), or a partial tile (the edge)
            if caching and TILE_CACHE.get(key, widths[key]) is not None:
                continue
            needed.setdefault(key, set()).add((j, offset))
    if not needed:
        return {}
    # Per tile: its spans (column, first byte, length), and where each node lies in them.
    plan: list[tuple[int, list[tuple[int, int, int]], dict[tuple[int, int], tuple[int, int]]]] = []
    for key, nodes in needed.items():
        places = sorted(
            (
                (0, offset) if j == 0 else (1, merkle.interior_row_start(j) + offset),
                (j, offset),
            )
            for j, offset in nodes
        )
        spans: list[tuple[int, int, int]] = []
        where: dict[tuple[int, int], tuple[int, int]] = {}
        for (column, position), node in places:
            if spans and spans[-1][0] == column and position - sum(spans[-1][1:]) <= _SLICE_GAP:
                column, first, _length = spans[-1]
                spans[-1] = (column, first, position + size - first)
            else:
                spans.append((column, position, size))
            where[node] = (len(spans) - 1, position - spans[-1][1])
        plan.append((key, spans, where))
    columns = max(len(spans) for _key, spans, _where in plan)
    parts, params = [], []
    for key, spans, _where in plan:
        exprs = [
            f"substring({('hashes', 'interior')[column]} from %s for %s)"
            for column, _first, _length in spans
        ] + ["NULL::bytea"] * (columns - len(spans))
        parts.append(f"SELECT id, {', '.join(exprs)} FROM ledger_tile WHERE id = %s")  # noqa: S608
        for _column, first, length in spans:
            params += [first + 1, length]
        params.append(key)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = {int(row[0]): row[1:] for row in cursor.fetchall()}
    found: dict[tuple[int, int, int], bytes] = {}
    for key, spans, where in plan:
        row = rows.get(key)
        if row is None or any(
            row[i] is None or len(row[i]) != spans[i][2] for i in range(len(spans))
        ):
            continue  # not stored as a full tile with its interior: read whole
        for (j, offset), (span, start) in where.items():
            found[(key, j, offset)] = bytes(row[span][start : start + size])
        del widths[key]
    return found


def _range_hashes(ranges: list[tuple[int, int]], full_below: int = 0) -> list[bytes]:
    """The hashes of leaf ranges as the proofs' builders give them (each one starts on a
    multiple of a power of two at least its length: ``merkle.perfect_subtrees``), from
    one read of the tiles that hold their perfect subtrees. The arithmetic of
    ``merkle.tile_of`` and ``merkle.tile_hash`` is done inline, without their checks:
    a proof at ten million leaves takes some 25 subtrees."""
    height, size = merkle.TILE_HEIGHT, merkle.HASH_SIZE
    caching = _TileCache.usable()
    digests: list[bytes] = [b""] * len(ranges)
    plans: list[tuple[int, list[tuple[int, int, int]]]] = []
    widths: dict[int, int] = {}
    for slot, (start, end) in enumerate(ranges):
        length = end - start
        if caching and length & (length - 1):
            known = TILE_CACHE.get_range((start, end))
            if known is not None:
                digests[slot] = known
                continue
        subtrees: list[tuple[int, int, int]] = []
        rest, position = length, start
        while rest:  # its perfect subtrees, largest (leftmost) first
            level = rest.bit_length() - 1
            index = position >> level
            j = level % height  # the subtree's row in its tile
            tile = index >> (height - j)
            key = (level - j) << _LEVEL_SHIFT | tile
            reach = (index + 1 << j) - (tile << height)
            if widths.get(key, 0) < reach:
                widths[key] = reach
            subtrees.append((key, j, (index - (tile << (height - j))) * size))
            position += 1 << level
            rest ^= 1 << level
        plans.append((slot, subtrees))
    if plans:
        sliced: dict[tuple[int, int, int], bytes] = {}
        if connection.vendor == "postgresql":
            sliced = _leaf_tile_slices(plans, widths, full_below, caching)
        tiles = _tiles(widths, full_below, caching) if widths else {}
        for slot, subtrees in plans:
            hashes = []
            for key, j, offset in subtrees:
                digest = sliced.get((key, j, offset), b"")
                if not digest:
                    rows = tiles.get(key)
                    digest = rows[j][offset : offset + size] if rows and j < len(rows) else b""
                if len(digest) != size:  # the tree is not that large (yet)
                    raise NotFound(_("That part of the log does not exist."), code="not_in_log")
                hashes.append(digest)
            if len(hashes) == 1:
                digests[slot] = hashes[0]
                continue
            digests[slot] = merkle.fold_subtrees(hashes)
            if caching:
                TILE_CACHE.put_range(ranges[slot], digests[slot])
    return digests


def tile_edges(size: int) -> dict[int, bytes]:
    """The right edge of the tree of ``size`` leaves: per band (0, 8, 16, …), the bottom
    row of its partial tile (the nodes after the band's last full tile), concatenated.
    What an append continues, and all that the tree's compact range is made of."""
    width = merkle.TILE_WIDTH
    counts: dict[int, int] = {}
    band = 0
    while size >> band:
        counts[band << _LEVEL_SHIFT | (size >> band) // width] = (size >> band) % width
        band += merkle.TILE_HEIGHT
    wanted = {key: count for key, count in counts.items() if count}
    tiles = _tiles(wanted, 0, _TileCache.usable())
    edges = {}
    for key, count in counts.items():
        band = key >> _LEVEL_SHIFT
        bottom = tiles.get(key, [b""])[0][: count * merkle.HASH_SIZE]
        if len(bottom) != count * merkle.HASH_SIZE:
            raise NotFound(_("That part of the log does not exist."), code="not_in_log")
        edges[band] = bottom
    return edges


def compact_range_of(size: int, edges: dict[int, bytes]) -> merkle.CompactRange:
    """The compact range of ``size`` leaves from the tree's right edge (:func:`tile_edges`)."""
    hashes = []
    for band in sorted(edges, reverse=True):
        rows = merkle.tile_rows(edges[band])
        count = len(edges[band]) // merkle.HASH_SIZE
        for j in range(merkle.TILE_HEIGHT - 1, -1, -1):
            if count >> j & 1:
                offset = ((count >> j) - 1) * merkle.HASH_SIZE
                hashes.append(rows[j][offset : offset + merkle.HASH_SIZE])
    return merkle.CompactRange.from_hashes(size, hashes)


def compact_range(size: int) -> merkle.CompactRange:
    """The tree of ``size`` leaves as its right-border subtrees (what an append extends)."""
    return compact_range_of(size, tile_edges(size))


def root_at(size: int) -> bytes:
    return merkle.fold_subtrees(_range_hashes([(0, size)], size)) if size else merkle.EMPTY_ROOT


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
    return _range_hashes(merkle.inclusion_ranges(index, tree_size), tree_size)


def consistency_proof(*, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) from stored hashes: the first tree is a prefix of the second."""
    _check_size(second)
    if not 0 < first <= second:
        raise ApplicationError(
            _("The first size must be at least 1 and at most the second."),
            code="bad_tree_size",
            fields={"first": [_("Must be between 1 and the second size.")]},
        )
    return _range_hashes(merkle.consistency_ranges(first, second), second)


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
        proof=_range_hashes(merkle.inclusion_ranges(index, head.tree_size), head.tree_size),
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
