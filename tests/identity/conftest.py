"""Identity fixtures: a person as the national ID authority knows them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from rahdari.core.keyring import blind_index
from rahdari.identity import services
from rahdari.identity.models import NationalIdRecord
from tests.conftest import districts_named


@pytest.fixture
def registered(db: Any) -> Callable[..., services.PersonData]:
    """Put a person into the authority's reference register and return matching form data."""
    counter = {"n": 0}

    def make(**overrides: Any) -> services.PersonData:
        counter["n"] += 1
        n = counter["n"]
        sex = overrides.pop("sex", "F")
        last = 2 if sex == "F" else 1
        data = services.PersonData(
            national_id=overrides.pop("national_id", f"15202{n:07d}{last}"),
            id_document="cnic",
            full_name=overrides.pop("full_name", f"Gul Bibi Yousafzai {chr(64 + n)}"),
            full_name_ur=overrides.pop("full_name_ur", ""),
            guardian_name=overrides.pop("guardian_name", f"Sher Khan {n}"),
            guardian_name_ur="",
            date_of_birth=overrides.pop("date_of_birth", date(1986, 3, 14)),
            sex=sex,
            mobile=overrides.pop("mobile", f"+92345{n:07d}"),
            district=districts_named([overrides.pop("district", "Swat")])[0],
            tehsil="Babuzai",
            village="Mingora",
        )
        for key, value in overrides.items():
            setattr(data, key, value)
        NationalIdRecord.objects.create(
            national_id_index=blind_index("cnic", data.national_id),
            national_id=data.national_id,
            full_name=data.full_name,
            full_name_ur=data.full_name_ur,
            guardian_name=data.guardian_name,
            date_of_birth=data.date_of_birth.isoformat(),
            sex=data.sex,
            district=data.district.name,
        )
        return data

    return make


def enrol(data: services.PersonData, officer: Any, **kw: Any) -> Any:
    return services.person_enrol(
        data=data,
        channel=kw.pop("channel", "assisted"),
        consent_purpose="purpose text shown",
        consent_language="ur",
        actor=officer,
        **kw,
    )
