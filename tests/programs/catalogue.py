"""The variable catalogue the eligibility tests use, and tables built from synthetic batches.

The registry owns the production catalogue (``rahdari/registry``); this one
mirrors the contract agreed with it, so the pure engine can be tested alone.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rahdari.core import synthetic
from rahdari.programs.definition import VariableSpec, catalogue_of


def _count(name: str, maximum: float, minimum: float = 0) -> VariableSpec:
    return VariableSpec(name, "number", minimum=minimum, maximum=maximum)


def _flag(name: str, unit: str = "household") -> VariableSpec:
    return VariableSpec(name, "bool", unit="person" if unit == "person" else "household")


def _category(name: str, categories: tuple[str, ...], unit: str = "household") -> VariableSpec:
    return VariableSpec(
        name, "category", categories, unit="person" if unit == "person" else "household"
    )


CATALOGUE: Final = catalogue_of(
    [
        _count("household_size", 30, minimum=1),
        _count("dependants", 30),
        _count("head_education_years", 20),
        _count("children_5_16", 20),
        _count("children_in_school", 20),
        _count("rooms", 30),
        _category("roof_material", synthetic.ROOF_MATERIALS),
        _category("wall_material", synthetic.WALL_MATERIALS),
        _category("toilet_type", synthetic.TOILET_TYPES),
        _category("water_source", synthetic.WATER_SOURCES),
        _category("cooking_fuel", synthetic.COOKING_FUELS),
        _flag("has_tv"),
        _flag("has_fridge"),
        _flag("has_washing_machine"),
        _flag("has_motorcycle"),
        _flag("has_car"),
        _flag("has_air_conditioner"),
        _count("land_acres", 10_000),
        _count("cattle", 1_000),
        _count("goats_sheep", 5_000),
        _count("electricity_bill_pkr", 1_000_000),
        _count("phone_bill_pkr", 1_000_000),
        _flag("has_disabled_member"),
        _flag("head_is_widow"),
        _flag("female_head"),
        _flag("government_employee_member"),
        _flag("member_travelled_abroad"),
        _category("area", ("urban", "rural")),
        _count("ever_married_women", 30),
        _count("members_with_disability", 30),
        VariableSpec("age", "number", minimum=0, maximum=120, unit="person"),
        _category("sex", ("M", "F", "X"), unit="person"),
        _category("marital_status", synthetic.MARITAL_STATUSES, unit="person"),
        _category("relationship", synthetic.RELATIONSHIPS, unit="person"),
        _flag("has_disability", unit="person"),
    ]
)
"""The registry's variables, as agreed in the issue "Social registry and eligibility"."""

INTEGER_VARIABLES: Final = frozenset(
    name for name, spec in CATALOGUE.items() if spec.kind == "number" and name != "land_acres"
)
"""Number variables that only take whole values (for generating realistic rows)."""


def category_codes(name: str, values: npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """Category names -> codes into the catalogue's categories (every value must be known)."""
    categories = CATALOGUE[name].categories
    codes = np.full(values.shape[0], -1, dtype=np.int16)
    for code, category in enumerate(categories):
        codes[values == category] = code
    if values.shape[0] and codes.min() < 0:
        raise ValueError(f"{name}: values outside {categories}")
    return codes


def ages_at(dates_of_birth: npt.NDArray[np.datetime64], on: np.datetime64) -> npt.NDArray[np.int64]:
    """Completed years of age on ``on`` (a birthday on that day counts)."""

    def year_and_day(days: npt.NDArray[np.datetime64]) -> tuple[npt.NDArray[np.int64], ...]:
        months = days.astype("datetime64[M]")
        month_day = months.astype(np.int64) % 12 * 100 + (days - months).astype(np.int64)
        return days.astype("datetime64[Y]").astype(np.int64), month_day

    birth_year, birth_day = year_and_day(dates_of_birth.astype("datetime64[D]"))
    year, day = year_and_day(np.array([on], dtype="datetime64[D]"))
    age: npt.NDArray[np.int64] = year - birth_year - (birth_day > day)
    return age


def household_table(batch: synthetic.SyntheticBatch) -> dict[str, npt.NDArray[Any]]:
    """A household-target table from a synthetic batch (what the registry will build from its rows)."""
    households, persons = batch.households, batch.persons
    table: dict[str, npt.NDArray[Any]] = {}
    for name, spec in CATALOGUE.items():
        if spec.unit == "person" or name not in households:
            continue
        column = households[name]
        table[name] = category_codes(name, column) if spec.kind == "category" else column
    size = households["household_size"]
    member_of = np.repeat(np.arange(size.shape[0]), size)
    if member_of.shape[0] != persons["sex"].shape[0]:
        raise ValueError("persons are not grouped by household in household order")
    age = ages_at(persons["date_of_birth"], synthetic.REFERENCE_DATE)
    ever_married = np.isin(persons["marital_status"], ["married", "widowed", "divorced"])
    woman = (persons["sex"] == "F") & (age >= 18) & ever_married
    table["ever_married_women"] = np.bincount(
        member_of, weights=woman, minlength=size.shape[0]
    ).astype(np.int64)
    # The synthetic registry records a disability per household, not per member.
    table["members_with_disability"] = households["has_disabled_member"].astype(np.int64)
    return table


def person_table(batch: synthetic.SyntheticBatch) -> dict[str, npt.NDArray[Any]]:
    """A person-target table: each member's own facts next to their household's."""
    households, persons = batch.households, batch.persons
    member_of = np.repeat(
        np.arange(households["household_size"].shape[0]), households["household_size"]
    )
    table = {name: column[member_of] for name, column in household_table(batch).items()}
    table["age"] = ages_at(persons["date_of_birth"], synthetic.REFERENCE_DATE)
    for name in ("sex", "marital_status", "relationship"):
        table[name] = category_codes(name, persons[name])
    table["has_disability"] = np.asarray(persons["has_disability"], dtype=np.bool_)
    return table
