"""The public ledger in a real Chromium: a beneficiary opens the link of their payment
receipt in Urdu and the browser itself checks the entry, the inclusion proof, the tree
head's Ed25519 signature, the log's consistency since, and their Rahdari number; a
changed receipt does not check out; a visitor reads the totals in Pashto, opens an
entry and checks its public receipt. The script's Merkle checks are compared with
merkle.py on every small tree. Every page state is checked with axe-core (WCAG 2.2 AA)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from rahdari.ledger import entries, merkle, selectors, services, views
from rahdari.ledger.views import ReceiptCheckForm
from tests.browser.conftest import (
    TIMEOUT_MS,
    Deferred,
    axe_check,
    expect_language,
    tr,
    watch_problems,
)
from tests.conftest import districts_named
from tests.ledger.conftest import cycle_event, payment_event

pytestmark = pytest.mark.browser

NUMBER = "482109375562"


@pytest.fixture
def receipt(transactional_db: None) -> entries.Receipt:
    """A cycle and its payments, one of them to NUMBER, signed; the beneficiary's receipt
    (with its salt) taken then; and more entries signed since, so the checker has to
    prove that the log still holds the receipt's older tree."""
    districts_named(["Swat", "Peshawar", "Mardan"])  # the names in Urdu script
    submitted = services.ledger_submit_many(
        events=[
            cycle_event([("Swat", 2, 27_000), ("Peshawar", 1, 13_500)]),
            payment_event("paid", district="Swat", number=NUMBER),
            payment_event("paid", district="Swat"),
            payment_event("paid", district="Peshawar"),
            payment_event("failed", district="Swat"),
        ]
    )
    services.ledger_publish()
    mine = selectors.receipt(leaf_hash=submitted[1].leaf_hash, salt=submitted[1].salt)
    assert mine is not None and mine.tree_head.tree_size == 5
    services.ledger_submit_many(events=[payment_event(district="Mardan") for _ in range(6)])
    services.ledger_publish()
    assert selectors.tree_size() == 11
    return mine


def _watch_requests(page: Page) -> list[Request]:
    requests: list[Request] = []

    def seen(request: Request) -> None:
        requests.append(request)

    page.on("request", seen)
    return requests


def _expect_checks(page: Page, statuses: dict[str, str]) -> None:
    for name, status in statuses.items():
        expect(page.locator(f'#ledger-result li[data-check="{name}"]')).to_have_attribute(
            "data-status", status
        )


def _number_box(page: Page, language: str) -> Any:
    label = tr(language, ReceiptCheckForm.base_fields["rahdari_number"].label)
    return page.locator("#ledger-form").get_by_label(label, exact=True)


def _check_button(page: Page, language: str) -> Any:
    return page.locator("#ledger-form").get_by_role(
        "button", name=tr(language, "Check"), exact=True
    )


def _tampered(receipt: entries.Receipt) -> str:
    """The same receipt saying Rs 135,000 instead of Rs 13,500: well-formed, but changed."""
    text = receipt.entry.decode()
    assert '"amount":13500' in text
    changed = text.replace('"amount":13500', '"amount":135000').encode()
    fields = receipt.encode().split(".")
    fields[1] = base64.urlsafe_b64encode(changed).rstrip(b"=").decode()
    return ".".join(fields)


