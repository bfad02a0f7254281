"""The public self-assessment: one plain question per screen, then "you are likely
eligible for X" or why not, for every open program.

The questions are those the open programs' approved rules read (the union of their
``required_variables``), asked in the order a household thinks about itself: who
lives here, the home, what it owns, then the few facts that qualify or exclude. A
few facts are derived rather than asked: a person-target program for people with a
disability is assessed for "the person with a disability" the household reports, and
children in school are not asked about where there are no children of school age.

The answers travel between screens only in a signed hidden form field (never the
database, the session or the URL), and the result is computed by the same evaluator
as the targeting run (:func:`rahdari.programs.pmt.evaluate_one`), so the estimate
agrees with what the survey would decide for the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from django.core import signing
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rahdari.programs import pmt, selectors
from rahdari.programs.definition import ProgramDefinition, required_variables
from rahdari.registry import survey

Text = str | Promise
Value = bool | int | float | str
Answers = dict[str, Value]

STATE_SALT: Final = "rahdari.programs.selfassess"
STATE_MAX_AGE: Final = 24 * 60 * 60
"""A half-finished self-assessment can be picked up again for a day, then it starts over."""

ICON_DIR: Final = "programs/selfassess/icons"

# --------------------------------------------------------------------------- questions


@dataclass(frozen=True, slots=True)
class Choice:
    """One picture button: the category code it answers with, its words and picture."""

    value: str
    label: Text
    icon: str


@dataclass(frozen=True, slots=True)
class Question:
    """How one variable is asked. ``short`` names the answer in a reason ("a car")."""

    variable: str
    text: Text
    icon: str
    help: Text = ""
    short: Text = ""
    choices: tuple[Choice, ...] = ()
    step: float = 1
    text_for_recipient: Text = ""
    """Person questions: the wording when the person is not "the person with a disability"."""
    named_in_reasons: bool = True
    """False where naming the answer as a reason would mislead ("children in school")."""

    @property
    def spec(self) -> survey.VariableSpec:
        return survey.CATALOGUE[self.variable]

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def about_a_person(self) -> bool:
        return self.spec.unit == "person"


def _c(value: str, label: Text, icon: str) -> Choice:
    return Choice(value, label, icon)


_L = gettext_lazy
YES_NO: Final = (_c("yes", _L("Yes"), "yes"), _c("no", _L("No"), "no"))

# The order in which the questions are asked; a definition reads a subset of them.
QUESTIONS: Final[tuple[Question, ...]] = (
    Question(
        "area",
        _L("Where does your household live?"),
        "village",
        choices=(
            _c("urban", _L("In a city or town"), "city"),
            _c("rural", _L("In a village"), "village"),
        ),
    ),
    Question(
        "household_size",
        _L("How many people live in your household, including you?"),
        "family",
        help=_L("Count everyone who eats from the same kitchen."),
        short=_L("the size of the household"),
    ),
    Question(
        "dependants",
        _L("How many of them are children under 15 or elders aged 65 or more?"),
        "elder_child",
        short=_L("children and elders"),
    ),
    Question(
        "children_5_16",
        _L("How many children aged 5 to 16 live in your household?"),
        "children",
        short=_L("children aged 5 to 16"),
    ),
    Question(
        "children_in_school",
        _L("How many of these children go to school?"),
        "school_children",
        short=_L("children in school"),
        # The PMT counts schooling as a sign of means; a page must never suggest that
        # sending children to school costs a family its support.
        named_in_reasons=False,
    ),
    Question(
        "head_education_years",
        _L("How many years did the head of the household study at school?"),
        "book",
        help=_L("If the head never went to school, the answer is 0. Matric is 10 years."),
        short=_L("years of school of the head of the household"),
    ),
    Question(
        "rooms",
        _L("How many rooms does your household live in?"),
        "house_rooms",
        help=_L("Count the rooms for living and sleeping, not the kitchen or the bathroom."),
        short=_L("the number of rooms for each person"),
    ),
    Question(
        "roof_material",
        _L("What is the roof of your home made of?"),
        "roof_rcc",
        short=_L("the roof"),
        choices=(
            _c("rcc", _L("Concrete (RCC)"), "roof_rcc"),
            _c("t_iron_girder", _L("Iron girders and bricks"), "roof_girder"),
            _c("iron_sheet", _L("Iron sheets"), "roof_sheet"),
            _c("wood_mud", _L("Wood and mud"), "roof_mud"),
        ),
    ),
    Question(
        "wall_material",
        _L("What are the walls of your home made of?"),
        "wall_brick",
        short=_L("the walls"),
        choices=(
            _c("burnt_brick", _L("Baked bricks"), "wall_brick"),
            _c("stone", _L("Stone"), "wall_stone"),
            _c("mud_brick", _L("Mud bricks"), "wall_mud"),
            _c("wood_bamboo", _L("Wood or bamboo"), "wall_wood"),
        ),
    ),
    Question(
        "toilet_type",
        _L("What kind of toilet does your household use?"),
        "toilet_sewer",
        short=_L("the toilet"),
        choices=(
            _c("flush_sewer", _L("Flush toilet to the sewer"), "toilet_sewer"),
            _c("flush_septic", _L("Flush toilet to a septic tank"), "toilet_septic"),
            _c("flush_open_drain", _L("Flush toilet to an open drain"), "toilet_drain"),
            _c("dry_pit", _L("Pit latrine without flush"), "toilet_pit"),
            _c("none", _L("No toilet"), "toilet_none"),
        ),
    ),
    Question(
        "water_source",
        _L("Where does your drinking water mostly come from?"),
        "water_tap",
        short=_L("the drinking water"),
        choices=(
            _c("tap", _L("Tap"), "water_tap"),
            _c("motor_pump", _L("Electric motor pump"), "water_motor"),
            _c("hand_pump", _L("Hand pump"), "water_handpump"),
            _c("dug_well", _L("Well"), "water_well"),
            _c("spring", _L("Spring"), "water_spring"),
            _c("surface_water", _L("River, stream or pond"), "water_river"),
        ),
    ),
    Question(
        "cooking_fuel",
        _L("What do you mostly cook with?"),
        "fuel_gas",
        short=_L("the cooking fuel"),
        choices=(
            _c("natural_gas", _L("Gas from a pipe"), "fuel_gas"),
            _c("lpg", _L("Gas cylinder"), "fuel_lpg"),
            _c("firewood", _L("Firewood"), "fuel_wood"),
            _c("dung_cake", _L("Dung cakes"), "fuel_dung"),
            _c("crop_residue", _L("Crop waste (stalks, husks)"), "fuel_crop"),
        ),
    ),
    Question(
        "has_tv", _L("Does your household have a television?"), "tv", short=_L("a television")
    ),
    Question(
        "has_fridge",
        _L("Does your household have a refrigerator?"),
        "fridge",
        short=_L("a refrigerator"),
    ),
    Question(
        "has_washing_machine",
        _L("Does your household have a washing machine?"),
        "washer",
        short=_L("a washing machine"),
    ),
    Question(
        "has_motorcycle",
        _L("Does your household have a motorcycle?"),
        "motorcycle",
        short=_L("a motorcycle"),
    ),
    Question("has_car", _L("Does your household have a car?"), "car", short=_L("a car")),
    Question(
        "has_air_conditioner",
        _L("Does your household have an air conditioner?"),
        "ac",
        short=_L("an air conditioner"),
    ),
    Question(
        "land_acres",
        _L("How many acres of farm land does your household own?"),
        "land",
        help=_L("If you own no land, the answer is 0. Half an acre is 0.5; one acre is 8 kanal."),
        short=_L("farm land"),
        step=0.5,
    ),
    Question(
        "cattle",
        _L("How many cows and buffaloes does your household own?"),
        "cow",
        short=_L("cows and buffaloes"),
    ),
    Question(
        "goats_sheep",
        _L("How many goats and sheep does your household own?"),
        "goat",
        short=_L("goats and sheep"),
    ),
    Question(
        "electricity_bill_pkr",
        _L("How much was your last monthly electricity bill, in rupees?"),
        "bill",
        help=_L("If you have no electricity meter, the answer is 0."),
        short=_L("the electricity bill"),
        step=500,
    ),
    Question(
        "phone_bill_pkr",
        _L("How much does your household spend on mobile phones in a month, in rupees?"),
        "phone",
        help=_L("Count all the balance and packages you buy."),
        short=_L("spending on mobile phones"),
        step=100,
    ),
    Question("female_head", _L("Is the head of your household a woman?"), "female_head"),
    Question("head_is_widow", _L("Is the head of your household a widow?"), "widow"),
    Question(
        "ever_married_women",
        _L("How many women aged 18 or more in your household are or were married?"),
        "women",
        help=_L("Count married women, widows and divorced women."),
    ),
    Question(
        "members_with_disability",
        _L("How many people in your household live with a disability?"),
        "wheelchair",
        help=_L(
            "For example someone who cannot walk, see, hear or speak, or who needs help "
            "to look after themselves."
        ),
    ),
    Question(
        "has_disabled_member",
        _L("Is there a person with a disability in your household?"),
        "wheelchair",
        help=_L(
            "For example someone who cannot walk, see, hear or speak, or who needs help "
            "to look after themselves."
        ),
    ),
    Question(
        "government_employee_member",
        _L("Does anyone in your household work for the government?"),
        "government",
        help=_L("For example in a government office, school or hospital, the police or the army."),
    ),
    Question(
        "member_travelled_abroad",
        _L("Has anyone in your household travelled abroad?"),
        "airplane",
        help=_L("Any journey outside Pakistan."),
    ),
    # About one person: the person with a disability, or whoever the help would be for.
    Question(
        "age",
        _L("How old is the person with a disability?"),
        "person",
        text_for_recipient=_L("How old is the person the help would be for?"),
    ),
    Question(
        "sex",
        _L("Is the person with a disability a man or a woman?"),
        "person",
        text_for_recipient=_L("Is the person the help would be for a man or a woman?"),
        choices=(
            _c("M", _L("Man or boy"), "man"),
            _c("F", _L("Woman or girl"), "woman"),
            _c("X", _L("Transgender"), "person"),
        ),
    ),
    Question(
        "marital_status",
        _L("Is the person with a disability married?"),
        "rings",
        text_for_recipient=_L("Is the person the help would be for married?"),
        choices=(
            _c("never_married", _L("Never married"), "person"),
            _c("married", _L("Married"), "rings"),
            _c("widowed", _L("Widowed"), "widow"),
            _c("divorced", _L("Divorced"), "rings_broken"),
        ),
    ),
    Question(
        "relationship",
        _L("How is the person with a disability related to the head of the household?"),
        "family",
        text_for_recipient=_L(
            "How is the person the help would be for related to the head of the household?"
        ),
        choices=(
            _c("head", _L("The head"), "person"),
            _c("spouse", _L("Wife or husband"), "rings"),
            _c("son", _L("Son"), "man"),
            _c("daughter", _L("Daughter"), "woman"),
            _c("father", _L("Father"), "man"),
            _c("mother", _L("Mother"), "woman"),
            _c("daughter_in_law", _L("Daughter-in-law"), "woman"),
            _c("grandchild", _L("Grandchild"), "children"),
            _c("other", _L("Someone else"), "person"),
        ),
    ),
)
QUESTION_BY_VARIABLE: Final[Mapping[str, Question]] = {q.variable: q for q in QUESTIONS}

# Counts that cannot exceed another answer: variable -> (the bound, what to tell the person).
UPPER_BOUNDS: Final[Mapping[str, tuple[str, Text]]] = {
    "dependants": (
        "household_size",
        _L("This cannot be more than the people in your household (%(n)s)."),
    ),
    "children_5_16": (
        "household_size",
        _L("This cannot be more than the people in your household (%(n)s)."),
    ),
    "children_in_school": (
        "children_5_16",
        _L("This cannot be more than the children aged 5 to 16 (%(n)s)."),
    ),
    "ever_married_women": (
        "household_size",
        _L("This cannot be more than the people in your household (%(n)s)."),
    ),
    "members_with_disability": (
        "household_size",
        _L("This cannot be more than the people in your household (%(n)s)."),
    ),
}


def _fallback(variable: str) -> Question:
    """A variable a new definition reads that has no written question yet: asked in the
    registry's own words, so a new rule never breaks the page."""
    spec = survey.CATALOGUE[variable]
    return Question(variable, spec.label_en or variable, "question", short=spec.label_en)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """The questions for the current open programs, and which facts are derived."""

    definitions: tuple[ProgramDefinition, ...]
    questions: tuple[Question, ...]
    needed: frozenset[str]
    """Every variable some definition reads (asked, derived or assumed)."""
    person_is_disabled: bool
    """Person questions are about "the person with a disability" (and skipped without one)."""

    def get(self, variable: str) -> Question | None:
        return next((q for q in self.questions if q.variable == variable), None)

    def index(self, question: Question) -> int:
        return self.questions.index(question)


