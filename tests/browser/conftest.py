"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

The pages keep their real Content-Security-Policy (`script-src 'self'`): axe-core is
evaluated through the DevTools protocol, which CSP does not govern, so the tests still
notice when a page breaks its own policy (every console error fails the test).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation
from django_otp.oath import totp
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect, sync_playwright

from rahdari.accounts.forms import StaffLoginForm, TokenForm
from rahdari.accounts.models import User
from tests.conftest import STAFF_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
AXE_JS = Path(settings.BASE_DIR) / "static" / "vendor" / "axe" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """On SQLite, give the test database a file so the server thread opens its own
    connection (WAL, busy timeout) instead of sharing the test thread's in-memory one:
    a job run from the test while the page polls would otherwise interleave two
    transactions on one connection."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = tmp_path_factory.mktemp("browser-db") / "rahdari.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(path)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread, and Django
    # refuses ORM calls while one runs; the calls are sync and safe here, so say so
    # for as long as the browser (and its loop) lives.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def watch_problems(tab: Page) -> list[str]:
    """Collect every console error, script error and 5xx response of a tab."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error on {tab.url}: {message.text}")

    def on_response(response: Response) -> None:
        if response.status >= 500:
            problems.append(f"HTTP {response.status} for {response.request.method} {response.url}")

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(f"script error on {tab.url}: {error}"))
    tab.on("response", on_response)
    return problems


@pytest.fixture
def seeded_programs(transactional_db: None) -> None:
    """The programs the migration loads, again if an earlier transactional test's flush
    emptied them (browser tests run in any order)."""
    from rahdari.programs.models import Program
    from rahdari.programs.services import programs_seed

    if not Program.objects.exists():
        programs_seed()


@pytest.fixture
def page(
    browser: Browser, live_server: Any, transactional_db: None, seeded_programs: None
) -> Iterator[Page]:
    """A fresh context (cookies, storage) per test, English browser, base URL of the server.

    Fails the test on any console error (a CSP violation, a missing asset, a script
    error) and on any 5xx response.
    """
    context = browser.new_context(locale="en-US", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    tab = context.new_page()
    problems = watch_problems(tab)
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def tr(language: str, message: Any) -> str:
    """A UI string as the server renders it in `language` (English while no catalogue
    is compiled), so locators keep working as translations land."""
    with translation.override(language):
        return str(translation.gettext(str(message)) if isinstance(message, str) else message)


def catalogue_compiled(language: str) -> bool:
    return any(
        (Path(root) / language / "LC_MESSAGES" / "django.mo").exists()
        for root in settings.LOCALE_PATHS
    )


# Violations already reported to the template owners. A node matching one of these is
# not ignored: the test goes on with its other checks and ends as xfail naming the bug.
# Delete an entry once its template is fixed (it then matches nothing).
KNOWN_A11Y_BUGS: list[tuple[str, str, str]] = []


class Deferred:
    """Known bugs met during a test: collected so the rest of the journey still runs,
    then reported together as one xfail by `settle()` at the end of the test."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def add(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    def settle(self) -> None:
        if self.reasons:
            pytest.xfail("known bug(s): " + " | ".join(self.reasons))


@pytest.fixture
def deferred() -> Deferred:
    return Deferred()


def axe_check(page: Page, where: str = "", deferred: Deferred | None = None) -> None:
    """Run axe-core (WCAG 2.0/2.1 A+AA, WCAG 2.2 AA rules) on the page; fail listing
    each violation with its impact, rule help and the offending elements."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async ([tags, known]) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                               elementRef: true});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => {
                    const bug = known.find(([rule, selector]) =>
                        rule === v.id && n.element && n.element.matches(selector));
                    return {target: n.target.join(' '), html: n.html.slice(0, 160),
                            summary: n.failureSummary, known: bug ? bug[2] : null};
                })}));
        }""",
        [AXE_TAGS, KNOWN_A11Y_BUGS],
    )
    lines = []
    for violation in result:
        nodes = [n for n in violation["nodes"] if not (deferred is not None and n["known"])]
        for node in violation["nodes"]:
            if deferred is not None and node["known"]:
                deferred.add(f"axe {violation['id']} on {where or page.url}: {node['known']}")
        if not nodes:
            continue
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in nodes:
            lines.append(f"    {node['target']}: {node['html']}")
            lines.append("      " + (node["summary"] or "").replace("\n", "\n      "))
    if lines:
        pytest.fail(f"axe violations on {where or page.url}:\n" + "\n".join(lines), pytrace=False)


def expect_language(page: Page, language: str) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("lang", language)
    expect(html).to_have_attribute("dir", "rtl" if language in ("ur", "ps") else "ltr")


def totp_code_from_secret(secret: str) -> str:
    """What an authenticator app shows for the base32 key of the set-up page."""
    return f"{totp(base64.b32decode(secret)):06d}"


def staff_log_in(
    page: Page, user: User, language: str = "en", deferred: Deferred | None = None
) -> None:
    """Password, then (for TOTP roles) the authenticator set-up step; ends on the workspace.

    With `deferred`, the login and set-up pages are checked with axe on the way."""
    suffix = "" if language == "en" else f"?lang={language}"
    page.goto(f"/accounts/login/{suffix}")
    expect_language(page, language)
    if deferred is not None:
        axe_check(page, f"staff login ({language})", deferred)
    fields = StaffLoginForm.base_fields
    page.get_by_label(tr(language, fields["username"].label)).fill(user.username)
    page.get_by_label(tr(language, fields["password"].label), exact=True).fill(STAFF_PASSWORD)
    page.locator("main form").get_by_role("button", name=tr(language, "Continue")).click()
    if user.requires_totp:
        page.wait_for_url("**/accounts/login/verify/")
        expect_language(page, language)
        qr = page.locator(".qr-setup img")
        expect(qr).to_be_visible()
        assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
        if deferred is not None:
            axe_check(page, f"authenticator set-up ({language})", deferred)
        secret = page.locator("[data-totp-secret]").inner_text().strip()
        label = tr(language, TokenForm.base_fields["token"].label)
        page.get_by_label(label).fill(totp_code_from_secret(secret))
        page.locator("main form").get_by_role("button", name=tr(language, "Confirm")).click()
    page.wait_for_url("**/accounts/workspace/")
