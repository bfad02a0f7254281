"""The household survey as data: which answers exist, their kinds, ranges and codes.

Pure Python, no Django. The socio-economic answers of one household are stored
packed, as a JSON list in the order of ``SURVEY_VARIABLES`` (layout version
``LAYOUT_VERSION``): categories as their index in ``categories``, booleans as
0/1, numbers as they are. Programs code against the names and category codes
here, so a new variable is appended (a new layout version), never inserted.

Example: ``pack({"household_size": 6, "roof_material": "iron_sheet", ...})``
gives ``[6, ..., 2, ...]``; ``unpack`` gives the mapping back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Kind = Literal["number", "bool", "category"]
Unit = Literal["household", "person"]
Value = int | float | bool | str

LAYOUT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """One question. Example: ``roof_material``, a category of the household with
    codes 0 ``rcc`` … 3 ``wood_mud``; ``land_acres``, a (decimal) number 0–10,000."""

    name: str
    kind: Kind
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: Unit = "household"
    label_en: str = ""
    integer: bool = True  # numbers only: whole numbers (counts, rupees) or decimals

    def code_of(self, category: str) -> int:
        """The code of a category (its index); ValueError for an unknown one."""
        return self.categories.index(category)


def _int(name: str, low: int, high: int, label: str, unit: Unit = "household") -> VariableSpec:
    return VariableSpec(name, "number", (), low, high, unit, label)


def _bool(name: str, label: str, unit: Unit = "household") -> VariableSpec:
    return VariableSpec(name, "bool", (), None, None, unit, label)


def _cat(name: str, codes: tuple[str, ...], label: str, unit: Unit = "household") -> VariableSpec:
    return VariableSpec(name, "category", codes, None, None, unit, label)


ROOF_MATERIALS: Final = ("rcc", "t_iron_girder", "iron_sheet", "wood_mud")
WALL_MATERIALS: Final = ("burnt_brick", "stone", "mud_brick", "wood_bamboo")
TOILET_TYPES: Final = ("flush_sewer", "flush_septic", "flush_open_drain", "dry_pit", "none")
WATER_SOURCES: Final = ("tap", "motor_pump", "hand_pump", "dug_well", "spring", "surface_water")
COOKING_FUELS: Final = ("natural_gas", "lpg", "firewood", "dung_cake", "crop_residue")
AREAS: Final = ("urban", "rural")
SEXES: Final = ("M", "F", "X")
MARITAL_STATUSES: Final = ("never_married", "married", "widowed", "divorced")
RELATIONSHIPS: Final = (
    "head",
    "spouse",
    "son",
    "daughter",
    "father",
    "mother",
    "daughter_in_law",
    "grandchild",
    "other",
)

SURVEY_VARIABLES: Final[tuple[VariableSpec, ...]] = (
    _int("household_size", 1, 30, "Members of the household"),
    _int("dependants", 0, 30, "Members under 15 or 65 and over"),
    _int("head_education_years", 0, 20, "Years of schooling of the head"),
    _int("children_5_16", 0, 20, "Children aged 5 to 16"),
    _int("children_in_school", 0, 20, "Children aged 5 to 16 in school"),
    _int("rooms", 0, 30, "Rooms the household lives in"),
    _cat("roof_material", ROOF_MATERIALS, "Main roof material"),
    _cat("wall_material", WALL_MATERIALS, "Main wall material"),
    _cat("toilet_type", TOILET_TYPES, "Toilet"),
    _cat("water_source", WATER_SOURCES, "Main drinking water"),
    _cat("cooking_fuel", COOKING_FUELS, "Main cooking fuel"),
    _bool("has_tv", "Owns a television"),
    _bool("has_fridge", "Owns a refrigerator"),
    _bool("has_washing_machine", "Owns a washing machine"),
    _bool("has_motorcycle", "Owns a motorcycle"),
    _bool("has_car", "Owns a car"),
    _bool("has_air_conditioner", "Owns an air conditioner"),
    VariableSpec(
        "land_acres", "number", (), 0, 10_000, "household", "Agricultural land, acres", False
    ),
    _int("cattle", 0, 1_000, "Cows and buffaloes"),
    _int("goats_sheep", 0, 5_000, "Goats and sheep"),
    _int("electricity_bill_pkr", 0, 1_000_000, "Last monthly electricity bill, rupees"),
    _int("phone_bill_pkr", 0, 1_000_000, "Monthly mobile phone spending, rupees"),
    _bool("has_disabled_member", "A member lives with a disability"),
    _bool("head_is_widow", "The head is a widow"),
    _bool("female_head", "The head is a woman"),
    _bool("government_employee_member", "A member is a government employee"),
    _bool("member_travelled_abroad", "A member travelled abroad"),
)

# Where the household lives: kept on the household row, not among the answers.
HOUSEHOLD_ATTRIBUTES: Final[tuple[VariableSpec, ...]] = (_cat("area", AREAS, "Urban or rural"),)

# Computed from the active members (``registry.selectors.household_table``), never asked.
DERIVED: Final[tuple[VariableSpec, ...]] = (
    _int("ever_married_women", 0, 30, "Women aged 18 or more who are or were married"),
    _int("members_with_disability", 0, 30, "Members living with a disability"),
)

PERSON_VARIABLES: Final[tuple[VariableSpec, ...]] = (
    _int("age", 0, 120, "Age in years", "person"),
    _cat("sex", SEXES, "Sex", "person"),
    _cat("marital_status", MARITAL_STATUSES, "Marital status", "person"),
    _cat("relationship", RELATIONSHIPS, "Relationship to the head", "person"),
    _bool("has_disability", "Lives with a disability", "person"),
)

CATALOGUE: Final[Mapping[str, VariableSpec]] = MappingProxyType(
    {
        spec.name: spec
        for spec in (*SURVEY_VARIABLES, *HOUSEHOLD_ATTRIBUTES, *DERIVED, *PERSON_VARIABLES)
    }
)
SURVEY: Final[Mapping[str, VariableSpec]] = MappingProxyType(
    {spec.name: spec for spec in SURVEY_VARIABLES}
)
SURVEY_NAMES: Final[tuple[str, ...]] = tuple(spec.name for spec in SURVEY_VARIABLES)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an answer was refused. ``code`` is stable: ``unknown_variable``, ``missing``,
    ``wrong_type``, ``out_of_range``, ``unknown_category``, ``inconsistent``."""

    variable: str
    code: str
    detail: str


