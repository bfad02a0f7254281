"""Grievance pages.

Anyone: lodge a complaint with a phone number, check it with its number and that phone
(both sent in the body, never in the address), rate the answer and reopen it. Citizens
logged in: the same, with their own record (attachments, the payment or cash-out it is
about, an exclusion appeal). Officers: lodge for a walk-in or a caller; the desk's
queue, each complaint with its history, voice note and links, and the actions (take,
note, move, escalate, answer); the dashboard with charts.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core import tracking
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.http import render_page
from rahdari.core.ratelimit import client_address, rate_limit
from rahdari.documents import services as documents
from rahdari.documents import uploads
from rahdari.documents.views import content_response
from rahdari.grievances import rules, selectors, services
from rahdari.grievances.forms import (
    CATEGORY_HELP,
    EscalateForm,
    LodgeForm,
    NoteForm,
    QueueFilterForm,
    RateForm,
    ReassignForm,
    ReopenForm,
    ResolveForm,
    StatusForm,
)
from rahdari.grievances.models import Category, Complaint
from rahdari.identity.models import Person

SESSION_KEY = "grievances_shown"
PAGE_SIZE = 25
MAX_SHOWN = 20


# --------------------------------------------------------------------------- helpers


def _found(loader: Any, **kwargs: Any) -> Any:
    try:
        return loader(**kwargs)
    except NotFound as error:
        raise Http404(str(error.message)) from error


def _officer(request: HttpRequest) -> User:
    user = request_user(request)
    if not selectors.may_handle(user):
        raise PermissionDenied
    return user


def _remember(request: HttpRequest, complaint: Complaint) -> None:
    """This browser proved it may see the complaint (it lodged it, or gave its number
    and phone): the status page is then a plain address with the complaint's id."""
    shown = [c for c in request.session.get(SESSION_KEY, []) if c != str(complaint.pk)]
    request.session[SESSION_KEY] = [*shown, str(complaint.pk)][-MAX_SHOWN:]


def _may_see(request: HttpRequest, complaint: Complaint) -> bool:
    if str(complaint.pk) in request.session.get(SESSION_KEY, []):
        return True
    user = request.user
    if getattr(user, "is_authenticated", False) and getattr(user, "is_citizen", False):
        return selectors.complaints_of_citizen(user).filter(pk=complaint.pk).exists()  # type: ignore[arg-type]
    return False


def _complainant_complaint(request: HttpRequest, complaint_id: Any) -> Complaint:
    complaint: Complaint = _found(selectors.complaint_get, complaint_id=complaint_id)
    if not _may_see(request, complaint):
        raise Http404(_("There is no such complaint."))
    return complaint


def _file(request: HttpRequest, name: str) -> bytes | None:
    upload = request.FILES.get(name)
    if isinstance(upload, UploadedFile) and upload.size:
        return bytes(upload.read())
    return None


def _apply_error(form: Any, error: ApplicationError) -> None:
    placed = False
    for field, problems in error.fields.items():
        target = field if field in form.fields else None
        for problem in problems:
            form.add_error(target, problem)
            placed = True
    if not placed:
        form.add_error(None, str(error.message))


def categories_explained(form: LodgeForm) -> list[dict[str, Any]]:
    allowed = set(form.category_values)
    return [
        {"value": c.value, "label": c.label, "help": CATEGORY_HELP[c]}
        for c in Category
        if c.value in allowed
    ]


# --------------------------------------------------------------------------- lodging


def _citizen_choices(person: Person | None) -> tuple[list[Any], list[Any]]:
    if person is None:
        return [], []
    payments = [
        (
            str(p.pk),
            _("Rs %(amount)s — %(cycle)s — %(status)s")
            % {"amount": f"{p.amount:,}", "cycle": p.cycle.label, "status": p.get_status_display()},
        )
        for p in selectors.payments_of_person(person)
    ]
    cash_outs = [
        (
            str(c.pk),
            _("Rs %(amount)s handed over by %(agent)s on %(date)s")
            % {
                "amount": f"{c.amount_handed or 0:,}",
                "agent": c.agent.display_name,
                "date": c.handed_at.date().isoformat() if c.handed_at else "",
            },
        )
        for c in selectors.cash_outs_of_person(person)
    ]
    return payments, cash_outs


def _lodge_context(
    request: HttpRequest, form: LodgeForm, mode: str, person: Person | None
) -> dict[str, Any]:
    return {
        "form": form,
        "mode": mode,
        "person": person,
        "categories": categories_explained(form),
        "action": reverse("grievances:office_lodge" if mode == "office" else "grievances:lodge"),
    }


