"""`rahdari ledger verify`: an outsider's full re-check of a log from its public API.

Most cases run the verifier against the test client, with a "server" that lies in one
particular way; one runs the real command line against a live HTTP server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from rahdari import cli
from rahdari.ledger import services
from rahdari.ledger.verify import verify_log
from tests.ledger.conftest import cycle_event, payment_event


def _grow_log(heads: int = 3, per_head: int = 9) -> None:
    for n in range(heads):
        services.ledger_submit_many(
            events=[
                cycle_event([("Swat", per_head, per_head * 13_500)], cycle=f"2026-Q{n + 1}"),
                *[payment_event() for _ in range(per_head)],
            ]
        )
        services.ledger_publish()


def _fetcher(
    client: Client, tamper: Callable[[str, Any], Any] | None = None
) -> Callable[[str], Any]:
    def fetch(path: str) -> Any:
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        data = response.json()
        return tamper(path, data) if tamper else data

    return fetch


@pytest.mark.django_db
def test_an_honest_log_verifies_completely(client: Client) -> None:
    _grow_log()
    report = verify_log("http://testserver", fetch=_fetcher(client), prefetch=False)
    assert report.problems == []
    assert report.ok and report.tree_size == 30 and report.entries_checked == 30
    assert report.heads_checked == report.signatures_valid == report.roots_matched == 3
    assert report.consistency_proofs_valid == 2 and report.totals_match


def _change_entry(path: str, data: Any) -> Any:
    if path.startswith("/api/v1/ledger/entries"):
        entry = json.loads(data["entries"][4]["entry"])
        entry["amount"] = 1_350
        data["entries"][4]["entry"] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return data


def _drop_entry(path: str, data: Any) -> Any:
    if path.startswith("/api/v1/ledger/entries"):
        del data["entries"][7]
    return data


def _bad_signature(path: str, data: Any) -> Any:
    if path.startswith("/api/v1/ledger/sth/history"):
        head = data["heads"][1]
        sig = bytearray(base64.b64decode(head["tree_head_signature"]))
        sig[0] ^= 1
        head["tree_head_signature"] = base64.b64encode(bytes(sig)).decode()
    return data


def _bad_consistency(path: str, data: Any) -> Any:
    if path.startswith("/api/v1/ledger/proof/consistency"):
        data["consistency"] = data["consistency"][:-1]
    return data


def _inflated_totals(path: str, data: Any) -> Any:
    if path.startswith("/api/v1/ledger/totals"):
        swat = next(row for row in data["rows"] if "payments.paid" in row["amounts"])
        swat["amounts"]["payments.paid"] += 13_500
    return data


def _non_canonical(path: str, data: Any) -> Any:
    if path.startswith("/api/v1/ledger/entries"):
        data["entries"][0]["entry"] = json.dumps(json.loads(data["entries"][0]["entry"]))
    return data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_change_entry, "the entries give another root"),
        (_drop_entry, "the log skipped to"),
        (_bad_signature, "head 20: the signature does not verify"),
        (_bad_consistency, "bad consistency proof"),
        (_inflated_totals, "the published totals differ"),
        (_non_canonical, "canonical form"),
    ],
)
def test_every_kind_of_lie_is_caught(client: Client, tamper: Any, expected: str) -> None:
    _grow_log()
    report = verify_log("http://testserver", fetch=_fetcher(client, tamper), prefetch=False)
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


@pytest.mark.django_db
def test_an_empty_log_is_reported_not_crashed(client: Client) -> None:
    report = verify_log("http://testserver", fetch=_fetcher(client), prefetch=False)
    assert not report.ok and report.problems == ["the log has published no tree head"]


def test_an_unreachable_log_is_a_problem_not_a_crash() -> None:
    report = verify_log("http://127.0.0.1:9/")
    assert not report.ok and report.problems[0].startswith("could not read the log")
    assert not verify_log("file:///etc/passwd").ok


@pytest.mark.django_db(transaction=True)
def test_the_command_line_verifies_a_live_log(
    live_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with transaction.atomic():
        _grow_log(heads=2, per_head=40)
    assert cli.main(["ledger", "verify", "--url", live_server.url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["tree_size"] == 82 and report["roots_matched"] == 2


@pytest.mark.django_db
def test_ledger_proof_and_sth_commands(capsys: pytest.CaptureFixture[str]) -> None:
    _grow_log(heads=2, per_head=5)
    assert cli.main(["ledger", "sth"]) == 0
    head = json.loads(capsys.readouterr().out)
    assert head["tree_size"] == 12
    assert cli.main(["ledger", "proof", "--index", "3"]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["verified"] and proof["tree_size"] == 12 and len(proof["audit_path"]) == 4
    assert cli.main(["ledger", "proof", "--first", "6", "--tree-size", "12"]) == 0
    consistency = json.loads(capsys.readouterr().out)
    assert consistency["checked_against_published_heads"]
    assert cli.main(["ledger", "proof", "--leaf-hash", proof["leaf_hash"]]) == 0
    assert json.loads(capsys.readouterr().out)["leaf_index"] == 3
