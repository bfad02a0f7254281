"""An independent check of a published log, from its public API alone (no database, no
Django): what ``rahdari ledger verify --url`` runs, and what anyone outside government
can run against any Rahdari log.

It downloads every published tree head and every entry, then re-checks from scratch:
each head's signature; heads growing in size and time; each entry well-formed and
canonical; the root recomputed at every head's size; the server's consistency proof
between consecutive heads; the server's leaf hashes; the totals the transparency page
shows. Any difference is a problem in the report.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rahdari.ledger import entries, merkle

PAGE = 10_000
HEADS_PAGE = 1_000
MAX_PROBLEMS = 100

Fetch = Callable[[str], Any]


class VerifyError(Exception):
    """The log could not be read at all (unreachable, not a Rahdari log)."""


def http_fetcher(base_url: str, *, timeout: float = 60.0) -> Fetch:
    """GET ``base_url`` + path and parse the JSON answer."""
    base = base_url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise VerifyError(f"{base_url} is not an http(s) address")

    def fetch(path: str) -> Any:
        request = urllib.request.Request(base + path, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise VerifyError(f"{path}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise VerifyError(f"{path}: {exc}") from exc

    return fetch


@dataclass
class Report:
    url: str
    ok: bool = False
    tree_size: int = 0
    entries_checked: int = 0
    heads_checked: int = 0
    signatures_valid: int = 0
    roots_matched: int = 0
    consistency_proofs_valid: int = 0
    totals_match: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("… more problems not listed")

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "tree_size": self.tree_size,
            "entries_checked": self.entries_checked,
            "heads_checked": self.heads_checked,
            "signatures_valid": self.signatures_valid,
            "roots_matched": self.roots_matched,
            "consistency_proofs_valid": self.consistency_proofs_valid,
            "totals_match": self.totals_match,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
        }


def _heads(fetch: Fetch) -> list[dict[str, Any]]:
    heads: list[dict[str, Any]] = []
    while True:
        page = fetch(f"/api/v1/ledger/sth/history?start={len(heads)}&limit={HEADS_PAGE}")
        heads.extend(page["heads"])
        if not page["heads"] or len(heads) >= int(page["count"]):
            return heads


def _entries_path(start: int, size: int) -> str:
    return f"/api/v1/ledger/entries?start={start}&end={min(start + PAGE, size)}"


@dataclass
class _Page:
    """One page of entries checked on its own: what the ordered part of the check (the
    tree, the heads' roots) needs, and the page's problems and totals."""

    indexes: list[int]
    leaves: list[bytes]
    problems: list[tuple[int, str]]  # (position in the page, text), in order
    sums: dict[tuple[entries.TotalsKey, str], list[int]]


def _check_page(items: list[dict[str, Any]]) -> _Page:
    page = _Page([], [], [], {})
    for position, item in enumerate(items):
        index, text = int(item["leaf_index"]), str(item["entry"])
        body = text.encode()
        leaf = merkle.leaf_hash(body)
        if entries.unb64(item["leaf_hash"]) != leaf:
            page.problems.append((position, f"entry {index}: the server's leaf hash is wrong"))
        try:
            for key, kind, count, amount in entries.entry_totals(entries.decode_entry(body)):
                total = page.sums.setdefault((key, kind), [0, 0])
                total[0] += count
                total[1] += amount
        except entries.EntryError as exc:
            page.problems.append((position, f"entry {index}: {exc}"))
        page.indexes.append(index)
        page.leaves.append(leaf)
    return page


_process_fetch: dict[str, Fetch] = {}


def _fetch_and_check(base_url: str, path: str) -> _Page:
    """In a worker process: download one page and check it."""
    fetch = _process_fetch.get(base_url)
    if fetch is None:
        fetch = _process_fetch[base_url] = http_fetcher(base_url)
    return _check_page(fetch(path)["entries"])


def _pages(
    fetch: Fetch, url: str | None, size: int, *, prefetch: bool, workers: int
) -> Iterator[_Page]:
    """Entry pages in order, checked. With ``prefetch``, the next pages download (and,
    given a URL, are checked, in ``workers`` processes) while this one is added."""
    paths = [_entries_path(s, size) for s in range(0, size, PAGE)]
    if not prefetch:
        for path in paths:
            yield _check_page(fetch(path)["entries"])
        return
    pool: Executor
    if url is None:  # a caller's own fetch: download ahead in threads, check here
        pool = ThreadPoolExecutor(max_workers=2)
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
    with pool:

        def submit(path: str) -> Future[Any]:
            if url is None:
                return pool.submit(fetch, path)
            return pool.submit(_fetch_and_check, url, path)

        ahead = 2 * workers if url is not None else 2
        pending = [submit(path) for path in paths[:ahead]]
        for n in range(len(paths)):
            result = pending.pop(0).result()
            if n + ahead < len(paths):
                pending.append(submit(paths[n + ahead]))
            yield result if url is not None else _check_page(result["entries"])


def verify_log(
    url: str, *, fetch: Fetch | None = None, prefetch: bool = True, workers: int | None = None
) -> Report:
    """Download and re-check the whole log at ``url``; never raises for what it finds.
    ``prefetch`` downloads and checks the next pages in ``workers`` processes (one per
    core by default) while the tree grows here; with a ``fetch`` of the caller's, pages
    download in threads and are checked here."""
    started = time.perf_counter()
    report = Report(url=url)
    workers = max(1, workers or os.cpu_count() or 1)
    try:
        if fetch is None:
            _verify(http_fetcher(url), url, report, prefetch=prefetch, workers=workers)
        else:
            _verify(fetch, None, report, prefetch=prefetch, workers=workers)
    except VerifyError as exc:
        report.problem(f"could not read the log: {exc}")
    except (KeyError, TypeError, ValueError) as exc:
        report.problem(f"the log's answers are not in the expected shape: {exc!r}")
    report.ok = not report.problems
    report.seconds = time.perf_counter() - started
    return report


def _verify(fetch: Fetch, url: str | None, report: Report, *, prefetch: bool, workers: int) -> None:
    keys = {k["key_id"]: entries.unb64(k["public_key"]) for k in fetch("/api/v1/ledger/keys")}
    heads: list[entries.TreeHead] = []
    for raw in _heads(fetch):
        head = entries.TreeHead.from_json(raw)
        report.heads_checked += 1
        if head.verify(keys):
            report.signatures_valid += 1
        else:
            report.problem(f"head {head.tree_size}: the signature does not verify")
        if heads and not (
            head.tree_size > heads[-1].tree_size and head.timestamp_ms > heads[-1].timestamp_ms
        ):
            report.problem(f"head {head.tree_size}: not after head {heads[-1].tree_size}")
        heads.append(head)
    if not heads:
        report.problem("the log has published no tree head")
        return
    latest = entries.TreeHead.from_json(fetch("/api/v1/ledger/sth"))
    if latest != heads[-1]:
        report.problem("the latest head differs from the last head in the history")
    size = heads[-1].tree_size
    report.tree_size = size

    by_size = {h.tree_size: h for h in heads}
    tree = merkle.CompactRange()
    sums: dict[entries.TotalsKey, entries.DistrictTotals] = {}

    def add(entry: dict[str, Any]) -> None:
        for key, kind, count, amount in entries.entry_totals(entry):
            sums.setdefault(key, entries.DistrictTotals()).add(kind, count, amount)

    for page in _pages(fetch, url, size, prefetch=prefetch, workers=workers):
        problems = iter(page.problems)
        next_problem = next(problems, None)
        for position, (index, leaf) in enumerate(zip(page.indexes, page.leaves, strict=True)):
            if index != tree.size:
                report.problem(f"entry {tree.size}: the log skipped to {index}")
                return
            while next_problem is not None and next_problem[0] == position:
                report.problem(next_problem[1])
                next_problem = next(problems, None)
            tree.append(leaf)
            report.entries_checked += 1
            signed = by_size.get(tree.size)
            if signed is not None:
                if tree.root() == signed.root_hash:
                    report.roots_matched += 1
                else:
                    report.problem(f"head {signed.tree_size}: the entries give another root")
        for (key, kind), (count, amount) in page.sums.items():
            sums.setdefault(key, entries.DistrictTotals()).add(kind, count, amount)
        if not page.indexes:
            break
    if tree.size != size:
        report.problem(f"the log served {tree.size} entries, its latest head says {size}")

    for old, new in zip(heads, heads[1:], strict=False):
        proof = fetch(
            f"/api/v1/ledger/proof/consistency?first={old.tree_size}&second={new.tree_size}"
        )["consistency"]
        if merkle.verify_consistency(
            old.tree_size,
            new.tree_size,
            old.root_hash,
            new.root_hash,
            [entries.unb64(p) for p in proof],
        ):
            report.consistency_proofs_valid += 1
        else:
            report.problem(f"heads {old.tree_size} → {new.tree_size}: bad consistency proof")

    published = fetch("/api/v1/ledger/totals")
    covered = int(published["tree_size"])
    if covered < size:
        report.problem(f"the totals cover {covered} entries, fewer than the head's {size}")
        return
    # Totals may run ahead of the head by entries sequenced since: check those too.
    for start in range(size, covered, PAGE):
        page = fetch(f"/api/v1/ledger/entries?start={start}&end={min(start + PAGE, covered)}")
        for item in page["entries"]:
            try:
                add(entries.decode_entry(str(item["entry"]).encode()))
            except entries.EntryError as exc:
                report.problem(f"entry {item['leaf_index']}: {exc}")
    recomputed = {key: (t.counts, t.amounts) for key, t in sums.items()}
    report.totals_match = recomputed == {
        (row["program"], row["cycle"], row["district"]): (row["counts"], row["amounts"])
        for row in published["rows"]
    }
    if not report.totals_match:
        report.problem("the published totals differ from the totals of the entries")