def _mode_of(request: HttpRequest) -> tuple[str, User | None, Person | None]:
    user = request.user
    if getattr(user, "is_authenticated", False):
        user = request_user(request)
        if user.is_citizen:
            return "citizen", user, selectors.person_of_citizen(user)
        return "public", None, None  # staff use the office form
    return "public", None, None


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    citizen = getattr(user, "is_authenticated", False) and getattr(user, "is_citizen", False)
    mode = "citizen" if citizen else "public"
    mine = list(selectors.complaints_of_citizen(request_user(request))[:50]) if citizen else []
    return render(request, "grievances/home.html", {"mine": mine, "mode": mode})


def _formatted(number: str) -> str:
    return tracking.format_tracking_number(number)


@csrf_exempt  # the upload handlers are set before the body is read; CSRF checked below
@require_http_methods(["GET", "POST"])
def lodge(request: HttpRequest) -> HttpResponse:
    mode, user, person = _mode_of(request)
    payments, cash_outs = _citizen_choices(person)
    if request.method == "GET":
        form = LodgeForm(
            mode=mode,
            payments=payments,
            cash_outs=cash_outs,
            applications=_application_choices(person),
        )
        return render(request, "grievances/lodge.html", _lodge_context(request, form, mode, person))
    try:
        uploads.prepare(request)
    except ApplicationError as error:  # refused before the body is read: nothing changes
        form = LodgeForm(
            mode=mode,
            payments=payments,
            cash_outs=cash_outs,
            applications=_application_choices(person),
        )
        form.add_error(None, str(error.message))
        return render(
            request,
            "grievances/lodge.html",
            _lodge_context(request, form, mode, person),
            status=error.status,
        )
    return _lodge_post(request, mode, user, person, payments, cash_outs)


@csrf_protect
def _lodge_post(
    request: HttpRequest,
    mode: str,
    user: User | None,
    person: Person | None,
    payments: list[Any],
    cash_outs: list[Any],
) -> HttpResponse:
    form = LodgeForm(
        request.POST,
        request.FILES,
        mode=mode,
        payments=payments,
        cash_outs=cash_outs,
        applications=_application_choices(person),
    )
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            complaint = services.complaint_lodge(
                category=data["category"],
                text=data["text"],
                phone=str(user.phone) if user is not None else data["phone"],
                language=get_language() or "ur",
                channel="web" if mode == "citizen" else "web_phone",
                actor=user,
                district=None if mode == "citizen" else data.get("district"),
                person=person,
                complainant_name=data.get("complainant_name", ""),
                voice=_file(request, "voice"),
                attachments=[a for a in [_file(request, "attachment")] if a],
                payment=_citizen_payment(person, data.get("payment")),
                cash_out=_citizen_cash_out(person, data.get("cash_out")),
                program=data.get("program"),
                amount_received=data.get("amount_received"),
                application=_citizen_application(person, data.get("application")),
            )
        except ApplicationError as error:
            _apply_error(form, error)
            status = error.status if error.status == 429 else 200
        else:
            _remember(request, complaint)
            messages.success(
                request,
                _("Your complaint is received. Its number is %(number)s.")
                % {"number": _formatted(complaint.number)},
            )
            return redirect("grievances:status_detail", complaint_id=complaint.pk)
    return render(
        request,
        "grievances/lodge.html",
        _lodge_context(request, form, mode, person),
        status=status,
    )


def _citizen_payment(person: Person | None, payment_id: str | None) -> Any:
    if person is None or not payment_id:
        return None
    return selectors.payment_of_person(person=person, payment_id=payment_id)


def _citizen_application(person: Person | None, application_id: str | None) -> Any:
    if person is None or not application_id:
        return None
    return selectors.application_of_person(person=person, application_id=application_id)


def _application_choices(person: Person | None) -> list[tuple[str, str]]:
    if person is None:
        return []
    return [
        (str(a.pk), f"{tracking.format_tracking_number(a.number)} — {a.get_status_display()}")
        for a in selectors.applications_of_person(person)
    ]


def _citizen_cash_out(person: Person | None, cash_out_id: str | None) -> Any:
    if person is None or not cash_out_id:
        return None
    return selectors.cash_out_of_person(person=person, cash_out_id=cash_out_id)


# --------------------------------------------------------------------------- status


