"""The column tables targeting computes on: every survey column, derived counts from the
members, the person table, and the encryption of answers at rest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from rahdari.registry import selectors, services, survey
from rahdari.registry.models import Household
from tests.registry.conftest import answers

pytestmark = pytest.mark.django_db


def test_household_table_columns_and_derived_values(make_household: Any) -> None:
    swat = make_household()
    mardan = make_household(district="Mardan", has_tv=True, land_acres=0.5)
    services.household_member_update(
        member=swat.members.get(member_no=6), changes={"active": False}, actor=None, reason="died"
    )
    empty = services.household_create(district=swat.district, area="urban", actor=None)
    table = selectors.household_table()
    assert table["household_id"].tolist() == [str(swat.pk), str(mardan.pk)]  # not `empty`
    assert str(empty.pk) not in table["household_id"].tolist()
    assert table["number"].tolist() == ["HH0000000001", "HH0000000002"]
    assert table["district_id"].tolist() == [swat.district_id, mardan.district_id]
    assert table["area"].tolist() == [survey.AREAS.index("rural")] * 2
    for spec in survey.SURVEY_VARIABLES:
        column = table[spec.name]
        assert column.shape == (2,), spec.name
        expected = {"category": np.int16, "bool": np.bool_}.get(
            spec.kind, np.int64 if spec.integer else np.float64
        )
        assert column.dtype == expected, spec.name
    assert table["roof_material"].tolist() == [2, 2]  # iron_sheet
    assert table["has_tv"].tolist() == [False, True]
    assert table["land_acres"].tolist() == [1.25, 0.5]
    assert table["electricity_bill_pkr"].tolist() == [1800, 1800]
    # Ever-married women 18+: the wife and the divorced daughter; the widowed mother
    # left the Swat household (inactive), so only Mardan counts her.
    assert table["ever_married_women"].tolist() == [2, 3]
    assert table["members_with_disability"].tolist() == [1, 1]

    only_mardan = selectors.household_table(district=mardan.district)
    assert only_mardan["household_id"].tolist() == [str(mardan.pk)]
    assert only_mardan["ever_married_women"].tolist() == [3]
    subset = selectors.household_table(households=Household.objects.filter(pk=swat.pk))
    assert subset["number"].tolist() == ["HH0000000001"]
    assert selectors.household_table(households=[mardan.pk])["number"].tolist() == ["HH0000000002"]
    assert selectors.household_table(households=[])["household_id"].shape == (0,)


def test_table_follows_the_current_version(make_household: Any) -> None:
    household = make_household()
    services.survey_answers_update(
        household=household,
        changes={"rooms": 5},
        source="officer_update",
        actor=None,
        reason="extension built",
    )
    table = selectors.household_table()
    assert table["rooms"].tolist() == [5]


def test_person_table_points_at_household_rows(make_household: Any) -> None:
    first = make_household()
    second = make_household(district="Mardan", members=[("head", "F", 1950, "widowed", True)])
    table = selectors.household_table()
    persons = selectors.person_table(table=table)
    assert persons["household_row"].tolist() == [0] * 6 + [1]
    assert persons["sex"].tolist() == [0, 1, 1, 0, 1, 1, 1]
    this_year = timezone.localdate().year
    assert persons["age"].tolist()[0] == this_year - 1980
    assert persons["relationship"].tolist()[:4] == [0, 1, 3, 2]  # head, spouse, daughter, son
    assert persons["marital_status"].tolist()[-1] == survey.MARITAL_STATUSES.index("widowed")
    assert persons["has_disability"].tolist() == [False, False, False, True, False, False, True]
    assert persons["person_id"].tolist() == [""] * 7
    # A household column for each person, by index.
    assert table["district_id"][persons["household_row"]].tolist() == [first.district_id] * 6 + [
        second.district_id
    ]
    assert selectors.person_table(district=second.district)["household_row"].tolist() == [0]


def test_answers_and_village_are_encrypted_at_rest(make_household: Any) -> None:
    household = make_household(electricity_bill_pkr=48271)
    with connection.cursor() as cursor:
        cursor.execute("SELECT answers FROM registry_surveyresponse")
        (raw_answers,) = cursor.fetchone()
        cursor.execute(
            "SELECT village, village_ur FROM registry_household WHERE number = %s",
            [household.number],
        )
        village, village_ur = cursor.fetchone()
    assert raw_answers.startswith("v1.") and village.startswith("v1.")
    assert village_ur.startswith("v1.")
    assert "48271" not in raw_answers and "[" not in raw_answers
    assert "Gul" not in village and "گل" not in village_ur
    assert services.unpack_answers(household.responses.get()) == answers(electricity_bill_pkr=48271)
