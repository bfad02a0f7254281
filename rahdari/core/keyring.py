"""The key ring: data keys wrapped by the master key, cached per process.

`keyring().encrypt(...)` seals with the active key; `decrypt` opens a value with
whatever key it names, so values written before a rotation keep working until
`rahdari keys rotate` has re-encrypted them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from rahdari.core import crypto


class KeyRing:
    def __init__(self, master_key: bytes) -> None:
        self._master = master_key
        self._keys: dict[str, bytes] = {}
        self._active: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self.index_key = crypto.derive_key(master_key, "blind-index-v1")

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self._active = None

    def _load(self, key_id: str) -> bytes:
        from rahdari.core.models import DataKey

        key = self._keys.get(key_id)
        if key is not None:
            return key
        row = DataKey.objects.filter(key_id=key_id).first()
        if row is None or row.status == DataKey.Status.RETIRED:
            raise crypto.DecryptionError(f"data key {key_id} is unknown or retired")
        key = crypto.unwrap_key(self._master, key_id, bytes(row.wrapped_key))
        self._keys[key_id] = key
        return key

    def active_key_id(self) -> str:
        from rahdari.core.models import DataKey

        now = time.monotonic()
        if self._active and now - self._active[1] < active_key_ttl():
            return self._active[0]
        row = DataKey.objects.filter(status=DataKey.Status.ACTIVE).first()
        key_id = row.key_id if row else self.create_key(activate=True)
        self._active = (key_id, now)
        return key_id

    def create_key(self, *, activate: bool) -> str:
        """Add a data key; with activate, the previous active key becomes decrypt-only."""
        from rahdari.core.models import DataKey

        key_id = "k" + secrets.token_hex(4)
        data_key = crypto.new_data_key()
        wrapped = crypto.wrap_key(self._master, key_id, data_key)
        try:
            with transaction.atomic():
                if activate:
                    DataKey.objects.filter(status=DataKey.Status.ACTIVE).update(
                        status=DataKey.Status.DECRYPT_ONLY
                    )
                DataKey.objects.create(
                    key_id=key_id,
                    wrapped_key=wrapped,
                    status=DataKey.Status.ACTIVE if activate else DataKey.Status.DECRYPT_ONLY,
                )
        except IntegrityError:
            # Another process created the first active key at the same moment: use theirs.
            row = DataKey.objects.get(status=DataKey.Status.ACTIVE)
            return row.key_id
        self._keys[key_id] = data_key
        if activate:
            self._active = (key_id, time.monotonic())
        return key_id

    def retire(self, key_ids: list[str]) -> None:
        from rahdari.core.models import DataKey

        DataKey.objects.filter(key_id__in=key_ids).exclude(status=DataKey.Status.ACTIVE).update(
            status=DataKey.Status.RETIRED, retired_at=timezone.now()
        )
        for key_id in key_ids:
            self._keys.pop(key_id, None)

    def encrypt(self, plaintext: str, context: str) -> str:
        key_id = self.active_key_id()
        return crypto.encrypt(key_id, self._load(key_id), plaintext, context)

    def decrypt(self, token: str, context: str) -> str:
        return crypto.decrypt(self._load(crypto.key_id_of(token)), token, context)

    def encrypt_many(self, plaintexts: Iterable[str], context: str) -> list[str]:
        """Many values at once (batch jobs): the same tokens as :meth:`encrypt`, faster."""
        key_id = self.active_key_id()
        return crypto.encrypt_many(key_id, self._load(key_id), plaintexts, context)

    def decrypt_many(self, tokens: Iterable[str], context: str) -> list[str]:
        return crypto.decrypt_many(self._load, tokens, context)


def active_key_ttl() -> float:
    """How long a process keeps using the active key it read before looking again."""
    return float(getattr(settings, "RAHDARI_ACTIVE_KEY_TTL_SECONDS", 30))


@cache
def keyring() -> KeyRing:
    return KeyRing(settings.RAHDARI_MASTER_KEY)


def blind_index(kind: str, value: str) -> str:
    """The lookup key for an encrypted value (kind: 'cnic', 'phone', ...)."""
    return crypto.blind_index(keyring().index_key, kind, value)
