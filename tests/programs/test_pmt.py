"""The eligibility evaluator: hand-computed cases, batch = single, and calibration on synthetic data.

Database-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rahdari.core import synthetic
from rahdari.programs.definition import SEEDED_PROGRAMS, ProgramDefinition, definition_validate
from rahdari.programs.pmt import (
    Evaluation,
    EvaluationError,
    Reason,
    Scalar,
    evaluate,
    evaluate_one,
    explain,
    term_keys,
)
from tests.programs.catalogue import CATALOGUE, INTEGER_VARIABLES, household_table, person_table

_TEXT = {"en": "Rule", "ur": "قاعدہ", "ps": "قاعده"}


def _cond(variable: str, op: str, value: object) -> dict[str, object]:
    return {"variable": variable, "op": op, "value": value}


def _lin(variable: str, coefficient: float, **extra: object) -> dict[str, object]:
    return {"kind": "linear", "variable": variable, "coefficient": coefficient, **extra}


TOY: Final = definition_validate(
    {
        "code": "toy",
        "version": 3,
        "name": _TEXT,
        "description": _TEXT,
        "target_unit": "household",
        "period": "month",
        "pmt": {
            "model_version": "2025.9",
            "region_variable": "area",
            "regions": [
                {
                    "name": "town",
                    "values": ["urban"],
                    "intercept": 10.0,
                    "terms": [
                        _lin("household_size", -2.0),
                        _lin("rooms", 10.0, per_member=True, cap=1.5),
                        {
                            "kind": "category",
                            "variable": "roof_material",
                            "points": {"rcc": 6, "iron_sheet": 2},
                        },
                        _lin("has_tv", 3.0),
                    ],
                },
                {
                    "name": "village",
                    "values": ["rural"],
                    "intercept": 20.0,
                    "terms": [_lin("land_acres", 2.0, cap=5), _lin("cattle", 1.0)],
                },
            ],
        },
        "cutoff": 30,
        "category_cutoffs": [
            {"when": _cond("has_disabled_member", "==", True), "cutoff": 40, "label": _TEXT},
            {"when": _cond("head_is_widow", "==", True), "cutoff": 35, "label": _TEXT},
        ],
        "criteria": [
            {"id": "woman", "label": _TEXT, "all": [_cond("ever_married_women", ">=", 1)]},
            {
                "id": "not_city_gas",
                "label": _TEXT,
                "all": [_cond("cooking_fuel", "not_in", ["natural_gas"])],
            },
        ],
        "exclusions": [
            {"id": "car", "label": _TEXT, "any": [_cond("has_car", "==", True)]},
            {
                "id": "bills",
                "label": _TEXT,
                "any": [
                    _cond("electricity_bill_pkr", ">", 5000),
                    _cond("phone_bill_pkr", ">", 1000),
                ],
            },
        ],
        "benefit": {
            "base": 1000,
            "per_unit": [
                {"variable": "children_in_school", "amount": 500, "max_units": 3},
                {"variable": "dependants", "amount": -100, "max_units": 2},
            ],
            "cap": 2200,
        },
    },
    CATALOGUE,
)

_ORDINARY: Final[dict[str, Scalar]] = {
    "area": "urban",
    "household_size": 4,
    "rooms": 2,
    "roof_material": "rcc",
    "has_tv": True,
    "land_acres": 0.0,
    "cattle": 0,
    "has_disabled_member": False,
    "head_is_widow": False,
    "ever_married_women": 1,
    "cooking_fuel": "firewood",
    "has_car": False,
    "electricity_bill_pkr": 900,
    "phone_bill_pkr": 300,
    "children_in_school": 5,
    "dependants": 1,
}

ROWS: Final[list[dict[str, Scalar]]] = [
    # 0: 10 - 8 + 10*min(2/4, 1.5) + 6 + 3 = 16; benefit 1000 + 3*500 - 100 = 2400, capped at 2200.
    _ORDINARY,
    # 1: rural 20 + 2*min(10, 5) + 3 = 33, within the disability cut-off (40 beats the widow's 35)
    # but the electricity bill excludes it.
    {
        **_ORDINARY,
        "area": "rural",
        "land_acres": 10.0,
        "cattle": 3,
        "has_disabled_member": True,
        "head_is_widow": True,
        "electricity_bill_pkr": 6000,
    },
    # 2: 10 - 2 + 10*min(3, 1.5) + 2 = 25, but no ever-married woman.
    {**_ORDINARY, "household_size": 1, "rooms": 3, "roof_material": "iron_sheet",
     "has_tv": False, "ever_married_women": 0},
    # 3: 10 - 60 + 10/30 clips to 0; the widow's cut-off 35; benefit 1000 - 2*100 = 800.
    {**_ORDINARY, "household_size": 30, "rooms": 1, "roof_material": "wood_mud",
     "has_tv": False, "head_is_widow": True, "children_in_school": 0, "dependants": 5},
    # 4: rural 20 + 40 = 60 above the cut-off, and a car: excluded outranks the score.
    {**_ORDINARY, "area": "rural", "cattle": 40, "has_car": True},
    # 5: rural 60 above the cut-off and cooking on gas: the failed criterion outranks the score.
    {**_ORDINARY, "area": "rural", "cattle": 40, "cooking_fuel": "natural_gas"},
    # 6: rural 60, only above the cut-off.
    {**_ORDINARY, "area": "rural", "cattle": 40},
]  # fmt: skip


def _table(rows: Sequence[Mapping[str, Scalar]]) -> dict[str, npt.NDArray[Any]]:
    """Rows of answers (categories by name) -> a table of columns (categories as codes)."""
    table: dict[str, npt.NDArray[Any]] = {}
    for name in rows[0]:
        spec = CATALOGUE[name]
        values = [row[name] for row in rows]
        if spec.kind == "category":
            table[name] = np.array([spec.categories.index(str(v)) for v in values], np.int16)
        else:
            table[name] = np.array(values)
    return table


def _rows_of(table: Mapping[str, npt.NDArray[Any]]) -> list[dict[str, Scalar]]:
    """The inverse of :func:`_table`: each row's answers as Python scalars, categories by name."""
    n = len(next(iter(table.values())))
    rows: list[dict[str, Scalar]] = [{} for _ in range(n)]
    for name, column in table.items():
        spec = CATALOGUE[name]
        for i, value in enumerate(column.tolist()):
            rows[i][name] = spec.categories[value] if spec.kind == "category" else value
    return rows


