"""The public ledger API: no login, the uniform error shape, cacheable answers, and a
fixed number of queries whatever the log's size."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from rahdari.ledger import entries, merkle, selectors, services
from tests.ledger.conftest import cycle_event, payment_event

pytestmark = pytest.mark.django_db


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def log() -> list[services.Submitted]:
    first = services.ledger_submit_many(
        events=[cycle_event([("Swat", 20, 270_000)]), *[payment_event() for _ in range(20)]]
    )
    services.ledger_publish()
    second = services.ledger_submit_many(events=[payment_event() for _ in range(16)])
    services.ledger_publish()
    return first + second


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_latest_head_is_signed_and_briefly_cacheable(client: Client, log: Any) -> None:
    response = client.get("/api/v1/ledger/sth")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=5"
    head = entries.TreeHead.from_json(response.json())
    keys = {
        k["key_id"]: base64.b64decode(k["public_key"])
        for k in client.get("/api/v1/ledger/keys").json()
    }
    assert head.tree_size == 37 and head.verify(keys)
    assert head.root_hash == selectors.root_at(37)


def test_history_lists_every_head_oldest_first(client: Client, log: Any) -> None:
    body = client.get("/api/v1/ledger/sth/history").json()
    assert body["count"] == 2 and [h["tree_size"] for h in body["heads"]] == [21, 37]
    page = client.get("/api/v1/ledger/sth/history?start=1&limit=1")
    assert page["Cache-Control"].endswith("immutable")
    assert [h["tree_size"] for h in page.json()["heads"]] == [37]
    _error(client.get("/api/v1/ledger/sth/history?start=-1"), 400, "bad_range")


def test_entries_are_the_exact_leaf_bytes(client: Client, log: Any) -> None:
    body = client.get("/api/v1/ledger/entries?start=18&end=100").json()
    assert body["start"] == 18 and body["end"] == 37 and len(body["entries"]) == 19
    for item in body["entries"]:
        leaf = merkle.leaf_hash(item["entry"].encode())
        assert _b64(leaf) == item["leaf_hash"]
        assert item["leaf_index"] == selectors.entry_index(leaf)
    full = client.get("/api/v1/ledger/entries?start=0&end=10")
    assert full["Cache-Control"].endswith("immutable")
    _error(client.get("/api/v1/ledger/entries?start=5&end=5"), 400, "bad_range")
    _error(client.get("/api/v1/ledger/entries?start=x&end=5"), 422, "invalid")


def test_inclusion_by_index_and_by_hash_verify(client: Client, log: Any) -> None:
    root = selectors.root_at(37)
    for query in ("leaf_index=4", f"leaf_hash={_b64(log[4].leaf_hash).replace('+', '%2B')}"):
        response = client.get(f"/api/v1/ledger/proof/inclusion?tree_size=37&{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["leaf_index"] == 4 and body["leaf_hash"] == _b64(log[4].leaf_hash)
        path = [base64.b64decode(p) for p in body["audit_path"]]
        assert merkle.verify_inclusion(log[4].leaf_hash, 4, 37, path, root)
    # Against the older head as well.
    old = client.get("/api/v1/ledger/proof/inclusion?tree_size=21&leaf_index=4").json()
    assert merkle.verify_inclusion(
        log[4].leaf_hash,
        4,
        21,
        [base64.b64decode(p) for p in old["audit_path"]],
        selectors.root_at(21),
    )


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("tree_size=38&leaf_index=1", 400, "bad_tree_size"),
        ("tree_size=0&leaf_index=0", 400, "bad_tree_size"),
        ("tree_size=21&leaf_index=21", 400, "bad_index"),
        ("tree_size=21", 400, "bad_request"),
        ("tree_size=21&leaf_index=1&leaf_hash=AAAA", 400, "bad_request"),
        ("tree_size=21&leaf_hash=not-base64", 400, "bad_leaf_hash"),
        (f"tree_size=21&leaf_hash={'A' * 43}=", 404, "entry_not_found"),
        ("leaf_index=1", 422, "invalid"),
    ],
)
def test_bad_inclusion_requests(
    client: Client, log: Any, query: str, status: int, code: str
) -> None:
    _error(client.get(f"/api/v1/ledger/proof/inclusion?{query}"), status, code)


def test_consistency_between_published_heads(client: Client, log: Any) -> None:
    body = client.get("/api/v1/ledger/proof/consistency?first=21&second=37").json()
    proof = [base64.b64decode(p) for p in body["consistency"]]
    assert merkle.verify_consistency(21, 37, selectors.root_at(21), selectors.root_at(37), proof)
    _error(client.get("/api/v1/ledger/proof/consistency?first=0&second=37"), 400, "bad_tree_size")
    _error(client.get("/api/v1/ledger/proof/consistency?first=30&second=21"), 400, "bad_tree_size")
    _error(client.get("/api/v1/ledger/proof/consistency?first=1&second=40"), 400, "bad_tree_size")


def test_an_empty_log_says_so(client: Client) -> None:
    _error(client.get("/api/v1/ledger/sth"), 404, "empty_log")
    assert client.get("/api/v1/ledger/sth/history").json() == {"count": 0, "start": 0, "heads": []}
    _error(
        client.get("/api/v1/ledger/proof/inclusion?tree_size=1&leaf_index=0"), 400, "bad_tree_size"
    )


def test_totals_cover_a_stated_number_of_entries(client: Client, log: Any) -> None:
    body = client.get("/api/v1/ledger/totals").json()
    assert body["tree_size"] == 37
    swat = next(r for r in body["rows"] if r["district"] == "Swat")
    assert swat["counts"]["payments.cycle_approved"] == 20
    assert swat["amounts"]["payments.cycle_approved"] == 270_000
    assert client.get("/api/v1/ledger/totals?program=school-top-up").json()["rows"] == []


def test_receipt_check_for_machines(client: Client, log: Any) -> None:
    receipt = selectors.receipt(leaf_hash=log[1].leaf_hash, salt=log[1].salt)
    assert receipt is not None
    url = "/api/v1/ledger/receipts/check"
    ok = client.post(url, {"receipt": receipt.encode()}, content_type="application/json").json()
    assert ok["valid"] and ok["problems"] == [] and ok["entry"]["kind"] == "payments.paid"
    wrong = client.post(
        url, {"receipt": receipt.encode(), "rahdari_number": "RD9"}, content_type="application/json"
    ).json()
    assert not wrong["valid"] and wrong["problems"] == ["commitment: the number does not match"]
    _error(
        client.post(url, {"receipt": "hello"}, content_type="application/json"), 422, "bad_receipt"
    )


def test_proofs_take_a_fixed_number_of_queries(
    client: Client, log: Any, django_assert_num_queries: Any
) -> None:
    # The published size (cached between requests outside tests), the stored hashes in
    # one query, the leaf itself.
    with django_assert_num_queries(3):
        assert (
            client.get("/api/v1/ledger/proof/inclusion?tree_size=37&leaf_index=3").status_code
            == 200
        )
    with django_assert_num_queries(2):
        assert client.get("/api/v1/ledger/proof/consistency?first=5&second=37").status_code == 200
    with django_assert_num_queries(1):
        assert client.get("/api/v1/ledger/entries?start=0&end=37").status_code == 200