def _type_problem(spec: VariableSpec, value: object) -> Problem | None:
    if spec.kind == "bool":
        if not isinstance(value, bool):
            return Problem(spec.name, "wrong_type", "expected true or false")
        return None
    if spec.kind == "category":
        if not isinstance(value, str):
            return Problem(spec.name, "wrong_type", "expected one of the category names")
        if value not in spec.categories:
            return Problem(
                spec.name, "unknown_category", f"expected one of {', '.join(spec.categories)}"
            )
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Problem(spec.name, "wrong_type", "expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        return Problem(spec.name, "wrong_type", "expected a finite number")
    if spec.integer and isinstance(value, float) and not value.is_integer():
        return Problem(spec.name, "wrong_type", "expected a whole number")
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        return Problem(spec.name, "out_of_range", f"expected {spec.minimum:g} to {spec.maximum:g}")
    return None


def _number(answers: Mapping[str, object], name: str) -> float:
    value = answers[name]
    assert isinstance(value, int | float)
    return float(value)


# Rules across answers: (filed under, the answers it reads, broken when, explanation).
# A rule is checked only when every answer it reads is present and valid by itself.
CONSISTENCY_RULES: Final[
    tuple[tuple[str, tuple[str, ...], Callable[[Mapping[str, object]], bool], str], ...]
] = (
    # A widow of 70 living alone is her household's one dependant: dependants may
    # equal the size (0.2% of the synthetic registry), never exceed it.
    (
        "dependants",
        ("dependants", "household_size"),
        lambda a: _number(a, "dependants") > _number(a, "household_size"),
        "more dependants than household members",
    ),
    (
        "children_5_16",
        ("children_5_16", "household_size"),
        lambda a: _number(a, "children_5_16") > _number(a, "household_size"),
        "more children than household members",
    ),
    (
        "children_in_school",
        ("children_in_school", "children_5_16"),
        lambda a: _number(a, "children_in_school") > _number(a, "children_5_16"),
        "more children in school than children aged 5 to 16",
    ),
    (
        "head_is_widow",
        ("head_is_widow", "female_head"),
        lambda a: a["head_is_widow"] is True and a["female_head"] is False,
        "a widowed head is a female head",
    ),
)


def validate_answers(answers: Mapping[str, object], *, complete: bool = True) -> list[Problem]:
    """Every problem with these answers at once (empty list: all good).

    ``complete``: every survey variable must be answered (a full survey); without
    it only the answers given are checked (a partial update merged later).
    """
    problems: list[Problem] = []
    for name, value in answers.items():
        spec = SURVEY.get(name)
        if spec is None:
            problems.append(Problem(name, "unknown_variable", "not a survey variable"))
            continue
        problem = _type_problem(spec, value)
        if problem is not None:
            problems.append(problem)
    if complete:
        problems += [
            Problem(name, "missing", "not answered") for name in SURVEY_NAMES if name not in answers
        ]
    bad = {p.variable for p in problems}
    for filed_under, reads, broken, detail in CONSISTENCY_RULES:
        if all(name in answers and name not in bad for name in reads) and broken(answers):
            problems.append(Problem(filed_under, "inconsistent", detail))
    return problems


_TRUE: Final = frozenset({"1", "true", "yes", "y", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "off"})


def parse_text(spec: VariableSpec, text: str) -> Value:
    """An answer given as text (a CSV cell, a form field) as its typed value.

    Raises ValueError when the text is not of the variable's kind; the range and
    the category are left to :func:`validate_answers`.
    """
    text = text.strip()
    if spec.kind == "bool":
        folded = text.lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise ValueError("expected 0 or 1")
    if spec.kind == "category":
        return text
    if spec.integer:
        return int(text)
    number = float(text)
    return int(number) if number.is_integer() else number


def parse_answers(texts: Mapping[str, str]) -> tuple[dict[str, Value], list[Problem]]:
    """Typed answers from text, and a problem for every cell that is not of its kind.
    Names that are not survey variables are left out (a CSV row has other columns)."""
    answers: dict[str, Value] = {}
    problems: list[Problem] = []
    for spec in SURVEY_VARIABLES:
        text = texts.get(spec.name)
        if text is None or not text.strip():
            continue
        try:
            answers[spec.name] = parse_text(spec, text)
        except ValueError:
            kind = "a whole number" if spec.integer else "a number"
            expected = {"bool": "0 or 1", "number": kind}.get(spec.kind, "a category")
            problems.append(Problem(spec.name, "wrong_type", f"expected {expected}"))
    return answers, problems


def pack(answers: Mapping[str, Value]) -> list[int | float]:
    """The answers in layout order: categories as codes, booleans as 0/1.

    Every survey variable must be present and valid (``validate_answers`` first).
    """
    packed: list[int | float] = []
    for spec in SURVEY_VARIABLES:
        value = answers[spec.name]
        if spec.kind == "category":
            packed.append(spec.categories.index(str(value)))
        elif spec.kind == "bool":
            packed.append(1 if value else 0)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{spec.name}: expected a number")
        else:
            packed.append(int(value) if spec.integer else float(value))
    return packed


def unpack(packed: Sequence[int | float], layout_version: int = LAYOUT_VERSION) -> dict[str, Value]:
    """The mapping back from a packed list (names, category names, booleans)."""
    if layout_version != LAYOUT_VERSION:
        raise ValueError(f"unknown survey layout version {layout_version}")
    if len(packed) != len(SURVEY_VARIABLES):
        raise ValueError(f"expected {len(SURVEY_VARIABLES)} answers, got {len(packed)}")
    answers: dict[str, Value] = {}
    for spec, raw in zip(SURVEY_VARIABLES, packed, strict=True):
        if spec.kind == "category":
            answers[spec.name] = spec.categories[int(raw)]
        elif spec.kind == "bool":
            answers[spec.name] = bool(raw)
        else:
            answers[spec.name] = int(raw) if spec.integer else float(raw)
    return answers
