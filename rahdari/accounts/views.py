"""Login pages (staff: password then TOTP; citizens: CNIC then SMS code) and workspaces."""

from __future__ import annotations

import base64
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from rahdari.accounts import selectors, services
from rahdari.accounts.forms import (
    CitizenLookupForm,
    CnicForm,
    LoginCodeForm,
    StaffCreateForm,
    StaffLoginForm,
    TokenForm,
)
from rahdari.accounts.models import User, request_user
from rahdari.accounts.roles import Role
from rahdari.core.errors import ApplicationError
from rahdari.core.http import is_verified
from rahdari.core.keyring import blind_index
from rahdari.core.selectors import jobs_for, reads_of_person

PENDING = "rahdari_pending_staff"
CITIZEN_NEXT = "rahdari_citizen_next"
CITIZEN_STEP = "rahdari_citizen_login"


def _apply_errors(form: Any, error: ApplicationError, default_field: str | None = None) -> None:
    if error.fields:
        for field, msgs in error.fields.items():
            for msg in msgs:
                form.add_error(field if field in form.fields else None, msg)
    else:
        form.add_error(default_field, str(error.message))


def _login(request: HttpRequest, user: User) -> None:
    """Log in; a language chosen on this device before logging in becomes the profile's."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen in dict(settings.LANGUAGES) and chosen != user.preferred_language:
        services.user_set_language(user=user, language=chosen)


def locked_out(request: HttpRequest, original_response: Any, credentials: Any) -> HttpResponse:
    """django-axes calls this when a username+IP pair has failed too often."""
    return render(request, "accounts/locked_out.html", status=429)


def staff_login(request: HttpRequest) -> HttpResponse:
    form = StaffLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if getattr(request, "axes_locked_out", False):
            return locked_out(request, None, None)
        if user is None or getattr(user, "is_citizen", False):
            form.add_error(None, _("The username or password is wrong."))
        else:
            needs_second_step = (
                user.requires_totp or TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            )
            if not needs_second_step:
                _login(request, user)
                return redirect(_next(request, "accounts:workspace"))
            request.session[PENDING] = str(user.pk)
            return redirect("accounts:login_totp")
    return render(request, "accounts/login.html", {"form": form})


def _next(request: HttpRequest, default: str) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.GET.get("next") or request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    from django.urls import reverse

    return reverse(default)


def _qr_data_uri(text: str) -> str:
    svg = segno.make(text, error="m").svg_inline(scale=4, dark="#111", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def staff_login_totp(request: HttpRequest) -> HttpResponse:
    """Second step for staff: a TOTP code; first-time holders set up their app here."""
    user: User | None = None
    if request.user.is_authenticated and not request.user.is_citizen:
        user = request.user
    elif request.session.get(PENDING):
        user = User.objects.filter(pk=request.session[PENDING], is_active=True).first()
    if user is None:
        return redirect("accounts:login")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    setup = device is None
    if setup:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or (
            services.totp_device_create(user=user)
        )
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if setup:
                services.totp_device_confirm(
                    user=user, device=device, token=form.cleaned_data["token"]
                )
            elif not device.verify_token(form.cleaned_data["token"].strip()):
                raise ApplicationError(_("The code from the authenticator app is wrong."))
        except ApplicationError as error:
            _apply_errors(form, error, "token")
        else:
            if not request.user.is_authenticated:
                _login(request, user)
            otp_login(request, device)
            request.session.pop(PENDING, None)
            return redirect("accounts:workspace")
    context = {"form": form, "setup": setup}
    if setup:
        context["qr"] = _qr_data_uri(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "accounts/login_totp.html", context)


def citizen_login(request: HttpRequest) -> HttpResponse:
    """Citizens: CNIC → a code by SMS to their registered number → logged in, then back to
    the page that asked for the login (e.g. "Log in with Rahdari" at a partner's site)."""
    wanted = request.GET.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        request.session[CITIZEN_NEXT] = wanted
    step = request.session.get(CITIZEN_STEP)
    if request.method == "POST" and request.POST.get("step") == "restart":
        request.session.pop(CITIZEN_STEP, None)
        return redirect("accounts:citizen_login")
    if step and request.POST.get("step") != "cnic":
        form = LoginCodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                user = services.login_code_verify(
                    cnic_index=step["cnic_index"], code=form.cleaned_data["code"]
                )
            except ApplicationError as error:
                _apply_errors(form, error, "code")
            else:
                request.session.pop(CITIZEN_STEP, None)
                following = request.session.pop(CITIZEN_NEXT, None)
                _login(request, user)
                return redirect(following or "accounts:me")
        return render(
            request, "accounts/citizen_code.html", {"form": form, "masked": step.get("masked")}
        )
    cnic_form = CnicForm(request.POST or None)
    if request.method == "POST" and cnic_form.is_valid():
        try:
            masked = services.login_code_request(cnic=cnic_form.cleaned_data["cnic"])
        except ApplicationError as error:
            _apply_errors(cnic_form, error, "cnic")
        else:
            # Only the blind index goes into the session, never the CNIC itself.
            request.session[CITIZEN_STEP] = {
                "cnic_index": blind_index("cnic", cnic_form.cleaned_data["cnic"]),
                "masked": masked,
            }
            return redirect("accounts:citizen_login")
    return render(request, "accounts/citizen_login.html", {"form": cnic_form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You are logged out."))
    return redirect("core:home")


@login_required
def me(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.is_citizen:
        return redirect("accounts:workspace")
    from rahdari.core.validators import mask_cnic, mask_phone

    reads = reads_of_person(subject_type="accounts.user", subject_id=str(user.pk)).select_related(
        "actor"
    )[:100]
    return render(
        request,
        "accounts/me.html",
        {
            "masked_cnic": mask_cnic(user.cnic),
            "masked_phone": mask_phone(user.phone),
            "reads": reads,
        },
    )


@login_required
def workspace(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if user.is_citizen:
        return redirect("accounts:me")
    if user.requires_totp and not is_verified(user):
        return redirect("accounts:login_totp")
    return render(
        request,
        "accounts/workspace.html",
        {
            "roles": user.roles,
            "districts": selectors.districts_of(user),
            "has_totp": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            "activity": selectors.recent_activity(user),
            "jobs": jobs_for(user)[:5],
            "tiles": selectors.workspace_tiles(user),
        },
    )


def _require_staff_perm(request: HttpRequest, perm: str) -> None:
    user = request_user(request)
    if user.is_citizen or not user.has_perm(perm):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied


@login_required
def staff_list(request: HttpRequest) -> HttpResponse:
    _require_staff_perm(request, "accounts.manage_staff")
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.staff_create(
                username=data["username"],
                full_name=data["full_name"],
                password=data["password"],
                roles=[Role(r) for r in data["roles"]],
                districts=list(data["districts"]),
                phone=data["phone"],
                language=data["language"],
                actor=request_user(request),
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request, _("Staff account %(username)s created.") % {"username": created.username}
            )
            return redirect("accounts:staff_list")
    return render(
        request, "accounts/staff_list.html", {"form": form, "staff": selectors.staff_accounts()}
    )


@login_required
def citizen_lookup(request: HttpRequest) -> HttpResponse:
    _require_staff_perm(request, "accounts.view_citizen_account")
    form = CitizenLookupForm(request.POST or None)
    account = None
    if request.method == "POST" and form.is_valid():
        citizen = selectors.citizen_by_cnic(form.cleaned_data["cnic"])
        if citizen is None:
            form.add_error("cnic", _("No citizen account has this CNIC."))
        else:
            account = services.citizen_account_view(
                actor=request_user(request), citizen=citizen, purpose=form.cleaned_data["purpose"]
            )
    return render(request, "accounts/citizen_lookup.html", {"form": form, "account": account})


@login_required
def security(request: HttpRequest) -> HttpResponse:
    if request_user(request).is_citizen:
        return redirect("accounts:me")
    return render(
        request,
        "accounts/security.html",
        {
            "has_totp": TOTPDevice.objects.filter(user=request.user, confirmed=True).exists(),
            "verified": is_verified(request.user),
        },
    )
