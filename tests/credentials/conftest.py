"""Credential fixtures: enrolled, active persons (their credential issued by the event)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from PIL import Image, ImageDraw

from rahdari.accounts.roles import Role
from rahdari.identity.models import Person
from tests.identity.conftest import enrol, registered  # noqa: F401 — fixture re-export

NAMES = ["Gul Bibi", "Shazia", "Nasreen", "Zarmina", "Palwasha", "Mehwish", "Bushra", "Farzana"]
FAMILIES = ["Yousafzai", "Afridi", "Khattak", "Marwat", "Durrani", "Mohmand"]
GUARDIANS = ["Sher Khan", "Akbar Ali", "Noor Zaman", "Fazal Rahim"]


def face_jpeg() -> bytes:
    """A small synthetic face-like JPEG (an oval with eyes), enough for a thumbnail."""
    image = Image.new("RGB", (240, 300), (200, 170, 140))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 30, 200, 270), fill=(225, 190, 160), outline=(90, 60, 40), width=4)
    draw.ellipse((80, 110, 110, 130), fill=(40, 30, 20))
    draw.ellipse((130, 110, 160, 130), fill=(40, 30, 20))
    draw.arc((90, 180, 150, 220), 0, 180, fill=(120, 40, 40), width=5)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
def officer(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.ENROLMENT_OFFICER, ["Swat"])


@pytest.fixture
def active_person(
    registered: Callable[..., Any],  # noqa: F811
    officer: Any,
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., Person]:
    """Enrol and approve a person; the enrolment event issues the credential."""

    count = {"n": 0}

    def make(**overrides: Any) -> Person:
        photo = overrides.pop("photo", True)
        n = count["n"] = count["n"] + 1
        first, family = NAMES[(n - 1) % len(NAMES)], FAMILIES[(n - 1) // len(NAMES)]
        overrides.setdefault("full_name", f"{first} {family}")
        overrides.setdefault("guardian_name", f"{GUARDIANS[n % len(GUARDIANS)]} {family}")
        overrides.setdefault("date_of_birth", date(1970 + n, 1 + n % 12, 1 + n % 28))
        data = registered(full_name_ur=overrides.pop("full_name_ur", "گل بی بی"), **overrides)
        if photo:
            data.photo = face_jpeg()
        with django_capture_on_commit_callbacks(execute=True):
            enrolment = enrol(data, officer)
        person = Person.objects.select_related("district").get(pk=enrolment.person_id)
        assert person.status == "active", enrolment.verification
        return person

    return make
