"""Object-level permissions (django-rules): an officer acts only in their districts."""

from __future__ import annotations

from typing import Any

import rules

from rahdari.core.models import District


def _district_id(obj: Any) -> int | None:
    if isinstance(obj, District):
        return obj.pk
    return getattr(obj, "district_id", None)


@rules.predicate  # type: ignore[attr-defined, untyped-decorator]
def covers_district(user: Any, obj: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_citizen", True):
        return False
    if user.all_districts:
        return True
    district_id = _district_id(obj)
    if district_id is None:
        return False
    return bool(user.districts.filter(pk=district_id).exists())


rules.add_perm("accounts.act_in_district", covers_district)  # type: ignore[attr-defined, no-untyped-call]
