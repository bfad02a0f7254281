"""The service desk: a partner department's counter, one page per service it runs.

The operator scans the person's QR (camera, hand-held scanner, a photo, or the Rahdari
number typed), which asks for the service's attributes with a fresh nonce. A standing
consent releases them at once; otherwise the person reads out the code from their SMS,
or answers on their phone while the page polls. The counter sees what was released with
the receipt id, records what it did, and is ready for the next person.

The request at the counter is kept in the session (service slug → request id) and in
the forms; nothing about the person goes into a URL, and the released values are never
stored here: they are shown once, in the response that released them.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core.errors import ApplicationError
from rahdari.core.http import is_verified, render_page
from rahdari.core.models import District
from rahdari.credentials import selectors as credential_selectors
from rahdari.gateway import rules, selectors, services
from rahdari.gateway.forms import CodeForm, OutcomeForm, ScanForm, outcome_label
from rahdari.gateway.models import ConsentRequest, Partner, Release, Service
from rahdari.identity.models import Sex
from rahdari.identity.rules import format_rahdari_number

SESSION_KEY = "rahdari_desk"  # {service slug: id of the request at the counter}
POLL_SECONDS = 3
Status = ConsentRequest.Status
OVER = (Status.DENIED, Status.EXPIRED, Status.LOCKED)

# Attributes written in Urdu script, and those read left to right in any page.
URDU_ATTRIBUTES = frozenset({"full_name_ur", "guardian_name_ur"})
LATIN_ATTRIBUTES = frozenset({"full_name", "guardian_name"})
LTR_ATTRIBUTES = frozenset({"rahdari_number", "date_of_birth", "mobile"})
PHOTO_TYPES = {"/9j/": "image/jpeg", "iVBOR": "image/png", "UklGR": "image/webp"}


@dataclass(frozen=True)
class Desk:
    """Who works the counter, for which service, on behalf of which partner."""

    user: User
    service: Service
    partner: Partner

    @property
    def scopes(self) -> list[str]:
        """What the counter asks for: the service's scopes the partner may ask for."""
        return [s for s in self.service.scopes if s in self.partner.allowed_scopes]


def _operator(request: HttpRequest) -> User:
    user = request_user(request)
    if user.is_citizen or not user.has_perm("accounts.operate_service_counter"):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


def _desk(request: HttpRequest, service_slug: str) -> Desk:
    user = _operator(request)
    service = Service.objects.filter(slug=service_slug, enabled=True).first()
    if service is None:
        raise Http404
    partner = (
        Partner.objects.filter(active=True, operators=user, services=service)
        .order_by("name")
        .first()
    )
    if partner is None:
        raise PermissionDenied
    return Desk(user=user, service=service, partner=partner)


# --- the request at the counter -------------------------------------------------------------


def _own(desk: Desk, request_id: Any) -> ConsentRequest | None:
    """The partner's request for this service, or None (another partner's is not found)."""
    try:
        pk = UUID(str(request_id))
    except ValueError:
        return None
    return (
        ConsentRequest.objects.select_related("partner", "service")
        .filter(pk=pk, partner=desk.partner, service=desk.service)
        .first()
    )


def _own_or_404(desk: Desk, request_id: Any) -> ConsentRequest:
    found = _own(desk, request_id)
    if found is None:
        raise Http404
    return found


def _remember(request: HttpRequest, desk: Desk, current: ConsentRequest | None) -> None:
    counters = dict(request.session.get(SESSION_KEY) or {})
    if current is None:
        counters.pop(desk.service.slug, None)
    else:
        counters[desk.service.slug] = str(current.pk)
    request.session[SESSION_KEY] = counters


def _current(request: HttpRequest, desk: Desk) -> ConsentRequest | None:
    request_id = (request.session.get(SESSION_KEY) or {}).get(desk.service.slug)
    if not request_id:
        return None
    found = _own(desk, request_id)
    if found is None:
        _remember(request, desk, None)
    return found


# --- what the page shows -----------------------------------------------------------------


def _value_row(name: str, value: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name,
        "label": selectors.ATTRIBUTE_LABELS.get(name, name),
        "value": value if value not in (None, "") else "—",
        "lang": "",
        "dir": "",
        "css": "",
    }
    if not value:
        return row
    if name in URDU_ATTRIBUTES:
        row.update(lang="ur", dir="rtl", css="script-nastaliq")
    elif name in LATIN_ATTRIBUTES:
        row.update(lang="en", dir="ltr")
    elif name in LTR_ATTRIBUTES:
        row["dir"] = "ltr"
    if name == "rahdari_number":
        row["value"] = format_rahdari_number(str(value))
    elif name == "sex":
        row["value"] = Sex(value).label if value in Sex.values else value
    elif name == "district" and (get_language() or "en")[:2] != "en":
        district = District.objects.filter(name=value).first()
        row["value"] = district.name_ur if district is not None and district.name_ur else value
    return row


def _photo_url(value: str) -> str:
    media_type = next((t for head, t in PHOTO_TYPES.items() if value.startswith(head)), "")
    return f"data:{media_type};base64,{value}" if media_type else ""


