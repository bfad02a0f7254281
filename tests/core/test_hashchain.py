"""The audit hash chain as a pure function: any change, removal or reordering is caught."""

from __future__ import annotations

from typing import Any

from rahdari.core import hashchain


def _chain(n: int) -> list[tuple[int, str, str, dict[str, Any]]]:
    rows = []
    prev = hashchain.GENESIS
    for seq in range(1, n + 1):
        payload = {"action": f"a{seq}", "changes": {"n": seq}}
        digest = hashchain.entry_hash(prev, payload)
        rows.append((seq, prev, digest, payload))
        prev = digest
    return rows


def test_intact_chain_verifies() -> None:
    report = hashchain.verify_chain(_chain(50))
    assert report.ok and report.checked == 50


def test_changed_payload_is_caught() -> None:
    rows = _chain(10)
    seq, prev, digest, payload = rows[4]
    rows[4] = (seq, prev, digest, {**payload, "changes": {"n": 999}})
    report = hashchain.verify_chain(rows)
    assert not report.ok and report.first_bad_seq == 5


def test_removed_entry_is_caught() -> None:
    rows = _chain(10)
    del rows[3]
    report = hashchain.verify_chain(rows)
    assert not report.ok and report.first_bad_seq == 5


def test_reordered_entries_are_caught() -> None:
    rows = _chain(10)
    rows[2], rows[3] = rows[3], rows[2]
    assert not hashchain.verify_chain(rows).ok


def test_canonical_form_ignores_key_order() -> None:
    assert hashchain.canonical({"b": 1, "a": "ش"}) == hashchain.canonical({"a": "ش", "b": 1})
