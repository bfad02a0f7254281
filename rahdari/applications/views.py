"""Application pages.

The applicant (herself, or an officer at the office for her — recorded as assisted):
"My applications" with what she may apply for; one application with what the platform
already knows (never asked again), the papers it needs (with pictures; those she sent
before are reused; a missing one is photographed right there), her words, the steps
she can take and the timeline. Officers: the work queue of their districts (filters,
sorting, bulk actions) and the review page (facts, papers inline, what the rules say,
the decision).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rahdari.accounts.models import User, request_user
from rahdari.applications import rules, selectors, services
from rahdari.applications.forms import (
    CORRECTION_LABELS,
    AppealForm,
    BulkForm,
    CorrectionForm,
    QueueFilterForm,
    ReasonForm,
    StatementForm,
)
from rahdari.applications.models import Application, ApplicationKind
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.http import is_verified, render_page
from rahdari.core.tracking import format_tracking_number
from rahdari.documents import selectors as documents
from rahdari.documents import uploads
from rahdari.documents.forms import KIND_HELP, KIND_PICTURE, PersonFindForm, UploadForm
from rahdari.documents.models import DocumentKind
from rahdari.documents.views import receive_upload, refused_upload_form
from rahdari.identity.models import Person
from rahdari.programs.models import Program

PAGE_SIZE = 50


def _language() -> str:
    return (get_language() or "ur")[:2]


def _found(loader: Any, **kwargs: Any) -> Any:
    try:
        return loader(**kwargs)
    except NotFound as error:
        raise Http404(str(error.message)) from error


def _staff(user: User) -> None:
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied


# --------------------------------------------------------------------------- applicant


@login_required
@require_http_methods(["GET", "POST"])
def mine(request: HttpRequest) -> HttpResponse:
    """Her applications and what she may apply for; POST starts one."""
    user = request_user(request)
    if not user.is_citizen:
        return redirect("applications:office")
    person = selectors.person_of_citizen(user)
    if request.method == "POST" and person is not None:
        return _start(request, person=person, actor=user)
    return _mine_page(request, person)


def _choices_context(person: Person | None) -> dict[str, Any]:
    """Her applications and what she may apply for (her page and the office's)."""
    catalogue = selectors.program_catalogue(_language())
    return {
        "person": person,
        "applications": list(selectors.applications_of(person)) if person else [],
        "programs": catalogue.open,
        "names": catalogue.names,
        "papers": _paper_labels(),
    }


def _mine_page(request: HttpRequest, person: Person | None) -> HttpResponse:
    return render(request, "applications/mine.html", _choices_context(person))


def _paper_labels() -> dict[str, str]:
    return {kind.value: str(kind.label) for kind in DocumentKind}


def _start(request: HttpRequest, *, person: Person, actor: User) -> HttpResponse:
    kind = request.POST.get("kind", "")
    program = None
    if kind == ApplicationKind.PROGRAM:
        program = Program.objects.filter(code=request.POST.get("program", "")).first()
    try:
        application = services.application_start(
            person=person, kind=kind, program=program, actor=actor
        )
    except ApplicationError as error:
        messages.error(request, str(error.message))
        if actor.is_citizen:
            return _mine_page(request, person)
        return redirect("applications:office")
    return redirect("applications:detail", application_id=application.pk)


def _papers(application: Application, person: Person) -> list[dict[str, Any]]:
    """Each paper it needs, with her newest version (reused) and the one it was sent with."""
    kinds = services.required_kinds(application)
    have = documents.latest_versions(person=person, kinds=kinds)
    sent = selectors.papers(application)
    return [
        {
            "kind": kind,
            "label": DocumentKind(kind).label,
            "help": KIND_HELP[DocumentKind(kind)],
            "picture": KIND_PICTURE[DocumentKind(kind)],
            "version": have.get(kind),
            "sent": sent.get(kind),
        }
        for kind in kinds
    ]


def _detail_context(request: HttpRequest, application: Application, **forms: Any) -> dict[str, Any]:
    language = _language()
    editable = application.status in (rules.Status.DRAFT, rules.Status.INFO_REQUESTED)
    correction = application.kind == ApplicationKind.CORRECTION
    statement_form = forms.get("statement_form")
    if statement_form is None:
        initial = {"statement": application.statement, **services.corrections_of(application)}
        statement_form = (CorrectionForm if correction else StatementForm)(initial=initial)
    events = list(selectors.timeline(application))
    request_reason = next(
        (e.reason for e in reversed(events) if e.to_status == rules.Status.INFO_REQUESTED), ""
    )
    decided = application.status in (rules.Status.APPROVED, rules.Status.REJECTED)
    decision_reason = decided and next(
        (
            e.reason
            for e in reversed(events)
            if e.to_status in (rules.Status.APPROVED, rules.Status.REJECTED)
        ),
        "",
    )
    return {
        "application": application,
        "number": format_tracking_number(application.number),
        "what": services.what_of(application, language),
        "prefill": selectors.prefill(application, language),
        "papers": _papers(application, application.person),
        "events": events,
        "editable": editable,
        "correction": correction,
        "statement_form": statement_form,
        "upload_form": forms.get("upload_form") or UploadForm(),
        "appeal_form": forms.get("appeal_form") or AppealForm(),
        "request_reason": request_reason,
        "decision_reason": decision_reason,
        "overdue": selectors.is_overdue(application),
        "can_appeal": application.status == rules.Status.REJECTED
        and not any(e.to_status == rules.Status.APPEALED for e in events),
        "can_withdraw": rules.can_transition(application.status, rules.Status.WITHDRAWN),
        "assisted_view": not request_user(request).is_citizen,
    }


@login_required
@require_GET
def detail(request: HttpRequest, application_id: str) -> HttpResponse:
    user = request_user(request)
    application = _found(
        selectors.application_of_applicant, user=user, application_id=application_id
    )
    if not user.is_citizen:
        _staff(user)
        selectors.application_read(application=application, actor=user)
    return render(request, "applications/detail.html", _detail_context(request, application))


def _detail_error(
    request: HttpRequest, application: Application, error: ApplicationError, **forms: Any
) -> HttpResponse:
    if not forms:
        messages.error(request, str(error.message))
    return render(
        request,
        "applications/detail.html",
        _detail_context(request, application, **forms),
    )


@login_required
@require_POST
def act(request: HttpRequest, application_id: str, action: str) -> HttpResponse:
    """The applicant's steps: save, submit, respond, appeal, withdraw."""
    user = request_user(request)
    application = _found(
        selectors.application_of_applicant, user=user, application_id=application_id
    )
    if not user.is_citizen:
        _staff(user)
    correction = application.kind == ApplicationKind.CORRECTION
    try:
        if action in ("save", "submit", "respond"):
            form = (CorrectionForm if correction else StatementForm)(request.POST)
            if not form.is_valid():
                return render(
                    request,
                    "applications/detail.html",
                    _detail_context(request, application, statement_form=form),
                )
            statement = form.cleaned_data["statement"]
            corrections = form.corrections() if isinstance(form, CorrectionForm) else None
            if action == "respond":
                services.application_save(
                    application=application, actor=user, statement=statement, correction=corrections
                )
                services.application_respond(
                    application=application, actor=user, statement=statement
                )
                messages.success(request, _("Your answer was sent to the officer."))
            else:
                services.application_save(
                    application=application, actor=user, statement=statement, correction=corrections
                )
                if action == "submit":
                    services.application_submit(application=application, actor=user)
                    messages.success(
                        request,
                        _("Sent. Your application number is %(number)s: keep it.")
                        % {"number": format_tracking_number(application.number)},
                    )
                else:
                    messages.success(
                        request, _("Saved. You can send it when your papers are ready.")
                    )
        elif action == "appeal":
            appeal_form = AppealForm(request.POST)
            if not appeal_form.is_valid():
                return render(
                    request,
                    "applications/detail.html",
                    _detail_context(request, application, appeal_form=appeal_form),
                )
            services.application_appeal(
                application=application, actor=user, grounds=appeal_form.cleaned_data["grounds"]
            )
            messages.success(request, _("Your appeal was sent. A second officer will decide."))
        elif action == "withdraw":
            services.application_withdraw(application=application, actor=user)
            messages.success(request, _("Your application is withdrawn."))
        else:
            raise Http404
    except ApplicationError as error:
        application.refresh_from_db()
        return _detail_error(request, application, error)
    return redirect("applications:detail", application_id=application.pk)


@csrf_exempt  # the upload handlers are set before the body is read; CSRF checked below
@login_required
@require_POST
def upload(request: HttpRequest, application_id: str) -> HttpResponse:
    """A paper for the application, photographed right there; it goes to her documents."""
    user = request_user(request)
    application = _found(
        selectors.application_of_applicant, user=user, application_id=application_id
    )
    try:
        uploads.prepare(request)
    except ApplicationError as error:  # refused before the body was read: nothing changes
        return _detail_error(request, application, error, upload_form=refused_upload_form(error))
    return _upload(request, application, user)


@csrf_protect
def _upload(request: HttpRequest, application: Application, user: User) -> HttpResponse:
    if not user.is_citizen:
        _staff(user)
        if not selectors.may_apply_on_behalf(user):
            raise PermissionDenied
    form, version = receive_upload(
        request, person=application.person, actor=user, assisted=not user.is_citizen
    )
    if version is None:
        return render(
            request,
            "applications/detail.html",
            _detail_context(request, application, upload_form=form),
        )
    messages.success(
        request,
        _("Saved: %(kind)s. It is kept in your documents for other applications too.")
        % {"kind": version.document.get_kind_display()},
    )
    return redirect(reverse("applications:detail", args=[application.pk]) + "#papers")


# --------------------------------------------------------------------------- at the office


@login_required
@require_http_methods(["GET", "POST"])
def office(request: HttpRequest) -> HttpResponse:
    """An officer finds a person (Rahdari number in the body, never the address) and
    applies on her behalf."""
    user = request_user(request)
    if not selectors.may_apply_on_behalf(user):
        raise PermissionDenied
    _staff(user)
    form = PersonFindForm(request.POST or None)
    person = None
    if request.method == "POST" and "kind" in request.POST:
        person = _found(documents.person_get, user=user, person_id=request.POST.get("person", ""))
        return _start(request, person=person, actor=user)
    if request.method == "POST" and form.is_valid():
        try:
            person = documents.person_find(
                user=user, rahdari_number=form.cleaned_data["rahdari_number"]
            )
        except ApplicationError as error:
            for name, problems in error.fields.items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
            form.add_error(None, str(error.message))
    return render(request, "applications/office.html", {"form": form, **_choices_context(person)})


# --------------------------------------------------------------------------- officers


def _reviewer(request: HttpRequest) -> User:
    user = request_user(request)
    if not selectors.may_review_any(user):
        raise PermissionDenied
    _staff(user)
    return user


def _queue_filters(request: HttpRequest, user: User) -> tuple[QueueFilterForm, Any]:
    language = _language()
    catalogue = selectors.program_catalogue(language)
    names = catalogue.names
    program_choices = sorted(
        ((catalogue.codes[pk], name) for pk, name in names.items()), key=lambda c: c[1]
    )
    districts = [
        (d.pk, d.name_ur if language in ("ur", "ps") else d.name)
        for d in selectors.review_districts(user)
    ]
    form = QueueFilterForm(request.GET or None, programs=program_choices, districts=districts)
    filters = selectors.QueueFilter()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = selectors.QueueFilter(
            status=data["status"] or "pending",
            kind=data["kind"],
            program=data["program"],
            district=data["district"],
            overdue=data["overdue"],
            mine=data["mine"],
            assisted=data["assisted"],
            number=data["number"],
            sort=data["sort"] or "due",
        )
    return form, (filters, names)


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The work queue: a page of 50, a fixed number of queries whatever its length."""
    user = _reviewer(request)
    form, (filters, names) = _queue_filters(request, user)
    found = selectors.queue(user=user, filters=filters)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    start = (page.number - 1) * PAGE_SIZE
    page.object_list = selectors.queue_page(found, start, start + PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    return render_page(
        request,
        "applications/queue.html",
        "applications/partials/_queue_rows.html",
        {
            "form": form,
            "page": page,
            "names": names,
            "query": query.urlencode(),
            "bulk_form": BulkForm(),
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    user = _reviewer(request)
    form = BulkForm(request.POST)
    chosen = request.POST.getlist("application")
    if not form.is_valid() or not chosen:
        messages.error(request, _("Choose applications and an action."))
        return redirect("applications:queue")
    visible = selectors.queue(user=user, filters=selectors.QueueFilter(status="all"))
    applications = list(visible.filter(pk__in=chosen[:PAGE_SIZE]))
    try:
        result = services.applications_bulk(
            applications=applications,
            action=form.cleaned_data["action"],
            actor=user,
            reason=form.cleaned_data["reason"],
        )
    except ApplicationError as error:
        messages.error(request, str(error.message))
        return redirect("applications:queue")
    if result.done:
        messages.success(request, _("Done: %(count)d applications.") % {"count": len(result.done)})
    for number, why in result.refused.items():
        messages.warning(request, f"{format_tracking_number(number)}: {why}")
    back = request.POST.get("query", "")
    return redirect(reverse("applications:queue") + (f"?{back}" if back else ""))


def _review_context(application: Application, **forms: Any) -> dict[str, Any]:
    language = _language()
    return {
        "application": application,
        "number": format_tracking_number(application.number),
        "what": services.what_of(application, language),
        "prefill": selectors.prefill(application, language),
        "papers": _papers(application, application.person),
        "events": list(selectors.timeline(application)),
        "check": services.rules_check_of(application),
        "corrections": [
            (CORRECTION_LABELS.get(key, key), value)
            for key, value in services.corrections_of(application).items()
        ],
        "reason_form": forms.get("reason_form") or ReasonForm(),
        "overdue": selectors.is_overdue(application),
        "moves": {
            target.value: rules.can_transition(application.status, target)
            for target in rules.Status
        },
    }


@login_required
@require_GET
def review(request: HttpRequest, application_id: str) -> HttpResponse:
    user = _reviewer(request)
    application = _found(selectors.application_for_review, user=user, application_id=application_id)
    selectors.application_read(application=application, actor=user)
    return render(request, "applications/review.html", _review_context(application))


@login_required
@require_POST
def decide(request: HttpRequest, application_id: str, action: str) -> HttpResponse:
    """The officer's steps: take up, ask for information, approve, reject."""
    user = _reviewer(request)
    application = _found(selectors.application_for_review, user=user, application_id=application_id)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        if action == "review":
            services.application_review_start(application=application, actor=user)
        elif action == "request_info":
            services.application_request_info(application=application, actor=user, reason=reason)
        elif action in ("approve", "reject"):
            services.application_decide(
                application=application, actor=user, approve=action == "approve", reason=reason
            )
        else:
            raise Http404
    except ApplicationError as error:
        for name, problems in error.fields.items():
            for problem in problems:
                form.add_error("reason" if name == "reason" else None, problem)
        if not error.fields:
            form.add_error(None, str(error.message))
        application.refresh_from_db()
        return render(
            request,
            "applications/review.html",
            _review_context(application, reason_form=form),
        )
    application.refresh_from_db()
    messages.success(
        request,
        _("Application %(number)s: %(status)s.")
        % {
            "number": format_tracking_number(application.number),
            "status": application.get_status_display(),
        },
    )
    return redirect("applications:review", application_id=application.pk)
