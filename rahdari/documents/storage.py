"""Encrypted files in the ``documents`` storage (Django's storage API).

Each version has its own random AES-256 key; the file holds
``RDOC1 || nonce(12) || AES-GCM(content) || tag`` with the version's id as associated
data (a file copied under another version's name does not open). The version key is
kept in the version's row, sealed by the key ring like every other encrypted column
(envelope encryption), so rotating the key ring re-seals the small keys and never
rewrites the files.

A file is written first as ``tmp/<token>``; once the row that names it has committed,
it is moved to ``v/<tt>/<token>``. A crash before the commit leaves only a temporary
file, which the periodic sweep deletes; a crash after it leaves a temporary file whose
row exists, which the sweep (or the next read) moves into place.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils import timezone

MAGIC = b"RDOC1"
NONCE = 12
TEMP_DIR = "tmp"
FINAL_DIR = "v"
STORAGE_ALIAS = "documents"


class StoredFileError(Exception):
    """A stored file is missing or does not decrypt (tampered, or another version's)."""


def document_storage() -> Storage:
    return storages[STORAGE_ALIAS]


def new_token() -> str:
    """A random name: never derived from the person, the kind or the uploaded name."""
    return secrets.token_hex(16)


def temp_name(token: str) -> str:
    return f"{TEMP_DIR}/{token}"


def final_name(token: str) -> str:
    return f"{FINAL_DIR}/{token[:2]}/{token}"


def token_of(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def new_key() -> tuple[bytes, str]:
    """A fresh version key and its text form (sealed by the key ring in the row)."""
    key = AESGCM.generate_key(bit_length=256)
    return key, base64.b64encode(key).decode("ascii")


def key_from_text(text: str) -> bytes:
    return base64.b64decode(text)


def seal(key: bytes, version_id: str, data: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, _aad(version_id))


def unseal(key: bytes, version_id: str, blob: bytes) -> bytes:
    if not blob.startswith(MAGIC):
        raise StoredFileError("not a sealed document")
    body = blob[len(MAGIC) :]
    try:
        return AESGCM(key).decrypt(body[:NONCE], body[NONCE:], _aad(version_id))
    except (InvalidTag, ValueError) as exc:
        raise StoredFileError("the stored file does not decrypt") from exc


def _aad(version_id: str) -> bytes:
    return b"rahdari.documents.version:" + version_id.encode("ascii")


def write_temporary(token: str, blob: bytes) -> str:
    storage = document_storage()
    name = storage.save(temp_name(token), ContentFile(blob))
    if name != temp_name(token):  # a random token never collides; if it did, say so
        storage.delete(name)
        raise StoredFileError("temporary name already taken")
    return name


def promote(token: str) -> bool:
    """Move ``tmp/<token>`` to its final name (atomic on a filesystem). False when there
    was nothing to move (already moved)."""
    storage = document_storage()
    source, target = temp_name(token), final_name(token)
    if not storage.exists(source):
        return False
    if hasattr(storage, "path"):
        target_path = storage.path(target)
        os.makedirs(os.path.dirname(target_path), mode=0o700, exist_ok=True)
        os.replace(storage.path(source), target_path)
        return True
    # Object stores (S3) have no rename: copy, then delete the temporary object.
    with storage.open(source, "rb") as handle:
        saved = storage.save(target, ContentFile(handle.read()))
    if saved != target:
        raise StoredFileError("final name already taken")
    storage.delete(source)
    return True


def discard(name: str) -> None:
    storage = document_storage()
    if storage.exists(name):
        storage.delete(name)


def read(token: str) -> bytes:
    """The sealed bytes of a version, moving a committed temporary file into place first."""
    storage = document_storage()
    if not storage.exists(final_name(token)):
        promote(token)
    try:
        with storage.open(final_name(token), "rb") as handle:
            return bytes(handle.read())
    except FileNotFoundError as exc:
        raise StoredFileError("the stored file is missing") from exc


def temporary_tokens(older_than: timedelta) -> list[str]:
    """Tokens of temporary files last written more than ``older_than`` ago."""
    storage = document_storage()
    try:
        _dirs, files = storage.listdir(TEMP_DIR)
    except FileNotFoundError:
        return []
    cutoff = timezone.now() - older_than
    stale = []
    for name in files:
        try:
            if storage.get_modified_time(temp_name(name)) < cutoff:
                stale.append(name)
        except FileNotFoundError:
            continue  # moved or deleted meanwhile
    return stale


def temporary_names() -> list[str]:
    storage = document_storage()
    try:
        _dirs, files = storage.listdir(TEMP_DIR)
    except FileNotFoundError:
        return []
    return [temp_name(name) for name in files]
