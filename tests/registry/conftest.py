"""Registry fixtures: a valid set of survey answers and a household built through the
services (members, one survey response)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from rahdari.registry import services
from rahdari.registry.models import Household, SurveyResponse
from rahdari.registry.survey import Value
from tests.conftest import districts_named
from tests.identity.conftest import registered  # noqa: F401 — a person the authority knows

ROUND_START = date(2025, 1, 15)


def answers(**overrides: Value) -> dict[str, Value]:
    """A poor rural household of six in Swat, as the survey recorded it."""
    base: dict[str, Value] = {
        "household_size": 6,
        "dependants": 3,
        "head_education_years": 5,
        "children_5_16": 3,
        "children_in_school": 2,
        "rooms": 2,
        "roof_material": "iron_sheet",
        "wall_material": "mud_brick",
        "toilet_type": "dry_pit",
        "water_source": "hand_pump",
        "cooking_fuel": "firewood",
        "has_tv": False,
        "has_fridge": False,
        "has_washing_machine": False,
        "has_motorcycle": True,
        "has_car": False,
        "has_air_conditioner": False,
        "land_acres": 1.25,
        "cattle": 2,
        "goats_sheep": 4,
        "electricity_bill_pkr": 1800,
        "phone_bill_pkr": 600,
        "has_disabled_member": True,
        "head_is_widow": False,
        "female_head": False,
        "government_employee_member": False,
        "member_travelled_abroad": False,
    }
    base.update(overrides)
    return base


# (relationship, sex, birth year, marital status, disability)
FAMILY = [
    ("head", "M", 1980, "married", False),
    ("spouse", "F", 1985, "married", False),
    ("daughter", "F", 2001, "divorced", False),  # 18+ and was married
    ("son", "M", 2012, "never_married", True),
    ("daughter", "F", 2014, "never_married", False),
    ("mother", "F", 1955, "widowed", False),
]


@pytest.fixture
def survey_round(db: Any) -> Any:
    return services.survey_round_ensure(code="NSER-2025", name="NSER 2025", started_on=ROUND_START)


@pytest.fixture
def make_household(survey_round: Any) -> Callable[..., Household]:
    counter = {"n": 0}

    def make(
        district: str = "Swat", members: list[tuple[Any, ...]] | None = None, **overrides: Value
    ) -> Household:
        counter["n"] += 1
        household = services.household_create(
            district=districts_named([district])[0],
            area="rural",
            tehsil="Babuzai",
            union_council="UC-12",
            village="Gul Kalay",
            village_ur="گل کلے",
            number=f"HH{counter['n']:010d}",
            actor=None,
        )
        for i, (relationship, sex, born, marital, disabled) in enumerate(members or FAMILY):
            services.household_member_add(
                household=household,
                data=services.MemberData(relationship, sex, born, marital, disabled),
                national_id=f"15202{counter['n']:04d}{i:03d}{2 if sex == 'F' else 1}",
                actor=None,
            )
        services.survey_response_record(
            household=household,
            round=survey_round,
            answers=answers(**overrides),
            source=SurveyResponse.Source.SURVEY,
            collected_on=date(2025, 7, 1),
            actor=None,
        )
        return household

    return make
