"""EncryptedTextField: AES-256-GCM at rest, transparent to the code that uses it."""

from __future__ import annotations

from typing import Any

from django.db import models


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Stores `v1.<key id>.<sealed>`; reads give back the plaintext.

    Encrypted values cannot be searched or ordered by the database: give the
    model a blind-index column (`rahdari.core.keyring.blind_index`) for exact
    lookups.
    """

    def context(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        from rahdari.core.keyring import keyring

        return keyring().decrypt(value, self.context())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        from rahdari.core.keyring import keyring

        return keyring().encrypt(str(value), self.context())
