"""Program definitions: the rules of a social-protection program as data.

A definition says who a program is for and what it pays: a proxy-means test
(PMT) that scores a household from 0 (poorest) to 100, the cut-off at or below
which a household qualifies (with higher cut-offs for some categories, such as
households with a member with a disability), categorical criteria that must all
hold, exclusions of which any one disqualifies, and the benefit per payment
period. Definitions are stored as JSON and checked here against the registry's
*variable catalogue* (the survey questions and derived facts the registry
holds), so that every problem in a definition is reported to the officer who
wrote it, all at once, before a single household is scored with it.

This module is pure (no Django): the registry owns the real catalogue and the
programs app stores definitions; :mod:`rahdari.programs.pmt` evaluates them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Protocol, TypeAlias, TypedDict

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
"""Where the seeded program definitions live, one ``<code>.json`` each."""

SEEDED_PROGRAMS: Final = ("cash-transfer", "school-top-up", "disability-allowance")

# --------------------------------------------------------------------------- catalogue

VariableKind: TypeAlias = Literal["number", "bool", "category"]
Unit: TypeAlias = Literal["household", "person"]


class Variable(Protocol):
    """What the engine needs to know of a variable; the registry's own spec class fits."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> VariableKind: ...
    @property
    def categories(self) -> tuple[str, ...]: ...
    @property
    def minimum(self) -> float | None: ...
    @property
    def maximum(self) -> float | None: ...
    @property
    def unit(self) -> Unit: ...


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """One variable the registry can supply to the eligibility engine.

    Example: ``VariableSpec("roof_material", "category", ("rcc", "t_iron_girder",
    "iron_sheet", "wood_mud"))``; in a table the column holds codes, 0 = ``rcc``.
    ``unit="person"`` marks a fact about one member (age, sex), only present in
    the tables of person-target programs.
    """

    name: str
    kind: VariableKind
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: Unit = "household"

    def __post_init__(self) -> None:
        if (self.kind == "category") != bool(self.categories):
            raise ValueError(f"{self.name}: a category variable needs categories, no other does")
        if len(set(self.categories)) != len(self.categories):
            raise ValueError(f"{self.name}: categories repeat")
        if self.kind != "number" and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"{self.name}: only a number variable has a minimum or maximum")


Catalogue: TypeAlias = Mapping[str, Variable]
"""Variable name -> spec: every variable a definition may name."""


def upper_bound(spec: Variable) -> float | None:
    """The largest value the variable can take as a number (1 for a yes/no answer)."""
    return 1.0 if spec.kind == "bool" else spec.maximum


def catalogue_of(specs: Iterable[Variable]) -> dict[str, Variable]:
    """A catalogue keyed by variable name; a name given twice is a mistake."""
    catalogue: dict[str, Variable] = {}
    for spec in specs:
        if spec.name in catalogue:
            raise ValueError(f"variable {spec.name!r} is listed twice")
        catalogue[spec.name] = spec
    return catalogue


# --------------------------------------------------------------------------- models

_NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=50)]
_Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=50)]
_ModelVersion = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]

Operator: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]
ConditionValue: TypeAlias = bool | int | float | str | tuple[str, ...]


class _Frozen(BaseModel):
    # Strict: "32" is not a number and true is not 1 in a rule that decides who gets paid.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Text(_Frozen):
    """A text in each language the platform speaks to citizens in."""

    en: _NonEmpty
    ur: _NonEmpty
    ps: _NonEmpty


