"""Registry pages for staff: the household list, one household (members, answers with
their source, versions) and the officer's update of the answers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from rahdari.accounts.models import User, request_user
from rahdari.core.errors import ApplicationError
from rahdari.core.http import is_verified, render_page
from rahdari.registry import selectors, services
from rahdari.registry.forms import (
    SOURCE_LABELS,
    AnswersForm,
    HouseholdFilterForm,
    PurposeForm,
    answer_label,
)
from rahdari.registry.forms import VARIABLE_LABELS as LABELS
from rahdari.registry.models import Household

OPENED = "rahdari_opened_households"
PAGE_SIZE = 50


def _staff(request: HttpRequest, permission: str = services.VIEW_PERMISSION) -> User:
    user = request_user(request)
    if user.is_citizen or not user.has_perm(permission):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


def _opened(request: HttpRequest, household: Household) -> bool:
    return str(household.pk) in request.session.get(OPENED, [])


@login_required
def household_list(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    form = HouseholdFilterForm(
        request.GET or None, districts=None if user.all_districts else user.districts.all()
    )
    query, district = "", None
    if form.is_bound and form.is_valid():
        query = form.cleaned_data.get("q") or ""
        district = form.cleaned_data.get("district")
    households = selectors.household_search(user=user, query=query, district=district)
    page = Paginator(households, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render_page(
        request,
        "registry/household_list.html",
        "registry/partials/_household_rows.html",
        {"form": form, "page": page, "query_string": params.urlencode()},
    )


@login_required
def household_detail(request: HttpRequest, household_id: str) -> HttpResponse:
    """Opening a household asks why first; the read is logged on the household and on
    every enrolled member."""
    user = _staff(request)
    household = get_object_or_404(selectors.households_visible_to(user), pk=household_id)
    purpose_form = PurposeForm(request.POST if request.POST.get("action") == "open" else None)
    if purpose_form.is_bound and purpose_form.is_valid():
        services.household_view(
            household=household, actor=user, purpose=purpose_form.cleaned_data["purpose"]
        )
        request.session[OPENED] = [*request.session.get(OPENED, [])[-49:], str(household.pk)]
        return redirect("registry:household", household_id=household.pk)
    if not _opened(request, household):
        return render(
            request, "registry/household_open.html", {"household": household, "form": purpose_form}
        )
    current = selectors.current_response(household)
    answers = services.answers_with_provenance(current) if current else []
    return render(
        request,
        "registry/household.html",
        {
            "household": household,
            "members": selectors.household_members(household=household, user=user),
            "current": current,
            "answers": [
                {
                    "name": a.spec.name,
                    "label": LABELS.get(a.spec.name, a.spec.label_en),
                    "value": answer_label(a.spec, a.value),
                    "source": SOURCE_LABELS.get(a.source, a.source),
                    "collected_on": a.collected_on,
                    "carried": current is not None and a.spec.name in current.provenance,
                }
                for a in answers
            ],
            "versions": selectors.response_history(household),
            "can_change": user.has_perm(services.CHANGE_PERMISSION),
        },
    )


@login_required
def household_answers_edit(request: HttpRequest, household_id: str) -> HttpResponse:
    """An officer changes some answers, with a reason: a new version, the old one kept."""
    user = _staff(request, services.CHANGE_PERMISSION)
    household = get_object_or_404(selectors.households_visible_to(user), pk=household_id)
    if not _opened(request, household):
        return redirect("registry:household", household_id=household.pk)
    current = selectors.current_response(household)
    if current is None:
        messages.error(request, _("This household has no survey answers to update yet."))
        return redirect("registry:household", household_id=household.pk)
    initial: dict[str, Any] = dict(services.unpack_answers(current))
    form = AnswersForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_answers_update(
                household=household,
                changes=form.answers(),
                source=form.cleaned_data["source"],
                actor=user,
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("The answers were changed; the previous version is kept."))
            return redirect("registry:household", household_id=household.pk)
    return render(
        request, "registry/household_answers.html", {"household": household, "form": form}
    )


def _apply_errors(form: AnswersForm, error: ApplicationError) -> None:
    mapped = False
    for name, problems in error.fields.items():
        if name in form.fields:
            for problem in problems:
                form.add_error(name, problem)
            mapped = True
    if not mapped:
        form.add_error(None, str(error.message))
