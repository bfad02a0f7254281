"""The eligibility rules of a program definition, applied the plain pandas way.

A reference for ``benchmarks/targeting.py``: one Python function per household,
``DataFrame.apply(row_fn, axis=1)``, reading the program's JSON definition as it is
(no pydantic models, no NumPy tricks): the PMT score (intercept, then each term of
the household's region in definition order, clipped to 0-100), the cut-off (the
highest category cut-off whose condition holds), criteria (all conditions hold),
exclusions (any condition holds), eligibility, the reason and the benefit.

The frame holds readable values: category answers as their names ("rcc",
"rural"), yes/no answers as bool, numbers as numbers — what an analyst gets from a
registry extract.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

# The reason codes of rahdari.programs.pmt.Reason: the highest that applies is reported.
ELIGIBLE, SCORE_ABOVE_CUTOFF, CRITERION_FAILED, EXCLUDED = 0, 1, 2, 3

_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def frame_of(table: Mapping[str, np.ndarray], catalogue: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame of the household table, category codes turned into their names."""
    columns: dict[str, Any] = {}
    for name, values in table.items():
        spec = catalogue.get(name)
        if spec is not None and spec.kind == "category":
            columns[name] = np.asarray(spec.categories, dtype=object)[values]
        else:
            columns[name] = values
    return pd.DataFrame(columns)


def _holds(row: pd.Series, condition: Mapping[str, Any]) -> bool:
    value, op, wanted = row[condition["variable"]], condition["op"], condition["value"]
    if op == "in":
        return value in wanted
    if op == "not_in":
        return value not in wanted
    if isinstance(wanted, list):  # "==" against a list of categories
        return (value in wanted) == (op == "==")
    return bool(_OPS[op](value, wanted))


def row_function(definition: Mapping[str, Any]) -> Callable[[pd.Series], tuple[Any, ...]]:
    """The function ``df.apply`` calls per household: (score, cutoff, passes_rules,
    eligible, reason, benefit)."""
    pmt = definition["pmt"]
    region_variable = pmt["region_variable"]
    size_variable = pmt.get("size_variable", "household_size")
    regions = pmt["regions"]
    main_cutoff = float(definition["cutoff"])
    category_cutoffs = definition.get("category_cutoffs", [])
    criteria = definition.get("criteria", [])
    exclusions = definition.get("exclusions", [])
    benefit = definition["benefit"]

    def row_fn(row: pd.Series) -> tuple[Any, ...]:
        region = next(r for r in regions if row[region_variable] in r["values"])
        score = float(region["intercept"])
        for term in region.get("terms", []):
            if term["kind"] == "category":
                points = float(term["points"].get(row[term["variable"]], 0.0))
            else:
                value = float(row[term["variable"]])
                if term.get("per_member"):
                    value = value / max(float(row[size_variable]), 1.0)
                if term.get("cap") is not None:
                    value = min(value, float(term["cap"]))
                points = value * float(term["coefficient"])
            score = score + points
        score = min(max(score, 0.0), 100.0)

        cutoff = main_cutoff
        for category in category_cutoffs:
            if _holds(row, category["when"]) and category["cutoff"] > cutoff:
                cutoff = float(category["cutoff"])
        passed = all(all(_holds(row, c) for c in rule["all"]) for rule in criteria)
        excluded = any(any(_holds(row, c) for c in rule["any"]) for rule in exclusions)
        eligible = score <= cutoff and passed and not excluded
        if excluded:
            reason = EXCLUDED
        elif not passed:
            reason = CRITERION_FAILED
        elif score > cutoff:
            reason = SCORE_ABOVE_CUTOFF
        else:
            reason = ELIGIBLE

        amount = int(benefit["base"])
        for line in benefit.get("per_unit", []):
            upper = line.get("max_units")
            value = min(max(float(row[line["variable"]]), 0.0), 2.0**53 if upper is None else upper)
            amount += int(line["amount"]) * math.floor(value)
        if benefit.get("cap") is not None:
            amount = min(amount, int(benefit["cap"]))
        amount = max(amount, 0)
        return score, cutoff, passed and not excluded, eligible, reason, amount if eligible else 0

    return row_fn


RESULT_COLUMNS = ["score", "cutoff", "passes_rules", "eligible", "reason", "benefit"]


def evaluate_rows(df: pd.DataFrame, definition: Mapping[str, Any]) -> pd.DataFrame:
    """Every household's outcome, one ``row_fn`` call per row."""
    out = df.apply(row_function(definition), axis=1, result_type="expand")
    out.columns = RESULT_COLUMNS
    return out
