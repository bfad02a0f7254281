"""Credential pages: the counter's verifier (open to all), the citizen's My QR and ID card,
officers' credential actions and bulk jobs, and the public key set and status lists."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from rahdari.accounts.models import User, request_user
from rahdari.core import qr
from rahdari.core.errors import ApplicationError
from rahdari.core.http import is_verified
from rahdari.core.models import District
from rahdari.credentials import cwt, selectors, services
from rahdari.credentials.forms import BulkForm, ReasonForm, VerifyForm
from rahdari.credentials.models import CardBatch, StatusList
from rahdari.identity.rules import format_rahdari_number


def _result_context(result: cwt.Verification) -> dict[str, Any]:
    claims = result.claims
    district = None
    if claims.get("location_code"):
        district = District.objects.filter(name=claims["location_code"]).first()
    photo = ""
    if claims.get("photo") and claims.get("photo_media_type", "").startswith("image/"):
        photo = f"data:{claims['photo_media_type']};base64,{claims['photo']}"
    return {
        "result": result,
        "message": selectors.reason_text(result.reason),
        "claims": claims,
        "number": format_rahdari_number(str(claims.get("id", ""))),
        "district": district,
        "photo": photo,
        "status_age_minutes": (
            result.status_list_age_seconds // 60
            if result.status_list_age_seconds is not None
            else None
        ),
    }


def verify(request: HttpRequest) -> HttpResponse:
    """The counter's verifier: camera scan, a hand-held scanner's text, or a photo upload."""
    posted = request.method == "POST"
    form = VerifyForm(request.POST if posted else None, request.FILES if posted else None)
    context: dict[str, Any] = {"form": form}
    status = 200
    if posted and form.is_valid():
        try:
            selectors.verify_rate_limit(request)
            text = (form.cleaned_data.get("qr") or "").strip()
            if not text:
                text = selectors.qr_text_from_upload(form.cleaned_data["image"])
            result = services.credential_verify(text=text, actor=request.user)
            context.update(_result_context(result))
        except ApplicationError as error:
            form.add_error("image" if error.code != "rate_limited" else None, str(error.message))
            status = error.status
    return render(request, "credentials/verify.html", context, status=status)


def _citizen(request: HttpRequest) -> User:
    user = request_user(request)
    if not user.is_citizen:
        raise PermissionDenied
    return user


@login_required
def my_qr(request: HttpRequest) -> HttpResponse:
    user = _citizen(request)
    try:
        credential = services.credential_for_citizen(user)
    except ApplicationError:
        return render(request, "credentials/my_qr_none.html")
    return render(
        request,
        "credentials/my_qr.html",
        {
            "credential": credential,
            "person": credential.person,
            "number": format_rahdari_number(credential.person.rahdari_number or ""),
            "qr_svg": qr.qr_svg(credential.qr_compact),
        },
    )


def _own_credential(request: HttpRequest) -> Any:
    try:
        return services.credential_for_citizen(_citizen(request))
    except ApplicationError as error:
        raise Http404 from error


def _download(content: bytes | str, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def my_qr_png(request: HttpRequest) -> HttpResponse:
    credential = _own_credential(request)
    return _download(qr.qr_png(credential.qr_compact, scale=8), "image/png", "rahdari-qr.png")


@login_required
@require_GET
def my_qr_svg(request: HttpRequest) -> HttpResponse:
    credential = _own_credential(request)
    return _download(qr.qr_svg(credential.qr_compact), "image/svg+xml", "rahdari-qr.svg")


@login_required
@require_GET
def my_card_pdf(request: HttpRequest) -> HttpResponse:
    from rahdari.credentials import cards

    credential = _own_credential(request)
    language = request.GET.get("lang") or request.LANGUAGE_CODE
    pdf = cards.render_cards(
        [credential], language=language if language in ("ur", "ps", "en") else "ur"
    )
    return _download(pdf, "application/pdf", "rahdari-id-card.pdf")


def _officer(request: HttpRequest) -> User:
    user = request_user(request)
    if user.is_citizen or not user.has_perm("accounts.issue_credentials"):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


@login_required
def person_credentials(request: HttpRequest, person_id: str) -> HttpResponse:
    """An officer's view of a person's credentials, with issue, suspend, reinstate, revoke."""
    user = _officer(request)
    try:
        person = selectors.person_for_officer(user, person_id)
    except ApplicationError as error:
        raise Http404 from error
    history = list(selectors.credentials_of(person))
    current = next((c for c in history if c.status in services.CURRENT), None)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
        try:
            if action == "issue":
                services.credential_issue(person=person, actor=user, reason=reason)
            elif current is None:
                raise ApplicationError(_("This person has no current credential."), code="none")
            else:
                change = {
                    "suspend": services.credential_suspend,
                    "reinstate": services.credential_reinstate,
                    "revoke": services.credential_revoke,
                }[action]
                change(credential=current, reason=reason, actor=user)
        except ApplicationError as error:
            form.add_error(None, str(error.message))
        else:
            messages.success(request, _("Done. The status list was updated."))
            return redirect("credentials:person", person_id=person.pk)
    return render(
        request,
        "credentials/person.html",
        {
            "person": person,
            "number": format_rahdari_number(person.rahdari_number or ""),
            "current": current,
            "history": history,
            "form": form,
            "status_uri": services.status_list_uri,
        },
    )


def _districts_of(user: User) -> Any:
    return District.objects.all() if user.all_districts else user.districts.all()


@login_required
def bulk(request: HttpRequest) -> HttpResponse:
    """Bulk issuance and card printing for a district, as background jobs with progress."""
    user = _officer(request)
    districts = _districts_of(user)
    form = BulkForm(request.POST or None, districts=districts)
    if request.method == "POST" and form.is_valid():
        district = form.cleaned_data["district"]
        if form.cleaned_data["job"] == "issue":
            job = services.credentials_issue_district(district=district, actor=user)
        else:
            job = services.cards_print_district(
                district=district, actor=user, language=form.cleaned_data["language"]
            )
        messages.success(request, _("The job has started. This page shows its progress."))
        return redirect("core:job_detail", job_id=job.pk)
    batches = CardBatch.objects.filter(district__in=districts).select_related("district", "job")
    return render(
        request,
        "credentials/bulk.html",
        {"form": form, "batches": batches.order_by("-created_at")[:50]},
    )


@login_required
@require_GET
def card_batch(request: HttpRequest, batch_id: str) -> FileResponse:
    user = _officer(request)
    batch = get_object_or_404(CardBatch, pk=batch_id, district__in=_districts_of(user))
    path = services.card_batches_dir() / batch.file_name
    if not path.is_file():
        raise Http404
    services.card_batch_downloaded(batch=batch, actor=user)
    return FileResponse(path.open("rb"), as_attachment=True, filename=batch.file_name)


@require_GET
def keyset(request: HttpRequest) -> JsonResponse:
    """``/.well-known/rahdari-keys.json``: public, cacheable for an hour."""
    response = JsonResponse(services.keyset_document())
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def status_list(request: HttpRequest, number: int) -> HttpResponse:
    """``/status/<n>``: the signed status list token (application/statuslist+cwt)."""
    row = StatusList.objects.filter(number=number).first()
    if row is None:
        raise Http404
    if not row.token:
        row = services.status_lists_publish(numbers=[number])[0]
    response = HttpResponse(bytes(row.token), content_type=cwt.STATUS_LIST_TYP)
    response["Cache-Control"] = f"public, max-age={settings.RAHDARI_STATUS_LIST_TTL_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response
