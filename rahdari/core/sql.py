"""SQL pieces the apps share."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection


def among(column: str, ids: Sequence[Any]) -> tuple[str, Any]:
    """``column`` among any number of ids as one parameter — a PostgreSQL array, a JSON
    array on SQLite (UUIDs as the 32 hex digits SQLite stores) — and that parameter:
    10,000 parameters cost more to send than the query to run, and SQLite allows at
    most 32,766."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", list(ids)
    values = [i.hex if isinstance(i, uuid.UUID) else i for i in ids]
    return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(values)  # noqa: S608
