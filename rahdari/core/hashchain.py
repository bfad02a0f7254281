"""The audit log's hash chain: pure functions, no Django.

entry_hash = SHA-256(prev_hash || canonical JSON of the entry's fields). Changing,
removing or re-ordering any entry breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(payload)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    checked: int
    ok: bool
    first_bad_seq: int | None
    problem: str


def verify_chain(rows: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> ChainReport:
    """rows: (seq, prev_hash, entry_hash, payload) in seq order."""
    expected_prev = GENESIS
    checked = 0
    for seq, prev, stored, payload in rows:
        if prev != expected_prev:
            return ChainReport(checked, False, seq, "link to the previous entry is broken")
        if entry_hash(prev, payload) != stored:
            return ChainReport(checked, False, seq, "entry content does not match its hash")
        expected_prev = stored
        checked += 1
    return ChainReport(checked, True, None, "")
