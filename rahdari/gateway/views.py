"""Gateway pages: the public service catalogue and the citizen's data-sharing page
(answer a request, see every release with its receipt, revoke a standing consent)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core.errors import ApplicationError
from rahdari.gateway import rules, selectors, services
from rahdari.gateway.models import Consent, ConsentRequest, Release
from rahdari.identity.models import Person
from rahdari.identity.selectors import person_of_account


def catalog(request: HttpRequest) -> HttpResponse:
    """Public: every service and exactly what it will ask for."""
    return render(request, "gateway/catalog.html", {"services": selectors.catalog()})


def _citizen_person(request: HttpRequest) -> tuple[User, Person | None]:
    user = request_user(request)
    if not user.is_citizen:
        raise PermissionDenied
    return user, person_of_account(user)


@login_required
def my_sharing(request: HttpRequest) -> HttpResponse:
    user, person = _citizen_person(request)
    context: dict[str, Any] = {"person": person}
    if person is not None:
        context.update(
            pending=[
                (r, selectors.attribute_labels(rules.attributes_of(r.scopes)))
                for r in selectors.pending_requests(person)
            ],
            releases=[
                (r, selectors.attribute_labels(r.attributes))
                for r in selectors.releases_of(person)[:200]
            ],
            consents=[
                (c, selectors.attribute_labels(rules.attributes_of(c.scopes)))
                for c in selectors.standing_consents_of(person)
            ],
        )
    return render(request, "gateway/my_sharing.html", context)


@login_required
@require_POST
def answer(request: HttpRequest, request_id: str) -> HttpResponse:
    user, person = _citizen_person(request)
    consent_request = get_object_or_404(ConsentRequest, pk=request_id, person=person)
    approve = request.POST.get("answer") == "approve"
    months = 6 if request.POST.get("remember") == "yes" else 0
    try:
        services.consent_decide(
            request=consent_request, approve=approve, citizen=user, standing_months=months
        )
    except ApplicationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("You agreed. The office will now see what it asked for.")
            if approve
            else _("You refused. Nothing was shared."),
        )
    return redirect("gateway:my_sharing")


@login_required
@require_POST
def revoke(request: HttpRequest, consent_id: str) -> HttpResponse:
    user, person = _citizen_person(request)
    consent = get_object_or_404(Consent, pk=consent_id, person=person)
    services.consent_revoke(consent=consent, citizen=user)
    messages.success(request, _("Withdrawn. Next time the office must ask you again."))
    return redirect("gateway:my_sharing")


@login_required
def receipt(request: HttpRequest, release_id: str) -> JsonResponse:
    """The consent receipt of one release, as JSON (Kantara fields), for the person."""
    _user, person = _citizen_person(request)
    release = get_object_or_404(
        Release.objects.select_related("partner", "service", "consent", "person"),
        pk=release_id,
        person=person,
    )
    response = JsonResponse(services.receipt_document(release), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="receipt-{release.pk}.json"'
    return response
