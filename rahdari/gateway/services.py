"""Partners, consent requests, standing consents and attribute releases.

Every release is audited and shown to the person; a partner never receives data
without a live consent: a code the person read out, an approval on the person's own
page, or a standing consent the person gave and has not revoked. Refused attempts
(unknown scope, bad QR, wrong code, replayed nonce, expired request) are audited
too, in their own transaction, so the refusal's rollback does not erase them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override
from joserfc import jws
from joserfc.jwk import OKPKey
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from rahdari.core.hotcache import HotCache, hot_caches_clear
from rahdari.core.keyring import keyring
from rahdari.core.notifications import notification_send
from rahdari.core.ratelimit import rate_limit
from rahdari.credentials import cwt
from rahdari.credentials import services as credentials
from rahdari.credentials.selectors import reason_text
from rahdari.gateway import rules
from rahdari.gateway.models import Consent, ConsentRequest, Partner, Release, Service
from rahdari.gateway.selectors import ATTRIBUTE_LABELS
from rahdari.identity.models import Person, PersonStatus
from rahdari.identity.rules import format_rahdari_number

logger = logging.getLogger(__name__)
Application = get_application_model()
T = TypeVar("T")

# Looked up on every partner request; a change made here clears them (hot_caches_clear).
_services_by_slug: HotCache[Service | None] = HotCache("gateway.services", maxsize=256)
_services_of_partner: HotCache[frozenset[Any]] = HotCache("gateway.partner_services")


# --- partners ----------------------------------------------------------------------------


def _check_scopes(scopes: list[str]) -> None:
    unknown = rules.unknown_scopes(scopes)
    if unknown:
        message = _("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)}
        raise ApplicationError(message, code="unknown_scope", fields={"scopes": [message]})


def partner_register(
    *,
    name: str,
    department: str,
    contact_email: str,
    services: Iterable[Service],
    allowed_scopes: list[str],
    actor: User | None,
    rate_per_minute: int = 600,
    name_ur: str = "",
    contact_phone: str = "",
    operators: Iterable[User] = (),
    login_redirect_uris: list[str] | None = None,
) -> tuple[Partner, str, str]:
    """Register a partner department with its OAuth client: client credentials for a
    counter's API, or — with ``login_redirect_uris`` — an OpenID Connect client for
    "Log in with Rahdari" on an online service (authorization code + PKCE, RS256 ID
    tokens, only those redirect URIs).

    Returns the partner, the client id and the client secret — shown once, stored
    only hashed. Audited.
    """
    _check_scopes(allowed_scopes)
    secret = str(generate_client_secret())
    login = bool(login_redirect_uris)
    with transaction.atomic():
        application = Application.objects.create(
            name=f"partner: {name}"[:255],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE
            if login
            else Application.GRANT_CLIENT_CREDENTIALS,
            redirect_uris=" ".join(login_redirect_uris or []),
            client_secret=secret,
            algorithm=Application.RS256_ALGORITHM if login else "",
        )
        partner = Partner.objects.create(
            name=name,
            name_ur=name_ur,
            department=department,
            contact_email=contact_email,
            contact_phone=contact_phone,
            application=application,
            allowed_scopes=allowed_scopes,
            rate_per_minute=rate_per_minute,
        )
        partner.services.set(list(services))
        partner.operators.set(list(operators))
        audit_record(
            actor=actor,
            action="gateway.partner_registered",
            subject=partner,
            changes={
                "name": name,
                "scopes": allowed_scopes,
                "client_id": application.client_id,
                "grant": application.authorization_grant_type,
            },
        )
    return partner, application.client_id, secret


def partner_rotate_secret(*, partner: Partner, actor: User | None) -> str:
    """A new client secret; the old one stops working at once, tokens issued with it are
    revoked. Audited."""
    if partner.application is None:
        raise Conflict(_("This partner has no client."), code="no_client")
    secret = str(generate_client_secret())
    with transaction.atomic():
        application = partner.application
        application.client_secret = secret
        application.save(update_fields=["client_secret", "updated"])
        application.accesstoken_set.all().delete()
        hot_caches_clear()
        audit_record(
            actor=actor,
            action="gateway.partner_secret_rotated",
            subject=partner,
            changes={"client_id": application.client_id},
        )
    return secret


def partner_of_application(application: Any) -> Partner:
    partner = Partner.objects.filter(application=application, active=True).first()
    if partner is None:
        raise Forbidden(_("This client is not a registered partner."), code="unknown_partner")
    return partner


# --- requests ----------------------------------------------------------------------------


def _audited_refusal(partner: Partner, action: str, work: Callable[[], T]) -> T:
    """Run ``work``; if it refuses, record the refusal in its own transaction."""
    try:
        return work()
    except ApplicationError as error:
        audit_record(
            actor=None,
            action=f"gateway.{action}_refused",
            subject=partner,
            changes={"code": error.code, "message": str(error.message)[:200]},
        )
        raise


def _person_from(qr: str | None, rahdari_number: str | None) -> Person:
    if qr:
        result = credentials.credential_verify(text=qr)
        if not result.valid:
            raise ApplicationError(
                str(reason_text(result.reason)), code=f"credential_{result.reason}", status=422
            )
        if result.claims.get("iss") != settings.RAHDARI_PUBLIC_URL:
            raise ApplicationError(
                _("This QR was not issued by Rahdari."), code="credential_foreign", status=422
            )
        rahdari_number = str(result.claims.get("id", ""))
    number = (rahdari_number or "").replace(" ", "").replace("-", "")
    person = (
        Person.objects.select_related("district", "account").filter(rahdari_number=number).first()
        if number
        else None
    )
    if person is None or person.status != PersonStatus.ACTIVE:
        raise NotFound(_("No active person with this Rahdari number."), code="person_not_found")
    if not qr and credentials.current_credential(person) is None:
        raise ApplicationError(
            _("This person has no valid QR credential."), code="credential_revoked", status=422
        )
    return person


def _standing_consent(
    person: Person, partner: Partner, service: Service, scopes: list[str]
) -> Consent | None:
    now = timezone.now()
    for consent in Consent.objects.filter(
        person=person, partner=partner, service=service, revoked_at=None, valid_until__gt=now
    ):
        if rules.covers(consent.scopes, scopes):
            return consent
    return None


def _language_of(person: Person) -> str:
    return person.account.preferred_language if person.account_id and person.account else "ur"


def consent_request_create(
    *,
    partner: Partner,
    service_slug: str,
    scopes: list[str],
    purpose: str,
    nonce: str,
    qr: str | None = None,
    rahdari_number: str | None = None,
    standing_months: int = 0,
    operator: User | None = None,
) -> tuple[ConsentRequest, str | None]:
    """A partner asks for attributes. With a live standing consent the attributes are
    released at once (the signed response is returned); otherwise the person gets an
    SMS code to read out, and can also answer on their own page."""

    def work() -> tuple[ConsentRequest, str | None]:
        rate_limit("partner", str(partner.pk), limit=partner.rate_per_minute)
        service = _services_by_slug.get(
            service_slug, lambda: Service.objects.filter(slug=service_slug).first()
        )
        if service is None or not service.enabled:
            raise NotFound(_("No such service is open."), code="unknown_service")
        runs = _services_of_partner.get(
            partner.pk, lambda: frozenset(partner.services.values_list("pk", flat=True))
        )
        if service.pk not in runs:
            raise Forbidden(
                _("This partner does not run this service."), code="service_not_allowed"
            )
        _check_scopes(scopes)
        if not scopes:
            raise ApplicationError(_("Ask for at least one scope."), code="no_scope")
        refused = [s for s in scopes if s not in partner.allowed_scopes or s not in service.scopes]
        if refused:
            raise Forbidden(
                _("This partner may not ask for: %(scopes)s.") % {"scopes": ", ".join(refused)},
                code="scope_not_allowed",
            )
        if not purpose.strip() or not nonce.strip():
            raise ApplicationError(_("Give a purpose and a nonce."), code="purpose_required")
        if not 0 <= standing_months <= rules.STANDING_MAX_MONTHS:
            raise ApplicationError(
                _("A standing consent lasts at most 12 months."), code="standing_too_long"
            )
        person = _person_from(qr, rahdari_number)
        consent = _standing_consent(person, partner, service, scopes)
        now = timezone.now()
        # A replayed nonce is caught by the unique constraint on (partner, nonce).
        request = ConsentRequest(
            partner=partner,
            service=service,
            person=person,
            scopes=scopes,
            purpose=purpose.strip()[:200],
            nonce=nonce[:100],
            standing_months=standing_months,
            expires_at=now + timedelta(seconds=rules.REQUEST_TTL_SECONDS),
            operator=operator,
        )
        code = None
        if consent is not None:
            request.status = ConsentRequest.Status.RELEASED
            request.decided_at = now
        else:
            code = rules.new_code()
            request.code_digest = rules.code_digest(_code_key(), str(request.pk), code)
        try:
            with transaction.atomic():
                request.save(force_insert=True)
                audit_record(
                    actor=operator,
                    action="gateway.request_created",
                    subject=request,
                    changes={"partner": partner.name, "service": service.slug, "scopes": scopes},
                )
                if consent is not None:
                    return request, _release(request, consent=consent, method="standing")
                assert code is not None
                _send_code(request, code)
                return request, None
        except IntegrityError:
            raise Conflict(
                _("This request was already made (replayed nonce)."), code="replayed"
            ) from None

    return _audited_refusal(partner, "request", work)


def _code_key() -> bytes:
    return keyring().index_key


def _attribute_words(request: ConsentRequest, language: str) -> str:
    with override(language):
        return ", ".join(
            str(ATTRIBUTE_LABELS[a])
            for a in rules.attributes_of(request.scopes)
            if a not in ("full_name_ur", "guardian_name_ur")
        )


def _send_code(request: ConsentRequest, code: str) -> None:
    person = request.person
    if not person.mobile:
        return  # the person answers on their own page instead
    language = _language_of(person)
    template = (
        "gateway.consent_code_standing" if request.standing_months else "gateway.consent_code"
    )
    notification_send(
        recipient=person.mobile,
        template=template,
        language=language,
        params={
            "partner": request.partner.name,
            "attributes": _attribute_words(request, language),
            "purpose": request.purpose,
            "code": code,
            "months": request.standing_months,
        },
        actor=request.operator,
    )


def _live(request: ConsentRequest) -> ConsentRequest:
    """Lock the request; a pending one past its time becomes expired (and says so)."""
    request = (
        # Lock the request row only: the person's account is a nullable (outer) join,
        # which PostgreSQL cannot lock.
        ConsentRequest.objects.select_for_update(of=("self",))
        .select_related("partner", "service", "person", "person__district", "person__account")
        .get(pk=request.pk)
    )
    if request.status in (ConsentRequest.Status.PENDING, ConsentRequest.Status.APPROVED) and (
        request.expires_at <= timezone.now()
    ):
        request.status = ConsentRequest.Status.EXPIRED
        request.save(update_fields=["status", "updated_at"])
    return request


def _refuse_unless(request: ConsentRequest, *allowed: str) -> None:
    if request.status not in allowed:
        messages: dict[str, str] = {
            ConsentRequest.Status.EXPIRED: _("The request has expired. Ask again."),
            ConsentRequest.Status.LOCKED: _("The request is locked after three wrong codes."),
            ConsentRequest.Status.DENIED: _("The person refused."),
            ConsentRequest.Status.RELEASED: _("The attributes were already shared."),
            ConsentRequest.Status.CANCELLED: _("The office withdrew this request."),
        }
        raise Conflict(
            messages.get(request.status, _("The request cannot be answered now.")),
            code=f"request_{request.status}",
        )


def consent_code_submit(
    *, request: ConsentRequest, code: str, partner: Partner
) -> tuple[ConsentRequest, str]:
    """The code the person read out at the counter: a right one releases the attributes;
    the third wrong one locks the request."""

    def work() -> tuple[ConsentRequest, str]:
        if request.partner_id != partner.pk:
            raise NotFound(_("No such request."), code="not_found")
        refusal: ApplicationError | None = None
        with transaction.atomic():
            live = _live(request)
            if live.status == ConsentRequest.Status.APPROVED:
                # The person already agreed on their phone: hand over what they agreed to.
                return live, _release(live, consent=None, method="web_approval")
            if live.status == ConsentRequest.Status.PENDING:
                expected = rules.code_digest(_code_key(), str(live.pk), code.strip())
                if live.code_digest and hmac.compare_digest(live.code_digest, expected):
                    live.status = ConsentRequest.Status.APPROVED
                    live.decided_at = timezone.now()
                    live.save(update_fields=["status", "decided_at", "updated_at"])
                    return live, _release(live, consent=None, method="sms_code")
                live.attempts += 1
                locked = live.attempts >= rules.CONSENT_CODE_TRIES
                if locked:
                    live.status = ConsentRequest.Status.LOCKED
                live.save(update_fields=["attempts", "status", "updated_at"])
                left = rules.CONSENT_CODE_TRIES - live.attempts
                refusal = (
                    Conflict(
                        _("The request is locked after three wrong codes."), code="request_locked"
                    )
                    if locked
                    else ApplicationError(
                        ngettext(
                            "The code is not right. %(left)d try left.",
                            "The code is not right. %(left)d tries left.",
                            left,
                        )
                        % {"left": left},
                        code="wrong_code",
                    )
                )
        if refusal is not None:
            raise refusal
        _refuse_unless(live, ConsentRequest.Status.PENDING)
        raise AssertionError("a pending request was answered above")

    return _audited_refusal(partner, "code", work)


def consent_decide(
    *, request: ConsentRequest, approve: bool, citizen: User, standing_months: int | None = None
) -> ConsentRequest:
    """The person answers on their own page; the partner then fetches the release."""
    with transaction.atomic():
        live = _live(request)
        if live.person.account_id != citizen.pk:
            raise NotFound(_("No such request."), code="not_found")
        _refuse_unless(live, ConsentRequest.Status.PENDING)
        live.status = ConsentRequest.Status.APPROVED if approve else ConsentRequest.Status.DENIED
        if standing_months is not None and approve:
            live.standing_months = max(0, min(standing_months, rules.STANDING_MAX_MONTHS))
        live.decided_at = timezone.now()
        live.save(update_fields=["status", "standing_months", "decided_at", "updated_at"])
        audit_record(
            actor=citizen,
            action="gateway.request_approved" if approve else "gateway.request_denied",
            subject=live,
            changes={"standing_months": live.standing_months},
        )
    return live


def consent_request_cancel(
    *, request: ConsentRequest, partner: Partner, actor: User | None = None
) -> ConsentRequest:
    """The office withdraws a request nobody has answered yet (the person left the
    counter, or the wrong person was scanned): its code stops working at once, and the
    person's page no longer offers it. Audited."""
    with transaction.atomic():
        live = _live(request)
        if live.partner_id != partner.pk:
            raise NotFound(_("No such request."), code="not_found")
        _refuse_unless(live, ConsentRequest.Status.PENDING, ConsentRequest.Status.APPROVED)
        live.status = ConsentRequest.Status.CANCELLED
        live.decided_at = timezone.now()
        live.save(update_fields=["status", "decided_at", "updated_at"])
        audit_record(
            actor=actor,
            action="gateway.request_cancelled",
            subject=live,
            changes={"partner": partner.name},
        )
    return live


