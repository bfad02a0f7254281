"""Administrators register partner departments, see their client id and rotate secrets.
A new secret is shown once and stored only hashed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core.http import is_verified
from rahdari.gateway import services
from rahdari.gateway.models import Partner
from rahdari.gateway.partner_forms import PartnerForm


def _admin(request: HttpRequest) -> User:
    user = request_user(request)
    if user.is_citizen or not user.has_perm("gateway.manage_partners"):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    _admin(request)
    partners = Partner.objects.prefetch_related("services").select_related("application")
    return render(request, "gateway/partners.html", {"partners": partners})


@never_cache
@login_required
def partner_new(request: HttpRequest) -> HttpResponse:
    user = _admin(request)
    form = PartnerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        partner, client_id, secret = services.partner_register(
            name=data["name"],
            name_ur=data["name_ur"],
            department=data["department"],
            contact_email=data["contact_email"],
            contact_phone=data["contact_phone"],
            services=data["services"],
            allowed_scopes=data["allowed_scopes"],
            rate_per_minute=data["rate_per_minute"],
            operators=data["operators"],
            login_redirect_uris=data["redirect_uris"] if data["kind"] == "login" else None,
            actor=user,
        )
        return render(
            request,
            "gateway/partner_secret.html",
            {"partner": partner, "client_id": client_id, "secret": secret, "new": True},
        )
    return render(request, "gateway/partner_new.html", {"form": form})


@never_cache
@login_required
@require_POST
def partner_rotate(request: HttpRequest, partner_id: str) -> HttpResponse:
    user = _admin(request)
    partner = get_object_or_404(Partner.objects.select_related("application"), pk=partner_id)
    secret = services.partner_rotate_secret(partner=partner, actor=user)
    return render(
        request,
        "gateway/partner_secret.html",
        {
            "partner": partner,
            "client_id": partner.application.client_id if partner.application else "",
            "secret": secret,
            "new": False,
        },
    )