def plan_for(definitions: Iterable[ProgramDefinition]) -> Plan:
    """The questions to ask so that every definition can be evaluated."""
    definitions = tuple(definitions)
    needed: dict[str, None] = {}
    person_is_disabled = False
    for definition in definitions:
        names = required_variables(definition)
        needed.update(dict.fromkeys(names))
        if definition.target_unit == "person" and "has_disability" in names:
            person_is_disabled = True
    asked = set(needed)
    # The person's disability is the household's answer: asked once, in household words.
    if "has_disability" in asked:
        asked.discard("has_disability")
        asked.add("has_disabled_member")
    if "members_with_disability" in asked:
        asked.discard("has_disabled_member")  # a count above 0 answers it
    if "head_is_widow" in asked:
        asked.add("female_head")  # only a woman head can be a widow head: asked first
    if "children_in_school" in asked:
        asked.add("children_5_16")
    ordered = [q for q in QUESTIONS if q.variable in asked]
    ordered += [
        _fallback(name)
        for name in needed
        if name in asked and name not in QUESTION_BY_VARIABLE and name in survey.CATALOGUE
    ]
    # Household questions first, then the person questions.
    ordered.sort(key=lambda q: q.about_a_person)
    return Plan(definitions, tuple(ordered), frozenset(needed), person_is_disabled)