class Condition(_Frozen):
    """``{"variable": "electricity_bill_pkr", "op": ">", "value": 5000}``."""

    variable: str
    op: Operator
    value: ConditionValue

    @field_validator("value", mode="before")
    @classmethod
    def _value_shape(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            if all(isinstance(item, str) for item in value):
                return tuple(value)
            raise PydanticCustomError(
                "value_type", "A list of values may hold only category names."
            )
        if isinstance(value, bool | int | float | str):
            return value
        raise PydanticCustomError(
            "value_type",
            "The value must be a number, true or false, a category name or a list of them.",
        )


class LinearTerm(_Frozen):
    """``coefficient * min(value [/ household size], cap)``; a yes/no answer counts as 0 or 1."""

    kind: Literal["linear"]
    variable: str
    coefficient: float
    cap: float | None = None
    per_member: bool = False


class CategoryTerm(_Frozen):
    """Points for the household's answer; an answer not listed scores 0."""

    kind: Literal["category"]
    variable: str
    points: dict[str, float]


Term: TypeAlias = Annotated[LinearTerm | CategoryTerm, Field(discriminator="kind")]
_TERM_KINDS: Final = frozenset({"linear", "category"})


class Region(_Frozen):
    """The PMT weights for the households whose region variable takes one of ``values``."""

    name: _Identifier
    values: Annotated[tuple[str, ...], Field(strict=False, min_length=1)]
    intercept: float
    terms: Annotated[tuple[Term, ...], Field(strict=False)] = ()


class PmtModel(_Frozen):
    """A proxy-means test: score = clip(intercept + sum of term contributions, 0, 100)."""

    model_version: _ModelVersion
    region_variable: str
    size_variable: str = "household_size"
    """The member count that ``per_member`` terms divide by."""
    regions: Annotated[tuple[Region, ...], Field(strict=False, min_length=1)]


class CategoryCutoff(_Frozen):
    """A higher cut-off for households in a category, e.g. 37 where a member has a disability."""

    when: Condition
    cutoff: float
    label: Text


class Criterion(_Frozen):
    """A categorical rule whose conditions must all hold, e.g. an ever-married woman to pay."""

    id: _Identifier
    label: Text
    all: Annotated[tuple[Condition, ...], Field(strict=False, min_length=1)]


class Exclusion(_Frozen):
    """A rule that excludes a household when any one of its conditions holds."""

    id: _Identifier
    label: Text
    any: Annotated[tuple[Condition, ...], Field(strict=False, min_length=1)]


class PerUnit(_Frozen):
    """``amount`` rupees per whole unit of ``variable`` (at most ``max_units`` units)."""

    variable: str
    amount: int
    max_units: Annotated[int | None, Field(ge=0)] = None


class Benefit(_Frozen):
    """Rupees per period: ``min(base + sum(amount * units), cap)``."""

    base: int
    per_unit: Annotated[tuple[PerUnit, ...], Field(strict=False)] = ()
    cap: int | None = None


class ProgramDefinition(_Frozen):
    """One version of a program's rules (a published version is never edited; bump ``version``)."""

    code: _Slug
    version: Annotated[int, Field(ge=1)]
    name: Text
    description: Text
    target_unit: Unit
    period: Literal["quarter", "month", "year"]
    pmt: PmtModel
    cutoff: float
    category_cutoffs: Annotated[tuple[CategoryCutoff, ...], Field(strict=False)] = ()
    criteria: Annotated[tuple[Criterion, ...], Field(strict=False)] = ()
    exclusions: Annotated[tuple[Exclusion, ...], Field(strict=False)] = ()
    benefit: Benefit


def required_variables(definition: ProgramDefinition) -> tuple[str, ...]:
    """Every variable the definition reads, in first-use order (the questions to ask)."""
    names: dict[str, None] = {definition.pmt.region_variable: None}
    for region in definition.pmt.regions:
        for term in region.terms:
            if isinstance(term, LinearTerm) and term.per_member:
                names[definition.pmt.size_variable] = None
            names[term.variable] = None
    conditions = [c.when for c in definition.category_cutoffs]
    conditions += [c for rule in definition.criteria for c in rule.all]
    conditions += [c for rule in definition.exclusions for c in rule.any]
    names.update((condition.variable, None) for condition in conditions)
    names.update((line.variable, None) for line in definition.benefit.per_unit)
    return tuple(names)


# --------------------------------------------------------------------------- problems


class Problem(TypedDict):
    """One thing wrong with a definition: where, a stable code, and a sentence for the officer."""

    path: str
    code: str
    message: str


PROBLEM_CODES: Final[Mapping[str, str]] = {
    # Semantic problems, found against the catalogue.
    "unknown_variable": "The variable is not in the registry catalogue.",
    "variable_kind": "The variable is of the wrong kind for this use.",
    "operator_kind": "The comparison cannot be used with this kind of variable.",
    "value_type": "The value does not fit the variable or the comparison.",
    "unknown_category": "The value is not one of the variable's categories.",
    "person_variable": "A fact about one person is used where only household facts apply.",
    "cutoff_range": "A cut-off must be above 0 and at most 100.",
    "cutoff_ineffective": "A category cut-off at or below the main cut-off never applies.",
    "region_overlap": "A value belongs to more than one region.",
    "region_gap": "A value of the region variable belongs to no region.",
    "duplicate_id": "The same id or name is used twice.",
    "duplicate_term": "A region scores the same variable twice.",
    "benefit_negative": "The benefit can come out below zero.",
    "benefit_unbounded": "A negative per-unit amount has no limit on its units.",
    # Structural problems, from parsing.
    "required": "A required field is missing.",
    "unknown_field": "The field is not part of a definition.",
    "invalid_choice": "The value is not one of the allowed choices.",
    "invalid_format": "The text is not in the expected format.",
    "invalid_type": "The value has the wrong type.",
    "empty": "The text is empty.",
    "too_short": "The list needs more items.",
    "out_of_range": "The number is out of range.",
    "invalid_json": "The file is not valid JSON.",
}
"""Every problem code with a generic English sentence (the key for translations)."""


class DefinitionError(Exception):
    """A definition that cannot be used; ``problems`` lists everything found wrong."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(
            "; ".join(f"{p['path'] or '(definition)'}: {p['message']}" for p in self.problems)
        )


_PYDANTIC_CODES: Final[Mapping[str, str]] = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "literal_error": "invalid_choice",
    "union_tag_invalid": "invalid_choice",
    "union_tag_not_found": "required",
    "string_pattern_mismatch": "invalid_format",
    "string_too_long": "invalid_format",
    "string_too_short": "empty",
    "too_short": "too_short",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "value_type": "value_type",
}

_FORMAT_HINTS: Final[Mapping[str, str]] = {
    "code": "Use lower-case letters and digits separated by single hyphens, e.g. “cash-transfer”.",
    "model_version": "Use a year and a number, e.g. “2025.1”.",
    "id": "Use lower-case letters, digits and underscores, starting with a letter.",
    "name": "Use lower-case letters, digits and underscores, starting with a letter.",
}


def _path(loc: Sequence[int | str]) -> str:
    """``("pmt", "regions", 1, "terms", 3, "linear", "variable")`` -> ``pmt.regions[1].terms[3].variable``."""
    path = ""
    previous: int | str | None = None
    for item in loc:
        if isinstance(item, int):
            path += f"[{item}]"
        elif not (isinstance(previous, int) and item in _TERM_KINDS):  # the union's tag
            path += f".{item}" if path else item
        previous = item
    return path


def _echo(error: ErrorDetails, errors: Sequence[ErrorDetails]) -> bool:
    """A list found too short only because its items failed (those failures say it all)."""
    loc = error["loc"]
    return error["type"] == "too_short" and any(
        other["loc"][: len(loc)] == loc and len(other["loc"]) > len(loc) for other in errors
    )


def _pydantic_problem(error: ErrorDetails) -> Problem:
    kind = error["type"]
    loc = error["loc"]
    field = str(loc[-1]) if loc else ""
    code = _PYDANTIC_CODES.get(kind, "invalid_type")
    message = error["msg"].rstrip(".").replace("Input should be", "Must be", 1) + "."
    if kind == "missing":
        message = "This field is required."
    elif kind == "extra_forbidden" and "category" in loc and field in ("per_member", "cap"):
        message = f"A category term scores each answer; “{field}” belongs to linear terms only."
    elif kind == "extra_forbidden":
        message = f"“{field}” is not a field here."
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        message = "A term's “kind” must be “linear” or “category”."
    elif kind == "string_too_short":
        message = "This text must not be empty."
    elif kind == "too_short":
        message = f"List at least {error.get('ctx', {}).get('min_length', 1)} item(s)."
    elif kind == "string_pattern_mismatch":
        message = _FORMAT_HINTS.get(field, message)
    return Problem(path=_path(loc), code=code, message=message)


# --------------------------------------------------------------------------- validation

_OPERATORS: Final[Mapping[VariableKind, tuple[Operator, ...]]] = {
    "number": ("==", "!=", "<", "<=", ">", ">="),
    "bool": ("==", "!="),
    "category": ("==", "!=", "in", "not_in"),
}
_KIND_WORDS: Final[Mapping[VariableKind, str]] = {
    "number": "a number",
    "bool": "a yes/no answer",
    "category": "a category",
}


def definition_validate(data: Mapping[str, Any], catalogue: Catalogue) -> ProgramDefinition:
    """Parse and check a definition against the catalogue; raise :class:`DefinitionError` listing all problems.

    Where some top-level sections fail to parse (a wrong type, a missing field),
    the sections that do parse are still checked against the catalogue, so an
    officer sees every problem in one go; a section that does not parse (say
    ``pmt`` with a malformed term) is checked once its structure is fixed.
    """
    problems: list[Problem] = []
    definition: ProgramDefinition | None = None
    try:
        definition = ProgramDefinition.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems.extend(_pydantic_problem(error) for error in errors if not _echo(error, errors))
        sections = _parse_sections(data, {error["loc"][0] for error in errors if error["loc"]})
    else:
        sections = dict(definition)
    _Checker(catalogue, sections, problems).run()
    if problems or definition is None:
        raise DefinitionError(problems)
    return definition


def definition_load(path: Path, catalogue: Catalogue) -> ProgramDefinition:
    """Read a definition from a JSON file and validate it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [Problem(path="", code="invalid_json", message=f"{path.name} is not valid JSON: {exc}")]
        ) from exc
    if not isinstance(data, dict):
        raise DefinitionError(
            [Problem(path="", code="invalid_type", message="A definition is a JSON object.")]
        )
    return definition_validate(data, catalogue)


