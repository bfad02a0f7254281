"""The survey layout as data: validation rules (table-driven), pack/unpack round trips."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rahdari.core import synthetic
from rahdari.registry import survey
from tests.registry.conftest import answers


def codes(problems: list[survey.Problem]) -> set[tuple[str, str]]:
    return {(p.variable, p.code) for p in problems}


def test_a_full_valid_survey_has_no_problem() -> None:
    assert survey.validate_answers(answers()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"household_size": 0}, {("household_size", "out_of_range")}),
        ({"household_size": 31}, {("household_size", "out_of_range")}),
        ({"household_size": 2.5}, {("household_size", "wrong_type")}),
        ({"household_size": "6"}, {("household_size", "wrong_type")}),
        ({"household_size": True}, {("household_size", "wrong_type")}),
        ({"rooms": -1}, {("rooms", "out_of_range")}),
        ({"land_acres": 10_000.5}, {("land_acres", "out_of_range")}),
        ({"land_acres": float("nan")}, {("land_acres", "wrong_type")}),
        ({"roof_material": "thatch"}, {("roof_material", "unknown_category")}),
        ({"roof_material": 2}, {("roof_material", "wrong_type")}),
        ({"has_tv": 1}, {("has_tv", "wrong_type")}),
        ({"camels": 3}, {("camels", "unknown_variable")}),
        ({"children_in_school": 4}, {("children_in_school", "inconsistent")}),
        ({"dependants": 7}, {("dependants", "inconsistent")}),
        ({"children_5_16": 7, "children_in_school": 0}, {("children_5_16", "inconsistent")}),
        ({"head_is_widow": True, "female_head": False}, {("head_is_widow", "inconsistent")}),
        # A widow of 70 living alone is her own household's one dependant: allowed.
        (
            {"household_size": 1, "dependants": 1, "children_5_16": 0, "children_in_school": 0},
            set(),
        ),
        ({"land_acres": 3}, set()),
    ],
)
def test_validation_names_each_problem(changes: dict[str, Any], expected: set[Any]) -> None:
    assert codes(survey.validate_answers(answers(**changes))) == expected


def test_every_problem_is_reported_at_once() -> None:
    given_answers = answers(household_size=0, roof_material="thatch", has_car="yes")
    del given_answers["rooms"]
    assert codes(survey.validate_answers(given_answers)) == {
        ("household_size", "out_of_range"),
        ("roof_material", "unknown_category"),
        ("has_car", "wrong_type"),
        ("rooms", "missing"),
    }


def test_partial_answers_are_checked_without_asking_for_the_rest() -> None:
    assert survey.validate_answers({"rooms": 3}, complete=False) == []
    assert codes(survey.validate_answers({"rooms": 99}, complete=False)) == {
        ("rooms", "out_of_range")
    }


def test_pack_gives_codes_in_layout_order_and_unpack_gives_them_back() -> None:
    packed = survey.pack(answers())
    assert len(packed) == len(survey.SURVEY_VARIABLES) == 27
    assert packed[0] == 6  # household_size comes first
    assert packed[survey.SURVEY_NAMES.index("roof_material")] == 2  # iron_sheet
    assert packed[survey.SURVEY_NAMES.index("has_motorcycle")] == 1
    assert packed[survey.SURVEY_NAMES.index("land_acres")] == 1.25
    assert survey.unpack(packed) == answers()
    with pytest.raises(ValueError):
        survey.unpack(packed[:-1])
    with pytest.raises(ValueError):
        survey.unpack(packed, layout_version=2)


def test_codes_are_the_documented_ones() -> None:
    """Programs code against these: the index in the tuple is the code."""
    assert survey.CATALOGUE["roof_material"].categories == synthetic.ROOF_MATERIALS
    assert survey.CATALOGUE["wall_material"].categories == synthetic.WALL_MATERIALS
    assert survey.CATALOGUE["toilet_type"].categories == synthetic.TOILET_TYPES
    assert survey.CATALOGUE["water_source"].categories == synthetic.WATER_SOURCES
    assert survey.CATALOGUE["cooking_fuel"].categories == synthetic.COOKING_FUELS
    assert survey.CATALOGUE["relationship"].categories == synthetic.RELATIONSHIPS
    assert survey.CATALOGUE["marital_status"].categories == synthetic.MARITAL_STATUSES
    assert survey.CATALOGUE["area"].categories == ("urban", "rural")
    assert survey.CATALOGUE["sex"].categories == ("M", "F", "X")
    assert survey.CATALOGUE["roof_material"].code_of("wood_mud") == 3
    assert {s.unit for s in survey.PERSON_VARIABLES} == {"person"}
    assert set(survey.CATALOGUE) >= {"ever_married_women", "members_with_disability", "age"}
    # Every survey variable is a column of the synthetic households.csv.
    assert set(survey.SURVEY_NAMES) <= set(synthetic.HOUSEHOLD_COLUMNS)


def test_text_answers_are_parsed_by_kind() -> None:
    texts = {"household_size": "6", "has_tv": "1", "land_acres": "2.50", "roof_material": "rcc"}
    parsed, problems = survey.parse_answers({**texts, "rooms": "two", "other": "x"})
    assert parsed == {
        "household_size": 6,
        "has_tv": True,
        "land_acres": 2.5,
        "roof_material": "rcc",
    }
    assert codes(problems) == {("rooms", "wrong_type")}


def _answer(spec: survey.VariableSpec) -> st.SearchStrategy[Any]:
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "category":
        return st.sampled_from(spec.categories)
    low, high = int(spec.minimum or 0), int(spec.maximum or 0)
    if spec.integer:
        return st.integers(low, high)
    return st.floats(low, high, allow_nan=False)


@given(st.fixed_dictionaries({s.name: _answer(s) for s in survey.SURVEY_VARIABLES}))
def test_pack_unpack_round_trip(values: dict[str, Any]) -> None:
    assert survey.unpack(survey.pack(values)) == values