def _household_disability(answers: Mapping[str, Value]) -> bool | None:
    if "members_with_disability" in answers:
        return _as_float(answers["members_with_disability"]) > 0
    if "has_disabled_member" in answers:
        return answers["has_disabled_member"] is True
    return None


def _as_float(value: Value) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


# variable -> (when it is not asked, the value it takes)
_SKIPPED_AS: Final[Mapping[str, tuple[Callable[[Mapping[str, Value]], bool], Value]]] = {
    "children_in_school": (lambda a: a.get("children_5_16") == 0, 0),
    "head_is_widow": (lambda a: a.get("female_head") is False, False),
}


def applicable(plan: Plan, question: Question, answers: Mapping[str, Value]) -> bool:
    """Whether the question is asked, given the answers so far (unknown: asked)."""
    skip = _SKIPPED_AS.get(question.variable)
    if skip is not None and skip[0](answers):
        return False
    if question.about_a_person and plan.person_is_disabled:
        return _household_disability(answers) is not False
    return True


def asked(plan: Plan, answers: Mapping[str, Value]) -> list[Question]:
    return [q for q in plan.questions if applicable(plan, q, answers)]


def next_question(
    plan: Plan, answers: Mapping[str, Value], after: Question | None
) -> Question | None:
    start = 0 if after is None else plan.index(after) + 1
    return next((q for q in plan.questions[start:] if applicable(plan, q, answers)), None)