def consent_release_fetch(
    *, request: ConsentRequest, partner: Partner
) -> tuple[ConsentRequest, str | None]:
    """The partner asks how its request stands; after a web approval this is the release."""
    if request.partner_id != partner.pk:
        raise NotFound(_("No such request."), code="not_found")
    with transaction.atomic():
        live = _live(request)
        if live.status == ConsentRequest.Status.APPROVED:
            return live, _release(live, consent=None, method="web_approval")
    return live, None


def _attributes(person: Person, scopes: list[str]) -> dict[str, Any]:
    values = {
        "rahdari_number": person.rahdari_number,
        "full_name": person.full_name,
        "full_name_ur": person.full_name_ur,
        "date_of_birth": person.date_of_birth,
        "sex": person.sex,
        "guardian_name": person.guardian_name,
        "guardian_name_ur": person.guardian_name_ur,
        "district": person.district.name,
        "tehsil": person.tehsil,
        "union_council": person.union_council,
        "village": person.village,
        "mobile": person.mobile,
        "photo": person.photo,
    }
    return {name: values[name] for name in rules.attributes_of(scopes)}


_jwk_of_kid: dict[bytes, OKPKey] = {}


def _signing_jwk() -> tuple[OKPKey, str]:
    material = credentials.issuer_signing_material()
    key = _jwk_of_kid.get(material.kid)
    if key is None:
        key = _jwk_of_kid[material.kid] = OKPKey.import_key(
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": cwt.b64url(material.public_key),
                "d": cwt.b64url(material.seed),
            }
        )
    return key, material.kid.hex()