def _same(batch: Evaluation, single: Evaluation) -> None:
    for field in Evaluation.__dataclass_fields__:
        a, b = getattr(batch, field), getattr(single, field)
        assert a.dtype == b.dtype and a.shape == b.shape, field
        assert a.tobytes() == b.tobytes(), field  # bit for bit, not merely close


def test_hand_computed_rows() -> None:
    result = evaluate(TOY, _table(ROWS), CATALOGUE)
    assert result.score.tolist() == [16.0, 33.0, 25.0, 0.0, 60.0, 60.0, 60.0]
    assert result.region.tolist() == [0, 1, 0, 0, 1, 1, 1]
    assert result.cutoff.tolist() == [30.0, 40.0, 30.0, 35.0, 30.0, 30.0, 30.0]
    assert result.category_cutoff.tolist() == [-1, 0, -1, 1, -1, -1, -1]
    assert result.criteria.tolist() == [[True, True]] * 2 + [[False, True]] + [[True, True]] * 2 + [
        [True, False],
        [True, True],
    ]
    assert (
        result.exclusions.tolist()
        == [[False, False], [False, True]]
        + [[False, False]] * 2
        + [[True, False]]
        + [[False, False]] * 2
    )
    assert result.eligible.tolist() == [True, False, False, True, False, False, False]
    assert result.reason.tolist() == [
        Reason.ELIGIBLE,
        Reason.EXCLUDED,
        Reason.CRITERION_FAILED,
        Reason.ELIGIBLE,
        Reason.EXCLUDED,
        Reason.CRITERION_FAILED,
        Reason.SCORE_ABOVE_CUTOFF,
    ]
    assert result.benefit_units.tolist()[:4] == [[3, 1], [3, 1], [3, 1], [0, 2]]
    assert result.benefit.tolist() == [2200, 0, 0, 800, 0, 0, 0]
    assert term_keys(TOY) == [
        "town:household_size",
        "town:rooms",
        "town:roof_material",
        "town:has_tv",
        "village:land_acres",
        "village:cattle",
    ]
    assert result.contributions.dtype == np.float32
    assert result.contributions[0].tolist() == [-8.0, 5.0, 6.0, 3.0, 0.0, 0.0]
    assert result.contributions[1].tolist() == [0.0, 0.0, 0.0, 0.0, 10.0, 3.0]


