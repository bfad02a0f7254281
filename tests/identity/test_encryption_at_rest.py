"""A person's record in the raw database: no ID number, name, phone, birth date or village."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from PIL import Image

from rahdari.accounts.roles import Role
from rahdari.identity.models import Person
from tests.core.test_encryption_at_rest import _raw_dump
from tests.identity.conftest import enrol


@pytest.mark.django_db
def test_person_record_is_encrypted_at_rest(registered: Any, make_staff: Any) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(photo, format="PNG")
    data = registered(
        national_id="15202-7654321-2",
        full_name="Zarmina Durrani",
        full_name_ur="زرمینہ درانی",
        guardian_name="Faizullah Durrani",
        date_of_birth=date(1979, 11, 23),
        mobile="+923219876543",
        photo=photo.getvalue(),
    )
    data.village = "Qambar Kalay"
    person = Person.objects.get(
        pk=enrol(data, make_staff(Role.ENROLMENT_OFFICER, ["Swat"])).person_id
    )
    dump = _raw_dump()
    assert person.rahdari_number in dump  # the dump has the row (the number is not secret)
    for needle in (
        "7654321",
        "Zarmina",
        "زرمینہ",
        "Faizullah",
        "1979-11-23",
        "3219876543",
        "Qambar",
    ):
        assert needle not in dump, needle
