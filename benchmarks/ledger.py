"""Transparency ledger: append, proofs and independent verification, beside pymerkle.

Run: .venv/bin/python benchmarks/ledger.py       (1,000,000 entries, proofs at 10,000,000, both
                                                  databases: about 45 minutes, ~13 GB of disk
                                                  and ~10 GB of memory at the peak)
     .venv/bin/python benchmarks/ledger.py --entries 200000 --proof-entries 1000000
     .venv/bin/python benchmarks/ledger.py --only hash,pure,pymerkle      (no database)
     .venv/bin/python benchmarks/ledger.py --only append,verify --db sqlite

The issue's targets ("Performance", figures in docs/performance.md): append >= 50,000
entries/s (batched, SQLite and PostgreSQL); inclusion and consistency proofs <= 1 ms
each at 10,000,000 entries; full independent verification of 1,000,000 entries
<= 30 s. pymerkle runs on the same entries beside ours; hashlib's SHA-256 rate, measured
in the same run, is the physical limit (about two hashes per entry). Prints one JSON
object.

Sections (``--only``, all by default), everything in a temporary directory deleted at
the end, also on failure:

- ``hash``: hashlib SHA-256 on real entry bodies (0x00 || entry, ~300 bytes) and on
  node inputs (0x01 || two hashes), one call per input from a Python loop as the log
  makes them: the ceiling in entries/s at one leaf hash and one node hash per entry (a
  tree of n leaves has n - 1 nodes). Also the bulk rate of one call over 64 MiB.
- ``pure``: ``merkle.leaf_hash`` + ``CompactRange.extend_with_nodes`` (what the store
  runs) over ``--entries`` entries, as a share of the ceiling; proofs from the same
  subtree hashes held in lists (the selectors' algorithm without SQL).
- ``pymerkle``: pymerkle's ``InmemoryTree`` and ``SqliteTree`` on the same entry bytes
  (SHA-256 with its default 0x00/0x01 prefixes, which are RFC 9162's): append rate,
  2,000 inclusion and consistency proofs, and checks that its root equals ours and
  its inclusion paths are RFC 9162's. ``SqliteTree`` stores leaves only, so its proofs
  rebuild subtrees from leaves (an LRU cache helps); they stop after
  ``--pymerkle-sqlite-budget`` seconds.
- ``append``: the stored log on SQLite (a file with the project's settings: WAL,
  synchronous NORMAL) and on PostgreSQL (a cluster of its own on 127.0.0.1, fsync off
  as in scripts/with-postgres.sh), each in a fresh process after ``migrate``:
  ``ledger_submit_many`` of ``--batch`` realistic payment entries in one transaction,
  then ``ledger_integrate`` (the append: leaf indexes, subtree hashes, totals), then
  ``tree_head_sign`` — batch after batch, as a busy log runs. Submit, integrate and
  sign are timed separately, with the integrate stages (inserts per table, Merkle
  hashing, commit) and a per-entry diagnostic afterwards (not part of the figure).
  RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS is set very high so that the after-commit
  hook never integrates during a submit.
- ``proofs``: a log of ``--proof-entries`` leaves built the same way (time reported),
  then, in a fresh process, ``--proof-count`` random inclusion proofs and as many
  consistency proofs (random first size, second = the latest signed head) through
  ``selectors.inclusion_proof`` / ``selectors.consistency_proof``; every proof is
  then checked with ``merkle.verify_*`` (not timed). pymerkle's ``InmemoryTree`` and
  our in-memory subtree lists at the same size, memory permitting (else at the
  largest halving that fits, said so).
- ``verify``: the ``--entries`` log served by gunicorn (2 workers) on 127.0.0.1 and
  ``verify_log(url)`` run end to end, as ``rahdari ledger verify --url`` does.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import hashlib
import http.client
import json
import os
import platform
import random
import resource
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _machine import (
    Postgres,
    free_port,
    machine_cpu,
    own_cpu,
    package_version,
    postgres_bindir,
    revision,
    stop_process,
    tree_cpu_seconds,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECTIONS = ("hash", "pure", "pymerkle", "append", "proofs", "verify")

TARGET_APPEND_PER_S = 50_000
TARGET_PROOF_MS = 1.0
TARGET_PROOF_ENTRIES = 10_000_000
TARGET_VERIFY_S = 30.0
TARGET_VERIFY_ENTRIES = 1_000_000

HASH_SAMPLE = 200_000
DIAGNOSTIC_ENTRIES = 20_000
WARMUP_PROOFS = 20
CHUNK = 100_000
# Disk per stored entry (database + indexes + WAL: 690-984 bytes on SQLite, 842-897 on
# PostgreSQL, 373 for pymerkle's SQLite, measured at 200,000 and 1,000,000 entries),
# with a margin: a log is refused before it is built when the free space is short.
DISK_BYTES_PER_ENTRY = {"sqlite": 1_200, "postgresql": 1_200, "pymerkle_sqlite": 500}
DISK_RESERVE = 2 * 2**30
# pymerkle's InmemoryTree holds a Leaf (with a __dict__) and a Node per entry besides
# the entry itself; with our subtree lists beside it, about this much per leaf.
MEMORY_BYTES_PER_LEAF = 900
MEMORY_SHARE = 0.5  # of MemAvailable, at most, for the in-memory trees

PROGRAM = "cash-transfer"
CYCLE = "2026-Q4"
CHANNELS = ("bank", "wallet", "card")


# --------------------------------------------------------------------------- entries


def _districts() -> list[str]:
    path = PROJECT_DIR / "rahdari" / "core" / "data" / "kp_districts.csv"
    with path.open(encoding="utf-8") as f:
        return [row["district"] for row in csv.DictReader(f)]


_NUMBERS: list[str] = []


def _rahdari_numbers() -> list[str]:
    """65,536 valid 12-digit Rahdari numbers (Verhoeff check digit), made once."""
    if not _NUMBERS:
        from stdnum import verhoeff

        for serial in range(65_536):
            body = str(10_000_000_000 + serial * 7_919_003 % 89_999_999_999)
            _NUMBERS.append(body + str(verhoeff.calc_check_digit(body)))
    return _NUMBERS


def payment_events(start: int, count: int) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(kind, fields, beneficiary) of entries start … start + count - 1: each payment
    of the cycle is instructed, then paid (one in 50 fails, one in 200 is returned)."""
    districts = _districts()
    numbers = _rahdari_numbers()
    for serial in range(start, start + count):
        payment = serial // 2
        if serial % 2 == 0:
            status = "instructed"
        elif payment % 200 == 7:
            status = "returned"
        elif payment % 50 == 3:
            status = "failed"
        else:
            status = "paid"
        fields = {
            "program": PROGRAM,
            "cycle": CYCLE,
            "district": districts[payment * 7 % len(districts)],
            "payment": f"PAY{payment:010d}",
            "channel": CHANNELS[payment % 3],
            "amount": 13_500 if payment % 5 else 10_500,
        }
        yield f"payments.{status}", fields, numbers[payment % len(numbers)]


