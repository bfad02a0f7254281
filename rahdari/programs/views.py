"""Officers' pages for programs: the rules as a reader sees them, proposals with four eyes,
targeting runs with progress, counts, what-if and approval, one decision with its
explanation (a logged read), and the appeals queue.

Views parse, check the officer may open the page, call a service or selector and
render; each service checks the permission for its own action and the four-eyes rule.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.http import is_verified
from rahdari.programs import pmt, selectors, services
from rahdari.programs.definition import Condition, LinearTerm, ProgramDefinition
from rahdari.programs.forms import (
    AppealDecisionForm,
    AppealForm,
    DecideForm,
    DecisionFilterForm,
    ProposeForm,
    RunStartForm,
    WhatIfForm,
)
from rahdari.programs.models import Program, ProgramVersion, TargetingRun
from rahdari.registry.forms import CATEGORY_LABELS, VARIABLE_LABELS

PAGE_SIZE = 50

OTHER_LABELS: dict[str, Any] = {
    "area": gettext_lazy("Urban or rural"),
    "urban": gettext_lazy("Urban"),
    "rural": gettext_lazy("Rural"),
    "ever_married_women": gettext_lazy("Women aged 18 or more who are or were married"),
    "members_with_disability": gettext_lazy("Members living with a disability"),
    "age": gettext_lazy("Age in years"),
    "sex": gettext_lazy("Sex"),
    "marital_status": gettext_lazy("Marital status"),
    "relationship": gettext_lazy("Relationship to the head"),
    "has_disability": gettext_lazy("Lives with a disability"),
}
REASON_LABELS: dict[str, Any] = {
    "eligible": gettext_lazy("Eligible"),
    "score_above_cutoff": gettext_lazy("Score above the cut-off"),
    "criterion_failed": gettext_lazy("A condition is not met"),
    "excluded": gettext_lazy("Excluded by a rule"),
}
PERIOD_LABELS: dict[str, Any] = {
    "quarter": gettext_lazy("every quarter"),
    "month": gettext_lazy("every month"),
    "year": gettext_lazy("every year"),
}
OPERATOR_LABELS: dict[str, Any] = {
    "==": "=",
    "!=": "≠",
    "<": "<",
    "<=": "≤",
    ">": ">",
    ">=": "≥",
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
}


def _staff(request: HttpRequest, *permissions: str) -> User:
    """A staff member who works on programs (or holds one of ``permissions``)."""
    user = request_user(request)
    if not selectors.may_work_on_programs(user, permissions or selectors.PERMISSIONS):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


def _found(loader: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return loader(*args, **kwargs)
    except NotFound as error:
        raise Http404(str(error.message)) from error


# --------------------------------------------------------------------------- presenting rules


def reason_label(code: int) -> Any:
    name = pmt.Reason(code).name.lower()
    return REASON_LABELS.get(name, name)


def variable_label(name: str) -> Any:
    return VARIABLE_LABELS.get(name) or OTHER_LABELS.get(name) or name


def value_label(value: Any) -> Any:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str):
        return CATEGORY_LABELS.get(value) or OTHER_LABELS.get(value) or value
    if isinstance(value, list | tuple):
        return ", ".join(str(value_label(v)) for v in value)
    return number_format(value, force_grouping=True)


def condition_text(condition: Condition) -> str:
    return " ".join(
        [
            str(variable_label(condition.variable)),
            str(OPERATOR_LABELS.get(condition.op, condition.op)),
            str(value_label(condition.value)),
        ]
    )


def _term_text(term: Any) -> str:
    if isinstance(term, LinearTerm):
        text = _("%(coefficient)s points for each unit") % {
            "coefficient": number_format(term.coefficient)
        }
        if term.per_member:
            text += " " + _("(per member of the household)")
        if term.cap is not None:
            text += " " + _("(counted up to %(cap)s)") % {"cap": number_format(term.cap)}
        return text
    return "; ".join(
        f"{value_label(answer)}: {number_format(points)}" for answer, points in term.points.items()
    )


def benefit_lines(rules: ProgramDefinition) -> list[str]:
    """The benefit formula in words, one line per part."""
    benefit = rules.benefit
    lines = []
    if benefit.base or not benefit.per_unit:
        lines.append(
            _("Rs %(amount)s") % {"amount": number_format(benefit.base, force_grouping=True)}
        )
    for line in benefit.per_unit:
        text = _("Rs %(amount)s for each: %(what)s") % {
            "amount": number_format(line.amount, force_grouping=True),
            "what": variable_label(line.variable),
        }
        if line.max_units is not None:
            text += " " + _("(at most %(n)s)") % {"n": number_format(line.max_units)}
        lines.append(text)
    if benefit.cap is not None:
        lines.append(
            _("at most Rs %(cap)s in all")
            % {"cap": number_format(benefit.cap, force_grouping=True)}
        )
    lines.append(str(PERIOD_LABELS.get(rules.period, rules.period)))
    return lines


def rules_context(rules: ProgramDefinition, language: str) -> dict[str, Any]:
    """The approved rules as a reader sees them: regions and terms with points, cut-offs,
    criteria, exclusions and the benefit, in the page's language."""
    return {
        "name": selectors.text_in(rules.name, language),
        "description": selectors.text_in(rules.description, language),
        "model_version": rules.pmt.model_version,
        "region_variable": variable_label(rules.pmt.region_variable),
        "regions": [
            {
                "name": value_label(region.name),
                "values": ", ".join(str(value_label(v)) for v in region.values),
                "intercept": region.intercept,
                "terms": [
                    {
                        "variable": term.variable,
                        "label": variable_label(term.variable),
                        "kind": term.kind,
                        "text": _term_text(term),
                    }
                    for term in region.terms
                ],
            }
            for region in rules.pmt.regions
        ],
        "cutoff": rules.cutoff,
        "category_cutoffs": [
            {
                "label": selectors.text_in(category.label, language),
                "when": condition_text(category.when),
                "cutoff": category.cutoff,
            }
            for category in rules.category_cutoffs
        ],
        "criteria": [
            {
                "id": rule.id,
                "label": selectors.text_in(rule.label, language),
                "conditions": [condition_text(c) for c in rule.all],
            }
            for rule in rules.criteria
        ],
        "exclusions": [
            {
                "id": rule.id,
                "label": selectors.text_in(rule.label, language),
                "conditions": [condition_text(c) for c in rule.any],
            }
            for rule in rules.exclusions
        ],
        "benefit": benefit_lines(rules),
        "period": PERIOD_LABELS.get(rules.period, rules.period),
    }