def previous_question(
    plan: Plan, answers: Mapping[str, Value], before: Question
) -> Question | None:
    earlier = plan.questions[: plan.index(before)]
    return next((q for q in reversed(earlier) if applicable(plan, q, answers)), None)


def last_question(plan: Plan, answers: Mapping[str, Value]) -> Question | None:
    shown = asked(plan, answers)
    return shown[-1] if shown else None


def position(plan: Plan, answers: Mapping[str, Value], question: Question) -> tuple[int, int]:
    """("Question 4 of 22"): its place among the questions asked, and how many there are."""
    shown = asked(plan, answers)
    number = shown.index(question) + 1 if question in shown else 1
    return number, len(shown)


# --------------------------------------------------------------------------- answers


class AnswerError(ValueError):
    """An answer that cannot be taken; the message is for the person, in their language."""


_DIGITS: Final = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫", "01234567890123456789.")


def bounds(question: Question, answers: Mapping[str, Value]) -> tuple[float, float, str]:
    """The smallest and largest number allowed now, and what to say above the largest."""
    spec = question.spec
    low = spec.minimum if spec.minimum is not None else 0.0
    high = spec.maximum if spec.maximum is not None else math.inf
    bound = UPPER_BOUNDS.get(question.variable)
    if bound is not None and isinstance(answers.get(bound[0]), int | float):
        limit = _as_float(answers[bound[0]])
        if limit < high:
            return low, limit, str(bound[1]) % {"n": _number(limit)}
    return (
        low,
        high,
        _("Please give a number from %(low)s to %(high)s.")
        % {
            "low": _number(low),
            "high": _number(high),
        },
    )


