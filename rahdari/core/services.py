"""Core services: reference data and key rotation."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast, Left
from django.utils import timezone

from rahdari.core.audit import audit_record
from rahdari.core.fields import EncryptedTextField
from rahdari.core.jobs import JobContext, job_kind
from rahdari.core.keyring import active_key_ttl, keyring
from rahdari.core.models import DataKey, District

PACKAGED_DISTRICTS = Path(__file__).resolve().parent / "data" / "kp_districts.csv"
ROTATE_CHUNK = 2000


def districts_load(*, path: Path = PACKAGED_DISTRICTS, actor: Any = None) -> int:
    """Insert or update districts from a CSV (district,district_ur,division,merged_area,cnic_prefix)."""
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with transaction.atomic():
        for row in rows:
            District.objects.update_or_create(
                name=row["district"].strip(),
                defaults={
                    "name_ur": row["district_ur"].strip(),
                    "division": row["division"].strip(),
                    "merged_area": row["merged_area"].strip().lower() in {"yes", "true", "1"},
                    "cnic_prefix": row["cnic_prefix"].strip(),
                },
            )
        audit_record(
            actor=actor,
            action="core.districts_loaded",
            subject=("core.district", "*"),
            changes={"count": len(rows), "source": path.name},
        )
    return len(rows)


def encrypted_columns() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with encrypted fields, and those fields."""
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def _stale_rows(model: type[models.Model], field: str, active: str) -> models.QuerySet[Any]:
    prefix = f"v1.{active}."
    rows: models.QuerySet[Any] = (
        model._default_manager.annotate(
            _kid=Left(Cast(field, models.TextField()), len(prefix))  # raw, still encrypted
        )
        .exclude(**{field: ""})
        .exclude(**{f"{field}__isnull": True})
        .exclude(_kid=prefix)
    )
    return rows


def keys_rotate_start(*, actor: Any) -> str:
    """Make a new data key active now; old keys stay decrypt-only until the job re-encrypts."""
    with transaction.atomic():
        key_id = keyring().create_key(activate=True)
        audit_record(
            actor=actor, action="core.key_rotated", subject=("core.datakey", key_id), changes={}
        )
    return key_id


def _reencrypt_all(
    ctx: JobContext, columns: list[tuple[type[models.Model], list[str]]], active: str
) -> int:
    rewritten = 0
    for model, fields in columns:
        for field in fields:
            while True:
                with transaction.atomic():
                    chunk = list(_stale_rows(model, field, active).order_by("pk")[:ROTATE_CHUNK])
                    if not chunk:
                        break
                    # Loading decrypted with the old key; bulk_update seals with the active one.
                    model._default_manager.bulk_update(chunk, [field])
                    rewritten += len(chunk)
                    ctx.advance(
                        len(chunk),
                        {
                            "model": model._meta.label_lower,
                            "field": field,
                            "last_pk": str(chunk[-1].pk),
                        },
                        message=f"{model._meta.verbose_name}: {field}",
                    )
    return rewritten


@job_kind("core.keys_reencrypt")
def keys_reencrypt(ctx: JobContext) -> dict[str, Any]:
    """Re-encrypt every value not sealed with the active key, then retire the old keys.

    Only rows still on an old key are selected, so a resumed run continues where
    the last one stopped and never touches a row twice.
    """
    ring = keyring()
    ring.clear()
    active = ring.active_key_id()
    columns = encrypted_columns()
    total = sum(_stale_rows(m, f, active).count() for m, fields in columns for f in fields)
    ctx.set_total(ctx.job.done + total)
    rewritten = _reencrypt_all(ctx, columns, active)
    # Other processes may keep sealing with the previous key for up to one cache
    # period after the rotation: wait that long, sweep again, and only then retire.
    activated = DataKey.objects.get(key_id=active).created_at
    wait = (activated - timezone.now()).total_seconds() + 2 * active_key_ttl()
    if wait > 0:
        time.sleep(wait)
    rewritten += _reencrypt_all(ctx, columns, active)
    old = list(
        DataKey.objects.exclude(key_id=active)
        .exclude(status=DataKey.Status.RETIRED)
        .values_list("key_id", flat=True)
    )
    with transaction.atomic():
        ring.retire(old)
        audit_record(
            actor=None,
            action="core.keys_retired",
            subject=("core.datakey", active),
            changes={"retired": old, "rewritten": rewritten},
        )
    return {"active_key": active, "retired": old, "rewritten": rewritten}