def explanation_context(explanation: pmt.Explanation, language: str) -> dict[str, Any]:
    """A decision's explanation as the officer reads it."""
    category = explanation["cutoff"]["category"]
    return {
        **explanation,
        "region_label": value_label(explanation["region"]),
        "reason_label": REASON_LABELS.get(explanation["reason"], explanation["reason"]),
        "terms": [
            {**term, "label": variable_label(term["variable"])} for term in explanation["terms"]
        ],
        "category_label": selectors.text_in(category["label"], language) if category else "",
        "criteria": [
            {**rule, "text": selectors.text_in(rule["label"], language)}
            for rule in explanation["criteria"]
        ],
        "exclusions": [
            {**rule, "text": selectors.text_in(rule["label"], language)}
            for rule in explanation["exclusions"]
        ],
        "benefit_lines": [
            {**line, "label": variable_label(line["variable"])}
            for line in explanation["benefit"]["per_unit"]
        ],
        "period_label": PERIOD_LABELS.get(explanation["benefit"]["period"], ""),
    }


def _language() -> str:
    return (get_language() or "en").split("-")[0]


# --------------------------------------------------------------------------- programs


@login_required
@require_GET
def program_list(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    language = _language()
    rows = [
        {
            "row": row,
            "name": selectors.text_in(row.rules.name, language) if row.rules else row.program.code,
            "benefit": benefit_lines(row.rules) if row.rules else [],
        }
        for row in selectors.programs_overview()
    ]
    return render(
        request,
        "programs/program_list.html",
        {"rows": rows, "can_review": user.has_perm("programs.review_appeals")},
    )


def _problems(error: ApplicationError) -> list[tuple[str, str]]:
    return [(path, message) for path, found in error.fields.items() for message in found]


@login_required
def program_detail(request: HttpRequest, code: str) -> HttpResponse:
    """The approved rules, their history, proposals waiting for a second officer, the
    form to propose a change, and the program's targeting runs."""
    user = _staff(request)
    program = _found(selectors.program_get, code)
    approved = selectors.program_approved(program)
    posted = request.method == "POST"
    initial = {
        "definition": json.dumps(approved.definition, indent=2, ensure_ascii=False)
        if approved
        else ""
    }
    form = ProposeForm(request.POST if posted else None, initial=initial)
    problems: list[tuple[str, str]] = []
    status = 200
    if posted:
        if not user.has_perm("programs.propose_rules"):
            raise PermissionDenied
        if form.is_valid():
            try:
                version = services.program_version_propose(
                    code=program.code,
                    definition=form.cleaned_data["definition"],
                    note=form.cleaned_data["note"],
                    actor=user,
                )
            except ApplicationError as error:
                status = 400
                problems = _problems(error)
                for path, message in problems:
                    form.add_error("note" if path == "note" else "definition", f"{path}: {message}")
                if not problems:
                    form.add_error(None, str(error.message))
            else:
                messages.success(
                    request,
                    _("Version %(n)d is proposed. Another officer must approve it.")
                    % {"n": version.version},
                )
                return redirect("programs:program", code=program.code)
        else:
            status = 400
    return render(
        request,
        "programs/program_detail.html",
        _program_context(user, program, approved, form, problems),
        status=status,
    )


def _program_context(
    user: User,
    program: Program,
    approved: ProgramVersion | None,
    form: ProposeForm,
    problems: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    versions = list(selectors.program_versions(program))
    proposed = [
        {
            "version": v,
            "own": v.proposed_by_id == user.pk,
            "form": DecideForm(initial={"decision": "approve"}),
        }
        for v in versions
        if v.status == ProgramVersion.Status.PROPOSED
    ]
    language = _language()
    runs = list(selectors.program_runs(program)[:20])
    return {
        "program": program,
        "approved": approved,
        "rules": rules_context(selectors.rules_of(approved), language) if approved else None,
        "versions": versions,
        "proposed": proposed,
        "runs": runs,
        "beneficiaries": selectors.program_beneficiaries(program),
        "form": form,
        "problems": problems,
        "can_propose": user.has_perm("programs.propose_rules"),
        "can_approve": user.has_perm("programs.approve_rules"),
        "can_run": user.has_perm("programs.run_targeting") and approved is not None,
        "run_busy": any(selectors.run_in_progress(r) for r in runs),
    }


@login_required
@require_POST
def version_decide(request: HttpRequest, version_id: str) -> HttpResponse:
    user = _staff(request, "programs.approve_rules")
    version = _found(selectors.version_get, version_id)
    form = DecideForm(request.POST)
    if form.is_valid():
        try:
            services.program_version_decide(
                version=version, approve=form.approve, actor=user, note=form.cleaned_data["note"]
            )
        except ApplicationError as error:
            messages.error(request, str(error.message))
        else:
            text = (
                _("Version %(n)d is approved: it applies from now.")
                if form.approve
                else _("Version %(n)d is rejected.")
            )
            messages.success(request, text % {"n": version.version})
    return redirect("programs:program", code=version.program.code)


@login_required
@require_POST
def run_start(request: HttpRequest, code: str) -> HttpResponse:
    user = _staff(request, "programs.run_targeting")
    program = _found(selectors.program_get, code)
    form = RunStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a targeting run or a recertification."))
        return redirect("programs:program", code=program.code)
    try:
        run = services.targeting_run_start(
            program=program, actor=user, kind=form.cleaned_data["kind"]
        )
    except ApplicationError as error:
        messages.error(request, str(error.message))
        return redirect("programs:program", code=program.code)
    messages.success(request, _("The run has started. This page shows its progress."))
    return redirect("programs:run", run_id=run.pk)


# --------------------------------------------------------------------------- runs


def _run_context(request: HttpRequest, user: User, run: TargetingRun) -> dict[str, Any]:
    computing = selectors.run_in_progress(run)
    context: dict[str, Any] = {
        "run": run,
        "name": selectors.text_in(selectors.rules_of(run.version).name, _language()),
        "progress": selectors.run_progress(run),
        "computing": computing,
        "own": run.prepared_by_id == user.pk,
        "can_decide": user.has_perm("programs.approve_targeting"),
        "decide_form": DecideForm(initial={"decision": "approve"}),
        "whatif_form": WhatIfForm(initial={"cutoff": selectors.rules_of(run.version).cutoff}),
    }
    if computing or run.status == TargetingRun.Status.FAILED:
        return context
    summary = run.summary
    filters = DecisionFilterForm(request.GET or None, districts=selectors.districts_of(user))
    decisions = selectors.run_decisions(run=run, user=user, **filters.filters())
    page = Paginator(decisions, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for decision in page.object_list:
        decision.reason_label = reason_label(decision.reason)  # type: ignore[attr-defined]
    params = request.GET.copy()
    params.pop("page", None)
    context.update(
        {
            "by_district": selectors.run_by_district(run),
            "by_reason": [
                {"reason": key, "label": REASON_LABELS.get(key, key), "count": count}
                for key, count in summary.get("by_reason", {}).items()
            ],
            "changes": summary.get("changes"),
            "filters": filters,
            "page": page,
            "query_string": params.urlencode(),
        }
    )
    return context


@login_required
@require_GET
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    """A run: progress while computing (the page polls this view), then its counts, the
    what-if form, approval by a second officer and the decisions."""
    user = _staff(request)
    run = _found(selectors.run_get, run_id)
    context = _run_context(request, user, run)
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "decision-rows":
        return render(request, "programs/partials/_decision_rows.html", context)
    if htmx:
        return render(request, "programs/partials/_run_body.html", context)
    return render(request, "programs/run.html", context)


@login_required
@require_GET
def run_whatif(request: HttpRequest, run_id: str) -> HttpResponse:
    """How many would be eligible with another cut-off, by district (nothing changes)."""
    user = _staff(request)
    run = _found(selectors.run_get, run_id)
    form = WhatIfForm(request.GET)
    whatif = None
    status = 200
    if form.is_valid() and selectors.run_in_progress(run):
        form.add_error("cutoff", _("The run is still computing."))
    elif form.is_valid():
        try:
            whatif = services.targeting_whatif(run=run, cutoff=form.cleaned_data["cutoff"])
        except ApplicationError as error:
            form.add_error("cutoff", str(error.message))
    htmx = getattr(request, "htmx", None)
    if form.errors and not htmx:  # htmx swaps only 2xx answers: the errors must show
        status = 400
    rows = []
    if whatif is not None:
        names = {row.name: row for row in selectors.run_by_district(run)}
        rows = [
            {"name": name, "district": names[name].district if name in names else None, **counts}
            for name, counts in whatif["by_district"].items()
        ]
    context = {"run": run, "whatif": whatif, "whatif_rows": rows, "whatif_form": form}
    if htmx:
        return render(request, "programs/partials/_whatif.html", context, status=status)
    full = _run_context(request, user, run) | context
    return render(request, "programs/run.html", full, status=status)


@login_required
@require_POST
def run_decide(request: HttpRequest, run_id: str) -> HttpResponse:
    user = _staff(request, "programs.approve_targeting")
    run = _found(selectors.run_get, run_id)
    form = DecideForm(request.POST)
    if form.is_valid():
        try:
            services.targeting_run_decide(
                run=run, approve=form.approve, actor=user, note=form.cleaned_data["note"]
            )
        except ApplicationError as error:
            messages.error(request, str(error.message))
        else:
            messages.success(
                request,
                _("The run is approved: its eligible households are enrolled.")
                if form.approve
                else _("The run is rejected. Nobody is enrolled by it."),
            )
    return redirect("programs:run", run_id=run.pk)


# --------------------------------------------------------------------------- decisions


@login_required
def decision_detail(request: HttpRequest, decision_id: int) -> HttpResponse:
    """One household's decision with its explanation (the read is recorded on the
    household), and an appeal lodged for the household by the officer."""
    user = _staff(request)
    decision = _found(selectors.decision_get, user=user, decision_id=decision_id)
    form = AppealForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.appeal_lodge(
                    household=decision.household,
                    program=decision.run.program,
                    grounds=form.cleaned_data["grounds"],
                    actor=user,
                    assisted=True,
                )
            except ApplicationError as error:
                form.add_error("grounds" if "grounds" in error.fields else None, str(error.message))
            else:
                messages.success(request, _("The appeal is lodged. A reviewer will look at it."))
                return redirect("programs:decision", decision_id=decision.pk)
        status = 400
    explanation = selectors.decision_explanation_read(decision=decision, actor=user)
    return render(
        request,
        "programs/decision.html",
        {
            "decision": decision,
            "x": explanation_context(explanation, _language()),
            "appealable": selectors.decision_appealable(decision),
            "form": form,
            "household_url": reverse("registry:household", args=[decision.household_id]),
        },
        status=status,
    )


# --------------------------------------------------------------------------- appeals


@login_required
@require_GET
def appeal_list(request: HttpRequest) -> HttpResponse:
    user = _staff(request, "programs.review_appeals")
    page = Paginator(selectors.appeals_open(user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "programs/appeal_list.html",
        {"page": page, "form": AppealDecisionForm()},
    )


@login_required
@require_POST
def appeal_decide(request: HttpRequest, appeal_id: str) -> HttpResponse:
    user = _staff(request, "programs.review_appeals")
    appeal = _found(selectors.appeal_get, user=user, appeal_id=appeal_id)
    form = AppealDecisionForm(request.POST)
    if not form.is_valid():
        for problems in form.errors.values():
            for problem in problems:
                messages.error(request, str(problem))
        return redirect("programs:appeals")
    action, note = form.cleaned_data["action"], form.cleaned_data["note"]
    try:
        if action == "review":
            services.appeal_review_start(appeal=appeal, actor=user)
        else:
            services.appeal_decide(appeal=appeal, upheld=action == "uphold", actor=user, note=note)
    except ApplicationError as error:
        messages.error(request, str(error.message))
    else:
        done = {
            "review": _("The appeal is under review."),
            "uphold": _("The appeal is upheld: the household is enrolled and told by SMS."),
            "dismiss": _("The appeal is dismissed: the household is told by SMS."),
        }
        messages.success(request, done[action])
    return redirect("programs:appeals")