def entry_bodies(start: int, count: int, seed: int) -> list[bytes]:
    """The bodies ``ledger_submit_many`` makes of the same events (id, salt and
    commitment, canonical JSON), with ids and salts from a seeded generator."""
    from rahdari.ledger import entries

    rng = random.Random(seed * 1_000_003 + start)
    at = "2026-11-23T09:30:00Z"
    bodies = []
    for kind, fields, number in payment_events(start, count):
        salt = rng.randbytes(entries.SALT_SIZE)
        entry = {
            "v": entries.ENTRY_VERSION,
            "id": rng.randbytes(16).hex(),
            "kind": kind,
            "at": at,
            **fields,
            "beneficiary": entries.commitment(number, salt),
        }
        bodies.append(entries.encode_entry(entry))
    return bodies


# --------------------------------------------------------------------------- measuring


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _rate(count: int, seconds: float) -> int | None:
    return round(count / seconds) if seconds > 0 else None


def _ms(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p95_ms": round(float(np.percentile(ms, 95)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "max_ms": round(float(ms.max()), 4),
        "mean_ms": round(float(ms.mean()), 4),
    }


class CpuWatch:
    """Wall, own CPU, a server's CPU (PostgreSQL, gunicorn) and the rest of the machine."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pid = server_pid
        self.wall = time.perf_counter()
        self.own = own_cpu()
        self.server = tree_cpu_seconds(server_pid) if server_pid else 0.0
        self.busy, self.total = machine_cpu()
        self.load = _load()

    def result(self, server: str = "server") -> dict[str, Any]:
        wall = time.perf_counter() - self.wall
        own = own_cpu() - self.own
        srv = (tree_cpu_seconds(self.server_pid) - self.server) if self.server_pid else 0.0
        busy, total = machine_cpu()
        busy, total = busy - self.busy, total - self.total
        other = max(busy - own - srv, 0.0)
        return {
            "wall_s": round(wall, 2),
            "this_process_cpu_s": round(own, 2),
            f"{server}_cpu_s": round(srv, 2),
            "other_processes_cpu_s": round(other, 2),
            "machine_utilisation": round(busy / total, 3) if total else None,
            "loadavg_before": self.load,
            "loadavg_after": _load(),
            # Over 90 % of all cores busy and others had more than a third of a core:
            # the figure waited for CPU and should be taken again.
            "disturbed": bool(total and busy / total > 0.9 and wall > 0 and other / wall > 0.33),
        }


def _timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float]:
    """The value and the best wall time of ``repeat`` runs."""
    best, value = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - started)
    return value, best


# --------------------------------------------------------------------------- hash, pure


def section_hash(bodies: list[bytes]) -> dict[str, Any]:
    sha256 = hashlib.sha256
    leaf_inputs = [b"\x00" + b for b in bodies]
    rng = random.Random(1)
    node_inputs = [b"\x01" + rng.randbytes(64) for _ in range(len(bodies))]

    def run(inputs: list[bytes]) -> None:
        for x in inputs:
            sha256(x).digest()

    _, leaf_s = _timed(lambda: run(leaf_inputs))
    _, node_s = _timed(lambda: run(node_inputs))
    bulk = rng.randbytes(64 * 2**20)
    _, bulk_s = _timed(lambda: sha256(bulk).digest())
    n = len(bodies)
    leaf_ns, node_ns = leaf_s / n * 1e9, node_s / n * 1e9
    mean_bytes = sum(map(len, leaf_inputs)) / n
    bulk_bytes_per_s = len(bulk) / bulk_s
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return {
        "inputs": n,
        "leaf_input_bytes_mean": round(mean_bytes, 1),
        "leaf_hash_ns": round(leaf_ns, 1),
        "node_hash_ns": round(node_ns, 1),
        "leaf_hashes_per_s": _rate(n, leaf_s),
        "node_hashes_per_s": _rate(n, node_s),
        "ceiling_entries_per_s": round(1e9 / (leaf_ns + node_ns)),
        "ceiling": "one leaf hash and one node hash per entry, each one hashlib call from "
        "a Python loop (inputs made beforehand)",
        "bulk_mb_per_s": round(bulk_bytes_per_s / 1e6, 1),
        "bulk_ceiling_entries_per_s": round(bulk_bytes_per_s / (mean_bytes + 65)),
        "bulk": "one sha256 call over 64 MiB: the bytes alone, no per-call cost",
        "openssl": ssl.OPENSSL_VERSION,
        "cpu_sha_extensions": " sha_ni" in flags,
    }


class Levels:
    """Every perfect subtree's hash, level by level, as the store keeps them (TreeNode
    rows), and proofs read from them with the selectors' algorithm."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    def add(self, leaves: list[bytes], nodes: list[tuple[int, int, bytes]]) -> None:
        self.levels[0].extend(leaves)
        for level, index, digest in nodes:
            while len(self.levels) <= level:
                self.levels.append([])
            row = self.levels[level]
            assert index == len(row), (level, index, len(row))
            row.append(digest)

    def _ranges(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        from rahdari.ledger import merkle

        levels = self.levels
        return [
            merkle.fold_subtrees([levels[lv][i] for lv, i in merkle.perfect_subtrees(s, e)])
            for s, e in ranges
        ]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        from rahdari.ledger import merkle

        return self._ranges(merkle.inclusion_ranges(index, size))

    def consistency(self, first: int, second: int) -> list[bytes]:
        from rahdari.ledger import merkle

        return self._ranges(merkle.consistency_ranges(first, second))

    def root(self, size: int) -> bytes:
        return self._ranges([(0, size)])[0]


def _memory_proofs(
    levels: Levels, size: int, count: int, seed: int
) -> tuple[dict[str, Any], list[int], list[int]]:
    """``count`` inclusion and consistency proofs from in-memory subtree lists, checked."""
    from rahdari.ledger import merkle

    rng = random.Random(seed)
    indexes = [rng.randrange(size) for _ in range(count)]
    firsts = [rng.randrange(1, size) for _ in range(count)] if size > 1 else []
    root = levels.root(size)
    inc, con, ok = [], [], 0
    for i in indexes:
        started = time.perf_counter()
        proof = levels.inclusion(i, size)
        inc.append(time.perf_counter() - started)
        ok += merkle.verify_inclusion(levels.levels[0][i], i, size, proof, root)
    cok = 0
    for m in firsts:
        started = time.perf_counter()
        proof = levels.consistency(m, size)
        con.append(time.perf_counter() - started)
        cok += merkle.verify_consistency(m, size, levels.root(m), root, proof)
    return (
        {
            "inclusion": _ms(inc),
            "consistency": _ms(con),
            "all_verified": ok == len(indexes) and cok == len(firsts),
        },
        indexes,
        firsts,
    )


def section_pure(bodies: list[bytes], ceiling: int | None, args: argparse.Namespace) -> Any:
    from rahdari.ledger import merkle

    n = len(bodies)

    def leaves_and_tree() -> tuple[list[bytes], merkle.CompactRange, Any, float, float]:
        started = time.perf_counter()
        leaves = [merkle.leaf_hash(b) for b in bodies]
        hashed = time.perf_counter()
        tree = merkle.CompactRange()
        nodes = tree.extend_with_nodes(leaves)
        return leaves, tree, nodes, hashed - started, time.perf_counter() - hashed

    runs = []
    for _ in range(3):
        gc.collect()
        runs.append(leaves_and_tree())
    leaves, tree, nodes, leaf_s, tree_s = min(runs, key=lambda r: r[3] + r[4])
    del runs
    total_s = leaf_s + tree_s
    _, extend_s = _timed(lambda: merkle.CompactRange().extend(leaves))
    root_ok = tree.root() == merkle.root_hash(leaves)
    levels = Levels()
    levels.add(leaves, nodes)
    proofs, _, _ = _memory_proofs(levels, n, args.proof_count, args.seed)
    rate = _rate(n, total_s)
    out = {
        "entries": n,
        "leaf_hashes_s": round(leaf_s, 3),
        "extend_with_nodes_s": round(tree_s, 3),
        "entries_per_s": rate,
        "node_hashes_per_entry": round(len(nodes) / n, 4),
        "share_of_hashlib_ceiling": round(rate / ceiling, 3) if rate and ceiling else None,
        "extend_without_nodes_entries_per_s": _rate(n, extend_s),
        "root_equals_merkle_root_hash": root_ok,
        "proofs_from_subtree_lists": proofs,
        "limited_by": (
            f"hashing: leaf hashes {leaf_s / total_s:.0%} of the time, the compact range "
            f"(one node hash per entry, plus the Python of the loop) {tree_s / total_s:.0%}"
        ),
    }
    return out, leaves, levels


# --------------------------------------------------------------------------- pymerkle


def _pymerkle_version() -> str | None:
    return package_version("pymerkle")


def _pymerkle_append(bodies: list[bytes]) -> tuple[Any, float, int]:
    from pymerkle import InmemoryTree

    gc.collect()
    rss = _rss_bytes()
    tree = InmemoryTree(algorithm="sha256")
    started = time.perf_counter()
    for body in bodies:
        tree.append_entry(body)
    seconds = time.perf_counter() - started
    return tree, seconds, _rss_bytes() - rss


def _pymerkle_proofs(
    tree: Any, size: int, indexes: list[int], firsts: list[int], budget: float | None = None
) -> dict[str, Any]:
    """pymerkle's proofs for the same (0-based) indexes and first sizes; pymerkle counts
    leaves from 1. With a budget, each kind stops once it has taken that long."""
    out: dict[str, Any] = {}
    for kind, args in (
        ("inclusion", [(i + 1, size) for i in indexes]),
        ("consistency", [(m, size) for m in firsts]),
    ):
        prove = tree.prove_inclusion if kind == "inclusion" else tree.prove_consistency
        times: list[float] = []
        spent = 0.0
        for a in args:
            started = time.perf_counter()
            prove(*a)
            times.append(time.perf_counter() - started)
            spent += times[-1]
            if budget is not None and spent > budget:
                break
        if budget is not None:
            out[kind] = {
                "first_ms": round(times[0] * 1000, 3) if times else None,
                "rest": _ms(times[1:]),
                "stopped_by_budget": len(times) < len(args),
            }
        else:
            out[kind] = _ms(times)
    return out


def _pymerkle_checks(tree: Any, leaves: list[bytes], root: bytes) -> dict[str, Any]:
    """Is pymerkle's tree RFC 9162's? Same root; its inclusion path is [leaf] + ours."""
    from pymerkle import InvalidProof

    from rahdari.ledger import merkle

    n = len(leaves)
    rng = random.Random(7)
    sample = [rng.randrange(n) for _ in range(200)]
    same_paths = verified_by_ours = verified_by_pymerkle = 0
    levels_root = tree.get_root()
    for i in sample:
        proof = tree.prove_inclusion(i + 1, n)
        path = list(proof.path)
        same_paths += path[0] == leaves[i]
        verified_by_ours += merkle.verify_inclusion(leaves[i], i, n, path[1:], root)
        with contextlib.suppress(InvalidProof):
            proof.verify(leaves[i], levels_root)
            verified_by_pymerkle += 1
    return {
        "root_equals_ours": levels_root == root,
        "inclusion_paths_sampled": len(sample),
        "inclusion_path_is_leaf_then_rfc9162_path": same_paths == len(sample),
        "inclusion_proofs_verified_by_our_verifier": verified_by_ours,
        "inclusion_proofs_verified_by_pymerkle": verified_by_pymerkle,
        "consistency_proof_format": "pymerkle's own (rule and subset bits; its path "
        "holds the old tree's pieces as well), not RFC 9162's PROOF: compared for time only",
    }


def section_pymerkle(
    bodies: list[bytes], leaves: list[bytes], root: bytes, tmp: Path, args: argparse.Namespace
) -> dict[str, Any]:
    from pymerkle import SqliteTree

    n = len(bodies)
    rng = random.Random(args.seed)
    indexes = [rng.randrange(n) for _ in range(args.proof_count)]
    firsts = [rng.randrange(1, n) for _ in range(args.proof_count)] if n > 1 else []
    out: dict[str, Any] = {
        "version": _pymerkle_version(),
        "configuration": "InmemoryTree(algorithm='sha256') / SqliteTree(path, "
        "algorithm='sha256'): security prefixes on (0x00 leaf, 0x01 node, as RFC 9162)",
        "entries": n,
        "same_entry_bytes_as_pure": True,
    }
    tree, append_s, rss = _pymerkle_append(bodies)
    out["in_memory"] = {
        "append_entry_s": round(append_s, 2),
        "entries_per_s": _rate(n, append_s),
        "rss_growth_mb": round(rss / 2**20, 1),
        "bytes_per_leaf_beyond_the_entry": round(rss / n) if n else None,
        "checks": _pymerkle_checks(tree, leaves, root),
        "proofs": _pymerkle_proofs(tree, n, indexes, firsts),
        "limited_by": "each append re-hashes the right border of the tree up to the root "
        "(about log2(n)/2 node hashes per entry, against one for a compact range) and "
        "allocates a Leaf and a Node object",
    }
    del tree
    gc.collect()

    path = tmp / "pymerkle.sqlite3"
    need = n * DISK_BYTES_PER_ENTRY["pymerkle_sqlite"]
    if (refused := _disk_refusal(tmp, need)) is not None:
        out["sqlite"] = {"skipped": refused}
        return out
    sqlite_tree = SqliteTree(str(path), algorithm="sha256")
    try:
        started = time.perf_counter()
        sqlite_tree.append_entries(bodies)
        append_s = time.perf_counter() - started
        proofs = _pymerkle_proofs(
            sqlite_tree, n, indexes, firsts, budget=args.pymerkle_sqlite_budget
        )
        started = time.perf_counter()
        sqlite_root = sqlite_tree.get_root()
        root_s = time.perf_counter() - started
        out["sqlite"] = {
            "append_entries_s": round(append_s, 2),
            "entries_per_s": _rate(n, append_s),
            "database_bytes": path.stat().st_size,
            "stores": "leaves only (entry, hash): no interior nodes",
            "proofs": proofs,
            "proofs_note": f"cold subroot cache at the first proof; each kind stops after "
            f"{args.pymerkle_sqlite_budget:g} s",
            "get_root_after_the_proofs_s": round(root_s, 3),
            "root_equals_ours": sqlite_root == root,
            "cache": sqlite_tree.get_cache_info()._asdict(),
            "limited_by": "proofs read the leaves under every subtree not in the cache "
            "(up to n/2 rows for the largest) and hash them again",
        }
    finally:
        sqlite_tree.close()
        path.unlink(missing_ok=True)
    return out


def section_memory_proofs(
    size: int, per_leaf: int, args: argparse.Namespace, with_pymerkle: bool
) -> dict[str, Any]:
    """pymerkle's InmemoryTree and our subtree lists at ``size`` leaves (or the largest
    halving that fits in memory): proof times without a database."""
    from rahdari.ledger import merkle

    available = _mem_available()
    fits = size
    while fits > 1_000 and fits * per_leaf > available * MEMORY_SHARE:
        fits //= 2
    out: dict[str, Any] = {
        "requested_entries": size,
        "entries": fits,
        "memory_available_gb": round(available / 2**30, 1),
        "estimated_bytes_per_leaf": per_leaf,
    }
    if fits != size:
        out["note"] = (
            f"{size:,} leaves need about {size * per_leaf / 2**30:.1f} GiB in memory, more "
            f"than {MEMORY_SHARE:.0%} of what is available: measured at {fits:,}"
        )
    tree: Any = None
    if with_pymerkle:
        from pymerkle import InmemoryTree

        tree = InmemoryTree(algorithm="sha256")
    levels = Levels()
    compact = merkle.CompactRange()
    generate_s = pymerkle_s = ours_s = 0.0
    for start in range(0, fits, CHUNK):
        started = time.perf_counter()
        bodies = entry_bodies(start, min(CHUNK, fits - start), args.seed + 1)
        generate_s += time.perf_counter() - started
        if tree is not None:
            started = time.perf_counter()
            for body in bodies:
                tree.append_entry(body)
            pymerkle_s += time.perf_counter() - started
        started = time.perf_counter()
        leaves = [merkle.leaf_hash(b) for b in bodies]
        nodes = compact.extend_with_nodes(leaves)
        ours_s += time.perf_counter() - started
        levels.add(leaves, nodes)
        del bodies
    root = compact.root()
    ours, indexes, firsts = _memory_proofs(levels, fits, args.proof_count, args.seed)
    out["generate_entries_s"] = round(generate_s, 1)
    out["ours_subtree_lists"] = {"build_s": round(ours_s, 1), **ours}
    if tree is not None:
        out["pymerkle_in_memory"] = {
            "version": _pymerkle_version(),
            "build_s": round(pymerkle_s, 1),
            "entries_per_s": _rate(fits, pymerkle_s),
            "root_equals_ours": tree.get_root() == root,
            **_pymerkle_proofs(tree, fits, indexes, firsts),
        }
    out["peak_rss_mb"] = _peak_rss_mb()
    del tree, levels
    gc.collect()
    return out


# --------------------------------------------------------------------------- children


def _django() -> None:
    import django

    django.setup()


class Stages:
    """Seconds per stage, per phase (submit, integrate, sign), from wrappers around the
    functions the services call once per batch (never per entry)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.phase = "setup"

    def wrap(
        self, name: str, fn: Callable[..., Any], label: Callable[..., str] | None = None
    ) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            key = f"{self.phase}.{label(*args) if label else name}"
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - started
                self.calls[key] += 1

        return timed


def child_build(args: argparse.Namespace) -> None:
    """migrate, then the log built batch by batch: submit, integrate, sign."""
    _django()
    from django.core.management import call_command
    from django.db import connection, connections

    out: dict[str, Any] = {"entries": args.entries, "batch": args.batch}
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    out["migrate_s"] = round(time.perf_counter() - started, 1)

    from django.db import transaction

    from rahdari.ledger import merkle, services
    from rahdari.ledger.services import Event

    stages = Stages()
    services.insert_rows = stages.wrap(  # type: ignore[attr-defined]
        "insert", services.insert_rows, lambda c, table, *a: table
    )
    services._sequence = stages.wrap("ledger_logentry", services._sequence)  # type: ignore[attr-defined]
    services.tile_edges = stages.wrap("read_right_edge", services.tile_edges)  # type: ignore[attr-defined]
    services.tree_size = stages.wrap("tree_size", services.tree_size)  # type: ignore[attr-defined]
    merkle.CompactRange.extend_with_nodes = stages.wrap(  # type: ignore[method-assign]
        "merkle_hashing", merkle.CompactRange.extend_with_nodes
    )
    database = connections["default"]
    database.commit = stages.wrap("commit", database.commit)  # type: ignore[method-assign]

    services.ledger_key()  # the signing key, made once on a new installation (setup)
    connection.ensure_connection()
    pg_pid = int(os.environ["BENCH_PG_PID"]) if os.environ.get("BENCH_PG_PID") else None
    batches: list[tuple[int, float, float, float]] = []
    generate_s = 0.0
    gc.collect()
    watch = CpuWatch(pg_pid)
    for start in range(0, args.entries, args.batch):
        count = min(args.batch, args.entries - start)
        began = time.perf_counter()
        events = [Event(k, f, b) for k, f, b in payment_events(start, count)]
        t0 = time.perf_counter()
        generate_s += t0 - began
        stages.phase = "submit"
        with transaction.atomic():
            services.ledger_submit_many(events=events)
        t1 = time.perf_counter()
        stages.phase = "integrate"
        integrated = services.ledger_integrate(batch=args.batch)
        t2 = time.perf_counter()
        stages.phase = "sign"
        head = services.tree_head_sign(force=True)
        t3 = time.perf_counter()
        if integrated != count or head is None or head.tree_size != start + count:
            raise RuntimeError(f"batch at {start}: integrated {integrated}, head {head}")
        batches.append((count, t1 - t0, t2 - t1, t3 - t2))
        del events
    cpu = watch.result("postgresql")
    stages.phase = "after"

    submit_s = sum(b[1] for b in batches)
    integrate_s = sum(b[2] for b in batches)
    sign_s = sum(b[3] for b in batches)
    n = args.entries
    s = stages.seconds

    def share(prefix: str, total: float) -> dict[str, float]:
        named = {k.split(".", 1)[1]: v for k, v in s.items() if k.startswith(prefix + ".")}
        shares = {k: round(v / total, 3) for k, v in sorted(named.items())} if total else {}
        shares["rest"] = round(1 - sum(named.values()) / total, 3) if total else 0.0
        return shares

    def per_batch_rate(rows: list[tuple[int, float, float, float]], column: int) -> int | None:
        count = sum(r[0] for r in rows)
        return _rate(count, sum(r[column] for r in rows))

    out.update(
        {
            "batches": len(batches),
            "submit_s": round(submit_s, 2),
            "integrate_s": round(integrate_s, 2),
            "sign_s": round(sign_s, 2),
            "end_to_end_s": round(submit_s + integrate_s + sign_s, 2),
            "submit_entries_per_s": _rate(n, submit_s),
            "integrate_entries_per_s": _rate(n, integrate_s),
            "end_to_end_entries_per_s": _rate(n, submit_s + integrate_s + sign_s),
            "integrate_entries_per_s_first_3_batches": per_batch_rate(batches[:3], 2),
            "integrate_entries_per_s_last_3_batches": per_batch_rate(batches[-3:], 2),
            "submit_entries_per_s_first_3_batches": per_batch_rate(batches[:3], 1),
            "submit_entries_per_s_last_3_batches": per_batch_rate(batches[-3:], 1),
            "sign_ms_per_head": round(sign_s / len(batches) * 1000, 2) if batches else None,
            "submit_shares": share("submit", submit_s),
            "integrate_shares": share("integrate", integrate_s),
            "stage_seconds": {k: round(v, 3) for k, v in sorted(s.items())},
            "generate_events_s": round(generate_s, 2),
            "cpu": cpu,
        }
    )
    if connection.vendor == "postgresql":
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        out["vacuum_analyze_s"] = round(time.perf_counter() - started, 1)
        # The log at rest before anything is measured on it: the build's dirty pages
        # written out (a checkpoint, then the kernel's writeback), not still being
        # written to disk while the proofs read (a checkpoint after 10M entries writes
        # gigabytes, and reads wait behind it: p99 4.8 ms, max 18 ms in one such run).
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        os.sync()
        out["checkpoint_and_sync_s"] = round(time.perf_counter() - started, 1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            out["database_bytes"] = int(cursor.fetchone()[0])
    else:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.sync()
        out["checkpoint_and_sync_s"] = round(time.perf_counter() - started, 1)
        name = Path(connection.settings_dict["NAME"])
        out["database_bytes"] = sum(
            p.stat().st_size for p in name.parent.glob(name.name + "*") if p.is_file()
        )
    out["database_bytes_per_entry"] = round(out["database_bytes"] / n) if n else None
    out["diagnostics"] = _build_diagnostics(n)
    out["peak_rss_mb"] = _peak_rss_mb()
    Path(args.out).write_text(json.dumps(out))


def _build_diagnostics(start: int) -> dict[str, Any]:
    """Per entry, the Python the services run on DIAGNOSTIC_ENTRIES more events (after
    the figure, not part of it): what a submit and an integrate cannot go below."""
    import secrets

    from rahdari.ledger import entries, merkle
    from rahdari.ledger.models import LogEntry

    events = list(payment_events(start, DIAGNOSTIC_ENTRIES))
    n = len(events)
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        begun = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - begun
        return value

    from rahdari.ledger import services

    # The salt as the services make it: derived from the entry's id where they can.
    derive = getattr(services, "entry_salt", None)

    def salt_and_id() -> tuple[bytes, str]:
        entry_id = secrets.token_hex(16)
        salt = derive(entry_id) if derive else secrets.token_bytes(entries.SALT_SIZE)
        return salt, entry_id

    salts = timed("salt_and_id", lambda: [salt_and_id() for _ in events])
    commitments = timed(
        "commitment",
        lambda: [entries.commitment(e[2], s[0]) for e, s in zip(events, salts, strict=True)],
    )
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bodies = timed(
        "encode_entry",
        lambda: [
            entries.encode_entry(
                {"v": 1, "id": s[1], "kind": e[0], "at": at, **e[1], "beneficiary": c}
            )
            for e, s, c in zip(events, salts, commitments, strict=True)
        ],
    )
    timed("leaf_hash", lambda: [merkle.leaf_hash(b) for b in bodies])
    timed(
        "integrate_json_and_totals",
        lambda: [entries.entry_totals(json.loads(b.decode())) for b in bodies],
    )
    stored = list(LogEntry.objects.order_by("-leaf_index").values_list("body", flat=True)[:1000])
    return {
        "entries": n,
        "us_per_entry": {k: round(v / n * 1e6, 2) for k, v in timings.items()},
        "submit_python_us_per_entry": round(
            sum(timings[k] for k in ("salt_and_id", "commitment", "encode_entry", "leaf_hash"))
            / n
            * 1e6,
            2,
        ),
        "stored_entry_bytes_mean": round(sum(len(bytes(b)) for b in stored) / len(stored), 1)
        if stored
        else None,
    }


def child_proofs(args: argparse.Namespace) -> None:
    """Random inclusion and consistency proofs through the selectors, in a fresh
    process; each one checked afterwards against the signed head's root."""
    _django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rahdari.ledger import merkle, selectors

    head = selectors.latest_tree_head()
    if head is None:
        raise RuntimeError("no signed tree head")
    size, root = head.tree_size, bytes(head.root_hash)
    rng = random.Random(args.seed)
    indexes = [rng.randrange(size) for _ in range(args.proof_count)]
    firsts = [rng.randrange(1, size) for _ in range(args.proof_count)] if size > 1 else []
    for i in indexes[:WARMUP_PROOFS]:  # connection, statement caches: not counted
        selectors.inclusion_proof(index=i, tree_size=size)
    for m in firsts[:WARMUP_PROOFS]:
        selectors.consistency_proof(first=m, second=size)
    # Queries of a proof whose leaf tile the process has not read (the warm-up's have):
    # a consistency proof from a random first size needs the tile of that size's last
    # leaf as an inclusion proof needs its leaf's.
    probe = (indexes[0] + size // 2) % size
    with CaptureQueriesContext(connection) as queries:
        selectors.inclusion_proof(index=probe, tree_size=size)
    inclusion_queries = len(queries)
    with CaptureQueriesContext(connection) as queries:
        selectors.consistency_proof(first=max(1, (probe + size // 4) % size), second=size)
    consistency_queries = len(queries)

    gc.collect()
    pg_pid = int(os.environ["BENCH_PG_PID"]) if os.environ.get("BENCH_PG_PID") else None
    watch = CpuWatch(pg_pid)
    # Wall time per proof (the figure), and this thread's CPU time beside it: on a busy
    # machine the wall time's tail is mostly waiting for a core; the CPU time is not
    # (it leaves out the database server's share, PostgreSQL's own process).
    inc_s, inc_cpu, inc = [], [], []
    for i in indexes:
        started, cpu_started = time.perf_counter(), time.thread_time()
        proof = selectors.inclusion_proof(index=i, tree_size=size)
        inc_s.append(time.perf_counter() - started)
        inc_cpu.append(time.thread_time() - cpu_started)
        inc.append(proof)
    con_s, con_cpu, con = [], [], []
    for m in firsts:
        started, cpu_started = time.perf_counter(), time.thread_time()
        proof = selectors.consistency_proof(first=m, second=size)
        con_s.append(time.perf_counter() - started)
        con_cpu.append(time.thread_time() - cpu_started)
        con.append(proof)
    cpu = watch.result("postgresql")

    # Checked after the timing: leaf hashes and old roots read from the store.
    leaves: dict[tuple[int, int], bytes] = {}
    for k in range(0, len(indexes), 500):
        leaves.update(selectors.subtree_hashes((0, i) for i in indexes[k : k + 500]))
    inc_ok = sum(
        merkle.verify_inclusion(leaves[(0, i)], i, size, p, root)
        for i, p in zip(indexes, inc, strict=True)
    )
    con_ok = sum(
        merkle.verify_consistency(m, size, selectors.root_at(m), root, p)
        for m, p in zip(firsts, con, strict=True)
    )
    out = {
        "tree_size": size,
        "heads": selectors.tree_head_count(),
        "cpu": cpu,
        "steps_of_an_inclusion_proof": _proof_steps(indexes, size),
        "warmup_proofs_not_counted": WARMUP_PROOFS,
        "inclusion": _ms(inc_s) | {"verified": inc_ok, "queries_per_proof": inclusion_queries},
        "consistency": _ms(con_s) | {"verified": con_ok, "queries_per_proof": consistency_queries},
        "cpu_time_of_this_process": {"inclusion": _ms(inc_cpu), "consistency": _ms(con_cpu)},
        "proof_hashes_mean": {
            "inclusion": round(sum(map(len, inc)) / len(inc), 1) if inc else None,
            "consistency": round(sum(map(len, con)) / len(con), 1) if con else None,
        },
    }
    Path(args.out).write_text(json.dumps(out))


def _proof_steps(indexes: list[int], size: int) -> dict[str, Any]:
    """Where an inclusion proof's time goes, re-run step by step on the same indexes
    (after the figure; tiles read since may have left the cache): the published-size
    check, the ranges of the proof, their hashes (the tiles the process lacks in one
    query, sliced, and the right edge's ranges folded)."""
    from rahdari.ledger import merkle, selectors

    steps: dict[str, list[float]] = {"published_size": [], "ranges": [], "hashes": []}
    for i in indexes:
        t0 = time.perf_counter()
        selectors._check_size(size)
        t1 = time.perf_counter()
        ranges = merkle.inclusion_ranges(i, size)
        t2 = time.perf_counter()
        selectors._range_hashes(ranges, size)
        t3 = time.perf_counter()
        steps["published_size"].append(t1 - t0)
        steps["ranges"].append(t2 - t1)
        steps["hashes"].append(t3 - t2)
    return {
        name: {"p50_ms": _ms(v).get("p50_ms"), "p95_ms": _ms(v).get("p95_ms")}
        for name, v in steps.items()
    }


CHILDREN = {"build": child_build, "proofs": child_proofs}


# --------------------------------------------------------------------------- parent


def _django_env(var_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "RAHDARI_ENV": "demo",
        "RAHDARI_DEBUG": "0",  # as in production: no query log
        "RAHDARI_VAR_DIR": str(var_dir),  # secret key and master key made here
        "RAHDARI_DATABASE_URL": database_url,
        "RAHDARI_LOG_LEVEL": "WARNING",
        # The after-commit hook of a submit must not integrate: integrate is timed apart.
        # Plain digits: django-environ reads "1e15" as 115.0 (it drops the "e").
        "RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS": "1000000000000",
        "DJANGO_SETTINGS_MODULE": "rahdari.config.settings",
    }


def _child(kind: str, env: dict[str, str], out: Path, extra: list[str]) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--out",
        str(out),
        *extra,
    ]
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_DIR, env=os.environ | env, check=True)
    data = json.loads(out.read_text())
    data["process_s"] = round(time.perf_counter() - started, 1)
    return data


def _disk_refusal(directory: Path, need: int) -> str | None:
    free = shutil.disk_usage(directory).free
    if free >= need + DISK_RESERVE:
        return None
    return (
        f"not enough disk in {directory}: this needs about {need / 2**30:.1f} GiB "
        f"(+{DISK_RESERVE / 2**30:.0f} GiB kept free), {free / 2**30:.1f} GiB is free; "
        "choose another place with --tmp-dir or a smaller size"
    )


def _wait_until_serving(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/ledger/sth")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def serve_and_verify(
    env: dict[str, str], root: Path, workers: int, verify_workers: int | None = None
) -> dict[str, Any]:
    """gunicorn on 127.0.0.1 in front of the log, and verify_log against it."""
    from rahdari.ledger.verify import verify_log

    port = free_port()
    log = root / "gunicorn.log"
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "rahdari.config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--error-logfile",
        str(log),
    ]
    server = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=os.environ | env, stdin=subprocess.DEVNULL
    )
    try:
        _wait_until_serving(port, server, 60)
        gc.collect()
        watch = CpuWatch(server.pid)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = verify_log(f"http://127.0.0.1:{port}", workers=verify_workers)
        cpu = watch.result("gunicorn")
        # The verifier's worker processes (waited for when its pool closed).
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        cpu["verifier_workers_cpu_s"] = round(workers_cpu, 2)
        cpu["other_processes_cpu_s"] = round(max(cpu["other_processes_cpu_s"] - workers_cpu, 0), 2)
    except BaseException:
        if log.exists():
            sys.stderr.write("gunicorn log (tail):\n" + log.read_text()[-4000:])
        raise
    finally:
        stop_process(server)
    data = report.as_json()
    own, served = cpu["this_process_cpu_s"], cpu["gunicorn_cpu_s"]
    return {
        "server": f"gunicorn, {workers} sync workers, 127.0.0.1",
        "verifier_workers": verify_workers or os.cpu_count(),
        "seconds": round(report.seconds, 2),
        "ok": report.ok,
        "entries_per_s": _rate(report.entries_checked, report.seconds),
        "report": data | {"problems": data["problems"][:5]},
        "cpu": cpu,
        "limited_by": (
            f"CPU: the verifier's workers (download, decode and check each entry, hash, "
            f"totals) {cpu['verifier_workers_cpu_s']:.1f} s and its main process (the tree, "
            f"the roots) {own:.1f} s, the server (database reads, JSON of 10,000 entries a "
            f"page, leaf hashes again) {served:.1f} s, over {cpu['wall_s']:.1f} s on "
            f"{os.cpu_count()} cores"
        ),
    }


class Databases:
    """A fresh database per log: a SQLite file, or a database in one PostgreSQL cluster."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg: Postgres | None = None
        self.serial = 0

    def postgres(self) -> Postgres:
        if self.pg is None:
            self.pg = Postgres(self.tmp / "pg", free_port(), postgres_bindir(), False)
            self.pg.start()
        return self.pg

    def create(self, backend: str) -> tuple[str, Path, Callable[[], None]]:
        """(database URL, working directory, drop)."""
        self.serial += 1
        root = self.tmp / f"{backend}-{self.serial}"
        root.mkdir()
        if backend == "sqlite":
            return f"sqlite:///{root / 'rahdari.sqlite3'}", root, lambda: shutil.rmtree(root)
        import psycopg

        pg = self.postgres()
        name = f"ledger_{self.serial}"
        admin = pg.url.replace("postgres://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            shutil.rmtree(root)

        return f"postgres://rahdari@127.0.0.1:{pg.port}/{name}", root, drop

    def stop(self) -> None:
        if self.pg is not None:
            self.pg.stop()


def run_backend(
    backend: str, sections: set[str], args: argparse.Namespace, dbs: Databases
) -> dict[str, Any]:
    """The stored log of --entries (append, verify) and of --proof-entries (proofs)."""
    out: dict[str, Any] = {}
    logs: list[tuple[int, set[str]]] = []
    if sections & {"append", "verify"}:
        logs.append((args.entries, sections & {"append", "verify"}))
    if "proofs" in sections:
        if logs and args.proof_entries == args.entries:
            logs[0][1].add("proofs")
        else:
            logs.append((args.proof_entries, {"proofs"}))
    for entries, wanted in logs:
        need = entries * DISK_BYTES_PER_ENTRY[backend]
        if (refused := _disk_refusal(dbs.tmp, need)) is not None:
            for section in wanted:
                out[section] = {"skipped": refused}
            continue
        url, root, drop = dbs.create(backend)
        env = _django_env(root / "var", url)
        if backend == "postgresql" and dbs.pg is not None:
            env["BENCH_PG_PID"] = str(dbs.pg.pid())
        try:
            print(f"[ledger] {backend}: building a log of {entries:,} entries…", file=sys.stderr)
            build = _child(
                "build",
                env,
                root / "build.json",
                ["--entries", str(entries), "--batch", str(args.batch)],
            )
            print(
                f"[ledger] {backend}: integrate {build['integrate_entries_per_s']:,}/s, "
                f"submit {build['submit_entries_per_s']:,}/s",
                file=sys.stderr,
            )
            if "append" in wanted:
                out["append"] = _append_figures(build)
            if "proofs" in wanted:
                print(f"[ledger] {backend}: {args.proof_count:,} proofs each…", file=sys.stderr)
                proofs = _child(
                    "proofs",
                    env,
                    root / "proofs.json",
                    ["--proof-count", str(args.proof_count), "--seed", str(args.seed)],
                )
                out["proofs"] = {
                    "log_build": {
                        k: build[k]
                        for k in (
                            "entries",
                            "batch",
                            "end_to_end_s",
                            "end_to_end_entries_per_s",
                            "integrate_entries_per_s",
                            "database_bytes",
                            "vacuum_analyze_s",
                            "checkpoint_and_sync_s",
                        )
                        if k in build
                    }
                    | {"build_process_s": build["process_s"]},
                    **proofs,
                    "limited_by": _proofs_limit(proofs),
                }
            if "verify" in wanted:
                print(f"[ledger] {backend}: verify_log over HTTP…", file=sys.stderr)
                out["verify"] = {
                    "entries": entries,
                    **serve_and_verify(env, root, args.workers, args.verify_workers),
                }
                if "append" not in wanted:
                    out["verify"]["log_build_end_to_end_s"] = build["end_to_end_s"]
        finally:
            drop()
    return out


def _append_figures(build: dict[str, Any]) -> dict[str, Any]:
    shares = build["integrate_shares"]
    inserts = sum(v for k, v in shares.items() if k.startswith("ledger_"))
    diag = build["diagnostics"]
    python_us = diag["us_per_entry"]["integrate_json_and_totals"]
    per_entry_us = 1e6 / build["integrate_entries_per_s"] if build["integrate_entries_per_s"] else 0
    submit_us = 1e6 / build["submit_entries_per_s"] if build["submit_entries_per_s"] else 0
    build = dict(build)
    build["limited_by"] = {
        "integrate": (
            f"inserts {inserts:.0%} of the time "
            f"({', '.join(f'{k} {v:.0%}' for k, v in shares.items() if k.startswith('ledger_'))}), "
            f"Merkle hashing {shares.get('merkle_hashing', 0):.0%}, commit "
            f"{shares.get('commit', 0):.0%}, the rest {shares.get('rest', 0):.0%} (read the "
            f"pending rows, json.loads + totals — {python_us:.1f} of {per_entry_us:.1f} µs "
            "per entry — delete them, upsert the totals)"
        ),
        "submit": (
            f"Python {diag['submit_python_us_per_entry']:.1f} of {submit_us:.1f} µs per entry "
            "(salt and id, HMAC commitment, schema check and canonical JSON, leaf hash); "
            f"the rest is the multi-row INSERT and the commit ({build['submit_shares'].get('commit', 0):.0%})"
        ),
    }
    return build


def _proofs_limit(proofs: dict[str, Any]) -> str:
    steps = proofs["steps_of_an_inclusion_proof"]
    return (
        f"database round trips: {proofs['inclusion']['queries_per_proof']} queries per "
        f"inclusion proof and {proofs['consistency']['queries_per_proof']} per consistency "
        f"proof. Inclusion, p50 when re-run: the latest published size (cached) "
        f"{steps['published_size']['p50_ms']} ms, the proof's ranges "
        f"{steps['ranges']['p50_ms']} ms, their hashes (the tiles the process does not "
        f"hold in one query, sliced; the right edge's ranges folded or cached) "
        f"{steps['hashes']['p50_ms']} ms; the leaf's tile (16 KB: bottom row and "
        f"interior) is the one cold read"
    )


def _revision() -> dict[str, Any]:
    return revision(["rahdari/ledger", "rahdari/core", "rahdari/config", "benchmarks/ledger.py"])


def _targets(result: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    for backend in ("sqlite", "postgresql"):
        data = result.get(backend, {})
        append = data.get("append")
        if append and "integrate_entries_per_s" in append:
            rate = append["integrate_entries_per_s"]
            targets.append(
                {
                    "target": f"append >= {TARGET_APPEND_PER_S:,} entries/s (batched), {backend}",
                    "figure": "ledger_integrate entries/s",
                    "value": rate,
                    "met": rate >= TARGET_APPEND_PER_S,
                    "entries": append["entries"],
                    "end_to_end_with_submit_entries_per_s": append["end_to_end_entries_per_s"],
                }
            )
        proofs = data.get("proofs")
        if proofs and "inclusion" in proofs:
            at_size = proofs["tree_size"] >= TARGET_PROOF_ENTRIES
            for kind in ("inclusion", "consistency"):
                p = proofs[kind]
                targets.append(
                    {
                        "target": f"{kind} proof <= {TARGET_PROOF_MS:g} ms at "
                        f"{TARGET_PROOF_ENTRIES:,} entries, {backend}",
                        "figure": "p95 ms through the selectors",
                        "value": p["p95_ms"],
                        "met": p["p95_ms"] <= TARGET_PROOF_MS,
                        "every_proof_within": p["max_ms"] <= TARGET_PROOF_MS,
                        "max_ms": p["max_ms"],
                        "tree_size": proofs["tree_size"],
                        "at_target_size": at_size,
                    }
                )
        verify = data.get("verify")
        if verify and "seconds" in verify:
            at_size = verify["entries"] >= TARGET_VERIFY_ENTRIES
            estimate = verify["seconds"] * TARGET_VERIFY_ENTRIES / verify["entries"]
            targets.append(
                {
                    "target": f"independent verification of {TARGET_VERIFY_ENTRIES:,} entries "
                    f"<= {TARGET_VERIFY_S:g} s, {backend}",
                    "figure": "verify_log seconds over HTTP",
                    "value": verify["seconds"],
                    "ok": verify["ok"],
                    "entries": verify["entries"],
                    "at_target_size": at_size,
                    "linear_estimate_for_target_size_s": round(estimate, 1),
                    "met": bool(
                        verify["ok"]
                        and (verify["seconds"] if at_size else estimate) <= TARGET_VERIFY_S
                    ),
                    "met_basis": "measured" if at_size else "linear estimate",
                }
            )
    return targets


def _comparison(result: dict[str, Any]) -> dict[str, Any]:
    """Ratios ours / pymerkle (entries/s: above 1 is faster; ms: below 1 is faster) and
    how close we are to hashlib's ceiling."""
    out: dict[str, Any] = {}
    hash_ = result.get("hash", {})
    ceiling = hash_.get("ceiling_entries_per_s")
    pure = result.get("pure", {})
    pm = result.get("pymerkle", {})

    def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
        return round(a / b, digits) if a and b else None

    pm_mem = pm.get("in_memory", {})
    pm_sql = pm.get("sqlite", {})
    if pure and pm_mem:
        out["append_pure_ours_over_pymerkle_in_memory_entries_per_s"] = ratio(
            pure["entries_per_s"], pm_mem["entries_per_s"]
        )
        for kind in ("inclusion", "consistency"):
            ours = pure["proofs_from_subtree_lists"][kind].get("p50_ms")
            theirs = pm_mem["proofs"][kind].get("p50_ms")
            out[f"{kind}_proof_in_memory_ours_over_pymerkle_p50_ms"] = ratio(ours, theirs, 3)
    for backend in ("sqlite", "postgresql"):
        append = result.get(backend, {}).get("append", {})
        if append.get("integrate_entries_per_s"):
            if pm_sql.get("entries_per_s"):
                out[f"append_stored_{backend}_integrate_over_pymerkle_sqlite_entries_per_s"] = (
                    ratio(append["integrate_entries_per_s"], pm_sql["entries_per_s"])
                )
                out[f"append_stored_{backend}_end_to_end_over_pymerkle_sqlite_entries_per_s"] = (
                    ratio(append["end_to_end_entries_per_s"], pm_sql["entries_per_s"])
                )
            if pm_mem.get("entries_per_s"):
                out[f"append_stored_{backend}_integrate_over_pymerkle_in_memory_entries_per_s"] = (
                    ratio(append["integrate_entries_per_s"], pm_mem["entries_per_s"])
                )
            if ceiling:
                out[f"append_stored_{backend}_integrate_share_of_hashlib_ceiling"] = ratio(
                    append["integrate_entries_per_s"], ceiling, 3
                )
        proofs = result.get(backend, {}).get("proofs", {})
        memory = result.get("proofs_in_memory", {})
        pm_big = memory.get("pymerkle_in_memory")
        if proofs.get("inclusion") and pm_big and memory.get("entries") == proofs["tree_size"]:
            for kind in ("inclusion", "consistency"):
                out[f"{kind}_proof_stored_{backend}_over_pymerkle_in_memory_p50_ms"] = ratio(
                    proofs[kind]["p50_ms"], pm_big[kind].get("p50_ms"), 3
                )
        if proofs.get("inclusion") and pm_sql.get("proofs"):
            for kind in ("inclusion", "consistency"):
                theirs = pm_sql["proofs"][kind]["rest"].get("p50_ms")
                out[f"{kind}_proof_stored_{backend}_p50_ms_vs_pymerkle_sqlite_p50_ms"] = [
                    proofs[kind]["p50_ms"],
                    theirs,
                    f"at {proofs['tree_size']:,} and {pm.get('entries'):,} entries",
                ]
    if ceiling and pure.get("entries_per_s"):
        out["pure_share_of_hashlib_ceiling"] = ratio(pure["entries_per_s"], ceiling, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"sections, comma-separated ({','.join(SECTIONS)})",
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--entries", type=int, default=1_000_000, help="append/verify (1,000,000)")
    parser.add_argument(
        "--proof-entries", type=int, default=TARGET_PROOF_ENTRIES, help="proofs (10,000,000)"
    )
    parser.add_argument("--proof-count", type=int, default=2_000, help="proofs of each kind")
    parser.add_argument("--batch", type=int, default=50_000, help="entries per transaction")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for verify")
    parser.add_argument(
        "--verify-workers", type=int, default=None, help="verifier processes (one per core)"
    )
    parser.add_argument(
        "--pymerkle-sqlite-budget", type=float, default=60.0, help="seconds per proof kind"
    )
    parser.add_argument("--tmp-dir", default=None, help="where the databases go (the temp dir)")
    parser.add_argument("--seed", type=int, default=42)
    # Internal: the child processes.
    parser.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        CHILDREN[args.child](args)
        return 0
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := sections - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.entries < 2 or args.proof_entries < 2 or args.batch < 1:
        parser.error("--entries and --proof-entries must be at least 2, --batch at least 1")
    backends = (
        ["sqlite", "postgresql"]
        if args.db == "both"
        else ["postgresql" if args.db == "postgres" else "sqlite"]
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    versions = {
        name: package_version(name) or "?"
        for name in ("django", "pymerkle", "psycopg", "gunicorn", "numpy")
    }
    result: dict[str, Any] = {
        "benchmark": "ledger",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision_start": _revision(),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "sqlite": sqlite3.sqlite_version,
            "versions": versions,
        },
        "parameters": {
            "sections": [s for s in SECTIONS if s in sections],
            "databases": backends,
            "entries": args.entries,
            "proof_entries": args.proof_entries,
            "proof_count": args.proof_count,
            "batch": args.batch,
            "gunicorn_workers": args.workers,
            "verifier_processes": args.verify_workers or os.cpu_count(),
            "seed": args.seed,
            "entry_kinds": "payments.instructed / paid / failed / returned, one beneficiary "
            "commitment each (the shape of tests/ledger/conftest.py's payment_event)",
        },
        "targets_stated": {
            "append_entries_per_s": TARGET_APPEND_PER_S,
            "proof_ms": TARGET_PROOF_MS,
            "proof_tree_size": TARGET_PROOF_ENTRIES,
            "verify_s": TARGET_VERIFY_S,
            "verify_entries": TARGET_VERIFY_ENTRIES,
        },
        "loadavg_start": _load(),
    }
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rahdari-bench-ledger-", dir=args.tmp_dir))
    tmp.chmod(0o755)  # the postgres user must reach its data directory inside
    dbs = Databases(tmp)
    per_leaf = MEMORY_BYTES_PER_LEAF
    try:
        if sections & {"hash", "pure", "pymerkle"}:
            print(f"[ledger] generating {args.entries:,} entries…", file=sys.stderr)
            begun = time.perf_counter()
            bodies = entry_bodies(0, args.entries, args.seed)
            result["entries_generated"] = {
                "count": len(bodies),
                "seconds": round(time.perf_counter() - begun, 1),
                "bytes_mean": round(sum(map(len, bodies)) / len(bodies), 1),
                "example": bodies[0].decode(),
            }
            ceiling = None
            if "hash" in sections:
                result["hash"] = section_hash(bodies[:HASH_SAMPLE])
                ceiling = result["hash"]["ceiling_entries_per_s"]
            if sections & {"pure", "pymerkle"}:
                print("[ledger] pure Merkle…", file=sys.stderr)
                pure, leaves, levels = section_pure(bodies, ceiling, args)
                if "pure" in sections:
                    result["pure"] = pure
                del levels
                if "pymerkle" in sections:
                    print("[ledger] pymerkle…", file=sys.stderr)
                    from rahdari.ledger import merkle

                    root = merkle.CompactRange()
                    root.extend(leaves)
                    result["pymerkle"] = section_pymerkle(bodies, leaves, root.root(), tmp, args)
                    measured = result["pymerkle"]["in_memory"]["bytes_per_leaf_beyond_the_entry"]
                    body = result["entries_generated"]["bytes_mean"] + 33
                    per_leaf = max(per_leaf, int(measured + body + 160))
                del leaves
            del bodies
            gc.collect()
        if "proofs" in sections:
            print(f"[ledger] in-memory proofs at {args.proof_entries:,} entries…", file=sys.stderr)
            try:
                import pymerkle  # noqa: F401

                with_pymerkle = True
            except ImportError:
                with_pymerkle = False
            result["proofs_in_memory"] = section_memory_proofs(
                args.proof_entries, per_leaf, args, with_pymerkle
            )
            if not with_pymerkle:
                result["proofs_in_memory"]["pymerkle"] = "not installed: pip install -e '.[bench]'"
        for backend in backends:
            if sections & {"append", "proofs", "verify"}:
                result[backend] = run_backend(backend, sections, args, dbs)
        if dbs.pg is not None:
            versions["postgresql"] = dbs.pg.version() + " (fsync off, synchronous_commit off)"
    finally:
        dbs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    result["targets"] = _targets(result, args)
    result["comparison"] = _comparison(result)
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["loadavg_end"] = _load()
    result["revision_end"] = _revision()
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
