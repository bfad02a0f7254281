"""Reads for the credential pages and API: what a reason means, whose credentials."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rahdari.accounts.models import User
from rahdari.core import qr
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.ratelimit import client_address, rate_limit
from rahdari.credentials import cwt
from rahdari.credentials.models import Credential
from rahdari.identity.models import Person
from rahdari.identity.selectors import persons_visible_to

# What the counter officer reads for each outcome, in their language.
REASON_TEXTS = {
    cwt.VALID: gettext_lazy("Valid. Compare the photo with the person in front of you."),
    cwt.MALFORMED: gettext_lazy("This is not a Rahdari QR code, or it is damaged."),
    cwt.WRONG_PREFIX: gettext_lazy("This QR code belongs to another system, not to Rahdari."),
    cwt.UNSUPPORTED_VERSION: gettext_lazy(
        "This QR code uses a version this verifier does not know."
    ),
    cwt.UNSUPPORTED_ALGORITHM: gettext_lazy(
        "This QR code is signed in a way this verifier does not accept."
    ),
    cwt.UNKNOWN_KEY: gettext_lazy("Signed by a key the government does not use. It may be forged."),
    cwt.BAD_SIGNATURE: gettext_lazy(
        "The signature does not match: the QR code was changed or forged."
    ),
    cwt.EXPIRED: gettext_lazy("This credential has expired. The person should renew it."),
    cwt.NOT_YET_VALID: gettext_lazy("This credential is not valid yet."),
    cwt.REVOKED: gettext_lazy("This credential was revoked. Do not accept it."),
    cwt.SUSPENDED: gettext_lazy("This credential is suspended. Do not accept it for now."),
    "too_large": gettext_lazy("The photo is too large. Send a photo under 10 MB."),
    "not_an_image": gettext_lazy("This file is not a photo (JPEG, PNG or WebP)."),
    "no_qr_found": gettext_lazy(
        "No QR code was found in the photo. Hold the camera closer and keep it steady."
    ),
}


def reason_text(reason: str) -> Any:
    return REASON_TEXTS.get(reason, REASON_TEXTS[cwt.MALFORMED])


def verify_rate_limit(request: Any) -> None:
    """Verifications per minute: per officer when logged in (a hospital's counters may
    share one address), else per client address."""
    user = getattr(request, "user", None)
    who = (
        f"user:{user.pk}" if user is not None and user.is_authenticated else client_address(request)
    )
    rate_limit("verify", who, limit=settings.RAHDARI_VERIFY_RATE_PER_MINUTE)


def qr_text_from_upload(upload: Any) -> str:
    """The QR text in an uploaded photo; a clear, translated error otherwise."""
    limit = settings.RAHDARI_VERIFY_UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ApplicationError(
            str(REASON_TEXTS["too_large"]),
            code="too_large",
            status=413,
            fields={"image": [str(REASON_TEXTS["too_large"])]},
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ApplicationError(
            str(REASON_TEXTS["too_large"]),
            code="too_large",
            status=413,
            fields={"image": [str(REASON_TEXTS["too_large"])]},
        )
    try:
        return qr.read_qr_texts(data)[0]
    except qr.NotAnImage:
        code = "not_an_image"
    except qr.NoQrFound:
        code = "no_qr_found"
    message = str(REASON_TEXTS[code])
    raise ApplicationError(message, code=code, status=422, fields={"image": [message]})


def person_for_officer(user: User, person_id: UUID | str) -> Person:
    person = persons_visible_to(user).select_related("district").filter(pk=person_id).first()
    if person is None:
        raise NotFound(_("No such person in your districts."))
    return person


def credentials_of(person: Person) -> QuerySet[Credential]:
    return Credential.objects.filter(person=person).select_related("key", "status_list")


def credential_for_officer(user: User, credential_id: UUID | str) -> Credential:
    credential = (
        Credential.objects.select_related("key", "status_list", "person")
        .filter(pk=credential_id, person__in=persons_visible_to(user))
        .first()
    )
    if credential is None:
        raise NotFound(_("No such credential in your districts."))
    return credential
