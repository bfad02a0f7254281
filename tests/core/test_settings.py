"""Production refuses to start without its secrets, with a clear message and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAHDARI_")}
    env.update({"RAHDARI_VAR_DIR": str(tmp_path), **env_extra})
    return subprocess.run(
        [sys.executable, "-m", "rahdari.cli", "manage", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_production_without_secrets_refuses_to_start(tmp_path: Path) -> None:
    result = _run({"RAHDARI_ENV": "production"}, tmp_path)
    assert result.returncode == 2
    assert "RAHDARI_SECRET_KEY" in result.stderr and "RAHDARI_MASTER_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir()), "production must not generate keys"


def test_production_rejects_a_malformed_master_key(tmp_path: Path) -> None:
    result = _run(
        {
            "RAHDARI_ENV": "production",
            "RAHDARI_SECRET_KEY": "x" * 50,
            "RAHDARI_MASTER_KEY": "too-short",
            "RAHDARI_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            "RAHDARI_ALLOWED_HOSTS": "id.example.gov.pk",
            "RAHDARI_PUBLIC_URL": "https://id.example.gov.pk",
            "RAHDARI_OIDC_RSA_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
        },
        tmp_path,
    )
    assert result.returncode == 2 and "RAHDARI_MASTER_KEY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["staging", ""])
def test_unknown_profile_is_refused(tmp_path: Path, value: str) -> None:
    result = _run({"RAHDARI_ENV": value}, tmp_path)
    assert result.returncode == 2 and "RAHDARI_ENV" in result.stderr


def test_demo_generates_its_own_keys(tmp_path: Path) -> None:
    result = _run(
        {"RAHDARI_ENV": "demo", "RAHDARI_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secret_key").exists()