def test_explain() -> None:
    result = evaluate(TOY, _table(ROWS), CATALOGUE)
    first = explain(TOY, result, 0)
    assert first["program"] == "toy" and first["version"] == 3
    assert first["pmt_model_version"] == "2025.9"
    assert (first["score"], first["region"], first["intercept"]) == (16.0, "town", 10.0)
    assert [(t["key"], t["variable"], t["points"]) for t in first["terms"]] == [
        ("town:household_size", "household_size", -8.0),
        ("town:rooms", "rooms", 5.0),
        ("town:roof_material", "roof_material", 6.0),
        ("town:has_tv", "has_tv", 3.0),
    ]
    assert first["cutoff"] == {
        "applied": 30.0,
        "main": 30.0,
        "category": None,
        "score_within": True,
    }
    assert [(c["id"], c["holds"]) for c in first["criteria"]] == [
        ("woman", True),
        ("not_city_gas", True),
    ]
    assert first["benefit"] == {
        "period": "month",
        "base": 1000,
        "per_unit": [
            {"variable": "children_in_school", "amount": 500, "max_units": 3, "units": 3,
             "subtotal": 1500},
            {"variable": "dependants", "amount": -100, "max_units": 2, "units": 1,
             "subtotal": -100},
        ],
        "cap": 2200,
        "capped": True,
        "entitlement": 2200,
        "amount": 2200,
    }  # fmt: skip
    assert (first["eligible"], first["reason"], first["reason_code"]) == (True, "eligible", 0)

    second = explain(TOY, result, 1)
    assert second["region"] == "village"
    assert [t["variable"] for t in second["terms"]] == ["land_acres", "cattle"]
    assert second["cutoff"]["category"] == {"index": 0, "cutoff": 40.0, "label": _TEXT}
    assert [(e["id"], e["holds"]) for e in second["exclusions"]] == [
        ("car", False),
        ("bills", True),
    ]
    assert second["benefit"]["entitlement"] == 2200 and second["benefit"]["amount"] == 0
    assert (second["eligible"], second["reason"]) == (False, "excluded")
    with pytest.raises(EvaluationError):
        explain(TOY, result, 7)


def test_evaluate_one_matches_the_batch() -> None:
    batch = evaluate(TOY, _table(ROWS), CATALOGUE)
    for i, row in enumerate(ROWS):
        _same(batch.row(i), evaluate_one(TOY, row, CATALOGUE))
    assert len(batch.row(-1)) == 1


def test_person_target(seeded: dict[str, ProgramDefinition]) -> None:
    poor: dict[str, Scalar] = {
        **_ORDINARY,
        "area": "rural",
        "household_size": 9,
        "dependants": 6,
        "head_education_years": 0,
        "children_5_16": 4,
        "children_in_school": 1,
        "rooms": 1,
        "roof_material": "wood_mud",
        "wall_material": "mud_brick",
        "toilet_type": "none",
        "water_source": "surface_water",
        "has_tv": False,
        "has_fridge": False,
        "has_washing_machine": False,
        "has_motorcycle": False,
        "has_air_conditioner": False,
        "goats_sheep": 0,
        "government_employee_member": False,
        "member_travelled_abroad": False,
        "age": 34,
        "sex": "F",
        "has_disability": True,
    }
    allowance = seeded["disability-allowance"]
    one = evaluate_one(allowance, poor, CATALOGUE)
    assert one.eligible.tolist() == [True] and one.benefit.tolist() == [6000]
    assert one.score[0] <= 37
    other = evaluate_one(allowance, {**poor, "has_disability": False}, CATALOGUE)
    assert other.reason.tolist() == [Reason.CRITERION_FAILED] and other.benefit.tolist() == [0]


