"""`rahdari credential …`: issue, verify (online and fully offline from files), keys, lists."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rahdari import cli
from rahdari.core import qr
from rahdari.credentials.models import Credential, IssuerKey
from rahdari.identity.models import Person

pytestmark = pytest.mark.django_db


def _run(capsys: Any, *argv: str) -> tuple[int, str]:
    code = cli.main(["credential", *argv])
    return code, capsys.readouterr().out


def test_issue_prints_a_qr_that_verify_accepts(
    active_person: Callable[..., Person], capsys: Any
) -> None:
    person = active_person()
    code, text = _run(capsys, "issue", "--person", person.rahdari_number or "")
    assert code == 0
    code, out = _run(capsys, "verify", text.strip())
    result = json.loads(out)
    assert code == 0 and result["valid"] and result["claims"]["id"] == person.rahdari_number
    assert Credential.objects.filter(person=person, status="active").count() == 1


def test_verify_offline_from_saved_keys_and_status_list(
    active_person: Callable[..., Person], capsys: Any, tmp_path: Path
) -> None:
    person = active_person()
    credential = Credential.objects.get(person=person)
    keys = tmp_path / "rahdari-keys.json"
    assert _run(capsys, "keys", "export", "--out", str(keys))[0] == 0
    _run(capsys, "status-export", "--out", str(tmp_path))
    status = tmp_path / "status-1.cwt"
    image = tmp_path / "qr.png"
    image.write_bytes(qr.qr_png(credential.qr_compact))
    code, out = _run(capsys, "verify", str(image), "--keys", str(keys), "--status", str(status))
    result = json.loads(out)
    assert code == 0 and result["valid"] and result["status_checked"]
    assert result["status_list_age_seconds"] is not None

    # Revoked after the counter saved its list: the old list still says valid, a new one not.
    _run(capsys, "revoke", "--person", person.rahdari_number or "", "--reason", "fraud")
    assert json.loads(
        _run(capsys, "verify", str(image), "--keys", str(keys), "--status", str(status))[1]
    )["valid"]
    _run(capsys, "status-export", "--out", str(tmp_path))
    code, out = _run(capsys, "verify", str(image), "--keys", str(keys), "--status", str(status))
    assert code == 1 and json.loads(out)["reason"] == "revoked"


def test_verify_reports_reasons_for_bad_input(capsys: Any, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("L", (200, 200), 255).save(blank)
    code, out = _run(capsys, "verify", str(blank))
    assert code == 1 and json.loads(out)["reason"] == "no_qr_found"
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    assert json.loads(_run(capsys, "verify", str(not_image))[1])["reason"] == "not_an_image"
    assert json.loads(_run(capsys, "verify", "HC1:6BFOXN")[1])["reason"] == "wrong_prefix"


def test_keys_rotate_and_list(active_person: Callable[..., Person], capsys: Any) -> None:
    active_person()
    assert _run(capsys, "keys", "rotate")[0] == 0
    rows = json.loads(_run(capsys, "keys", "list")[1])
    assert sorted(r["status"] for r in rows) == ["active", "retired"]
    assert IssuerKey.objects.count() == 2


def test_unknown_person_is_a_clear_error(capsys: Any) -> None:
    assert cli.main(["credential", "issue", "--person", "123412341234"]) == 1
    assert "person" in capsys.readouterr().err.lower()


def test_withdrawing_a_compromised_key_reissues_what_it_signed(
    active_person: Callable[..., Person], capsys: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from rahdari.credentials import services

    persons = [active_person(photo=False) for _ in range(2)]
    old = {p.pk: Credential.objects.get(person=p) for p in persons}
    kid = old[persons[0].pk].key.kid
    code, out = _run(capsys, "keys", "withdraw", "--kid", kid, "--reason", "seed leaked")
    assert code == 0 and json.loads(out.splitlines()[-1]) == {"reissued": 2}
    assert kid not in {k["kid"] for k in services.keyset_document()["keys"]}
    for person in persons:
        assert services.server_verifier().verify(old[person.pk].qr_compact).reason == "unknown_key"
        current = services.current_credential(person)
        assert current is not None and current.key.kid != kid
        assert services.server_verifier().verify(current.qr_compact).valid
    assert cli.main(["credential", "keys", "withdraw", "--kid", kid, "--reason", "again"]) == 1