def _audience(partner: Partner) -> str:
    """The partner's OAuth client id (the JWS ``aud``)."""
    return partner.application.client_id if partner.application else str(partner.pk)


def _release(request: ConsentRequest, *, consent: Consent | None, method: str) -> str:
    """Hand the granted attributes over: a signed response (JWS, EdDSA, the issuer's key
    from /.well-known/rahdari-keys.json), the receipt, the audit entry, an SMS."""
    now = timezone.now()
    person = request.person
    if consent is None and request.standing_months:
        consent = Consent.objects.create(
            person=person,
            partner=request.partner,
            service=request.service,
            scopes=request.scopes,
            purpose=request.purpose,
            valid_until=now + timedelta(days=30 * request.standing_months),
            given_by_request=request,
        )
    release = Release(
        request=request,
        person=person,
        partner=request.partner,
        service=request.service,
        scopes=request.scopes,
        attributes=rules.attributes_of(request.scopes),
        purpose=request.purpose,
        consent_type=Release.ConsentType.STANDING
        if consent is not None and method == "standing"
        else Release.ConsentType.EXPLICIT,
        consent=consent,
        collection_method=method,
        language=_language_of(person),
        released_at=now,
    )
    key, kid = _signing_jwk()
    payload = {
        "iss": settings.RAHDARI_PUBLIC_URL,
        "aud": _audience(request.partner),
        "iat": int(now.timestamp()),
        "jti": str(release.pk),
        "nonce": request.nonce,
        "service": request.service.slug,
        "purpose": request.purpose,
        "scopes": request.scopes,
        "consent": {
            "receipt": str(release.pk),
            "type": release.consent_type,
            "method": method,
            "valid_until": int(consent.valid_until.timestamp()) if consent else None,
        },
        "attributes": _attributes(person, request.scopes),
    }
    token = jws.serialize_compact(
        {"alg": "Ed25519", "kid": kid, "typ": "rahdari-release+jwt"},
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
        key,
        algorithms=["Ed25519"],
    )
    release.response_sha256 = hashlib.sha256(token.encode()).hexdigest()
    release.save(force_insert=True)
    if request.status != ConsentRequest.Status.RELEASED:
        request.status = ConsentRequest.Status.RELEASED
        request.decided_at = request.decided_at or now
        request.save(update_fields=["status", "decided_at", "updated_at"])
    audit_record_read(
        actor=request.operator,
        subject=person,
        purpose=f"{request.partner.name}: {request.purpose}"[:200],
        fields=release.attributes,
    )
    audit_record(
        actor=request.operator,
        action="gateway.released",
        subject=release,
        changes={
            "partner": request.partner.name,
            "service": request.service.slug,
            "attributes": release.attributes,
            "method": method,
        },
    )
    if person.mobile:
        language = release.language
        notification_send(
            recipient=person.mobile,
            template="gateway.released",
            language=language,
            params={
                "partner": request.partner.name,
                "attributes": _attribute_words(request, language),
                "receipt": str(release.pk)[:8],
            },
            actor=request.operator,
            urgent=False,  # a notice; the worker sends it within a minute
        )
    return token