def test_a_beneficiary_checks_their_receipt_in_urdu(
    page: Page, receipt: entries.Receipt, deferred: Deferred
) -> None:
    requests = _watch_requests(page)
    page.goto(f"/ledger/verify/?lang=ur#r={receipt.encode()}")
    expect_language(page, "ur")
    verdict = page.locator("#ledger-verdict")
    expect(verdict).to_have_text(tr("ur", views.STRINGS["ok_payment"]))
    expect(page.locator("#ledger-result")).to_have_class(re.compile(r"\bverify-ok\b"))
    size = float(verdict.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
    assert size >= 32, f"the verdict is {size}px"
    passed = {name: "pass" for name in views.CHECK_ORDER[:-1]}
    _expect_checks(page, {**passed, "commitment": "skip"})
    facts = page.locator("#ledger-result [data-facts]")
    expect(facts.locator('[data-fact="amount"]')).to_have_text(
        tr("ur", "Rs %(amount)s") % {"amount": "13,500"}
    )
    expect(facts.locator('[data-fact="district"]')).to_have_text("سوات")
    # the log was asked for its latest head and the proof from 5 to 11 entries
    log = page.locator('#ledger-result li[data-check="log"]')
    expect(log).to_contain_text("11")
    assert any("/proof/consistency?first=5&second=11" in r.url for r in requests)
    axe_check(page, "receipt checker, all passed (ur)", deferred)

    # The right Rahdari number, typed in groups: the commitment check passes.
    _number_box(page, "ur").fill("4821 0937 5562")
    _check_button(page, "ur").click()
    _expect_checks(page, {**passed, "commitment": "pass"})
    expect(page.locator("#ledger-result")).to_be_focused()
    expect(verdict).to_have_text(tr("ur", views.STRINGS["ok_payment"]))

    # A wrong number: that check fails, and so does the verdict.
    _number_box(page, "ur").fill("482109375563")
    _check_button(page, "ur").click()
    _expect_checks(page, {**passed, "commitment": "fail"})
    expect(verdict).to_have_text(tr("ur", views.STRINGS["bad"]))
    expect(page.locator("#ledger-result [data-failed]")).to_contain_text(
        tr("ur", views.CHECKS["commitment"]["title"])
    )
    axe_check(page, "receipt checker, wrong number (ur)", deferred)

    # The number never left the browser: no post, and in no address asked for.
    assert not [r for r in requests if r.method == "POST"]
    assert not [r for r in requests if "482109" in r.url or "4821%20" in r.url]
    deferred.settle()


def test_a_changed_receipt_does_not_check_out(
    page: Page, receipt: entries.Receipt, deferred: Deferred
) -> None:
    page.goto(f"/ledger/verify/?lang=ur#r={_tampered(receipt)}")
    expect_language(page, "ur")
    verdict = page.locator("#ledger-verdict")
    expect(verdict).to_have_text(tr("ur", views.STRINGS["bad"]))
    expect(page.locator("#ledger-result")).to_have_class(re.compile(r"\bverify-bad\b"))
    _expect_checks(page, {"entry": "pass", "inclusion": "fail", "signature": "pass"})
    expect(page.locator("#ledger-result [data-failed]")).to_contain_text(
        tr("ur", views.CHECKS["inclusion"]["title"])
    )
    axe_check(page, "receipt checker, changed receipt (ur)", deferred)

    # The true receipt pasted into the box instead (the hash stays as it was).
    box = page.locator("#ledger-form textarea")
    box.fill(receipt.encode())
    _check_button(page, "ur").click()
    expect(verdict).to_have_text(tr("ur", views.STRINGS["ok_payment"]))

    # Text that is no receipt at all: a clear message at the box.
    box.fill("hello")
    _check_button(page, "ur").click()
    alert = page.locator("#ledger-form [role=alert]")
    expect(alert).to_have_text(tr("ur", views.STRINGS["not_receipt"]))
    expect(page.locator("#ledger-result")).to_be_hidden()
    expect(box).to_be_focused()
    axe_check(page, "receipt checker, not a receipt (ur)", deferred)
    deferred.settle()


def test_a_visitor_reads_the_totals_in_pashto_and_checks_an_entry(
    page: Page, receipt: entries.Receipt, deferred: Deferred
) -> None:
    page.goto("/ledger/?lang=ps")
    expect_language(page, "ps")
    expect(page.locator("main h1")).to_have_text(tr("ps", "Public payments ledger"))
    expect(page.locator("[data-sth-size]")).to_have_text("11")
    table = page.locator('table[data-totals="cash-transfer/2026-Q4"]')
    swat = table.locator('tr[data-district="Swat"]')
    expect(swat.locator("th")).to_have_text("سوات")
    paid = table.locator('thead th[data-kind="payments.paid"]')
    expect(paid).to_have_text(tr("ps", "Paid"))
    # Swat: 2 approved, 2 paid (one of them the beneficiary's) and 1 failed, in that order
    rupees = tr("ps", "Rs %(amount)s")
    expect(swat.locator("td").nth(0)).to_have_text(
        re.compile(r"2\s*" + re.escape(rupees % {"amount": "27,000"}))
    )
    expect(swat.locator("td").nth(1)).to_have_text(
        re.compile(r"2\s*" + re.escape(rupees % {"amount": "27,000"}))
    )
    expect(table.locator("tfoot td").nth(0)).to_have_text(
        re.compile(r"3\s*" + re.escape(rupees % {"amount": "40,500"}))
    )
    expect(table.locator("tfoot td").nth(1)).to_have_text(
        re.compile(r"9\s*" + re.escape(rupees % {"amount": "121,500"}))
    )
    mardan = page.locator('table[data-totals="cash-transfer/2026-Q4"] tr[data-district="Mardan"]')
    expect(mardan.locator("td").nth(1)).to_contain_text("6")
    axe_check(page, "transparency page (ps)", deferred)

    page.locator("table.ledger-recent").get_by_role("link", name="1", exact=True).click()
    page.wait_for_url("**/ledger/entries/1/")
    expect_language(page, "ps")
    expect(page.locator('[data-fact="amount"]')).to_have_text(
        tr("ps", "Rs %(amount)s") % {"amount": "13,500"}
    )
    leaf = entries.b64(merkle.leaf_hash(receipt.entry))
    expect(page.locator("[data-leaf-hash]")).to_have_text(leaf)
    axe_check(page, "entry page (ps)", deferred)

    page.get_by_role("link", name=tr("ps", "Check this receipt"), exact=True).click()
    page.wait_for_url(re.compile(r"/ledger/verify/#r="))
    expect(page.locator("#ledger-verdict")).to_have_text(tr("ps", views.STRINGS["ok_payment"]))
    # a public receipt: all checks pass, and it cannot tell whom it paid
    passed = {name: "pass" for name in views.CHECK_ORDER[:-1]}
    _expect_checks(page, {**passed, "commitment": "skip"})
    expect(page.locator('#ledger-result li[data-check="commitment"]')).to_contain_text(
        tr("ps", views.CHECKS["commitment"]["public"])
    )
    axe_check(page, "receipt checker, public receipt (ps)", deferred)
    deferred.settle()


# --- the ports of merkle.py ------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _cases(limit: int = 12) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Proofs of every tree up to `limit` leaves, true ones and spoiled ones, with what
    merkle.py answers for each."""
    inclusion: list[dict[str, Any]] = []
    consistency: list[dict[str, Any]] = []
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(limit)]
    for n in range(1, limit + 1):
        tree = leaves[:n]
        root = merkle.root_hash(tree)
        for i in range(n):
            proof = merkle.inclusion_proof(tree, i)
            variants = [
                (tree[i], i, n, proof, root),
                (tree[i], i, n + 1, proof, root),
                (tree[i], (i + 1) % n, n, proof, root),
                (tree[i], i, n, proof[:-1], root),
                (tree[i], i, n, [*proof, root], root),
                (tree[(i + 1) % n], i, n, proof, root),
            ]
            if proof:
                spoiled = bytearray(proof[0])
                spoiled[0] ^= 1
                variants.append((tree[i], i, n, [bytes(spoiled), *proof[1:]], root))
            for leaf, index, size, path, top in variants:
                inclusion.append(
                    {
                        "args": [_b64(leaf), index, size, [_b64(p) for p in path], _b64(top)],
                        "expected": merkle.verify_inclusion(leaf, index, size, path, top),
                    }
                )
        for m in range(1, n + 1):
            hops = merkle.consistency_proof(tree, m)
            old = merkle.root_hash(tree[:m])
            shifts = [
                (m, n, old, root, hops),
                (m, n, root, root, hops),
                (m, n, old, old, hops),
                (m, n, old, root, hops[:-1]),
                (m, n, old, root, [*hops, old]),
                (m + 1, n + 1, old, root, hops),
            ]
            if hops:
                last = bytearray(hops[-1])
                last[31] ^= 0x80
                shifts.append((m, n, old, root, [*hops[:-1], bytes(last)]))
            for first, second, first_root, second_root, steps in shifts:
                consistency.append(
                    {
                        "args": [
                            first,
                            second,
                            _b64(first_root),
                            _b64(second_root),
                            [_b64(p) for p in steps],
                        ],
                        "expected": merkle.verify_consistency(
                            first, second, first_root, second_root, steps
                        ),
                    }
                )
    return inclusion, consistency


def test_the_checker_verifies_proofs_exactly_as_merkle_py(page: Page, live_server: Any) -> None:
    inclusion, consistency = _cases()
    assert any(c["expected"] for c in inclusion) and not all(c["expected"] for c in inclusion)
    assert any(c["expected"] for c in consistency)
    assert not all(c["expected"] for c in consistency)
    page.goto("/ledger/verify/?lang=en")
    answers = page.evaluate(
        """async ([inclusion, consistency]) => {
            const bytes = (t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
            const lib = window.rahdariLedger;
            const a = [];
            for (const {args: [leaf, i, n, path, root]} of inclusion) {
                a.push(await lib.verifyInclusion(bytes(leaf), BigInt(i), BigInt(n),
                                                 path.map(bytes), bytes(root)));
            }
            const b = [];
            for (const {args: [m, n, r1, r2, path]} of consistency) {
                b.push(await lib.verifyConsistency(BigInt(m), BigInt(n), bytes(r1), bytes(r2),
                                                   path.map(bytes)));
            }
            return [a, b];
        }""",
        [inclusion, consistency],
    )
    wrong = [
        c["args"] for c, got in zip(inclusion, answers[0], strict=True) if got != c["expected"]
    ]
    assert not wrong, f"inclusion differs from merkle.py for {wrong[:3]}"
    wrong = [
        c["args"] for c, got in zip(consistency, answers[1], strict=True) if got != c["expected"]
    ]
    assert not wrong, f"consistency differs from merkle.py for {wrong[:3]}"


def test_the_checker_refuses_entries_the_log_would_refuse(
    page: Page, receipt: entries.Receipt
) -> None:
    text = receipt.entry.decode()
    cases = [
        text,
        text.replace('"amount":13500', '"amount":13500.0'),
        text.replace('"amount":13500', '"amount": 13500'),
        text.replace('"amount":13500', '"amount":-1'),
        text.replace('"v":1', '"v":2'),
        text.replace('"channel":"bank"', '"channel":"bank","name":"Gul"'),
        text.replace('"kind":"payments.paid"', '"kind":"payments.unknown"'),
        "[]",
        "not json",
    ]
    page.goto("/ledger/verify/?lang=en")
    answers = page.evaluate(
        "(cases) => cases.map((c) => window.rahdariLedger.checkEntry(c) !== null)", cases
    )
    expected = []
    for case in cases:
        try:
            entries.decode_entry(case)
            expected.append(True)
        except entries.EntryError:
            expected.append(False)
    assert answers == expected == [True] + [False] * (len(cases) - 1)


# --- without JavaScript ----------------------------------------------------------------


@pytest.fixture
def no_script_page(browser: Browser, live_server: Any) -> Iterator[Page]:
    context = browser.new_context(
        locale="en-US", base_url=live_server.url, java_script_enabled=False
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = watch_problems(tab)
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def test_the_checker_works_without_javascript(
    no_script_page: Page, receipt: entries.Receipt
) -> None:
    page = no_script_page
    page.goto("/ledger/verify/?lang=ur")
    page.locator("#ledger-form textarea").fill(receipt.encode())
    _number_box(page, "ur").fill(NUMBER)
    with page.expect_navigation():
        _check_button(page, "ur").click()
    expect_language(page, "ur")
    expect(page.locator("#ledger-verdict")).to_have_text(tr("ur", views.STRINGS["ok_payment"]))
    _expect_checks(page, {name: "pass" for name in views.CHECK_ORDER})
    expect(_number_box(page, "ur")).to_have_value("")  # not written back into the page
    assert NUMBER not in page.url


def test_the_servers_result_passes_axe(
    page: Page, receipt: entries.Receipt, deferred: Deferred
) -> None:
    """axe needs a script; a checker script that does nothing leaves the form to post."""
    page.route(
        "**/rahdari/ledger/verify.js",
        lambda route: route.fulfill(body="", content_type="text/javascript"),
    )
    page.goto("/ledger/verify/?lang=ps")
    page.locator("#ledger-form textarea").fill(_tampered(receipt))
    with page.expect_navigation():
        _check_button(page, "ps").click()
    expect(page.locator("#ledger-verdict")).to_have_text(tr("ps", views.STRINGS["bad"]))
    _expect_checks(page, {"inclusion": "fail", "commitment": "skip"})
    axe_check(page, "receipt checker, the server's result (ps)", deferred)
    page.locator("#ledger-form textarea").fill("hello")
    with page.expect_navigation():
        _check_button(page, "ps").click()
    expect(page.locator("#ledger-form [role=alert]")).to_contain_text(
        tr("ps", views.STRINGS["not_receipt"])
    )
    axe_check(page, "receipt checker, the server's error (ps)", deferred)
    deferred.settle()
