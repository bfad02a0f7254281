"""Three languages: complete catalogs, right-to-left pages, and the ways a language is chosen."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import polib
import pytest
from django.test import Client

LOCALE = Path(__file__).resolve().parents[2] / "rahdari" / "locale"
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


@pytest.mark.parametrize("language", ["ur", "ps"])
def test_catalog_is_complete_without_fuzzy_entries(language: str) -> None:
    po = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"untranslated in {language}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {language}: {fuzzy[:10]}"
    assert "fuzzy" not in (po.metadata_is_fuzzy and "fuzzy" or "")


@pytest.mark.parametrize("language", ["ur", "ps"])
def test_translations_keep_placeholders_and_use_arabic_script(language: str) -> None:
    po = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    for entry in po.translated_entries():
        targets = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for target in targets:
            assert sorted(PLACEHOLDER.findall(target)) == sorted(
                PLACEHOLDER.findall(entry.msgid)
            ) or (entry.msgid_plural and "%(n)s" not in target), (
                f"{language}: placeholders differ in {entry.msgid!r}"
            )
            assert ARABIC_SCRIPT.search(target), f"{language}: not translated: {entry.msgid!r}"


@pytest.mark.parametrize("language", ["ur", "ps"])
def test_msgfmt_accepts_the_catalog(language: str) -> None:
    po_file = LOCALE / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(po_file)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(("lang", "direction"), [("en", "ltr"), ("ur", "rtl"), ("ps", "rtl")])
def test_lang_query_sets_language_direction_and_cookie(
    client: Client, lang: str, direction: str
) -> None:
    response = client.get(f"/?lang={lang}")
    html = response.content.decode()
    assert f'<html lang="{lang}" dir="{direction}"' in html
    assert response.cookies["rahdari_lang"].value == lang
    assert response["Content-Language"] == lang
    if lang != "en":
        title = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
        assert ARABIC_SCRIPT.search(title), title
    # The choice sticks for the next page through the cookie.
    follow = client.get("/accounts/login/")
    assert f'lang="{lang}"' in follow.content.decode()


@pytest.mark.django_db
def test_accept_language_header_is_used(client: Client) -> None:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="ps,en;q=0.5").content.decode()
    assert '<html lang="ps" dir="rtl"' in html


@pytest.mark.django_db
def test_unknown_language_shows_a_message_and_falls_back(client: Client) -> None:
    response = client.get("/?lang=fr", HTTP_ACCEPT_LANGUAGE="ur")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ur"' in html and 'role="alert"' in html and "fr" in html


@pytest.mark.django_db
def test_profile_language_follows_the_user(make_citizen: Any) -> None:
    citizen = make_citizen(language="ps")
    client = Client()
    client.force_login(citizen)
    assert '<html lang="ps"' in client.get("/accounts/me/").content.decode()
    client.get("/accounts/me/?lang=ur")
    citizen.refresh_from_db()
    assert citizen.preferred_language == "ur"


@pytest.mark.django_db
def test_sms_is_rendered_in_the_recipients_language() -> None:
    from rahdari.core.notifications import render

    english = render("accounts.login_code", "en", code="123456", minutes=5)
    pashto = render("accounts.login_code", "ps", code="123456", minutes=5)
    urdu = render("accounts.login_code", "ur", code="123456", minutes=5)
    assert "123456" in pashto and "123456" in urdu
    assert ARABIC_SCRIPT.search(pashto) and ARABIC_SCRIPT.search(urdu) and pashto != urdu != english


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["ur", "ps"])
def test_error_pages_speak_the_visitors_language(client: Client, lang: str) -> None:
    response = client.get(f"/no-such-page/?lang={lang}")
    assert response.status_code == 404
    html = response.content.decode()
    assert f'<html lang="{lang}" dir="rtl"' in html
    assert ARABIC_SCRIPT.search(re.search(r"<h1>(.*?)</h1>", html, re.S).group(1))
