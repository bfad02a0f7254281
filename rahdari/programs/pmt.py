"""The eligibility evaluator: a program definition applied to a table of households or persons.

A *table* maps each variable name to a NumPy array, one entry per row (a
household, or a person for person-target programs, who carries the variables
of their household too). Categories arrive as integer codes into the
catalogue's category tuple, yes/no answers as bool (or 0/1), numbers as int
or float. Everything is vectorised: the loops run over terms and rules, never
over rows, so a province's registry is scored in about a second.

Batch and single evaluation share one code path (:func:`evaluate_one` builds
a one-row table), and every step is an element-wise IEEE operation applied in
a fixed order per row (scores are accumulated term by term, never with a
pairwise ``np.sum``), so a household's score, eligibility and benefit are
bit-for-bit the same whether it is scored alone at a self-assessment kiosk or
with a million others in a targeting run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt

from rahdari.programs.definition import (
    Benefit,
    Catalogue,
    CategoryTerm,
    Condition,
    LinearTerm,
    ProgramDefinition,
    Variable,
    required_variables,
)

Table: TypeAlias = Mapping[str, npt.NDArray[Any]]
Scalar: TypeAlias = bool | int | float | str
FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.intp]


class Reason(IntEnum):
    """Why a row is (not) eligible.

    When several apply, the highest code is reported: an exclusion outranks a
    failed criterion, which outranks a score above the cut-off, because that is
    the order in which an officer can act on them (an excluded household cannot
    qualify by a new survey).
    """

    ELIGIBLE = 0
    SCORE_ABOVE_CUTOFF = 1
    CRITERION_FAILED = 2
    EXCLUDED = 3


class EvaluationError(Exception):
    """The table (or the single household's answers) cannot be evaluated as given."""


@dataclass(frozen=True, slots=True, eq=False)
class Evaluation:
    """The outcome for every row of a table (n rows; T terms, C criteria, E exclusions, U units)."""

    score: npt.NDArray[np.float64]
    """(n,) PMT score, 0-100."""
    region: npt.NDArray[np.int16]
    """(n,) index into ``definition.pmt.regions``."""
    contributions: npt.NDArray[np.float32]
    """(n, T) each term's points, columns as :func:`term_keys`; 0 outside the term's region."""
    cutoff: npt.NDArray[np.float64]
    """(n,) the cut-off applied to the row."""
    category_cutoff: npt.NDArray[np.int16]
    """(n,) index into ``definition.category_cutoffs`` of the cut-off applied, -1 for the main one."""
    criteria: npt.NDArray[np.bool_]
    """(n, C) criterion passed."""
    exclusions: npt.NDArray[np.bool_]
    """(n, E) exclusion hit."""
    eligible: npt.NDArray[np.bool_]
    """(n,) score at or below the cut-off, every criterion passed and no exclusion hit."""
    benefit: npt.NDArray[np.int64]
    """(n,) rupees per period; 0 when not eligible."""
    benefit_units: npt.NDArray[np.int64]
    """(n, U) units counted for each ``benefit.per_unit`` line."""
    reason: npt.NDArray[np.int8]
    """(n,) a :class:`Reason` code."""

    def __len__(self) -> int:
        return int(self.score.shape[0])

    def row(self, index: int) -> Evaluation:
        """Row ``index`` as a one-row evaluation (what :func:`evaluate_one` returns)."""
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        pick = slice(index, index + 1)
        return Evaluation(
            score=self.score[pick],
            region=self.region[pick],
            contributions=self.contributions[pick],
            cutoff=self.cutoff[pick],
            category_cutoff=self.category_cutoff[pick],
            criteria=self.criteria[pick],
            exclusions=self.exclusions[pick],
            eligible=self.eligible[pick],
            benefit=self.benefit[pick],
            benefit_units=self.benefit_units[pick],
            reason=self.reason[pick],
        )


def term_keys(definition: ProgramDefinition) -> list[str]:
    """``"<region>:<variable>"`` for every term of every region, in definition order."""
    return [
        f"{region.name}:{term.variable}"
        for region in definition.pmt.regions
        for term in region.terms
    ]


# --------------------------------------------------------------------------- columns


class _Columns:
    """The table's columns, checked against the catalogue and converted once each."""

    def __init__(self, table: Table, catalogue: Catalogue, names: tuple[str, ...]) -> None:
        missing = [name for name in names if name not in table]
        if missing:
            raise EvaluationError(f"The table has no column for: {', '.join(missing)}.")
        unknown = [name for name in names if name not in catalogue]
        if unknown:
            raise EvaluationError(f"Not in the variable catalogue: {', '.join(unknown)}.")
        arrays = {name: np.asarray(table[name]) for name in names}
        shapes = {name: array.shape for name, array in arrays.items()}
        if any(len(shape) != 1 for shape in shapes.values()):
            flat = [name for name, shape in shapes.items() if len(shape) != 1]
            raise EvaluationError(f"Columns must be one-dimensional: {', '.join(flat)}.")
        lengths = {shape[0] for shape in shapes.values()}
        if len(lengths) > 1:
            detail = ", ".join(f"{name}={shape[0]}" for name, shape in shapes.items())
            raise EvaluationError(f"Columns differ in length: {detail}.")
        self.n: int = lengths.pop() if lengths else 0
        self.catalogue = catalogue
        self.arrays = arrays
        self.cache: dict[str, npt.NDArray[Any]] = {}

    def spec(self, name: str) -> Variable:
        return self.catalogue[name]

    def codes(self, name: str) -> IntArray:
        """Category codes, checked to index the catalogue's categories."""
        cached = self.cache.get(name)
        if cached is None:
            spec, array = self.spec(name), self.arrays[name]
            if spec.kind != "category":
                raise EvaluationError(f"“{name}” is not a category variable.")
            if array.dtype.kind not in "iu":
                raise EvaluationError(f"“{name}” must hold integer category codes.")
            if array.size and (array.min() < 0 or array.max() >= len(spec.categories)):
                raise EvaluationError(
                    f"“{name}” holds a code outside 0..{len(spec.categories) - 1}."
                )
            cached = self.cache[name] = array.astype(np.intp, copy=False)
        return cached

    def flags(self, name: str) -> BoolArray:
        """A yes/no column as bool (0/1 integers accepted)."""
        cached = self.cache.get(name)
        if cached is None:
            spec, array = self.spec(name), self.arrays[name]
            if spec.kind != "bool":
                raise EvaluationError(f"“{name}” is not a yes/no variable.")
            if array.dtype.kind == "b":
                cached = array
            elif array.dtype.kind in "iu":
                if array.size and (array.min() < 0 or array.max() > 1):
                    raise EvaluationError(f"“{name}” must hold true/false (or 0/1).")
                cached = array != 0
            else:
                raise EvaluationError(f"“{name}” must hold true/false (or 0/1).")
            self.cache[name] = cached
        return cached

    def numbers(self, name: str) -> FloatArray:
        """A number (or yes/no as 0.0/1.0) column as float64."""
        key = f"{name}#float"
        cached = self.cache.get(key)
        if cached is None:
            spec, array = self.spec(name), self.arrays[name]
            if spec.kind == "bool":
                cached = self.flags(name).astype(np.float64)
            elif spec.kind != "number":
                raise EvaluationError(f"“{name}” is not a number.")
            elif array.dtype.kind not in "biuf":
                raise EvaluationError(f"“{name}” must hold numbers.")
            else:
                cached = array.astype(np.float64, copy=False)
                if array.dtype.kind == "f" and not np.isfinite(cached).all():
                    raise EvaluationError(f"“{name}” has missing (NaN) or infinite values.")
            self.cache[key] = cached
        return cached


_COMPARE: Final[Mapping[str, Callable[[FloatArray, float], BoolArray]]] = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _condition(condition: Condition, columns: _Columns) -> BoolArray:
    spec, op, value = columns.spec(condition.variable), condition.op, condition.value
    if spec.kind == "category":
        wanted = [value] if isinstance(value, str) else value
        if not isinstance(wanted, list | tuple) or op not in ("==", "!=", "in", "not_in"):
            raise EvaluationError(f"Cannot compare “{spec.name}” with {op} {value!r}.")
        unknown = [item for item in wanted if item not in spec.categories]
        if unknown:
            raise EvaluationError(f"“{spec.name}” has no category {', '.join(unknown)}.")
        mask = np.isin(np.array(spec.categories), np.array(wanted))
        if op in ("!=", "not_in"):
            mask = ~mask
        return mask[columns.codes(spec.name)]
    if spec.kind == "bool":
        if not isinstance(value, bool) or op not in ("==", "!="):
            raise EvaluationError(f"Cannot compare “{spec.name}” with {op} {value!r}.")
        flags = columns.flags(spec.name)
        return flags if (op == "==") == value else ~flags
    if isinstance(value, bool) or not isinstance(value, int | float) or op not in _COMPARE:
        raise EvaluationError(f"Cannot compare “{spec.name}” with {op} {value!r}.")
    return _COMPARE[op](columns.numbers(spec.name), float(value))


def _term(term: LinearTerm | CategoryTerm, columns: _Columns, size: str) -> FloatArray:
    """The term's points for every row (before restricting to its region)."""
    if isinstance(term, CategoryTerm):
        categories = columns.spec(term.variable).categories
        points = np.array([term.points.get(c, 0.0) for c in categories], dtype=np.float64)
        return points[columns.codes(term.variable)]
    value = columns.numbers(term.variable)
    if term.per_member:
        value = value / np.maximum(columns.numbers(size), 1.0)
    if term.cap is not None:
        value = np.minimum(value, term.cap)
    return value * term.coefficient


def _benefit_units(benefit: Benefit, columns: _Columns) -> npt.NDArray[np.int64]:
    """Whole units per line: the value floored, at least 0, at most ``max_units``."""
    units = np.zeros((columns.n, len(benefit.per_unit)), dtype=np.int64)
    for i, line in enumerate(benefit.per_unit):
        upper = float(line.max_units) if line.max_units is not None else 2.0**53
        units[:, i] = np.floor(np.clip(columns.numbers(line.variable), 0.0, upper))
    return units


# --------------------------------------------------------------------------- evaluate


def evaluate(definition: ProgramDefinition, table: Table, catalogue: Catalogue) -> Evaluation:
    """Score and decide every row of ``table``; raises :class:`EvaluationError` on a bad table."""
    columns = _Columns(table, catalogue, required_variables(definition))
    n, pmt = columns.n, definition.pmt

    # The region of each row, through a lookup from region-variable code to region index.
    region_spec = columns.spec(pmt.region_variable)
    lookup = np.full(len(region_spec.categories), -1, dtype=np.int16)
    for r, region_def in enumerate(pmt.regions):
        for value in region_def.values:
            lookup[region_spec.categories.index(value)] = r
    region = lookup[columns.codes(pmt.region_variable)]
    if n and region.min() < 0:
        raise EvaluationError(f"Some rows' “{pmt.region_variable}” belongs to no PMT region.")

    # Score: intercept, then each term added in definition order (a fixed order per row).
    intercepts = np.array([r.intercept for r in pmt.regions], dtype=np.float64)
    score = intercepts[region]
    keys = term_keys(definition)
    contributions = np.zeros((n, len(keys)), dtype=np.float32, order="F")
    column = 0
    for r, region_def in enumerate(pmt.regions):
        in_region = region == r if len(pmt.regions) > 1 else None
        for term in region_def.terms:
            points = _term(term, columns, pmt.size_variable)
            if in_region is not None:
                points = np.where(in_region, points, 0.0)
            score = score + points
            contributions[:, column] = points
            column += 1
    score = np.clip(score, 0.0, 100.0)

    # Cut-off: the highest whose condition holds (the main cut-off always holds).
    cutoff = np.full(n, definition.cutoff, dtype=np.float64)
    category_cutoff = np.full(n, -1, dtype=np.int16)
    for i, category in enumerate(definition.category_cutoffs):
        higher = _condition(category.when, columns) & (category.cutoff > cutoff)
        cutoff = np.where(higher, category.cutoff, cutoff)
        category_cutoff[higher] = i
    within = score <= cutoff

    criteria = np.ones((n, len(definition.criteria)), dtype=np.bool_, order="F")
    for i, criterion in enumerate(definition.criteria):
        for condition in criterion.all:
            criteria[:, i] &= _condition(condition, columns)
    exclusions = np.zeros((n, len(definition.exclusions)), dtype=np.bool_, order="F")
    for i, exclusion in enumerate(definition.exclusions):
        for condition in exclusion.any:
            exclusions[:, i] |= _condition(condition, columns)
    passed = criteria.all(axis=1)
    excluded = exclusions.any(axis=1)
    eligible = within & passed & ~excluded

    reason = np.full(n, Reason.ELIGIBLE, dtype=np.int8)
    reason[~within] = Reason.SCORE_ABOVE_CUTOFF
    reason[~passed] = Reason.CRITERION_FAILED
    reason[excluded] = Reason.EXCLUDED

    benefit = definition.benefit
    units = _benefit_units(benefit, columns)
    amount = np.full(n, benefit.base, dtype=np.int64)
    for i, line in enumerate(benefit.per_unit):
        amount += line.amount * units[:, i]
    if benefit.cap is not None:
        amount = np.minimum(amount, benefit.cap)
    # Validation proves the amount is never negative for values in the catalogue's
    # range; a value outside it (a registry error) must still never yield a debit.
    amount = np.maximum(amount, 0)

    return Evaluation(
        score=score,
        region=region,
        contributions=contributions,
        cutoff=cutoff,
        category_cutoff=category_cutoff,
        criteria=criteria,
        exclusions=exclusions,
        eligible=eligible,
        benefit=np.where(eligible, amount, 0),
        benefit_units=units,
        reason=reason,
    )


def evaluate_one(
    definition: ProgramDefinition, values: Mapping[str, Scalar], catalogue: Catalogue
) -> Evaluation:
    """Evaluate one household (or person) from its answers; categories may be given by name.

    Builds a one-row table and calls :func:`evaluate`, so a self-assessment or
    an officer's review always agrees with the targeting run.
    """
    table: dict[str, npt.NDArray[Any]] = {}
    for name in required_variables(definition):
        if name not in values:
            raise EvaluationError(f"No answer for “{name}”.")
        spec = catalogue.get(name)
        if spec is None:
            raise EvaluationError(f"Not in the variable catalogue: {name}.")
        table[name] = _one_cell(spec, values[name])
    return evaluate(definition, table, catalogue)


def _one_cell(spec: Variable, value: Scalar) -> npt.NDArray[Any]:
    if spec.kind == "category":
        if isinstance(value, str):
            if value not in spec.categories:
                raise EvaluationError(f"“{value}” is not a value of “{spec.name}”.")
            return np.array([spec.categories.index(value)], dtype=np.int64)
        if isinstance(value, int) and not isinstance(value, bool):
            return np.array([value], dtype=np.int64)
    elif spec.kind == "bool":
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return np.array([bool(value)], dtype=np.bool_)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return np.array([value], dtype=np.int64 if isinstance(value, int) else np.float64)
    raise EvaluationError(f"{value!r} is not a valid answer for “{spec.name}” ({spec.kind}).")


# --------------------------------------------------------------------------- explain


class TermExplanation(TypedDict):
    key: str
    variable: str
    kind: str
    points: float


class CategoryCutoffExplanation(TypedDict):
    index: int
    cutoff: float
    label: dict[str, str]


class CutoffExplanation(TypedDict):
    applied: float
    main: float
    category: CategoryCutoffExplanation | None
    score_within: bool


class RuleExplanation(TypedDict):
    id: str
    label: dict[str, str]
    holds: bool


class BenefitLine(TypedDict):
    variable: str
    amount: int
    max_units: int | None
    units: int
    subtotal: int


class BenefitExplanation(TypedDict):
    period: str
    base: int
    per_unit: list[BenefitLine]
    cap: int | None
    capped: bool
    entitlement: int
    """What the rules give this row, eligible or not."""
    amount: int
    """What is paid: the entitlement if eligible, else 0."""


class Explanation(TypedDict):
    program: str
    version: int
    pmt_model_version: str
    score: float
    region: str
    intercept: float
    terms: list[TermExplanation]
    cutoff: CutoffExplanation
    criteria: list[RuleExplanation]
    exclusions: list[RuleExplanation]
    benefit: BenefitExplanation
    eligible: bool
    reason: str
    reason_code: int


def explain(definition: ProgramDefinition, evaluation: Evaluation, row: int) -> Explanation:
    """Why row ``row`` got its outcome, as JSON-ready data for the citizen, the officer and the audit."""
    if not 0 <= row < len(evaluation):
        raise EvaluationError(f"Row {row} is not in the evaluation (0..{len(evaluation) - 1}).")
    pmt = definition.pmt
    r = int(evaluation.region[row])
    first = sum(len(region.terms) for region in pmt.regions[:r])
    keys = term_keys(definition)
    terms = [
        TermExplanation(
            key=keys[first + j],
            variable=term.variable,
            kind=term.kind,
            points=round(float(evaluation.contributions[row, first + j]), 4),
        )
        for j, term in enumerate(pmt.regions[r].terms)
    ]
    c = int(evaluation.category_cutoff[row])
    category = None
    if c >= 0:
        chosen = definition.category_cutoffs[c]
        category = CategoryCutoffExplanation(
            index=c, cutoff=chosen.cutoff, label=chosen.label.model_dump()
        )
    benefit = definition.benefit
    lines = [
        BenefitLine(
            variable=line.variable,
            amount=line.amount,
            max_units=line.max_units,
            units=int(evaluation.benefit_units[row, i]),
            subtotal=line.amount * int(evaluation.benefit_units[row, i]),
        )
        for i, line in enumerate(benefit.per_unit)
    ]
    uncapped = benefit.base + sum(line["subtotal"] for line in lines)
    entitlement = max(min(uncapped, benefit.cap) if benefit.cap is not None else uncapped, 0)
    score = float(evaluation.score[row])
    reason = Reason(int(evaluation.reason[row]))
    return Explanation(
        program=definition.code,
        version=definition.version,
        pmt_model_version=pmt.model_version,
        score=score,
        region=pmt.regions[r].name,
        intercept=pmt.regions[r].intercept,
        terms=terms,
        cutoff=CutoffExplanation(
            applied=float(evaluation.cutoff[row]),
            main=definition.cutoff,
            category=category,
            score_within=score <= float(evaluation.cutoff[row]),
        ),
        criteria=[
            RuleExplanation(
                id=rule.id, label=rule.label.model_dump(), holds=bool(evaluation.criteria[row, i])
            )
            for i, rule in enumerate(definition.criteria)
        ],
        exclusions=[
            RuleExplanation(
                id=rule.id, label=rule.label.model_dump(), holds=bool(evaluation.exclusions[row, i])
            )
            for i, rule in enumerate(definition.exclusions)
        ],
        benefit=BenefitExplanation(
            period=definition.period,
            base=benefit.base,
            per_unit=lines,
            cap=benefit.cap,
            capped=benefit.cap is not None and uncapped > benefit.cap,
            entitlement=entitlement,
            amount=int(evaluation.benefit[row]),
        ),
        eligible=bool(evaluation.eligible[row]),
        reason=reason.name.lower(),
        reason_code=int(reason),
    )
