"""Field encryption and blind indexes: pure functions over bytes, no Django.

Format of an encrypted value (text, so it fits any text column):
``v1.<key id>.<base64url(nonce(12) || ciphertext || tag(16))>``. The associated
data binds a value to its column ("app_label.model.field"), so a ciphertext
copied into another column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A value could not be decrypted (wrong key, tampered data, wrong column)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_data_key() -> bytes:
    """A fresh AES-256 key."""
    return AESGCM.generate_key(bit_length=256)


def wrap_key(master_key: bytes, key_id: str, data_key: bytes) -> bytes:
    """Encrypt a data key under the master key (AES-GCM, key id as associated data)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key).encrypt(nonce, data_key, b"rahdari-key:" + key_id.encode())


def unwrap_key(master_key: bytes, key_id: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master_key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"rahdari-key:" + key_id.encode()
        )
    except InvalidTag as exc:
        raise DecryptionError(f"data key {key_id} does not open with this master key") from exc


def encrypt(key_id: str, key: bytes, plaintext: str, context: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    return f"{PREFIX}.{key_id}.{_b64(nonce + sealed)}"


def encrypt_many(key_id: str, key: bytes, plaintexts: Iterable[str], context: str) -> list[str]:
    """:func:`encrypt` for many values with one key: one cipher object, no per-value setup
    (a targeting run seals a million explanations)."""
    cipher = AESGCM(key)
    aad = context.encode("utf-8")
    prefix = f"{PREFIX}.{key_id}."
    out = []
    for plaintext in plaintexts:
        nonce = os.urandom(NONCE_BYTES)
        out.append(prefix + _b64(nonce + cipher.encrypt(nonce, plaintext.encode("utf-8"), aad)))
    return out


def decrypt_many(key_of: Callable[[str], bytes], tokens: Iterable[str], context: str) -> list[str]:
    """:func:`decrypt` for many values, one cipher object per key id."""
    aad = context.encode("utf-8")
    ciphers: dict[str, AESGCM] = {}
    out = []
    for token in tokens:
        parts = token.split(".", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise DecryptionError("not an encrypted value")
        cipher = ciphers.get(parts[1])
        if cipher is None:
            cipher = ciphers[parts[1]] = AESGCM(key_of(parts[1]))
        try:
            blob = _unb64(parts[2])
            plain = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("value does not decrypt in this column with this key") from exc
        out.append(plain.decode("utf-8"))
    return out


def key_id_of(token: str) -> str:
    """The key id an encrypted value was sealed with."""
    parts = token.split(".", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not an encrypted value")
    return parts[1]


def decrypt(key: bytes, token: str, context: str) -> str:
    parts = token.split(".", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not an encrypted value")
    try:
        blob = _unb64(parts[2])
        plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("value does not decrypt in this column with this key") from exc
    return plain.decode("utf-8")


def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose (HKDF-SHA256), e.g. the blind-index key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"rahdari:" + purpose.encode()
    ).derive(master_key)


def normalise_for_index(value: str) -> str:
    """What counts as 'the same value' for an exact lookup: NFKC, no spaces or dashes, lower."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-_")


def blind_index(index_key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of the normalised value, domain-separated by kind ('cnic', 'phone')."""
    message = kind.encode() + b"\x00" + normalise_for_index(value).encode("utf-8")
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()
