"""Public landing page, audit log, operations (keys and jobs), job progress, dev outbox."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rahdari.core import selectors, services
from rahdari.core.audit import audit_verify
from rahdari.core.forms import AuditFilterForm
from rahdari.core.http import is_verified, render_page
from rahdari.core.jobs import job_create
from rahdari.core.models import DataKey, OutboundMessage


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@login_required
@permission_required("core.view_audit_log", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    entries = selectors.audit_entries()
    if form.is_bound and form.is_valid():
        entries = selectors.audit_entries(**{k: v for k, v in form.cleaned_data.items() if v})
    page = Paginator(entries.select_related(None), 50).get_page(request.GET.get("page"))
    return render_page(
        request,
        "core/audit_log.html",
        "core/partials/_audit_rows.html",
        {"form": form, "page": page},
    )


@login_required
@permission_required("core.view_audit_log", raise_exception=True)
@require_POST
def audit_verify_view(request: HttpRequest) -> HttpResponse:
    report = audit_verify()
    return render(request, "core/partials/_audit_verify.html", {"report": report})


@login_required
@permission_required("core.manage_keys", raise_exception=True)
def operations(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not is_verified(request.user):
            messages.error(request, _("Confirm your login with your authenticator app first."))
            return redirect("accounts:login_totp")
        services.keys_rotate_start(actor=request.user)
        job = job_create(kind="core.keys_reencrypt", params={}, actor=request.user)
        messages.success(request, _("A new key is active. Old values are being re-encrypted."))
        return redirect("core:job_detail", job_id=job.pk)
    return render(
        request,
        "core/operations.html",
        {"keys": DataKey.objects.all(), "jobs": selectors.jobs_for(request.user)[:20]},
    )


@login_required
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = get_object_or_404(selectors.jobs_for(request.user), pk=job_id)
    return render_page(
        request, "core/job_detail.html", "core/partials/_job_progress.html", {"job": job}
    )


def outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the messages the platform 'sent', so the demo works without a phone."""
    if not settings.DEBUG:
        raise Http404
    page = Paginator(OutboundMessage.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "core/outbox.html", {"page": page})
