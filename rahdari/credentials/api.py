"""Credentials API: verify (open to any counter, rate-limited), the citizen's own QR,
and the officers' issue / suspend / reinstate / revoke / bulk jobs."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import client_errors
from rahdari.core.errors import ApplicationError, Forbidden
from rahdari.core.http import is_verified
from rahdari.core.models import District
from rahdari.credentials import cwt, selectors, services
from rahdari.credentials.models import Credential

router = Router(tags=["credentials"])
ERRORS = client_errors(400, 401, 403, 404, 409, 413, 422, 429)


class VerifyIn(Schema):
    qr: str


class VerificationOut(Schema):
    valid: bool
    reason: str
    message: str
    detail: str
    claims: dict[str, Any]
    kid: str | None
    status_checked: bool
    status_list_age_seconds: int | None


class CredentialOut(Schema):
    id: UUID
    person: UUID
    status: str
    status_reason: str
    issued_at: datetime
    expires_at: datetime
    kid: str
    status_list_uri: str
    status_index: int


class MyCredentialOut(CredentialOut):
    qr_compact: str
    qr_card: str


class ReasonIn(Schema):
    reason: str


class DistrictIn(Schema):
    district: str
    language: str = "ur"


class JobStartedOut(Schema):
    job: UUID
    kind: str


def _verification(result: cwt.Verification) -> dict[str, Any]:
    return {**result.as_dict(), "message": str(selectors.reason_text(result.reason))}


def _credential(credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.pk,
        "person": credential.person_id,
        "status": credential.status,
        "status_reason": credential.status_reason,
        "issued_at": credential.issued_at,
        "expires_at": credential.expires_at,
        "kid": credential.key.kid,
        "status_list_uri": services.status_list_uri(credential.status_list.number),
        "status_index": credential.status_index,
    }


@router.post(
    "/verify",
    response={200: VerificationOut, **ERRORS},
    auth=None,
    summary="Verify a QR text (signature, validity, revocation)",
    description=(
        "Open to any counter, no login; rate-limited per client address. An invalid "
        "credential is still a 200 answer with `valid: false` and a `reason`: malformed, "
        "wrong_prefix, unsupported_version, unsupported_algorithm, unknown_key, "
        "bad_signature, expired, not_yet_valid, revoked or suspended. A logged-in "
        "officer's check of a valid credential is recorded and shown to the person."
    ),
)
def verify(request: HttpRequest, payload: VerifyIn) -> dict[str, Any]:
    selectors.verify_rate_limit(request)
    return _verification(services.credential_verify(text=payload.qr, actor=request.user))


@router.post(
    "/verify-image",
    response={200: VerificationOut, **ERRORS},
    auth=None,
    summary="Verify the QR in a photo (JPEG, PNG, WebP; at most 10 MB)",
    description=(
        "The image is decoded on the server (zxing-cpp). Errors: 413 `too_large`, "
        "422 `not_an_image` or `no_qr_found`."
    ),
)
def verify_image(request: HttpRequest, image: File[UploadedFile]) -> dict[str, Any]:
    selectors.verify_rate_limit(request)
    text = selectors.qr_text_from_upload(image)
    return _verification(services.credential_verify(text=text, actor=request.user))


@router.get(
    "/keys",
    response={200: dict[str, Any]},
    auth=None,
    summary="The issuer's public keys (same as /.well-known/rahdari-keys.json)",
)
def keys(request: HttpRequest) -> dict[str, Any]:
    return services.keyset_document()


@router.get(
    "/me",
    response={200: MyCredentialOut, **ERRORS},
    auth=django_auth,
    summary="The logged-in citizen's current credential with both QR texts",
)
def my_credential(request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden(_("Only citizens have a QR of their own."))
    credential = services.credential_for_citizen(user)
    return {
        **_credential(credential),
        "qr_compact": credential.qr_compact,
        "qr_card": credential.qr_card,
    }


def _officer(request: HttpRequest) -> User:
    user = request_user(request)
    if user.is_citizen or not user.has_perm("accounts.issue_credentials"):
        raise Forbidden(_("You may not issue or revoke credentials."))
    if user.requires_totp and not is_verified(user):
        raise Forbidden(_("Confirm your login with your authenticator app first."))
    return user


@router.get(
    "/persons/{person_id}",
    response={200: list[CredentialOut], **ERRORS},
    auth=django_auth,
    summary="A person's credentials, newest first (officers of the person's district)",
)
def person_credentials(request: HttpRequest, person_id: UUID) -> list[dict[str, Any]]:
    person = selectors.person_for_officer(_officer(request), person_id)
    return [_credential(c) for c in selectors.credentials_of(person)]


@router.post(
    "/persons/{person_id}/issue",
    response={200: CredentialOut, **ERRORS},
    auth=django_auth,
    summary="Issue (or reissue) a person's credential; the previous one is superseded",
)
def issue(request: HttpRequest, person_id: UUID, payload: ReasonIn) -> dict[str, Any]:
    user = _officer(request)
    person = selectors.person_for_officer(user, person_id)
    return _credential(services.credential_issue(person=person, actor=user, reason=payload.reason))


def _change(request: HttpRequest, credential_id: UUID, payload: ReasonIn, action: str) -> Any:
    user = _officer(request)
    credential = selectors.credential_for_officer(user, credential_id)
    change = {
        "revoke": services.credential_revoke,
        "suspend": services.credential_suspend,
        "reinstate": services.credential_reinstate,
    }[action]
    return _credential(change(credential=credential, reason=payload.reason, actor=user))


@router.post(
    "/{credential_id}/revoke",
    response={200: CredentialOut, **ERRORS},
    auth=django_auth,
    summary="Revoke for good (status list: INVALID)",
)
def revoke(request: HttpRequest, credential_id: UUID, payload: ReasonIn) -> Any:
    return _change(request, credential_id, payload, "revoke")


@router.post(
    "/{credential_id}/suspend",
    response={200: CredentialOut, **ERRORS},
    auth=django_auth,
    summary="Suspend (status list: SUSPENDED)",
)
def suspend(request: HttpRequest, credential_id: UUID, payload: ReasonIn) -> Any:
    return _change(request, credential_id, payload, "suspend")


@router.post(
    "/{credential_id}/reinstate",
    response={200: CredentialOut, **ERRORS},
    auth=django_auth,
    summary="Lift a suspension",
)
def reinstate(request: HttpRequest, credential_id: UUID, payload: ReasonIn) -> Any:
    return _change(request, credential_id, payload, "reinstate")


def _district(user: User, name: str) -> District:
    district = District.objects.filter(name__iexact=name).first()
    if district is None:
        raise ApplicationError(
            _("Choose a district from the list."),
            code="unknown_district",
            fields={"district": [_("Choose a district from the list.")]},
        )
    if not user.has_perm("accounts.act_in_district", district):
        raise Forbidden(_("This district is not one of yours."))
    return district


@router.post(
    "/jobs/issue-district",
    response={202: JobStartedOut, **ERRORS},
    auth=django_auth,
    summary="Issue credentials to every active person of a district (a job with progress)",
)
def issue_district(request: HttpRequest, payload: DistrictIn) -> Status[dict[str, Any]]:
    user = _officer(request)
    job = services.credentials_issue_district(
        district=_district(user, payload.district), actor=user
    )
    return Status(202, {"job": job.pk, "kind": job.kind})


@router.post(
    "/jobs/print-cards",
    response={202: JobStartedOut, **ERRORS},
    auth=django_auth,
    summary="Printable ID card PDFs for a district, one per batch of 100 (a job)",
)
def print_cards(request: HttpRequest, payload: DistrictIn) -> Status[dict[str, Any]]:
    user = _officer(request)
    if payload.language not in dict(settings.LANGUAGES):
        raise ApplicationError(
            _("Choose English, Urdu or Pashto."),
            code="unknown_language",
            fields={"language": [_("Choose English, Urdu or Pashto.")]},
        )
    job = services.cards_print_district(
        district=_district(user, payload.district), actor=user, language=payload.language
    )
    return Status(202, {"job": job.pk, "kind": job.kind})


@router.get(
    "/status-lists",
    response={200: list[dict[str, Any]]},
    auth=None,
    summary="The published status lists (URIs and sizes)",
)
def status_lists(request: HttpRequest) -> list[dict[str, Any]]:
    return list(services.keyset_document()["status_lists"])