def _number(value: float) -> str:
    """Grouped by thousands in every language, as the programs' own texts write amounts."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def parse_number(text: str) -> float:
    """A number as a person types it: Urdu or Arabic digits, thousands commas, spaces."""
    cleaned = text.translate(_DIGITS).replace(",", "").replace("،", "").replace(" ", "").strip()
    number = float(cleaned)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def parse_answer(question: Question, raw: str, answers: Mapping[str, Value]) -> Value:
    """The answer as the engine takes it, or :class:`AnswerError` saying what is wrong."""
    spec = question.spec
    raw = raw.strip()
    if spec.kind == "bool":
        if raw not in ("yes", "no"):
            raise AnswerError(_("Please choose Yes or No."))
        return raw == "yes"
    if spec.kind == "category":
        if raw not in spec.categories:
            raise AnswerError(_("Please choose one of the pictures."))
        return raw
    if not raw:
        raise AnswerError(_("Please write a number, or use the − and + buttons."))
    try:
        number = parse_number(raw)
    except ValueError:
        raise AnswerError(_("Please write a number, or use the − and + buttons.")) from None
    if spec.integer and not number.is_integer():
        raise AnswerError(_("Please give a whole number, such as 3."))
    low, high, above = bounds(question, answers)
    if number > high:
        raise AnswerError(above)
    if number < low:
        raise AnswerError(
            _("Please give a number from %(low)s to %(high)s.")
            % {"low": _number(low), "high": _number(high)}
        )
    return int(number) if spec.integer else number


def stepped(question: Question, raw: str, answers: Mapping[str, Value], direction: int) -> str:
    """The number box after a press of − or + (the no-JavaScript stepper)."""
    low, high, _above = bounds(question, answers)
    try:
        current: float | None = parse_number(raw) if raw.strip() else None
    except ValueError:
        current = None
    if current is None:
        value = max(low, question.step) if direction > 0 else low
    else:
        value = current + direction * question.step
    value = min(max(value, low), high)
    return shown_value(question, value)


def shown_value(question: Question, value: Value | None) -> str:
    """An answer as it stands in the form: a number box's text, a choice's code."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def first_problem(plan: Plan, answers: Mapping[str, Value]) -> tuple[Question, str] | None:
    """The first question asked whose answer is missing or no longer fits (a person went
    back and changed the household size, say); None when every answer is good."""
    for question in asked(plan, answers):
        if question.variable not in answers:
            return question, ""
        try:
            parse_answer(question, shown_value(question, answers[question.variable]), answers)
        except AnswerError as error:
            return question, str(error)
    return None