def seeded_definition(code: str, catalogue: Catalogue) -> ProgramDefinition:
    """One of :data:`SEEDED_PROGRAMS`, validated."""
    if code not in SEEDED_PROGRAMS:
        raise KeyError(code)
    return definition_load(DATA_DIR / f"{code}.json", catalogue)


def _parse_sections(data: object, failed: set[int | str]) -> dict[str, object]:
    """The top-level fields that parse on their own, when the whole definition does not."""
    if not isinstance(data, Mapping) or "" in failed:
        return {}
    sections: dict[str, object] = {}
    for name, field in ProgramDefinition.model_fields.items():
        if name in failed:
            continue
        if name in data:
            # The field's type with its constraints, rebuilt at run time.
            form: Any = field.annotation
            if field.metadata:
                form = Annotated.__class_getitem__((form, *field.metadata))  # type: ignore[attr-defined]
            adapter: TypeAdapter[object] = TypeAdapter(form)
            try:
                sections[name] = adapter.validate_python(data[name])
            except ValidationError:  # already reported from the full parse
                continue
        elif not field.is_required():
            sections[name] = field.get_default(call_default_factory=True)
    return sections


class _Checker:
    """The checks that need the catalogue; each section is checked if it parsed."""

    def __init__(
        self, catalogue: Catalogue, sections: Mapping[str, object], problems: list[Problem]
    ) -> None:
        self.catalogue = catalogue
        self.sections = sections
        self.problems = problems
        unit = sections.get("target_unit")
        self.target_unit: str | None = unit if isinstance(unit, str) else None

    def add(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path=path, code=code, message=message))

    def run(self) -> None:
        pmt = self.sections.get("pmt")
        if isinstance(pmt, PmtModel):
            self.pmt(pmt)
        cutoff = self.sections.get("cutoff")
        base = cutoff if isinstance(cutoff, float) else None
        if base is not None:
            self.cutoff("cutoff", base)
        cutoffs = self.sections.get("category_cutoffs")
        if isinstance(cutoffs, tuple):
            for i, category in enumerate(cutoffs):
                if isinstance(category, CategoryCutoff):
                    self.category_cutoff(f"category_cutoffs[{i}]", category, base)
        self.rules()
        benefit = self.sections.get("benefit")
        if isinstance(benefit, Benefit):
            self.benefit(benefit)

    # ---- variables

    def variable(
        self,
        path: str,
        name: str,
        kinds: tuple[VariableKind, ...],
        use: str,
        *,
        household_only: bool = False,
    ) -> Variable | None:
        spec = self.catalogue.get(name)
        if spec is None:
            self.add(path, "unknown_variable", f"“{name}” is not a variable in the catalogue.")
            return None
        if spec.unit == "person" and (household_only or self.target_unit == "household"):
            where = "the proxy-means test" if household_only else "a household program"
            self.add(
                path,
                "person_variable",
                f"“{name}” describes one person and cannot be used in {where}.",
            )
        if spec.kind not in kinds:
            wanted = " or ".join(_KIND_WORDS[kind] for kind in kinds)
            self.add(
                path,
                "variable_kind",
                f"{use} needs {wanted}; “{name}” is {_KIND_WORDS[spec.kind]}.",
            )
            return None
        return spec

    def category_value(self, path: str, spec: Variable, value: str) -> None:
        if value not in spec.categories:
            self.add(
                path,
                "unknown_category",
                f"“{value}” is not a value of “{spec.name}” "
                f"(one of: {', '.join(spec.categories)}).",
            )

    # ---- the PMT

    def pmt(self, pmt: PmtModel) -> None:
        spec = self.variable(
            "pmt.region_variable",
            pmt.region_variable,
            ("category",),
            "The region variable",
            household_only=True,
        )
        if any(isinstance(t, LinearTerm) and t.per_member for r in pmt.regions for t in r.terms):
            self.variable(
                "pmt.size_variable",
                pmt.size_variable,
                ("number",),
                "Dividing per member",
                household_only=True,
            )
        owner: dict[str, str] = {}
        names: set[str] = set()
        for i, region in enumerate(pmt.regions):
            path = f"pmt.regions[{i}]"
            if region.name in names:
                self.add(f"{path}.name", "duplicate_id", f"Two regions are named “{region.name}”.")
            names.add(region.name)
            for j, value in enumerate(region.values):
                if spec is None:
                    break
                self.category_value(f"{path}.values[{j}]", spec, value)
                if value in owner:
                    self.add(
                        f"{path}.values[{j}]",
                        "region_overlap",
                        f"“{value}” is already in region “{owner[value]}”; "
                        "each value belongs to one region.",
                    )
                else:
                    owner[value] = region.name
            scored: set[str] = set()
            for j, term in enumerate(region.terms):
                self.term(f"{path}.terms[{j}]", term)
                if term.variable in scored:
                    self.add(
                        f"{path}.terms[{j}].variable",
                        "duplicate_term",
                        f"Region “{region.name}” already scores “{term.variable}”.",
                    )
                scored.add(term.variable)
        if spec is not None:
            missing = [value for value in spec.categories if value not in owner]
            if missing:
                self.add(
                    "pmt.regions",
                    "region_gap",
                    f"No region covers {', '.join(f'“{v}”' for v in missing)} of "
                    f"“{spec.name}”; every value needs exactly one region.",
                )

    def term(self, path: str, term: LinearTerm | CategoryTerm) -> None:
        if isinstance(term, LinearTerm):
            spec = self.variable(
                f"{path}.variable",
                term.variable,
                ("number", "bool"),
                "A linear term",
                household_only=True,
            )
            if spec is not None and term.per_member and spec.kind != "number":
                self.add(
                    f"{path}.per_member",
                    "variable_kind",
                    f"Only a count can be divided per member; “{spec.name}” is a yes/no answer.",
                )
            return
        spec = self.variable(
            f"{path}.variable",
            term.variable,
            ("category",),
            "A category term",
            household_only=True,
        )
        if spec is not None:
            for value in term.points:
                self.category_value(f"{path}.points.{value}", spec, value)

    # ---- cut-offs and rules

    def cutoff(self, path: str, cutoff: float) -> None:
        if not 0.0 < cutoff <= 100.0:
            self.add(
                path,
                "cutoff_range",
                f"A cut-off must be above 0 and at most 100 (it is {cutoff:g}).",
            )

    def category_cutoff(self, path: str, category: CategoryCutoff, base: float | None) -> None:
        self.condition(f"{path}.when", category.when)
        self.cutoff(f"{path}.cutoff", category.cutoff)
        if base is not None and 0.0 < category.cutoff <= base <= 100.0:
            self.add(
                f"{path}.cutoff",
                "cutoff_ineffective",
                f"This cut-off ({category.cutoff:g}) is not above the main cut-off "
                f"({base:g}), so it would never apply.",
            )

    def rules(self) -> None:
        seen: set[str] = set()
        for section, field in (("criteria", "all"), ("exclusions", "any")):
            rules = self.sections.get(section)
            if not isinstance(rules, tuple):
                continue
            for i, rule in enumerate(rules):
                if not isinstance(rule, Criterion | Exclusion):
                    continue
                if rule.id in seen:
                    self.add(
                        f"{section}[{i}].id",
                        "duplicate_id",
                        f"The id “{rule.id}” is used by another criterion or exclusion.",
                    )
                seen.add(rule.id)
                conditions = rule.all if isinstance(rule, Criterion) else rule.any
                for j, condition in enumerate(conditions):
                    self.condition(f"{section}[{i}].{field}[{j}]", condition)

    def condition(self, path: str, condition: Condition) -> None:
        spec = self.variable(
            f"{path}.variable",
            condition.variable,
            ("number", "bool", "category"),
            "A condition",
        )
        if spec is None:
            return
        op, value = condition.op, condition.value
        if op not in _OPERATORS[spec.kind]:
            self.add(
                f"{path}.op",
                "operator_kind",
                f"“{op}” cannot be used with {_KIND_WORDS[spec.kind]} (“{spec.name}”); "
                f"use one of {', '.join(_OPERATORS[spec.kind])}.",
            )
            return
        if spec.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.add(f"{path}.value", "value_type", f"“{spec.name}” is compared with a number.")
        elif spec.kind == "bool":
            if not isinstance(value, bool):
                self.add(
                    f"{path}.value", "value_type", f"“{spec.name}” is compared with true or false."
                )
        elif op in ("in", "not_in"):
            if not isinstance(value, tuple) or not value:
                self.add(f"{path}.value", "value_type", f"“{op}” needs a list of categories.")
            else:
                for k, item in enumerate(value):
                    self.category_value(f"{path}.value[{k}]", spec, item)
        elif not isinstance(value, str):
            self.add(f"{path}.value", "value_type", f"“{spec.name}” is compared with one category.")
        else:
            self.category_value(f"{path}.value", spec, value)

    # ---- benefit

    def benefit(self, benefit: Benefit) -> None:
        worst = benefit.base
        bounded = True
        for i, line in enumerate(benefit.per_unit):
            path = f"benefit.per_unit[{i}]"
            spec = self.variable(
                f"{path}.variable", line.variable, ("number", "bool"), "A per-unit amount"
            )
            if spec is None or line.amount >= 0:
                continue
            limit = line.max_units if line.max_units is not None else upper_bound(spec)
            if limit is None:
                bounded = False
                self.add(
                    f"{path}.max_units",
                    "benefit_unbounded",
                    f"A negative amount per “{spec.name}” needs max_units, "
                    "or the benefit could fall below zero.",
                )
            else:
                worst += line.amount * math.floor(limit)
        if bounded and worst < 0:
            self.add(
                "benefit",
                "benefit_negative",
                f"In the worst case the benefit would be Rs {worst:,}; it must never be negative.",
            )
        if benefit.cap is not None and benefit.cap < 0:
            self.add("benefit.cap", "benefit_negative", "The cap must not be negative.")