# --------------------------------------------------------------------------- property


def _column(name: str, n: int) -> st.SearchStrategy[npt.NDArray[Any]]:
    spec = CATALOGUE[name]
    if spec.kind == "category":
        return hnp.arrays(np.int16, n, elements=st.integers(0, len(spec.categories) - 1))
    if spec.kind == "bool":
        return hnp.arrays(np.bool_, n)
    low, high = spec.minimum or 0, spec.maximum or 1e6
    if name in INTEGER_VARIABLES:
        # Mostly everyday values, sometimes anything in range.
        small = st.integers(int(low), min(int(high), int(low) + 12))
        return hnp.arrays(np.int64, n, elements=st.one_of(small, st.integers(int(low), int(high))))
    return hnp.arrays(np.float64, n, elements=st.floats(low, high, allow_nan=False))


@st.composite
def _tables(draw: st.DrawFn) -> dict[str, npt.NDArray[Any]]:
    n = draw(st.integers(1, 50))
    return {name: draw(_column(name, n)) for name in CATALOGUE}


@settings(max_examples=60, deadline=None)
@given(table=_tables(), program=st.sampled_from(["toy", *SEEDED_PROGRAMS]))
def test_batch_equals_single_on_random_tables(
    seeded: dict[str, ProgramDefinition], table: dict[str, npt.NDArray[Any]], program: str
) -> None:
    definition = TOY if program == "toy" else seeded[program]
    batch = evaluate(definition, table, CATALOGUE)
    n = len(table["area"])
    assert len(batch) == n
    assert batch.contributions.shape == (n, len(term_keys(definition)))
    assert ((batch.score >= 0) & (batch.score <= 100)).all()
    assert (batch.benefit >= 0).all()
    assert (batch.benefit[~batch.eligible] == 0).all()
    assert ((batch.reason == Reason.ELIGIBLE) == batch.eligible).all()
    for i, row in enumerate(_rows_of(table)):
        _same(batch.row(i), evaluate_one(definition, row, CATALOGUE))


# --------------------------------------------------------------------------- bad tables


def test_missing_and_misshapen_columns() -> None:
    table = _table(ROWS)
    del table["rooms"], table["cattle"]
    with pytest.raises(EvaluationError, match="no column for: rooms, cattle"):
        evaluate(TOY, table, CATALOGUE)
    table = _table(ROWS)
    table["rooms"] = table["rooms"][:3]
    with pytest.raises(EvaluationError, match="differ in length"):
        evaluate(TOY, table, CATALOGUE)
    table = _table(ROWS)
    table["rooms"] = table["rooms"].reshape(7, 1)
    with pytest.raises(EvaluationError, match="one-dimensional"):
        evaluate(TOY, table, CATALOGUE)


@pytest.mark.parametrize(
    ("name", "column", "message"),
    [
        ("area", np.array(["urban"] * 7), "integer category codes"),
        ("roof_material", np.full(7, 4), "code outside 0..3"),
        ("has_tv", np.full(7, 2), "true/false"),
        ("has_tv", np.full(7, 0.5), "true/false"),
        ("land_acres", np.full(7, np.nan), "missing"),
        ("rooms", np.array(["2"] * 7), "must hold numbers"),
    ],
)
def test_bad_column_values(name: str, column: npt.NDArray[Any], message: str) -> None:
    table = _table(ROWS)
    table[name] = column
    with pytest.raises(EvaluationError, match=message):
        evaluate(TOY, table, CATALOGUE)