def _released(current: ConsentRequest, token: str | None) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    photo = ""
    if token is not None:
        values = services.released_payload(token)["attributes"]
        for name in rules.attributes_of(current.scopes):
            if name not in values:
                continue
            if name == "photo":
                photo = _photo_url(str(values[name] or ""))
            else:
                rows.append(_value_row(name, values[name]))
    release = Release.objects.select_related("consent").get(request=current)
    return {"rows": rows, "photo": photo, "release": release, "shown": token is not None}


def _render(request: HttpRequest, desk: Desk, context: dict[str, Any]) -> HttpResponse:
    """The desk page (or, for htmx, its state). Refusals are shown in the page with 200,
    like every form of the site; `error` names the refusal's code for machines."""
    page: dict[str, Any] = {
        "service": desk.service,
        "partner": desk.partner,
        "asked": selectors.attribute_labels(rules.attributes_of(desk.scopes)),
        "poll_seconds": POLL_SECONDS,
        "state": "scan",
    }
    page.update(context)
    if page["state"] == "scan":
        page.setdefault("scan_form", ScanForm())
    return render_page(request, "gateway/desk.html", "gateway/partials/_desk_state.html", page)


def _pending(current: ConsentRequest, form: CodeForm | None = None) -> dict[str, Any]:
    return {
        "state": "pending",
        "current": current,
        "code_form": form or CodeForm(initial={"request": current.pk}),
        "attempts_left": max(0, rules.CONSENT_CODE_TRIES - current.attempts),
    }


def _released_state(
    desk: Desk, current: ConsentRequest, token: str | None, form: OutcomeForm | None = None
) -> dict[str, Any]:
    return {
        "state": "released",
        "current": current,
        "outcome_form": form or OutcomeForm(initial={"request": current.pk}, service=desk.service),
        **_released(current, token),
    }


def _over_notice(current: ConsentRequest) -> str:
    notices: dict[str, str] = {
        Status.DENIED: _("The person refused."),
        Status.EXPIRED: _("The request has expired. Ask again."),
        Status.LOCKED: _("The request is locked after three wrong codes."),
    }
    return notices.get(current.status, _("The request cannot be answered now."))


def _show(
    request: HttpRequest,
    desk: Desk,
    current: ConsentRequest | None,
    *,
    token: str | None = None,
    notice: str = "",
    error: str = "",
) -> HttpResponse:
    """The counter as its request stands: scan, wait for the code, or the release."""
    if (
        current is not None
        and token is None
        and current.status in (Status.PENDING, Status.APPROVED)
    ):
        # After an approval on the person's phone, this is the release.
        current, token = services.consent_release_fetch(request=current, partner=desk.partner)
    if current is not None and current.status in OVER:
        notice = notice or _over_notice(current)
        error = error or f"request_{current.status}"
        current = None
    if current is not None and current.status == Status.RELEASED and current.outcome and not token:
        current = None  # done: the outcome was recorded
    _remember(request, desk, current)
    if current is None:
        return _render(request, desk, {"notice": notice, "error": error})
    if current.status == Status.RELEASED:
        return _render(request, desk, _released_state(desk, current, token))
    return _render(request, desk, _pending(current))


def _purpose(service: Service, note: str) -> str:
    note = " ".join(note.split())
    return f"{service.name_en}: {note}"[:200] if note else service.name_en


def _scan_error(error: ApplicationError, from_qr: bool) -> tuple[str | None, str]:
    """Where the refusal goes on the scan form, and what it says to the operator."""
    if "image" in error.fields:
        return "image", str(error.fields["image"][0])
    reason = error.code.removeprefix("credential_")
    if (
        from_qr
        and error.code.startswith("credential_")
        and reason in credential_selectors.REASON_TEXTS
    ):
        return "qr", str(credential_selectors.reason_text(reason))
    about_the_person = error.code == "person_not_found" or error.code.startswith("credential_")
    return ("qr" if about_the_person else None), str(error.message)


# --- pages -------------------------------------------------------------------------------