# --------------------------------------------------------------------------- state


class StateError(Exception):
    """The hidden answers were changed, are too old, or are not ours."""


def state_dumps(answers: Mapping[str, Value]) -> str:
    return signing.dumps(dict(answers), salt=STATE_SALT, compress=True)


def state_loads(token: str) -> Answers:
    """The answers carried by the form, checked for tampering and age; "" is a fresh start."""
    if not token:
        return {}
    try:
        data = signing.loads(token, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature as error:
        raise StateError(str(error)) from None
    if not isinstance(data, dict):
        raise StateError("not a mapping")
    answers: Answers = {}
    for name, value in data.items():
        known = name in QUESTION_BY_VARIABLE or name in survey.CATALOGUE
        if known and isinstance(value, bool | int | float | str):
            answers[str(name)] = value
    return answers


# --------------------------------------------------------------------------- the result


def facts(plan: Plan, answers: Mapping[str, Value]) -> tuple[dict[str, Value], set[str]]:
    """Every variable the definitions read, and those merely assumed (not asked, because
    they did not apply, such as the age of a person with a disability where there is none)."""
    values: dict[str, Value] = {}
    assumed: set[str] = set()
    disability = _household_disability(answers)
    for name in plan.needed:
        question = plan.get(name)
        if question is not None and applicable(plan, question, answers) and name in answers:
            values[name] = answers[name]
        elif name in _SKIPPED_AS and _SKIPPED_AS[name][0](answers):
            values[name] = _SKIPPED_AS[name][1]
        elif name in ("has_disability", "has_disabled_member") and disability is not None:
            values[name] = disability
        else:
            spec = survey.CATALOGUE[name]
            values[name] = (
                spec.categories[0]
                if spec.kind == "category"
                else False
                if spec.kind == "bool"
                else int(spec.minimum or 0)
            )
            assumed.add(name)
    return values, assumed


PERIOD_PHRASES: Final[Mapping[str, Text]] = {
    "quarter": _L("every three months"),
    "month": _L("every month"),
    "year": _L("every year"),
}

# What to bring when applying, beyond the identity cards every application needs.
BRING: Final[Mapping[str, tuple[Text, ...]]] = {
    "disability-allowance": (_L("the disability certificate of the person with a disability"),),
    "school-top-up": (_L("a letter from the school for each child who studies there"),),
}
BRING_ALWAYS: Final[tuple[Text, ...]] = (
    _L("your CNIC (identity card)"),
    _L("the CNICs of the adults and the B-Forms of the children in your household"),
    _L("your last electricity bill, if you have one"),
)


@dataclass
class Outcome:
    """What the page says about one program."""

    code: str
    name: str
    eligible: bool
    amount: str = ""
    period: Text = ""
    reasons: list[str] = field(default_factory=list)
    higher_limit: str = ""
    bring: list[Text] = field(default_factory=list)


def _label(label: Mapping[str, str], language: str) -> str:
    return label.get(language) or label["en"]


def _score_reason(explanation: pmt.Explanation, plan: Plan) -> str:
    heaviest = sorted(
        (t for t in explanation["terms"] if t["points"] > 0), key=lambda t: -t["points"]
    )
    names = []
    for term in heaviest:
        question = plan.get(term["variable"])
        if question is None or not question.named_in_reasons or not question.short:
            continue
        if str(question.short) not in names:
            names.append(str(question.short))
        if len(names) == 3:
            break
    reason = _(
        "From your answers, your household is better off than the poorest households "
        "this program is for."
    )
    if names:
        reason += " " + _("What counted most: %(things)s.") % {"things": ", ".join(names)}
    return reason


def assess(plan: Plan, answers: Mapping[str, Value], language: str) -> list[Outcome]:
    """The estimate for every open program, in the page's language, from the same
    evaluation the self-assessment API gives (nothing is stored)."""
    values, assumed = facts(plan, answers)
    rules = {definition.code: definition for definition in plan.definitions}
    outcomes = []
    for result in selectors.self_assessment(values, language):
        outcome = Outcome(code=result.code, name=result.name, eligible=bool(result.likely_eligible))
        outcomes.append(outcome)
        explanation = result.explanation
        definition = rules.get(result.code)
        if explanation is None or definition is None:
            # The program opened or changed while the person was answering.
            outcome.reasons = [
                _("This program changed while you were answering. Please start again.")
            ]
            continue
        if outcome.eligible:
            outcome.amount = _number(result.benefit) if result.benefit else ""
            outcome.period = PERIOD_PHRASES.get(result.period, "")
            outcome.bring = [*BRING_ALWAYS, *BRING.get(result.code, ())]
            category = explanation["cutoff"]["category"]
            if category is not None:
                outcome.higher_limit = _label(category["label"], language)
            continue
        outcome.reasons = [
            _label(rule["label"], language) for rule in explanation["exclusions"] if rule["holds"]
        ]
        criteria = {rule.id: rule for rule in definition.criteria}
        for rule in explanation["criteria"]:
            reads = (
                {c.variable for c in criteria[rule["id"]].all} if rule["id"] in criteria else set()
            )
            if not rule["holds"] and not reads & assumed:
                outcome.reasons.append(
                    _("It is only for: %(rule)s.")
                    % {"rule": _label(rule["label"], language).rstrip(".")}
                )
        if not explanation["cutoff"]["score_within"]:
            outcome.reasons.append(_score_reason(explanation, plan))
    return outcomes


# --------------------------------------------------------------------------- one screen


@dataclass
class Screen:
    """Everything the question template shows."""

    question: Question
    text: Text
    number: int
    total: int
    value: str
    error: str = ""
    choices: list[dict[str, Any]] = field(default_factory=list)
    low: str = ""
    high: str = ""
    step: str = ""
    """The number box's limits and step, as plain text for the stepper script."""
    kind: Literal["number", "bool", "category"] = "number"
    icon: str = ""
    decimal: bool = False


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def icon_template(name: str) -> str:
    return f"{ICON_DIR}/{name}.svg"


def screen(
    plan: Plan,
    question: Question,
    answers: Mapping[str, Value],
    *,
    value: str | None = None,
    error: str = "",
) -> Screen:
    """The screen for one question: its words, picture, place, the answer so far."""
    number, total = position(plan, answers, question)
    if value is None:
        value = shown_value(question, answers.get(question.variable))
    text = question.text
    if question.about_a_person and not plan.person_is_disabled and question.text_for_recipient:
        text = question.text_for_recipient
    kind = question.spec.kind
    options: Sequence[Choice] = question.choices
    if kind == "bool":
        options = YES_NO
    elif kind == "category" and not options:
        options = [Choice(c, c, "question") for c in question.spec.categories]
    low, high, _above = bounds(question, answers) if kind == "number" else (0.0, 0.0, "")
    return Screen(
        question=question,
        text=text,
        number=number,
        total=total,
        value=value,
        error=error,
        choices=[
            {
                "value": c.value,
                "label": c.label,
                "icon": icon_template(c.icon),
                "chosen": c.value == value,
            }
            for c in options
        ],
        low=_plain(low),
        high=_plain(high),
        step=_plain(question.step),
        kind=kind,
        icon=icon_template(question.icon),
        decimal=kind == "number" and not question.spec.integer,
    )