@never_cache
@require_http_methods(["GET", "POST"])
def status(request: HttpRequest) -> HttpResponse:
    """The number and the phone come in the body; a wrong pair says only "not found"."""
    form = StatusForm(request.POST if request.method == "POST" else None)
    code = 200
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit(
                "grievance-status",
                client_address(request),
                limit=_status_limit(),
                window_seconds=60,
            )
            complaint = selectors.status_lookup(
                number=form.cleaned_data["number"], phone=form.cleaned_data["phone"]
            )
        except ApplicationError as error:
            _apply_error(form, error)
            code = error.status if error.status == 429 else 200
        else:
            _remember(request, complaint)
            return redirect("grievances:status_detail", complaint_id=complaint.pk)
    return render(request, "grievances/status.html", {"form": form}, status=code)


def _status_limit() -> int:
    from django.conf import settings

    return int(settings.RAHDARI_GRIEVANCE_STATUS_LIMIT)


def _status_page(
    request: HttpRequest,
    complaint: Complaint,
    *,
    rate_form: RateForm | None = None,
    reopen_form: ReopenForm | None = None,
    status: int = 200,
) -> HttpResponse:
    from django.utils import timezone

    now = timezone.now()
    context = {
        "complaint": complaint,
        "number": _formatted(complaint.number),
        "events": selectors.events_public(complaint),
        "may_rate": complaint.status in (rules.RESOLVED, rules.CLOSED) and complaint.rating is None,
        "may_reopen": rules.may_reopen(complaint.status, complaint.resolved_at, now),
        "rate_form": rate_form or RateForm(),
        "reopen_form": reopen_form or ReopenForm(),
        "overdue": rules.is_overdue(complaint.status, complaint.due_at, now),
    }
    return render(request, "grievances/status_detail.html", context, status=status)


@never_cache
@require_GET
def status_detail(request: HttpRequest, complaint_id: str) -> HttpResponse:
    return _status_page(request, _complainant_complaint(request, complaint_id))


@require_POST
def status_rate(request: HttpRequest, complaint_id: str) -> HttpResponse:
    complaint = _complainant_complaint(request, complaint_id)
    form = RateForm(request.POST)
    if form.is_valid():
        try:
            services.complaint_rate(
                complaint=complaint, rating=form.cleaned_data["rating"], actor=_actor(request)
            )
        except ApplicationError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("Thank you. Your rating is recorded."))
            return redirect("grievances:status_detail", complaint_id=complaint.pk)
    return _status_page(request, complaint, rate_form=form)


@require_POST
def status_reopen(request: HttpRequest, complaint_id: str) -> HttpResponse:
    complaint = _complainant_complaint(request, complaint_id)
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            services.complaint_reopen(
                complaint=complaint, reason=form.cleaned_data["reason"], actor=_actor(request)
            )
        except ApplicationError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("Your complaint is open again."))
            return redirect("grievances:status_detail", complaint_id=complaint.pk)
    return _status_page(request, complaint, reopen_form=form)


