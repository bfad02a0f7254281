"""Gateway API for partner departments (OAuth 2 client credentials, scope `gateway`):
ask for a citizen's attributes, submit the code the citizen read out, fetch the release,
record the outcome; and the public service catalogue."""

import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Status
from ninja.security import HttpBearer
from oauth2_provider.models import get_access_token_model

from rahdari.core.api import client_errors
from rahdari.core.errors import NotFound
from rahdari.core.hotcache import HotCache
from rahdari.gateway import rules, services
from rahdari.gateway.models import ConsentRequest, Partner, Release, Service

router = Router(tags=["gateway"])
ERRORS = client_errors(400, 401, 403, 404, 409, 422, 429)


def _token_partner(checksum: str) -> tuple[Partner, datetime] | None:
    """The active partner a token with the `gateway` scope belongs to, and its expiry."""
    access = (
        get_access_token_model()
        .objects.select_related("application")
        .filter(token_checksum=checksum)
        .first()
    )
    if access is None or access.application is None or not access.allow_scopes(["gateway"]):
        return None
    partner = (
        Partner.objects.select_related("application")
        .filter(application=access.application, active=True)
        .first()
    )
    return (partner, access.expires) if partner is not None else None


# A token is looked up once per few seconds per process, not on every request; a secret
# rotation clears this in its process, and other processes follow within that bound.
_tokens: HotCache[tuple[Partner, datetime] | None] = HotCache("gateway.tokens")


class PartnerToken(HttpBearer):
    """A bearer token from `/o/token/` (client credentials) of an active partner."""

    def authenticate(self, request: HttpRequest, token: str) -> Partner | None:
        checksum = hashlib.sha256(token.encode()).hexdigest()
        found = _tokens.get(checksum, lambda: _token_partner(checksum))
        if found is None or found[1] <= timezone.now():
            return None
        partner = found[0]
        request.partner = partner  # type: ignore[attr-defined]
        return partner


partner_auth = PartnerToken()


class ServiceOut(Schema):
    slug: str
    name: str
    department: str
    description: str
    channel: str
    enabled: bool
    scopes: list[str]
    attributes: list[str]


class RequestIn(Schema):
    service: str
    scopes: list[str]
    purpose: str
    nonce: str
    qr: str | None = None
    rahdari_number: str | None = None
    standing_months: int = 0


class CodeIn(Schema):
    code: str


class OutcomeIn(Schema):
    outcome: str


class ReleaseOut(Schema):
    receipt: UUID
    response: str
    attributes: dict[str, Any]


class RequestOut(Schema):
    id: UUID
    status: str
    service: str
    scopes: list[str]
    expires_at: datetime
    attempts_left: int
    release: ReleaseOut | None = None


def _out(request: ConsentRequest, token: str | None) -> dict[str, Any]:
    release = None
    if token is not None:
        signed = services.released_payload(token)  # the response we just signed
        release = {"receipt": signed["jti"], "response": token, "attributes": signed["attributes"]}
    return {
        "id": request.pk,
        "status": request.status,
        "service": request.service.slug,
        "scopes": request.scopes,
        "expires_at": request.expires_at,
        "attempts_left": max(0, rules.CONSENT_CODE_TRIES - request.attempts),
        "release": release,
    }


def _own(partner: Partner, request_id: UUID) -> ConsentRequest:
    found = (
        ConsentRequest.objects.select_related("service")
        .filter(pk=request_id, partner=partner)
        .first()
    )
    if found is None:
        raise NotFound(_("No such request."))
    return found


@router.get(
    "/services",
    response={200: list[ServiceOut]},
    auth=None,
    summary="The service catalogue: what each service asks for",
)
def catalog(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "slug": s.slug,
            "name": s.name,
            "department": s.department_name,
            "description": s.description,
            "channel": s.channel,
            "enabled": s.enabled,
            "scopes": s.scopes,
            "attributes": rules.attributes_of(s.scopes),
        }
        for s in Service.objects.all()
    ]


@router.post(
    "/requests",
    response={201: RequestOut, 202: RequestOut, **ERRORS},
    auth=partner_auth,
    summary="Ask for a citizen's attributes (by scanned QR or Rahdari number)",
    description=(
        "The QR is verified (signature, validity, revocation). With a live standing "
        "consent the attributes are released at once (201, `release` holds the signed "
        "response: a JWS, alg Ed25519 (RFC 9864), verifiable with /.well-known/rahdari-keys.json). "
        "Otherwise the citizen gets an SMS code to read out, or answers on their own "
        "page (202, status `pending`). `nonce` must be new for every request: a replay "
        "is refused (409 `replayed`)."
    ),
)
def request_create(request: HttpRequest, payload: RequestIn) -> Status[dict[str, Any]]:
    partner: Partner = request.auth  # type: ignore[attr-defined]
    created, token = services.consent_request_create(
        partner=partner,
        service_slug=payload.service,
        scopes=payload.scopes,
        purpose=payload.purpose,
        nonce=payload.nonce,
        qr=payload.qr,
        rahdari_number=payload.rahdari_number,
        standing_months=payload.standing_months,
    )
    return Status(201 if token else 202, _out(created, token))


@router.get(
    "/requests/{request_id}",
    response={200: RequestOut, **ERRORS},
    auth=partner_auth,
    summary="How a request stands; after the citizen agreed on their page, the release",
)
def request_get(request: HttpRequest, request_id: UUID) -> dict[str, Any]:
    partner: Partner = request.auth  # type: ignore[attr-defined]
    found, token = services.consent_release_fetch(
        request=_own(partner, request_id), partner=partner
    )
    return _out(found, token)


@router.post(
    "/requests/{request_id}/code",
    response={200: RequestOut, **ERRORS},
    auth=partner_auth,
    summary="The code the citizen read out: releases the attributes",
    description="A wrong code: 400 `wrong_code`; the third wrong one locks the request (409).",
)
def request_code(request: HttpRequest, request_id: UUID, payload: CodeIn) -> dict[str, Any]:
    partner: Partner = request.auth  # type: ignore[attr-defined]
    found, token = services.consent_code_submit(
        request=_own(partner, request_id), code=payload.code, partner=partner
    )
    return _out(found, token)


@router.post(
    "/requests/{request_id}/cancel",
    response={200: RequestOut, **ERRORS},
    auth=partner_auth,
    summary="Withdraw a request nobody has answered yet",
    description=(
        "The code stops working and the person's page no longer offers the request. "
        "A request already answered, shared, refused, locked or expired: 409."
    ),
)
def request_cancel(request: HttpRequest, request_id: UUID) -> dict[str, Any]:
    partner: Partner = request.auth  # type: ignore[attr-defined]
    found = services.consent_request_cancel(request=_own(partner, request_id), partner=partner)
    return _out(found, None)


@router.get(
    "/receipts/{receipt_id}",
    response={200: dict[str, Any], **ERRORS},
    auth=partner_auth,
    summary="A consent receipt (Kantara Consent Receipt fields) of one of the partner's releases",
)
def receipt(request: HttpRequest, receipt_id: UUID) -> dict[str, Any]:
    partner: Partner = request.auth  # type: ignore[attr-defined]
    release = (
        Release.objects.select_related("partner", "service", "consent", "person")
        .filter(pk=receipt_id, partner=partner)
        .first()
    )
    if release is None:
        raise NotFound(_("No such receipt."))
    return services.receipt_document(release)