def consent_revoke(*, consent: Consent, citizen: User) -> Consent:
    """The person withdraws a standing consent; the next request needs a code again."""
    with transaction.atomic():
        live = (
            Consent.objects.select_for_update(of=("self",))
            .select_related("person")
            .get(pk=consent.pk)
        )
        if live.person.account_id != citizen.pk:
            raise NotFound(_("No such consent."), code="not_found")
        if live.revoked_at is None:
            live.revoked_at = timezone.now()
            live.save(update_fields=["revoked_at", "updated_at"])
            audit_record(actor=citizen, action="gateway.consent_revoked", subject=live, changes={})
    return live


def request_outcome_record(
    *, request: ConsentRequest, outcome: str, operator: User
) -> ConsentRequest:
    """The counter records what it did with the attributes, e.g. "admitted"."""
    if outcome not in request.service.outcomes:
        raise ApplicationError(_("Choose an outcome from the list."), code="unknown_outcome")
    with transaction.atomic():
        live = ConsentRequest.objects.select_for_update().get(pk=request.pk)
        live.outcome = outcome
        live.save(update_fields=["outcome", "updated_at"])
        audit_record(
            actor=operator,
            action="gateway.outcome_recorded",
            subject=live,
            changes={"outcome": outcome},
        )
    return live


