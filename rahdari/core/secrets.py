"""Secrets for a non-production profile: generated once into var/ (git-ignored).

Production never comes here: settings refuse to start without the secrets in the
environment. Imported by settings, so this module must not import Django models.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 0600), replacing an older one."""
    path.unlink(missing_ok=True)
    _write_private(path, text)


def local_secret(var_dir: Path, name: str, length: int) -> str:
    """Read var/<name>, creating it with a random value the first time."""
    path = var_dir / name
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it first
            _write_private(path, secrets.token_urlsafe(length))
    return path.read_text().strip()


def local_master_key(var_dir: Path) -> str:
    """The demo's master key (base64 of 32 random bytes), created on first use."""
    path = var_dir / "master.key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            _write_private(path, base64.b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


def parse_master_key(text: str) -> bytes:
    """The master key is 32 bytes, given as base64 (44 characters)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("RAHDARI_MASTER_KEY must be base64 of 32 bytes.") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("RAHDARI_MASTER_KEY must be base64 of exactly 32 bytes.")
    return key