def _actor(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


# --------------------------------------------------------------------------- officers


@login_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    form = QueueFilterForm(request.GET or None)
    status_filter, overdue = "", False
    if form.is_valid():
        status_filter = form.cleaned_data["status"]
        overdue = form.cleaned_data["overdue"]
    complaints = selectors.queue(user, status=status_filter, overdue=overdue)
    page = Paginator(complaints, PAGE_SIZE).get_page(request.GET.get("page"))
    from django.utils import timezone

    context = {
        "form": form,
        "page": page,
        "desks": list(selectors.desks_of(user)),
        "now": timezone.now(),
        "filters": _without_page(request),
    }
    return render_page(
        request, "grievances/desk.html", "grievances/partials/_queue_rows.html", context
    )


def _without_page(request: HttpRequest) -> str:
    """The queue's filters, for the page links (status and "late" only: no personal data)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _detail_context(user: User, complaint: Complaint) -> dict[str, Any]:
    from django.utils import timezone

    fields = ["text", "category", "history"]
    if not complaint.identity_protected:
        fields += ["phone", "name"]
    services.complaint_read(complaint=complaint, actor=user, fields=fields)
    return {
        "complaint": complaint,
        "number": _formatted(complaint.number),
        "events": selectors.events_all(complaint),
        "attachments": [] if complaint.identity_protected else selectors.attachments_of(complaint),
        "payment_view": selectors.payment_view(complaint),
        "application_view": selectors.application_view(complaint, user),
        "may_act": selectors.may_act_on(user, complaint),
        "overdue": rules.is_overdue(complaint.status, complaint.due_at, timezone.now()),
        "is_open": complaint.status in rules.OPEN_STATUSES,
        "note_form": NoteForm(),
        "resolve_form": ResolveForm(),
        "reassign_form": _reassign_form(complaint),
        "escalate_form": EscalateForm(),
        "can_escalate": rules.next_level(complaint.level) is not None,
        "masked_phone": _masked(str(complaint.phone)),
    }


def _masked(phone: str) -> str:
    from rahdari.core.validators import mask_phone

    return mask_phone(phone)


def _reassign_form(complaint: Complaint, data: Any = None) -> ReassignForm:
    form = ReassignForm(data)
    cast(Any, form.fields["desk"]).queryset = selectors.desks_all().exclude(pk=complaint.desk_id)
    return form


@login_required
@require_GET
def complaint_detail(request: HttpRequest, complaint_id: str) -> HttpResponse:
    user = _officer(request)
    complaint = _found(selectors.complaint_for_staff, user=user, complaint_id=complaint_id)
    return render(request, "grievances/complaint.html", _detail_context(user, complaint))


ACTIONS = {
    "take": None,
    "note": NoteForm,
    "resolve": ResolveForm,
    "reassign": ReassignForm,
    "escalate": EscalateForm,
}


@login_required
@require_POST
def complaint_act(request: HttpRequest, complaint_id: str, action: str) -> HttpResponse:
    user = _officer(request)
    complaint = _found(selectors.complaint_for_staff, user=user, complaint_id=complaint_id)
    if action not in ACTIONS:
        raise Http404
    form_class = ACTIONS[action]
    form: Any = None
    if form_class is ReassignForm:
        form = _reassign_form(complaint, request.POST)
    elif form_class is not None:
        form = form_class(request.POST)
    if form is not None and not form.is_valid():
        return _detail_with(request, user, complaint, action, form)
    data = form.cleaned_data if form is not None else {}
    try:
        if action == "take":
            services.complaint_take(complaint=complaint, actor=user)
            done = _("You are handling this complaint now.")
        elif action == "note":
            services.complaint_note_add(complaint=complaint, actor=user, note=data["note"])
            done = _("The note is saved.")
        elif action == "resolve":
            services.complaint_resolve(
                complaint=complaint,
                actor=user,
                outcome=data["outcome"],
                resolution=data["resolution"],
            )
            done = _("The complaint is answered; the complainant is told by SMS.")
        elif action == "reassign":
            services.complaint_reassign(
                complaint=complaint, actor=user, desk=data["desk"], reason=data["reason"]
            )
            done = _("The complaint moved to %(desk)s.") % {"desk": data["desk"].name}
        else:
            services.complaint_escalate(complaint=complaint, actor=user, reason=data["reason"])
            done = _("The complaint went one level up.")
    except ApplicationError as error:
        if form is None:
            messages.error(request, str(error.message))
            return redirect("grievances:complaint", complaint_id=complaint.pk)
        _apply_error(form, error)
        return _detail_with(request, user, complaint, action, form)
    messages.success(request, done)
    if selectors.complaints_in_scope(user).filter(pk=complaint.pk).exists():
        return redirect("grievances:complaint", complaint_id=complaint.pk)
    return redirect("grievances:desk")


def _detail_with(
    request: HttpRequest, user: User, complaint: Complaint, action: str, form: Any
) -> HttpResponse:
    context = _detail_context(user, complaint)
    context[f"{action}_form"] = form
    return render(request, "grievances/complaint.html", context)


@never_cache
@login_required
@require_GET
def complaint_voice(request: HttpRequest, complaint_id: str) -> HttpResponse:
    """The voice note for the desk's <audio> player; never a public address."""
    user = _officer(request)
    complaint = _found(selectors.complaint_for_staff, user=user, complaint_id=complaint_id)
    try:
        data = services.complaint_voice_open(complaint=complaint, actor=user)
    except NotFound as error:
        raise Http404(str(error.message)) from error
    response = HttpResponse(data, content_type=complaint.voice_media_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; media-src 'self'"
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@login_required
@require_GET
def complaint_attachment(request: HttpRequest, complaint_id: str, version_id: str) -> HttpResponse:
    """A paper attached to a complaint of the officer's area, inline; the look is recorded
    on the person (documents' own audited read). A whistle-blower's papers are not shown:
    they would name her."""
    user = _officer(request)
    complaint = _found(selectors.complaint_for_staff, user=user, complaint_id=complaint_id)
    if complaint.identity_protected:
        raise Http404
    version = _found(selectors.attachment_of, complaint=complaint, version_id=version_id)
    data = documents.document_version_open(version=version, actor=user)
    return content_response(version, data)


@csrf_exempt  # as lodge: the upload handlers first, then the CSRF check
@login_required
@require_http_methods(["GET", "POST"])
def office_lodge(request: HttpRequest) -> HttpResponse:
    """An officer lodges a complaint for a walk-in or a caller."""
    user = request_user(request)
    if not selectors.may_lodge_for_others(user):
        raise PermissionDenied
    if request.method == "GET":
        form = LodgeForm(mode="office")
        return render(
            request, "grievances/lodge.html", _lodge_context(request, form, "office", None)
        )
    try:
        uploads.prepare(request)
    except ApplicationError as error:
        form = LodgeForm(mode="office")
        form.add_error(None, str(error.message))
        return render(
            request,
            "grievances/lodge.html",
            _lodge_context(request, form, "office", None),
            status=error.status,
        )
    return _office_lodge_post(request, user)


@csrf_protect
def _office_lodge_post(request: HttpRequest, user: User) -> HttpResponse:
    form = LodgeForm(request.POST, request.FILES, mode="office")
    person = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["rahdari_number"]:
                person = selectors.person_find(user=user, rahdari_number=data["rahdari_number"])
            payment = None
            if data["payment_reference"]:
                if person is None:
                    raise ApplicationError(
                        _("Give her Rahdari number to link a payment."),
                        code="person_required",
                        fields={
                            "rahdari_number": [_("Give her Rahdari number to link a payment.")]
                        },
                    )
                payment = selectors.payment_of_person_by_reference(
                    person=person, reference=data["payment_reference"]
                )
            application = None
            if data["application_number"]:
                if person is None:
                    raise ApplicationError(
                        _("Give her Rahdari number to link an application."),
                        code="person_required",
                        fields={
                            "rahdari_number": [_("Give her Rahdari number to link an application.")]
                        },
                    )
                application = selectors.application_of_person(
                    person=person, number=data["application_number"]
                )
            complaint = services.complaint_lodge(
                category=data["category"],
                text=data["text"],
                phone=data["phone"],
                language=get_language() or "ur",
                channel=data["channel"] or "office",
                actor=user,
                district=data["district"],
                person=person,
                complainant_name=data["complainant_name"],
                voice=_file(request, "voice"),
                attachments=[a for a in [_file(request, "attachment")] if a],
                program=data.get("program"),
                payment=payment,
                application=application,
            )
        except ApplicationError as error:
            if error.code == "no_payment":
                form.add_error("payment_reference", str(error.message))
            elif error.code == "no_application":
                form.add_error("application_number", str(error.message))
            elif error.code == "no_person":
                form.add_error("rahdari_number", str(error.message))
            else:
                _apply_error(form, error)
        else:
            messages.success(
                request,
                _("The complaint is lodged. Give the person its number: %(number)s.")
                % {"number": _formatted(complaint.number)},
            )
            if selectors.complaints_in_scope(user).filter(pk=complaint.pk).exists():
                return redirect("grievances:complaint", complaint_id=complaint.pk)
            return redirect("grievances:office_lodge")
    return render(request, "grievances/lodge.html", _lodge_context(request, form, "office", person))


CHART_WIDTH = 420
BAR_X = 170
BAR_SPACE = 200
ROW_HEIGHT = 26
BAR_HEIGHT = 16


def bar_chart(key: str, title: str, bars: list[selectors.Bar]) -> dict[str, Any]:
    """The geometry of a horizontal bar chart drawn as SVG on the server (no script):
    the longest bar is ``BAR_SPACE`` wide, the others in proportion."""
    rows = [
        {
            "key": bar.key,
            "label": bar.label,
            "value": bar.value,
            "y": i * ROW_HEIGHT + 4,
            "text_y": i * ROW_HEIGHT + 17,
            "width": max(1, bar.percent * BAR_SPACE // 100) if bar.value else 0,
            "value_x": BAR_X + (bar.percent * BAR_SPACE // 100) + 6,
        }
        for i, bar in enumerate(bars)
    ]
    return {
        "key": key,
        "title": title,
        "rows": rows,
        "width": CHART_WIDTH,
        "height": max(ROW_HEIGHT, len(rows) * ROW_HEIGHT + 4),
        "bar_x": BAR_X,
        "bar_height": BAR_HEIGHT,
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    board = selectors.dashboard(user)
    charts = [
        bar_chart("age", _("Open complaints by age"), board.by_age),
        bar_chart("category", _("Open complaints by category"), board.by_category),
        bar_chart("district", _("Open complaints by district"), board.by_district),
        bar_chart("overdue", _("Past the deadline, by level"), board.overdue_by_level),
    ]
    return render(
        request,
        "grievances/dashboard.html",
        {"board": board, "charts": charts, "desks": list(selectors.desks_of(user))},
    )