def receipt_document(release: Release) -> dict[str, Any]:
    """The consent receipt (Kantara Consent Receipt Specification v1.1 fields)."""
    person = release.person
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "PK-KP",
        "consentTimestamp": int(release.released_at.timestamp()),
        "collectionMethod": release.collection_method,
        "consentReceiptID": str(release.pk),
        "publicKey": None,
        "language": release.language,
        "piiPrincipalId": format_rahdari_number(person.rahdari_number or ""),
        "piiControllers": [
            {
                "piiController": release.partner.name,
                "onBehalf": False,
                "contact": release.partner.department,
                "address": {"country": "PK"},
                "email": release.partner.contact_email,
                "phone": release.partner.contact_phone,
            }
        ],
        "policyUrl": f"{settings.RAHDARI_PUBLIC_URL}/gateway/services/",
        "services": [
            {
                "service": release.service.name_en,
                "purposes": [
                    {
                        "purpose": release.purpose,
                        "purposeCategory": ["public service delivery"],
                        "consentType": release.consent_type,
                        "piiCategory": release.attributes,
                        "primaryPurpose": True,
                        "termination": (
                            release.consent.valid_until.isoformat()
                            if release.consent
                            else "single use"
                        ),
                        "thirdPartyDisclosure": False,
                        "thirdPartyName": None,
                    }
                ],
            }
        ],
        "sensitive": "photo" in release.attributes,
        "spiCat": ["biometric (face photo)"] if "photo" in release.attributes else [],
    }


