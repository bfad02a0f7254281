"""Pages of the public self-assessment: no login, nothing written anywhere.

Every screen is a plain form (it works without JavaScript); with htmx only the
question swaps. The answers so far come back signed in a hidden field, so a
person can go back and forth without the server keeping anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from rahdari.core.context_processors import NATIVE_NAMES
from rahdari.core.http import render_page
from rahdari.programs import selectors, selfassess
from rahdari.programs.definition import ProgramDefinition
from rahdari.programs.models import ProgramVersion
from rahdari.programs.selfassess import Plan, Question, StateError, Value

TEMPLATES = "programs/selfassess"


def _open_definitions() -> list[ProgramDefinition]:
    """The approved rules of every program open now (read only)."""
    versions = ProgramVersion.objects.filter(
        program__open=True, status=ProgramVersion.Status.APPROVED
    ).order_by("program__code")
    return [selectors.rules_of(version) for version in versions]


def _language() -> str:
    return get_language() or settings.LANGUAGE_CODE


def _common(request: HttpRequest) -> dict[str, Any]:
    here = reverse("selfassess:questions")
    return {
        "action": f"{here}?lang={_language()}",
        "languages": [
            (code, NATIVE_NAMES[code], f"{here}?lang={code}") for code, _name in settings.LANGUAGES
        ],
    }


def _start(request: HttpRequest, plan: Plan | None, notice: str = "") -> HttpResponse:
    context = {
        "notice": notice,
        "total": len(selfassess.asked(plan, {})) if plan is not None else 0,
        "start_languages": [(code, NATIVE_NAMES[code]) for code, _name in settings.LANGUAGES],
    }
    return render_page(request, f"{TEMPLATES}/start.html", f"{TEMPLATES}/_start.html", context)


def _question(
    request: HttpRequest,
    plan: Plan,
    answers: Mapping[str, Value],
    question: Question,
    *,
    value: str | None = None,
    error: str = "",
) -> HttpResponse:
    context = _common(request) | {
        "screen": selfassess.screen(plan, question, answers, value=value, error=error),
        "state": selfassess.state_dumps(answers),
    }
    return render_page(
        request, f"{TEMPLATES}/question.html", f"{TEMPLATES}/_question.html", context
    )


def _result(request: HttpRequest, plan: Plan, answers: Mapping[str, Value]) -> HttpResponse:
    context = _common(request) | {
        "outcomes": selfassess.assess(plan, answers, _language()),
        "state": selfassess.state_dumps(answers),
    }
    return render_page(request, f"{TEMPLATES}/result.html", f"{TEMPLATES}/_result.html", context)


@require_GET
def start(request: HttpRequest) -> HttpResponse:
    definitions = _open_definitions()
    if not definitions:
        return _start(request, None, _("No program is open right now. Please come back later."))
    return _start(request, selfassess.plan_for(definitions))


@require_http_methods(["GET", "POST"])
def questions(request: HttpRequest) -> HttpResponse:
    """GET: the first question. POST: take the answer (or go back, or step a number)
    and show the next question, or the result after the last one."""
    definitions = _open_definitions()
    if not definitions:
        return _start(request, None, _("No program is open right now. Please come back later."))
    plan = selfassess.plan_for(definitions)
    first = selfassess.next_question(plan, {}, None)
    if first is None:  # rules that read nothing: straight to the result
        return _result(request, plan, {})
    if request.method == "GET":
        return _question(request, plan, {}, first)

    try:
        answers = selfassess.state_loads(request.POST.get("state", ""))
    except StateError:
        return _start(
            request,
            plan,
            _(
                "We could not read your answers: they were changed, or they are more than "
                "a day old. Nothing was saved. Please start again."
            ),
        )
    action = request.POST.get("action", "next")
    if action == "change":  # from the result: back to the last question
        last = selfassess.last_question(plan, answers) or first
        return _question(request, plan, answers, last)
    if action == "result":  # the result again, in another language
        problem = selfassess.first_problem(plan, answers)
        if problem is None:
            return _result(request, plan, answers)
        return _question(request, plan, answers, problem[0])
    current = plan.get(request.POST.get("question", ""))
    if current is None or not selfassess.applicable(plan, current, answers):
        # The form is not ours, or the programs changed since the last screen.
        problem = selfassess.first_problem(plan, answers)
        return _question(request, plan, answers, problem[0] if problem else first)

    raw = request.POST.get("answer", "")
    if action == "back":
        previous = selfassess.previous_question(plan, answers, current)
        if previous is None:
            return _start(request, plan)
        return _question(request, plan, answers, previous)
    if action in ("less", "more") and current.kind == "number":
        direction = 1 if action == "more" else -1
        value = selfassess.stepped(current, raw, answers, direction)
        return _question(request, plan, answers, current, value=value)
    if action == "stay":  # a language switch: the same question in the other language
        return _question(request, plan, answers, current)

    try:
        answer = selfassess.parse_answer(current, raw, answers)
    except selfassess.AnswerError as error:
        return _question(request, plan, answers, current, value=raw, error=str(error))
    answers = {**answers, current.variable: answer}
    following = selfassess.next_question(plan, answers, current)
    if following is not None:
        return _question(request, plan, answers, following)
    problem = selfassess.first_problem(plan, answers)
    if problem is not None:
        question, message = problem
        return _question(
            request,
            plan,
            answers,
            question,
            error=message or _("Please answer this question."),
        )
    return _result(request, plan, answers)
