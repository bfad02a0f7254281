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
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def _pages(fetch: Fetch, size: int, *, prefetch: bool) -> Iterator[list[dict[str, Any]]]:
    """Entry pages in order, the next ones downloading while this one is checked."""
    starts = list(range(0, size, PAGE))
    if not prefetch:
        for s in starts:
            yield fetch(f"/api/v1/ledger/entries?start={s}&end={min(s + PAGE, size)}")["entries"]
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [
            pool.submit(fetch, f"/api/v1/ledger/entries?start={s}&end={min(s + PAGE, size)}")
            for s in starts[:2]
        ]
        for n in range(len(starts)):
            page = pending.pop(0).result()
            if n + 2 < len(starts):
                s = starts[n + 2]
                pending.append(
                    pool.submit(
                        fetch, f"/api/v1/ledger/entries?start={s}&end={min(s + PAGE, size)}"
                    )
                )
            yield page["entries"]


def verify_log(url: str, *, fetch: Fetch | None = None, prefetch: bool = True) -> Report:
    """Download and re-check the whole log at ``url``; never raises for what it finds.
    ``prefetch`` downloads the next pages in threads while one is checked."""
    started = time.perf_counter()
    report = Report(url=url)
    try:
        _verify(fetch or http_fetcher(url), report, prefetch=prefetch)
    except VerifyError as exc:
        report.problem(f"could not read the log: {exc}")
    except (KeyError, TypeError, ValueError) as exc:
        report.problem(f"the log's answers are not in the expected shape: {exc!r}")
    report.ok = not report.problems
    report.seconds = time.perf_counter() - started
    return report


def _verify(fetch: Fetch, report: Report, *, prefetch: bool) -> None:
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

    for page in _pages(fetch, size, prefetch=prefetch):
        for item in page:
            index, text = int(item["leaf_index"]), str(item["entry"])
            if index != tree.size:
                report.problem(f"entry {tree.size}: the log skipped to {index}")
                return
            body = text.encode()
            leaf = merkle.leaf_hash(body)
            if entries.unb64(item["leaf_hash"]) != leaf:
                report.problem(f"entry {index}: the server's leaf hash is wrong")
            try:
                add(entries.decode_entry(body))
            except entries.EntryError as exc:
                report.problem(f"entry {index}: {exc}")
            tree.append(leaf)
            report.entries_checked += 1
            signed = by_size.get(tree.size)
            if signed is not None:
                if tree.root() == signed.root_hash:
                    report.roots_matched += 1
                else:
                    report.problem(f"head {signed.tree_size}: the entries give another root")
        if not page:
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