def test_evaluate_one_rejects_bad_answers() -> None:
    with pytest.raises(EvaluationError, match="No answer for “rooms”"):
        evaluate_one(TOY, {k: v for k, v in _ORDINARY.items() if k != "rooms"}, CATALOGUE)
    with pytest.raises(EvaluationError, match="not a value of “roof_material”"):
        evaluate_one(TOY, {**_ORDINARY, "roof_material": "thatch"}, CATALOGUE)
    with pytest.raises(EvaluationError, match="not a valid answer for “rooms”"):
        evaluate_one(TOY, {**_ORDINARY, "rooms": "two"}, CATALOGUE)
    with pytest.raises(EvaluationError, match="not a valid answer for “has_tv”"):
        evaluate_one(TOY, {**_ORDINARY, "has_tv": "yes"}, CATALOGUE)
    # Codes and 0/1 are accepted too.
    same = evaluate_one(TOY, {**_ORDINARY, "area": 0, "has_tv": 1}, CATALOGUE)
    _same(same, evaluate_one(TOY, _ORDINARY, CATALOGUE))


def test_empty_table() -> None:
    table = {name: column[:0] for name, column in _table(ROWS).items()}
    result = evaluate(TOY, table, CATALOGUE)
    assert len(result) == 0 and result.contributions.shape == (0, 6)


# --------------------------------------------------------------------------- calibration


@pytest.fixture(scope="module")
def synthetic_table() -> dict[str, npt.NDArray[Any]]:
    parts = [household_table(b) for b in synthetic.generate_batches(households=20_000, seed=42)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def test_calibration_on_synthetic_households(
    seeded: dict[str, ProgramDefinition], synthetic_table: dict[str, npt.NDArray[Any]]
) -> None:
    """About a quarter of households at or below 32 (the national registry: 26.6%)."""
    cash = evaluate(seeded["cash-transfer"], synthetic_table, CATALOGUE)
    assert 0.22 <= (cash.score <= 32).mean() <= 0.30
    urban = synthetic_table["area"] == CATALOGUE["area"].categories.index("urban")
    assert (cash.score[urban] <= 32).mean() < (cash.score[~urban] <= 32).mean()
    assert 0.12 <= cash.eligible.mean() <= 0.28
    assert (cash.benefit[cash.eligible] == 13_500).all()

    school = evaluate(seeded["school-top-up"], synthetic_table, CATALOGUE)
    assert (school.score == cash.score).all()
    assert 0.08 <= school.eligible.mean() <= cash.eligible.mean() + 0.05
    paid = school.benefit[school.eligible]
    assert paid.min() >= 2500 and paid.max() <= 10_000

    # The engine's PMT and the generator's own stand-in agree on who is poor.
    households = [b.households for b in synthetic.generate_batches(households=20_000, seed=42)]
    proxy = np.concatenate([synthetic.pmt_proxy_score(h) for h in households])
    assert np.corrcoef(cash.score, proxy)[0, 1] > 0.9


def test_disability_allowance_on_synthetic_persons(seeded: dict[str, ProgramDefinition]) -> None:
    batch = next(synthetic.generate_batches(households=5_000, seed=42))
    if "has_disability" not in batch.persons:
        pytest.skip("this synthetic generator records no disability per member")
    households = evaluate(seeded["cash-transfer"], household_table(batch), CATALOGUE)
    persons = evaluate(seeded["disability-allowance"], person_table(batch), CATALOGUE)
    member_of = np.repeat(np.arange(5_000), batch.households["household_size"])
    # A person's score is their household's: the PMT reads household facts only.
    assert (persons.score == households.score[member_of]).all()
    disabled = np.asarray(batch.persons["has_disability"], dtype=np.bool_)
    assert (persons.eligible <= disabled).all()
    assert 0 < persons.eligible.sum() < disabled.sum()
    assert (persons.benefit[persons.eligible] == 6000).all()