@login_required
@never_cache
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The services of the departments the operator works for."""
    user = _operator(request)
    partners = (
        Partner.objects.filter(active=True, operators=user)
        .prefetch_related("services")
        .order_by("name")
    )
    rows = [(partner, [s for s in partner.services.all() if s.enabled]) for partner in partners]
    return render(request, "gateway/desk_index.html", {"rows": rows})


@login_required
@never_cache
def counter(request: HttpRequest, service_slug: str) -> HttpResponse:
    """GET: the counter as it stands. POST: a scanned QR (or number) asks for the details."""
    desk = _desk(request, service_slug)
    if request.method != "POST":
        return _show(request, desk, _current(request, desk))
    form = ScanForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, desk, {"scan_form": form, "error": "invalid"})
    qr_text, number = form.typed()
    try:
        if qr_text is None and number is None:
            credential_selectors.verify_rate_limit(request)
            qr_text = credential_selectors.qr_text_from_upload(form.cleaned_data["image"])
        created, token = services.consent_request_create(
            partner=desk.partner,
            service_slug=desk.service.slug,
            scopes=desk.scopes,
            purpose=_purpose(desk.service, form.cleaned_data.get("note") or ""),
            nonce=secrets.token_urlsafe(18),
            qr=qr_text,
            rahdari_number=number,
            standing_months=form.standing_months,
            operator=desk.user,
        )
    except ApplicationError as error:
        field, message = _scan_error(error, from_qr=number is None)
        form.add_error(field, message)
        return _render(request, desk, {"scan_form": form, "error": error.code})
    _remember(request, desk, created)
    if token is None:
        # Waiting for the code: a reload must not ask (and text the person) again.
        return redirect("gateway:desk_service", service_slug=desk.service.slug)
    return _render(request, desk, _released_state(desk, created, token))


@login_required
@never_cache
@require_POST
def code(request: HttpRequest, service_slug: str) -> HttpResponse:
    """The code the person read out."""
    desk = _desk(request, service_slug)
    current = _own_or_404(desk, request.POST.get("request"))
    form = CodeForm(request.POST)
    if current.status != Status.PENDING:
        return _show(request, desk, current)
    if not form.is_valid():
        return _render(request, desk, {**_pending(current, form), "error": "invalid"})
    try:
        current, token = services.consent_code_submit(
            request=current, code=form.cleaned_data["code"], partner=desk.partner
        )
    except ApplicationError as error:
        current.refresh_from_db()
        if error.code == "wrong_code":
            form.add_error("code", str(error.message))  # says how many tries are left
            return _render(request, desk, {**_pending(current, form), "error": error.code})
        if current.status in (Status.APPROVED, Status.RELEASED):
            return _show(request, desk, current)  # answered on the phone meanwhile
        return _show(request, desk, current, notice=str(error.message), error=error.code)
    _remember(request, desk, current)
    return _render(request, desk, _released_state(desk, current, token))


@login_required
@never_cache
@require_GET
def status(request: HttpRequest, service_slug: str) -> HttpResponse:
    """htmx polls this while the page waits for the code: nothing (204) until the person
    answers on their phone or the request ends; then the new state of the counter."""
    desk = _desk(request, service_slug)
    page = reverse("gateway:desk_service", kwargs={"service_slug": desk.service.slug})
    if not getattr(request, "htmx", False):
        return redirect(page)
    current = _current(request, desk)
    if current is not None and current.status in (Status.PENDING, Status.APPROVED):
        current, token = services.consent_release_fetch(request=current, partner=desk.partner)
        if current.status == Status.PENDING:
            return HttpResponse(status=204)
        if token is not None:
            _remember(request, desk, current)
            return _render(request, desk, _released_state(desk, current, token))
    if current is not None and current.status in OVER:
        messages.error(request, _over_notice(current))
        _remember(request, desk, None)
    response = HttpResponse(status=204)
    response["HX-Redirect"] = page  # the whole page again, with its scanner
    return response


@login_required
@never_cache
@require_POST
def outcome(request: HttpRequest, service_slug: str) -> HttpResponse:
    """What the counter did with the details; then the next person."""
    desk = _desk(request, service_slug)
    current = _own_or_404(desk, request.POST.get("request"))
    if current.status != Status.RELEASED:
        return _show(request, desk, current)
    if current.outcome:  # sent twice: recorded once
        _remember(request, desk, None)
        return redirect("gateway:desk_service", service_slug=desk.service.slug)
    form = OutcomeForm(request.POST, service=desk.service)
    if not form.is_valid():
        return _render(
            request, desk, {**_released_state(desk, current, None, form), "error": "invalid"}
        )
    chosen = form.cleaned_data["outcome"]
    try:
        services.request_outcome_record(request=current, outcome=chosen, operator=desk.user)
    except ApplicationError as error:
        form.add_error("outcome", str(error.message))
        return _render(
            request, desk, {**_released_state(desk, current, None, form), "error": error.code}
        )
    _remember(request, desk, None)
    messages.success(
        request,
        _("Recorded: %(outcome)s (receipt %(receipt)s). Ready for the next person.")
        % {"outcome": outcome_label(chosen), "receipt": str(current.release.pk)[:8]},
    )
    return redirect("gateway:desk_service", service_slug=desk.service.slug)


@login_required
@never_cache
@require_POST
def next_person(request: HttpRequest, service_slug: str) -> HttpResponse:
    """Withdraw the request at the counter if nobody answered it yet, then scan the next
    person."""
    desk = _desk(request, service_slug)
    current = _current(request, desk)
    if current is not None and current.status in (
        ConsentRequest.Status.PENDING,
        ConsentRequest.Status.APPROVED,
    ):
        with contextlib.suppress(ApplicationError):  # answered or expired meanwhile
            services.consent_request_cancel(
                request=current, partner=desk.partner, actor=_operator(request)
            )
    _remember(request, desk, None)
    return redirect("gateway:desk_service", service_slug=desk.service.slug)