def released_payload(token: str) -> dict[str, Any]:
    """The payload of a signed response we just made (the API hands it out decoded too)."""
    return dict(json.loads(cwt.unb64url(token.split(".")[1])))


def oidc_release_record(
    *, partner: Partner, citizen: User, scopes: list[str], token_id: str, response: str
) -> Release:
    """A citizen logged in to a partner's website with Rahdari (OpenID Connect) and
    allowed it to see what ``scopes`` release; ``response`` is the signed ID token about
    to go out, ``token_id`` its ``jti``. Records the (already answered) request, the
    receipt, the audit entries and the SMS, as ``_release`` does at the counter."""
    granted = [s for s in rules.SCOPES if s in scopes]  # catalogue order, no "openid"
    refused = [s for s in granted if s not in partner.allowed_scopes]
    if refused:
        raise Forbidden(
            _("This partner may not ask for: %(scopes)s.") % {"scopes": ", ".join(refused)},
            code="scope_not_allowed",
        )
    person = (
        Person.objects.select_related("district", "account")
        .filter(account=citizen, status=PersonStatus.ACTIVE)
        .first()
    )
    if person is None:
        raise NotFound(_("No active person with this Rahdari number."), code="person_not_found")
    # The receipt names one of the partner's services: an open online one that needs
    # these scopes if there is one, else an open one, else any.
    candidates = sorted(
        partner.services.all(),
        key=lambda s: (
            not s.enabled,
            s.channel != Service.Channel.ONLINE,
            not rules.covers(s.scopes, granted),
            s.position,
        ),
    )
    if not candidates:
        raise Conflict(_("This partner runs no service."), code="no_service")
    service = candidates[0]
    language = _language_of(person)
    with override(language):
        purpose = _("Log in to %(partner)s") % {"partner": partner.name}
    now = timezone.now()
    with transaction.atomic():
        request = ConsentRequest.objects.create(
            partner=partner,
            service=service,
            person=person,
            scopes=granted,
            purpose=purpose[:200],
            nonce=f"oidc:{token_id}"[:100],
            status=ConsentRequest.Status.RELEASED,
            expires_at=now,
            decided_at=now,
        )
        release = Release.objects.create(
            request=request,
            person=person,
            partner=partner,
            service=service,
            scopes=granted,
            attributes=rules.attributes_of(granted),
            purpose=request.purpose,
            consent_type=Release.ConsentType.EXPLICIT,
            collection_method="oidc_login",
            language=language,
            response_sha256=hashlib.sha256(response.encode()).hexdigest(),
            released_at=now,
        )
        audit_record(
            actor=citizen,
            action="gateway.oidc_login_approved",
            subject=request,
            changes={"partner": partner.name, "scopes": granted},
        )
        audit_record_read(
            actor=None,
            subject=person,
            purpose=f"{partner.name}: {request.purpose}"[:200],
            fields=release.attributes,
        )
        audit_record(
            actor=citizen,
            action="gateway.released",
            subject=release,
            changes={
                "partner": partner.name,
                "service": service.slug,
                "attributes": release.attributes,
                "method": release.collection_method,
            },
        )
        if person.mobile and release.attributes:
            notification_send(
                recipient=person.mobile,
                template="gateway.released",
                language=language,
                params={
                    "partner": partner.name,
                    "attributes": _attribute_words(request, language),
                    "receipt": str(release.pk)[:8],
                },
                actor=citizen,
            )
    return release
