"""Program definitions: the seeded programs, and every kind of mistake an officer can make.

Database-free.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rahdari.programs.definition import (
    PROBLEM_CODES,
    SEEDED_PROGRAMS,
    CategoryTerm,
    DefinitionError,
    LinearTerm,
    ProgramDefinition,
    VariableSpec,
    catalogue_of,
    definition_load,
    definition_validate,
    required_variables,
    seeded_definition,
    upper_bound,
)
from tests.programs.catalogue import CATALOGUE

_STEP = re.compile(r"([A-Za-z_]+)|\[(\d+)\]")


def _set(data: dict[str, Any], path: str, value: object) -> None:
    """Set ``pmt.regions[1].terms[3].variable`` (the problems' own path syntax) in ``data``."""
    steps: list[str | int] = [
        name if name else int(index) for name, index in _STEP.findall(path.replace(".", " "))
    ]
    target: Any = data
    for step in steps[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[steps[-1]]
    else:
        target[steps[-1]] = value


_DELETE = object()
_TEXT = {"en": "A rule", "ur": "ایک قاعدہ", "ps": "یو قاعده"}
_SAVINGS = catalogue_of([*CATALOGUE.values(), VariableSpec("savings_pkr", "number", minimum=0)])

# (name, program, {path: new value}, expected code, expected path[, catalogue])
BAD: list[tuple[str, str, dict[str, object], str, str]] = [
    # Unknown variables, wherever they are named.
    ("term variable", "cash-transfer", {"pmt.regions[0].terms[0].variable": "income"},
     "unknown_variable", "pmt.regions[0].terms[0].variable"),
    ("criterion variable", "cash-transfer", {"criteria[0].all[0].variable": "income"},
     "unknown_variable", "criteria[0].all[0].variable"),
    ("category cut-off variable", "cash-transfer", {"category_cutoffs[0].when.variable": "x"},
     "unknown_variable", "category_cutoffs[0].when.variable"),
    ("benefit variable", "school-top-up", {"benefit.per_unit[0].variable": "pupils"},
     "unknown_variable", "benefit.per_unit[0].variable"),
    ("region variable", "cash-transfer", {"pmt.region_variable": "province"},
     "unknown_variable", "pmt.region_variable"),
    # Wrong kinds.
    ("category term on a number", "cash-transfer",
     {"pmt.regions[0].terms[6].variable": "electricity_bill_pkr"},
     "variable_kind", "pmt.regions[0].terms[6].variable"),
    ("linear term on a category", "cash-transfer", {"pmt.regions[1].terms[0].variable": "area"},
     "variable_kind", "pmt.regions[1].terms[0].variable"),
    ("per_member on a category term", "cash-transfer",
     {"pmt.regions[1].terms[7].per_member": True},
     "unknown_field", "pmt.regions[1].terms[7].per_member"),
    ("per_member on a yes/no answer", "cash-transfer",
     {"pmt.regions[0].terms[11].per_member": True},
     "variable_kind", "pmt.regions[0].terms[11].per_member"),
    ("region variable not a category", "cash-transfer", {"pmt.region_variable": "has_tv"},
     "variable_kind", "pmt.region_variable"),
    ("size variable not a number", "cash-transfer", {"pmt.size_variable": "area"},
     "variable_kind", "pmt.size_variable"),
    ("per unit of a category", "school-top-up", {"benefit.per_unit[0].variable": "area"},
     "variable_kind", "benefit.per_unit[0].variable"),
    ("points for an unknown answer", "cash-transfer",
     {"pmt.regions[0].terms[6].points.concrete": 3.0},
     "unknown_category", "pmt.regions[0].terms[6].points.concrete"),
    ("condition on an unknown answer", "cash-transfer",
     {"exclusions[0].any[0]": {"variable": "cooking_fuel", "op": "in", "value": ["lpg", "gas"]}},
     "unknown_category", "exclusions[0].any[0].value[1]"),
    ("condition equal to an unknown answer", "cash-transfer",
     {"exclusions[0].any[0]": {"variable": "area", "op": "==", "value": "city"}},
     "unknown_category", "exclusions[0].any[0].value"),
    ("yes/no compared with <", "cash-transfer", {"exclusions[2].any[0].op": "<"},
     "operator_kind", "exclusions[2].any[0].op"),
    ("category compared with >=", "cash-transfer",
     {"exclusions[0].any[0]": {"variable": "area", "op": ">=", "value": "urban"}},
     "operator_kind", "exclusions[0].any[0].op"),
    ("number compared with in", "cash-transfer", {"criteria[0].all[0].op": "in"},
     "operator_kind", "criteria[0].all[0].op"),
    ("yes/no compared with 1", "cash-transfer", {"exclusions[2].any[0].value": 1},
     "value_type", "exclusions[2].any[0].value"),
    ("number compared with text", "cash-transfer", {"exclusions[3].any[0].value": "5000"},
     "value_type", "exclusions[3].any[0].value"),
    ("in with one text", "cash-transfer",
     {"exclusions[0].any[0]": {"variable": "area", "op": "in", "value": "urban"}},
     "value_type", "exclusions[0].any[0].value"),
    ("list of numbers", "cash-transfer", {"criteria[0].all[0].value": [1, 2]},
     "value_type", "criteria[0].all[0].value"),
    # Cut-offs.
    ("cut-off zero", "cash-transfer", {"cutoff": 0}, "cutoff_range", "cutoff"),
    ("cut-off negative", "cash-transfer", {"cutoff": -5.0}, "cutoff_range", "cutoff"),
    ("cut-off above 100", "cash-transfer", {"cutoff": 100.5}, "cutoff_range", "cutoff"),
    ("category cut-off zero", "cash-transfer", {"category_cutoffs[0].cutoff": 0},
     "cutoff_range", "category_cutoffs[0].cutoff"),
    ("category cut-off above 100", "cash-transfer", {"category_cutoffs[0].cutoff": 101},
     "cutoff_range", "category_cutoffs[0].cutoff"),
    ("category cut-off below main", "cash-transfer", {"category_cutoffs[0].cutoff": 30},
     "cutoff_ineffective", "category_cutoffs[0].cutoff"),
    # Regions.
    ("overlapping regions", "cash-transfer", {"pmt.regions[1].values": ["rural", "urban"]},
     "region_overlap", "pmt.regions[1].values[1]"),
    ("uncovered region value", "cash-transfer", {"pmt.regions[1]": _DELETE},
     "region_gap", "pmt.regions"),
    ("region value not a category", "cash-transfer",
     {"pmt.regions[0].values": ["urban", "peri_urban"]},
     "unknown_category", "pmt.regions[0].values[1]"),
    ("duplicate region name", "cash-transfer", {"pmt.regions[1].name": "urban"},
     "duplicate_id", "pmt.regions[1].name"),
    ("variable scored twice", "cash-transfer",
     {"pmt.regions[0].terms[1].variable": "household_size"},
     "duplicate_term", "pmt.regions[0].terms[1].variable"),
    # Ids.
    ("duplicate exclusion id", "cash-transfer", {"exclusions[1].id": "government_employee"},
     "duplicate_id", "exclusions[1].id"),
    ("exclusion id of a criterion", "cash-transfer", {"exclusions[0].id": "ever_married_woman"},
     "duplicate_id", "exclusions[0].id"),
    # Benefit.
    ("negative base", "cash-transfer", {"benefit.base": -1}, "benefit_negative", "benefit"),
    ("negative cap", "cash-transfer", {"benefit.cap": -1}, "benefit_negative", "benefit.cap"),
    ("deduction beyond base", "cash-transfer",
     {"benefit.per_unit": [{"variable": "household_size", "amount": -500}]},
     "benefit_negative", "benefit"),
    ("deduction beyond base with max units", "school-top-up",
     {"benefit.per_unit[0]": {"variable": "cattle", "amount": -100, "max_units": 5}},
     "benefit_negative", "benefit"),
    ("unbounded deduction", "cash-transfer",
     {"benefit.per_unit": [{"variable": "savings_pkr", "amount": -1}]},
     "benefit_unbounded", "benefit.per_unit[0].max_units"),
    # Person-level facts.
    ("person fact in a household program", "cash-transfer",
     {"criteria[0].all[0]": {"variable": "age", "op": ">=", "value": 18}},
     "person_variable", "criteria[0].all[0].variable"),
    ("person fact in a household benefit", "cash-transfer",
     {"benefit.per_unit": [{"variable": "has_disability", "amount": 100}]},
     "person_variable", "benefit.per_unit[0].variable"),
    ("person fact in the PMT of a person program", "disability-allowance",
     {"pmt.regions[0].terms[0].variable": "age"},
     "person_variable", "pmt.regions[0].terms[0].variable"),
    # Structure and types, from parsing.
    ("missing name", "cash-transfer", {"name": _DELETE}, "required", "name"),
    ("unknown field", "cash-transfer", {"colour": "green"}, "unknown_field", "colour"),
    ("unknown target", "cash-transfer", {"target_unit": "family"}, "invalid_choice",
     "target_unit"),
    ("unknown operator", "cash-transfer", {"criteria[0].all[0].op": "=~"}, "invalid_choice",
     "criteria[0].all[0].op"),
    ("unknown term kind", "cash-transfer", {"pmt.regions[0].terms[0].kind": "quadratic"},
     "invalid_choice", "pmt.regions[0].terms[0]"),
    ("empty Pashto", "cash-transfer", {"name.ps": "  "}, "empty", "name.ps"),
    ("missing Urdu label", "cash-transfer", {"exclusions[2].label.ur": _DELETE}, "required",
     "exclusions[2].label.ur"),
    ("version zero", "cash-transfer", {"version": 0}, "out_of_range", "version"),
    ("version as text", "cash-transfer", {"version": "1"}, "invalid_type", "version"),
    ("cut-off as text", "cash-transfer", {"cutoff": "32"}, "invalid_type", "cutoff"),
    ("coefficient as text", "cash-transfer",
     {"pmt.regions[1].terms[0].coefficient": "-0.8"},
     "invalid_type", "pmt.regions[1].terms[0].coefficient"),
    ("code with spaces", "cash-transfer", {"code": "Cash Transfer"}, "invalid_format", "code"),
    ("model version", "cash-transfer", {"pmt.model_version": "v1"}, "invalid_format",
     "pmt.model_version"),
    ("criterion without conditions", "cash-transfer", {"criteria[0].all": []}, "too_short",
     "criteria[0].all"),
    ("negative max units", "school-top-up", {"benefit.per_unit[0].max_units": -1},
     "out_of_range", "benefit.per_unit[0].max_units"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("program", "changes", "code", "path"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD],
)
def test_bad_definition_names_the_problem(
    seeded_data: Callable[[str], dict[str, Any]],
    program: str,
    changes: dict[str, object],
    code: str,
    path: str,
) -> None:
    data = seeded_data(program)
    for where, value in changes.items():
        _set(data, where, value)
    with pytest.raises(DefinitionError) as caught:
        definition_validate(data, _SAVINGS)
    problems = caught.value.problems
    assert {"path": path, "code": code} in [
        {"path": p["path"], "code": p["code"]} for p in problems
    ]
    assert len(problems) == 1, problems  # no echoes of the same mistake
    assert code in PROBLEM_CODES
    assert all(p["message"].endswith(".") for p in problems)


def test_every_problem_is_reported_at_once(seeded_data: Callable[[str], dict[str, Any]]) -> None:
    data = seeded_data("cash-transfer")
    _set(data, "version", "two")  # a structural error in one section ...
    _set(data, "pmt.regions[0].terms[0].variable", "income")  # ... does not hide the others
    _set(data, "pmt.regions[1].values", ["rural", "urban"])
    _set(data, "cutoff", 0)
    _set(data, "category_cutoffs[0].cutoff", 120)
    _set(data, "criteria[0].all[0].variable", "age")
    _set(data, "exclusions[1].id", "government_employee")
    _set(data, "exclusions[2].any[0].op", ">")
    _set(data, "benefit.base", -10)
    with pytest.raises(DefinitionError) as caught:
        definition_validate(data, CATALOGUE)
    found = {(p["path"], p["code"]) for p in caught.value.problems}
    assert found == {
        ("version", "invalid_type"),
        ("pmt.regions[0].terms[0].variable", "unknown_variable"),
        ("pmt.regions[1].values[1]", "region_overlap"),
        ("cutoff", "cutoff_range"),
        ("category_cutoffs[0].cutoff", "cutoff_range"),
        ("criteria[0].all[0].variable", "person_variable"),
        ("exclusions[1].id", "duplicate_id"),
        ("exclusions[2].any[0].op", "operator_kind"),
        ("benefit", "benefit_negative"),
    }
    assert "cutoff: A cut-off must be above 0" in str(caught.value)


def test_not_a_mapping_is_one_problem() -> None:
    with pytest.raises(DefinitionError) as caught:
        definition_validate([], CATALOGUE)  # type: ignore[arg-type]
    assert [p["code"] for p in caught.value.problems] == ["invalid_type"]


@pytest.mark.parametrize("code", SEEDED_PROGRAMS)
def test_seeded_programs_validate_and_round_trip(
    seeded: dict[str, ProgramDefinition], code: str
) -> None:
    definition = seeded[code]
    assert definition.code == code
    assert definition.version == 1
    dumped = json.loads(json.dumps(definition.model_dump(mode="json")))
    assert definition_validate(dumped, CATALOGUE) == definition
    for text in (definition.name, definition.description):
        assert len({text.en, text.ur, text.ps}) == 3
        assert re.search("[\u0600-\u06ff]", text.ur) and re.search("[\u0600-\u06ff]", text.ps)
    # Pashto letters that Urdu does not use: the texts are really Pashto.
    assert re.search("[ښځړډټږۍې]", definition.name.ps + definition.description.ps)


def test_seeded_programs_share_one_pmt(seeded: dict[str, ProgramDefinition]) -> None:
    models = [definition.pmt for definition in seeded.values()]
    assert all(model == models[0] for model in models)
    assert models[0].model_version == "2025.1"
    assert [region.name for region in models[0].regions] == ["urban", "rural"]


def test_seeded_rules(seeded: dict[str, ProgramDefinition]) -> None:
    cash, school, disability = (seeded[code] for code in SEEDED_PROGRAMS)
    assert (cash.cutoff, [c.cutoff for c in cash.category_cutoffs]) == (32, [37])
    assert cash.benefit.base == 13_500 and cash.period == "quarter"
    assert {e.id for e in cash.exclusions} == {
        "government_employee",
        "travelled_abroad",
        "owns_car",
        "high_electricity_bill",
        "high_phone_bill",
    }
    assert school.cutoff == 32 and school.benefit.base == 0
    assert [(u.variable, u.amount, u.max_units) for u in school.benefit.per_unit] == [
        ("children_in_school", 2500, 4)
    ]
    assert disability.target_unit == "person" and disability.cutoff == 37
    assert disability.benefit.base == 6000
    assert [c.all[0].variable for c in disability.criteria] == ["has_disability"]


def test_pmt_signs_make_sense(seeded: dict[str, ProgramDefinition]) -> None:
    """More assets, space, schooling and better housing score higher (further from poverty)."""
    worse = {"household_size", "dependants", "children_5_16"}
    for region in seeded["cash-transfer"].pmt.regions:
        for term in region.terms:
            if isinstance(term, LinearTerm):
                assert (term.coefficient < 0) == (term.variable in worse), term
            else:
                assert isinstance(term, CategoryTerm)
                points = [term.points.get(c, 0.0) for c in CATALOGUE[term.variable].categories]
                # Categories are listed best first, except that a motor pump is as good as a tap.
                if term.variable == "water_source":
                    points[:2] = sorted(points[:2], reverse=True)
                assert points == sorted(points, reverse=True), term
                assert points[-1] == 0.0


def test_required_variables(seeded: dict[str, ProgramDefinition]) -> None:
    names = required_variables(seeded["cash-transfer"])
    assert names[0] == "area"
    assert len(names) == len(set(names))
    assert {"ever_married_women", "electricity_bill_pkr", "has_disabled_member"} <= set(names)
    assert "age" not in names
    assert "has_disability" in required_variables(seeded["disability-allowance"])


def test_definition_load_reports_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"code": ', encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        definition_load(path, CATALOGUE)
    assert caught.value.problems[0]["code"] == "invalid_json"


def test_variable_spec_invariants() -> None:
    with pytest.raises(ValueError, match="needs categories"):
        VariableSpec("area", "category")
    with pytest.raises(ValueError, match="needs categories"):
        VariableSpec("rooms", "number", ("a",))
    with pytest.raises(ValueError, match="repeat"):
        VariableSpec("area", "category", ("urban", "urban"))
    with pytest.raises(ValueError, match="minimum or maximum"):
        VariableSpec("has_tv", "bool", maximum=1)
    with pytest.raises(ValueError, match="twice"):
        catalogue_of([VariableSpec("rooms", "number"), VariableSpec("rooms", "number")])
    assert upper_bound(VariableSpec("has_tv", "bool")) == 1.0
    assert upper_bound(CATALOGUE["rooms"]) == 30


def test_the_registry_catalogue_keeps_the_contract() -> None:
    """The registry's production catalogue agrees with the one these tests use."""
    survey = pytest.importorskip("rahdari.registry.survey")
    theirs = survey.CATALOGUE
    for name, spec in CATALOGUE.items():
        other = theirs[name]
        assert (other.kind, other.categories, other.unit) == (spec.kind, spec.categories, spec.unit)
        assert (other.minimum, other.maximum) == (spec.minimum, spec.maximum), name
    for code in SEEDED_PROGRAMS:
        seeded_definition(code, theirs)
