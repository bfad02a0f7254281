"""Issue, revoke and verify QR credentials; manage issuer keys and status lists.

Every write is one transaction with its audit entry. A credential follows its
person: approval of an enrolment issues one, suspension suspends it, death or
revocation revokes it, a change of the printed data reissues it (identity events).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from rahdari.accounts.models import User
from rahdari.core import qr
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Conflict, NotFound
from rahdari.core.hotcache import HotCache, hot_caches_clear
from rahdari.core.jobs import JobContext, job_kind, register_periodic
from rahdari.core.models import District, Job
from rahdari.core.notifications import notification_send, register_templates
from rahdari.credentials import cwt, photos
from rahdari.credentials.models import CardBatch, Credential, IssuerKey, StatusList
from rahdari.identity import events
from rahdari.identity.models import Person, PersonEvent, PersonStatus

logger = logging.getLogger(__name__)

CURRENT = (Credential.Status.ACTIVE, Credential.Status.SUSPENDED)
STATUS_BITS: dict[str, int] = {
    Credential.Status.REVOKED: cwt.STATUS_INVALID,
    Credential.Status.SUPERSEDED: cwt.STATUS_INVALID,
    Credential.Status.SUSPENDED: cwt.STATUS_SUSPENDED,
}
GENDER_CODES = {"M": 1, "F": 2, "X": 3}
# A very long name can push the compact QR past version 17: leave out, in this order,
# what the card profile still carries (the counter can read the card, or ask).
COMPACT_FALLBACK: tuple[tuple[int, ...], ...] = ((), (cwt.ADDRESS,), (cwt.ADDRESS, cwt.GUARDIAN))
COUNTRY = "PK"
KEY_ROTATION_DAYS = 365


# --- keys --------------------------------------------------------------------------------

_signing_cache: dict[str, cwt.SigningKey] = {}
_signing_lock = threading.Lock()


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _validity() -> timedelta:
    return timedelta(days=settings.RAHDARI_CREDENTIAL_VALIDITY_DAYS)


def _new_key(now: datetime) -> IssuerKey:
    seed = cwt.new_seed()
    return IssuerKey.objects.create(
        kid=secrets.token_hex(8),
        public_key=cwt.public_key_of(seed),
        seed=base64.b64encode(seed).decode("ascii"),
        status=IssuerKey.Status.ACTIVE,
        not_before=now,
        # A key signs for about a year; what it signed last stays valid for the
        # credential validity after that, and verifiers must trust it until then.
        verify_until=now + timedelta(days=KEY_ROTATION_DAYS) + _validity(),
    )


def signing_key() -> IssuerKey:
    """The active issuer key; the first call on a new installation creates it."""
    key = IssuerKey.objects.filter(status=IssuerKey.Status.ACTIVE).first()
    if key is None:
        with transaction.atomic():
            key = IssuerKey.objects.select_for_update().filter(status="active").first()
            if key is None:
                key = _new_key(timezone.now())
                audit_record(
                    actor=None,
                    action="credentials.key_created",
                    subject=("credentials.issuerkey", key.kid),
                    changes={"kid": key.kid},
                )
    return key


def _material(key: IssuerKey) -> cwt.SigningKey:
    with _signing_lock:
        cached = _signing_cache.get(key.kid)
        if cached is None:
            cached = cwt.SigningKey(
                kid=bytes.fromhex(key.kid), seed=base64.b64decode(key.seed.encode("ascii"))
            )
            _signing_cache[key.kid] = cached
        return cached


_active_key_cache: HotCache[cwt.SigningKey] = HotCache("credentials.active_key", maxsize=1)


def issuer_signing_material() -> cwt.SigningKey:
    """The active issuer key for other signed objects (the gateway's release responses),
    verifiable with the same published key set. Cached for a few seconds: a rotation
    or withdrawal clears the cache in its process, others follow within that bound."""
    return _active_key_cache.get("active", lambda: _material(signing_key()))


def issuer_keys_rotate(*, actor: Any, reason: str = "scheduled rotation") -> IssuerKey:
    """A new signing key; the old one stops signing but stays published for verification.

    The old key's ``verify_until`` becomes the expiry of the last credential it
    could have signed (now + credential validity). Audited.
    """
    now = timezone.now()
    with transaction.atomic():
        old = IssuerKey.objects.select_for_update().filter(status="active").first()
        if old is not None:
            old.status = IssuerKey.Status.RETIRED
            old.signing_until = now
            old.verify_until = now + _validity()
            old.save(update_fields=["status", "signing_until", "verify_until", "updated_at"])
        new = _new_key(now)
        audit_record(
            actor=actor,
            action="credentials.key_rotated",
            subject=("credentials.issuerkey", new.kid),
            changes={"new": new.kid, "retired": old.kid if old else None, "reason": reason[:200]},
        )
        # Status lists are signed too: sign them again with the new key.
        for status_list in StatusList.objects.select_for_update():
            _publish(status_list, key=new)
        hot_caches_clear()
    return new


def issuer_key_withdraw(*, kid: str, actor: Any, reason: str) -> Job:
    """A compromised key: unpublished at once (every QR it signed stops verifying with
    ``unknown_key``), a new key signs, and a job reissues the affected credentials."""
    from rahdari.core.jobs import job_create

    if not reason.strip():
        raise ApplicationError(
            _("Give a reason."), code="reason_required", fields={"reason": [_("Give a reason.")]}
        )
    with transaction.atomic():
        key = IssuerKey.objects.select_for_update().filter(kid=kid).first()
        if key is None:
            raise NotFound(_("No such key."), code="key_not_found")
        if key.status == IssuerKey.Status.WITHDRAWN:
            raise Conflict(_("This key was already withdrawn."), code="already_withdrawn")
        was_signing = key.status == IssuerKey.Status.ACTIVE
        key.status = IssuerKey.Status.WITHDRAWN
        key.signing_until = key.signing_until or timezone.now()
        key.save(update_fields=["status", "signing_until", "updated_at"])
        hot_caches_clear()
        transaction.on_commit(_verifier_cache.forget)
        audit_record(
            actor=actor,
            action="credentials.key_withdrawn",
            subject=("credentials.issuerkey", key.kid),
            changes={"kid": key.kid, "reason": reason[:200]},
        )
        if was_signing:
            fresh = _new_key(timezone.now())
            for status_list in StatusList.objects.select_for_update():
                _publish(status_list, key=fresh)
        return job_create(kind="credentials.reissue_key", params={"kid": key.kid}, actor=actor)


def keyset_document() -> dict[str, Any]:
    """The published key set (``/.well-known/rahdari-keys.json``): every key still trusted."""
    now = timezone.now()
    keys = IssuerKey.objects.exclude(status=IssuerKey.Status.WITHDRAWN).filter(
        verify_until__gte=now
    )
    if not keys:
        signing_key()
        keys = IssuerKey.objects.filter(status=IssuerKey.Status.ACTIVE)
    return {
        "issuer": settings.RAHDARI_PUBLIC_URL,
        "generated_at": _epoch(now),
        "format": "rahdari-keys/1",
        "keys": [
            {
                "kid": key.kid,
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "x": cwt.b64url(bytes(key.public_key)),
                "status": key.status,
                "not_before": _epoch(key.not_before),
                "signing_until": _epoch(key.signing_until) if key.signing_until else None,
                "verify_until": _epoch(key.verify_until),
            }
            for key in keys
        ],
        "status_lists": [
            {"uri": status_list_uri(number), "capacity": capacity}
            for number, capacity in StatusList.objects.values_list("number", "capacity")
        ],
    }


# --- status lists ------------------------------------------------------------------------


def status_list_uri(number: int) -> str:
    return f"{settings.RAHDARI_PUBLIC_URL}/status/{number}"


def _allocate(count: int) -> list[tuple[StatusList, int]]:
    """``count`` unused status-list entries, opening a new list when one is full."""
    slots: list[tuple[StatusList, int]] = []
    while len(slots) < count:
        status_list = (
            StatusList.objects.select_for_update()
            .filter(next_index__lt=F("capacity"))
            .order_by("number")
            .first()
        )
        if status_list is None:
            last = StatusList.objects.order_by("-number").values_list("number", flat=True).first()
            status_list = _publish(
                StatusList.objects.create(
                    number=(last or 0) + 1, capacity=settings.RAHDARI_STATUS_LIST_CAPACITY
                )
            )
        take = min(count - len(slots), status_list.capacity - status_list.next_index)
        start = status_list.next_index
        status_list.next_index += take
        status_list.save(update_fields=["next_index", "updated_at"])
        slots.extend((status_list, index) for index in range(start, start + take))
    return slots


def status_bits(status_list: StatusList) -> np.ndarray:
    """The list's 2-bit entries, from the credentials that point into it."""
    statuses = np.zeros(status_list.capacity, dtype=np.uint8)
    rows = Credential.objects.filter(
        status_list=status_list, status__in=list(STATUS_BITS)
    ).values_list("status_index", "status")
    for index, status in rows.iterator(chunk_size=10_000):
        statuses[index] = STATUS_BITS[status]
    return statuses


def _publish(status_list: StatusList, *, key: IssuerKey | None = None) -> StatusList:
    """Sign the list as it is now (call with the row locked)."""
    key = key or signing_key()
    now = timezone.now()
    ttl = settings.RAHDARI_STATUS_LIST_TTL_SECONDS
    status_list.token = cwt.status_list_token(
        uri=status_list_uri(status_list.number),
        compressed=cwt.pack_statuses(status_bits(status_list)),
        issued_at=_epoch(now),
        ttl=ttl,
        # Expiry well past the refresh interval: a verifier offline for a day still
        # has a list it may use, and it is told how old that list is.
        expires_at=_epoch(now) + max(ttl * 24, 86_400),
        key=_material(key),
    )
    status_list.published_at = now
    status_list.version += 1
    status_list.save(update_fields=["token", "published_at", "version", "updated_at"])
    transaction.on_commit(_verifier_cache.forget)
    return status_list


def status_lists_publish(*, numbers: Iterable[int] | None = None) -> list[StatusList]:
    """Sign and publish status lists again (all, or the given numbers)."""
    with transaction.atomic():
        lists = StatusList.objects.select_for_update().order_by("number")
        if numbers is not None:
            lists = lists.filter(number__in=list(numbers))
        return [_publish(status_list) for status_list in lists]


def status_lists_refresh_if_old() -> str:
    """Periodic: lists unchanged for half their TTL are signed again, so none goes stale."""
    cutoff = timezone.now() - timedelta(seconds=settings.RAHDARI_STATUS_LIST_TTL_SECONDS / 2)
    stale = list(
        StatusList.objects.filter(published_at__lt=cutoff).values_list("number", flat=True)
    ) + list(StatusList.objects.filter(published_at=None).values_list("number", flat=True))
    if stale:
        status_lists_publish(numbers=stale)
    return f"{len(stale)} status lists signed again"


# --- issuing -----------------------------------------------------------------------------


def identity_claims(person: Person, *, with_photo: bool) -> dict[int, Any]:
    """Claim 169 for a person: the minimum a counter needs offline; never the CNIC."""
    address = ", ".join(part for part in (person.tehsil, person.district.name) if part)
    claims: dict[int, Any] = {
        cwt.ID: person.rahdari_number,
        cwt.VERSION: cwt.PROFILE_VERSION,
        cwt.LANGUAGE: "eng",
        cwt.FULL_NAME: person.full_name,
        cwt.DATE_OF_BIRTH: person.date_of_birth,
        cwt.GENDER: GENDER_CODES.get(person.sex, 3),
        cwt.ADDRESS: address,
        cwt.NATIONALITY: COUNTRY,
        cwt.GUARDIAN: person.guardian_name,
        cwt.SECONDARY_FULL_NAME: person.full_name_ur,
        cwt.SECONDARY_LANGUAGE: "urd" if person.full_name_ur else None,
        cwt.LOCATION_CODE: person.district.name,
        cwt.COUNTRY_OF_ISSUANCE: COUNTRY,
    }
    if with_photo and person.photo:
        try:
            claims[cwt.PHOTO] = photos.face_thumbnail(base64.b64decode(person.photo))
            claims[cwt.PHOTO_FORMAT] = 4  # WebP
        except (ValueError, OSError):
            logger.warning("no face thumbnail for person %s", person.pk)
    return claims


def _sign(
    person: Person, key: IssuerKey, slot: tuple[StatusList, int], issued: datetime
) -> tuple[str, str]:
    """The compact and the card QR texts of one credential."""
    material = _material(key)
    secret = material.secret_key

    def encode(identity: dict[int, Any]) -> str:
        claims = cwt.credential_claims(
            identity=identity,
            issuer=settings.RAHDARI_PUBLIC_URL,
            issued_at=_epoch(issued),
            expires_at=_epoch(issued + _validity()),
            status_uri=status_list_uri(slot[0].number),
            status_index=slot[1],
        )
        return cwt.encode(claims, material, secret_key=secret)

    card_identity = identity_claims(person, with_photo=True)
    plain = {k: v for k, v in card_identity.items() if k not in (cwt.PHOTO, cwt.PHOTO_FORMAT)}
    for dropped in COMPACT_FALLBACK:
        compact = encode({k: v for k, v in plain.items() if k not in dropped})
        if len(compact) <= qr.COMPACT_MAX_CHARS:
            break
    if cwt.PHOTO not in card_identity and not dropped:
        # Nothing to add: the same claims, and Ed25519 is deterministic, so the card
        # text would be the compact text byte for byte. One signature saved.
        return compact, compact
    return compact, encode(card_identity)


def _new_credential(
    person: Person, key: IssuerKey, slot: tuple[StatusList, int], now: datetime, actor: Any
) -> Credential:
    """An unsaved credential row with both QR texts signed."""
    compact, card = _sign(person, key, slot, now)
    return Credential(
        person=person,
        key=key,
        status_list=slot[0],
        status_index=slot[1],
        issued_at=now,
        expires_at=now + _validity(),
        qr_compact=compact,
        qr_card=card,
        issued_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _check_issuable(person: Person) -> None:
    if person.status != PersonStatus.ACTIVE or not person.rahdari_number:
        raise Conflict(
            _("Only an active, enrolled person gets a QR credential."),
            code="person_not_active",
        )


def _supersede(person: Person, now: datetime, reason: str) -> list[int]:
    """Mark the person's current credential replaced; returns the lists to republish."""
    current = list(Credential.objects.select_for_update().filter(person=person, status__in=CURRENT))
    for old in current:
        old.status = Credential.Status.SUPERSEDED
        old.status_reason = reason[:200]
        old.revoked_at = now
        old.save(update_fields=["status", "status_reason", "revoked_at", "updated_at"])
    return [old.status_list.number for old in current]


def credential_issue(*, person: Person, actor: Any, reason: str = "") -> Credential:
    """Issue a person's QR credential; a previous one is superseded (its status bit set).

    Audited; republishes the affected status lists; sends the person an SMS.
    """
    _check_issuable(person)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        person = Person.objects.select_for_update().select_related("district").get(pk=person.pk)
        _check_issuable(person)
        replaced = _supersede(person, now, reason or "reissued")
        key = signing_key()
        slot = _allocate(1)[0]
        credential = _new_credential(person, key, slot, now, actor)
        credential.save(force_insert=True)
        audit_record(
            actor=actor,
            action="credentials.issued",
            subject=credential,
            changes={
                "person": str(person.pk),
                "kid": key.kid,
                "status_list": slot[0].number,
                "reissue": bool(replaced),
                "reason": reason[:200],
            },
        )
        if replaced:
            status_lists_publish(numbers=replaced)
        if person.mobile:
            notification_send(
                recipient=person.mobile,
                template="credentials.issued",
                language=_language_of(person),
                params={},
                actor=actor,
            )
    return credential


def _language_of(person: Person) -> str:
    return person.account.preferred_language if person.account_id and person.account else "ur"


def credentials_issue_bulk(
    *, persons: Sequence[Person], actor: Any, with_photos: bool = True
) -> list[Credential]:
    """Issue credentials to many persons at once (one transaction, one audit entry).

    Persons who already hold a current credential are skipped, so a resumed bulk
    job never issues twice. Used by the district job and the demo.
    """
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        holders = set(
            Credential.objects.filter(
                person__in=[p.pk for p in persons], status__in=CURRENT
            ).values_list("person_id", flat=True)
        )
        todo = [
            p
            for p in persons
            if p.pk not in holders and p.status == PersonStatus.ACTIVE and p.rahdari_number
        ]
        if not todo:
            return []
        key = signing_key()
        slots = _allocate(len(todo))
        rows = []
        for person, slot in zip(todo, slots, strict=True):
            if not with_photos:
                person.photo = ""
            rows.append(_new_credential(person, key, slot, now, actor))
        Credential.objects.bulk_create(rows, batch_size=500)
        audit_record(
            actor=actor,
            action="credentials.issued_bulk",
            subject=("credentials.credential", "bulk"),
            changes={"count": len(rows), "kid": key.kid, "credentials": [str(r.pk) for r in rows]},
        )
    return rows


def _change_status(
    credential: Credential, status: str, reason: str, actor: Any, action: str
) -> Credential:
    if not reason.strip():
        raise ApplicationError(
            _("Give a reason."), code="reason_required", fields={"reason": [_("Give a reason.")]}
        )
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=credential.pk)
        allowed = {
            Credential.Status.REVOKED: CURRENT,
            Credential.Status.SUSPENDED: (Credential.Status.ACTIVE,),
            Credential.Status.ACTIVE: (Credential.Status.SUSPENDED,),
        }[Credential.Status(status)]
        if credential.status not in allowed:
            raise Conflict(
                _("This credential is %(status)s; that cannot change now.")
                % {"status": credential.get_status_display()},
                code="invalid_transition",
            )
        previous = credential.status
        credential.status = status
        credential.status_reason = reason[:200]
        credential.revoked_at = timezone.now() if status == Credential.Status.REVOKED else None
        credential.save(update_fields=["status", "status_reason", "revoked_at", "updated_at"])
        audit_record(
            actor=actor,
            action=action,
            subject=credential,
            changes={"from": previous, "to": status, "reason": reason[:200]},
        )
        status_lists_publish(numbers=[credential.status_list.number])
    return credential


def credential_revoke(*, credential: Credential, reason: str, actor: Any) -> Credential:
    """Revoke for good: the status list says INVALID from now on. Audited."""
    return _change_status(
        credential, Credential.Status.REVOKED, reason, actor, "credentials.revoked"
    )


def credential_suspend(*, credential: Credential, reason: str, actor: Any) -> Credential:
    """Suspend (reversible): the status list says SUSPENDED. Audited."""
    return _change_status(
        credential, Credential.Status.SUSPENDED, reason, actor, "credentials.suspended"
    )


def credential_reinstate(*, credential: Credential, reason: str, actor: Any) -> Credential:
    """Lift a suspension: the status bit returns to VALID. Audited."""
    return _change_status(
        credential, Credential.Status.ACTIVE, reason, actor, "credentials.reinstated"
    )


def current_credential(person: Person) -> Credential | None:
    return (
        Credential.objects.filter(person=person, status__in=CURRENT)
        .select_related("status_list", "key")
        .first()
    )


# --- following the person (identity events) ----------------------------------------------


def _on_enrolled(event: PersonEvent) -> None:
    person = Person.objects.select_related("district", "account").get(pk=event.person_id)
    if person.status == PersonStatus.ACTIVE and current_credential(person) is None:
        credential_issue(person=person, actor=None, reason="enrolment approved")


def _on_person_closed(event: PersonEvent) -> None:
    credential = current_credential(Person(pk=event.person_id))
    if credential is not None:
        credential_revoke(credential=credential, reason=event.kind, actor=None)


def _on_suspended(event: PersonEvent) -> None:
    credential = current_credential(Person(pk=event.person_id))
    if credential is not None and credential.status == Credential.Status.ACTIVE:
        credential_suspend(credential=credential, reason=event.reason or event.kind, actor=None)


def _on_reinstated(event: PersonEvent) -> None:
    person = Person.objects.select_related("district", "account").get(pk=event.person_id)
    credential = current_credential(person)
    if credential is not None and credential.status == Credential.Status.SUSPENDED:
        credential_reinstate(credential=credential, reason=event.reason or event.kind, actor=None)
    elif credential is None:
        credential_issue(person=person, actor=None, reason="person reinstated")


def _on_updated(event: PersonEvent) -> None:
    """Reissue when what the QR prints has changed (a corrected name, a new photo)."""
    person = Person.objects.select_related("district", "account").get(pk=event.person_id)
    credential = current_credential(person)
    if credential is None or person.status != PersonStatus.ACTIVE:
        return
    printed = cbor2.loads(cwt.unwrap(credential.qr_card).payload).get(cwt.CLAIM_169)
    fresh = cwt.credential_claims(
        identity=identity_claims(person, with_photo=True),
        issuer="",
        issued_at=0,
        expires_at=0,
        status_uri="",
        status_index=0,
    )[cwt.CLAIM_169]
    if printed != fresh:
        credential_issue(person=person, actor=None, reason="person data changed")


def connect() -> None:
    """Subscribe to identity events and register jobs, templates and periodic work."""
    events.subscribe("person.enrolled", _on_enrolled)
    events.subscribe("person.deceased", _on_person_closed)
    events.subscribe("person.revoked", _on_person_closed)
    events.subscribe("person.suspended", _on_suspended)
    events.subscribe("person.reinstated", _on_reinstated)
    events.subscribe("person.updated", _on_updated)
    register_templates(
        {
            "credentials.issued": gettext_lazy(
                "Rahdari: your QR ID is ready. Open Rahdari and choose My QR to show or print it."
            ),
        }
    )
    register_periodic("credentials.refresh_status_lists", status_lists_refresh_if_old)


# --- bulk jobs ---------------------------------------------------------------------------

CHUNK = 500


def _district_persons(district_id: int, after: str) -> Any:
    return (
        Person.objects.filter(district_id=district_id, status=PersonStatus.ACTIVE)
        .filter(pk__gt=after)
        .select_related("district")
        # Never printed in the QR: not worth decrypting 100,000 times.
        .defer("national_id", "mobile", "union_council", "village", "guardian_name_ur")
        .order_by("pk")
    )


@job_kind("credentials.issue_district")
def _issue_district_job(ctx: JobContext) -> dict[str, Any]:
    """Issue credentials to every active person of a district who has none, in chunks."""
    district_id = int(ctx.job.params["district"])
    after = str(ctx.job.checkpoint.get("after", "00000000-0000-0000-0000-000000000000"))
    issued = int(ctx.job.checkpoint.get("issued", 0))
    if not ctx.job.total:
        ctx.set_total(
            Person.objects.filter(district_id=district_id, status=PersonStatus.ACTIVE).count()
        )
    while True:
        chunk = list(_district_persons(district_id, after)[:CHUNK])
        if not chunk:
            break
        with transaction.atomic():
            rows = credentials_issue_bulk(persons=chunk, actor=ctx.job.created_by)
            issued += len(rows)
            after = str(chunk[-1].pk)
            ctx.advance(len(chunk), {"after": after, "issued": issued})
    return {"issued": issued}


@job_kind("credentials.reissue_key")
def _reissue_key_job(ctx: JobContext) -> dict[str, Any]:
    """Reissue every current credential signed by a withdrawn key, one person at a time."""
    affected = Credential.objects.filter(key__kid=ctx.job.params["kid"], status__in=CURRENT)
    if not ctx.job.total:
        ctx.set_total(affected.count())
    reissued = int(ctx.job.checkpoint.get("reissued", 0))
    while True:
        chunk = list(affected.select_related("person").order_by("pk")[:CHUNK])
        if not chunk:
            break
        for old in chunk:
            with transaction.atomic():
                if old.person.status == PersonStatus.ACTIVE:
                    credential_issue(person=old.person, actor=None, reason="signing key withdrawn")
                    reissued += 1
                else:
                    credential_revoke(credential=old, reason="signing key withdrawn", actor=None)
                ctx.advance(1, {"reissued": reissued})
    return {"reissued": reissued}


def credentials_issue_district(*, district: District, actor: User) -> Job:
    """Start the bulk issuance job for a district (progress on the jobs page)."""
    from rahdari.core.jobs import job_create

    return job_create(
        kind="credentials.issue_district", params={"district": district.pk}, actor=actor
    )


def card_batches_dir() -> Path:
    path = Path(settings.VAR_DIR) / "cards"
    path.mkdir(parents=True, exist_ok=True)
    return path


@job_kind("credentials.print_cards")
def _print_cards_job(ctx: JobContext) -> dict[str, Any]:
    """One PDF per batch of current credentials of a district; a resumed job goes on."""
    from rahdari.credentials import cards

    district = District.objects.get(pk=int(ctx.job.params["district"]))
    language = str(ctx.job.params.get("language", "ur"))
    size = int(ctx.job.params.get("batch_size", settings.RAHDARI_CARD_BATCH_SIZE))
    base = Credential.objects.filter(person__district=district, status__in=CURRENT)
    if not ctx.job.total:
        ctx.set_total(base.count())
    after = ctx.job.checkpoint.get("after")
    number = int(ctx.job.checkpoint.get("batch", 0))
    while True:
        page = base.select_related("person", "person__district").order_by("pk")
        if after:
            page = page.filter(pk__gt=after)
        batch = list(page[:size])
        if not batch:
            break
        number += 1
        pdf = cards.render_cards(batch, language=language)
        name = f"cards-{ctx.job.pk}-{number:04d}.pdf"
        (card_batches_dir() / name).write_bytes(pdf)
        with transaction.atomic():
            CardBatch.objects.update_or_create(
                job=ctx.job,
                number=number,
                defaults={
                    "district": district,
                    "cards": len(batch),
                    "file_name": name,
                    "sha256": hashlib.sha256(pdf).hexdigest(),
                    "persons": [str(c.person_id) for c in batch],
                },
            )
            after = str(batch[-1].pk)
            ctx.advance(len(batch), {"after": after, "batch": number})
    audit_record(
        actor=ctx.job.created_by,
        action="credentials.cards_printed",
        subject=ctx.job,
        changes={"district": district.name, "batches": number},
    )
    return {"batches": number}


def card_batch_downloaded(*, batch: CardBatch, actor: User) -> None:
    """A batch PDF shows each person's data: record the read against every one of them."""
    with transaction.atomic():
        for person in Person.objects.filter(pk__in=batch.persons):
            audit_record_read(
                actor=actor,
                subject=person,
                purpose=gettext_noop("ID card printing"),
                fields=["full_name", "date_of_birth", "photo", "district"],
            )


def cards_print_district(*, district: District, actor: User, language: str = "ur") -> Job:
    """Start the card-printing job for a district: PDFs of 100 cards each."""
    from rahdari.core.jobs import job_create

    return job_create(
        kind="credentials.print_cards",
        params={"district": district.pk, "language": language},
        actor=actor,
    )


# --- verification ------------------------------------------------------------------------


class _VerifierCache:
    """The server's own verifier, rebuilt when a key or a status list changes.

    Whether anything changed is asked of the database at most once every
    ``RAHDARI_VERIFIER_RECHECK_SECONDS``; a change made by this process (a revocation,
    a new key) is seen at once, because it calls :meth:`forget` after its commit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._verifier: cwt.Verifier | None = None
        self._checked_at = 0.0

    def forget(self) -> None:
        with self._lock:
            self._checked_at = 0.0

    def get(self) -> cwt.Verifier:
        now = time.monotonic()
        with self._lock:
            if (
                self._verifier is not None
                and now - self._checked_at < settings.RAHDARI_VERIFIER_RECHECK_SECONDS
            ):
                return self._verifier
        stamp = (
            tuple(IssuerKey.objects.order_by("kid").values_list("kid", "updated_at")),
            tuple(StatusList.objects.order_by("number").values_list("number", "version")),
        )
        with self._lock:
            if self._verifier is None or stamp != self._stamp:
                keyset = cwt.KeySet.from_json(keyset_document())
                verifier = cwt.Verifier(keyset)
                for token in StatusList.objects.exclude(token=b"").values_list("token", flat=True):
                    verifier.add_status_list(cwt.parse_status_list_token(bytes(token), keyset))
                self._verifier, self._stamp = verifier, stamp
            self._checked_at = now
            return self._verifier


_verifier_cache = _VerifierCache()


def server_verifier() -> cwt.Verifier:
    return _verifier_cache.get()


def credential_verify(*, text: str, actor: Any = None) -> cwt.Verification:
    """Verify a QR text with the issuer's keys and the current status lists.

    When a logged-in staff member or partner verifies a valid credential, the read
    is recorded against the person, who sees it among the reads of their data.
    """
    result = server_verifier().verify(text)
    if result.payload is not None and getattr(actor, "is_authenticated", False):
        number = result.claims.get("id")
        person = Person.objects.filter(rahdari_number=number).first() if number else None
        if person is not None and result.claims.get("iss") == settings.RAHDARI_PUBLIC_URL:
            audit_record_read(
                actor=actor,
                subject=person,
                purpose=gettext_noop("QR credential checked at a service counter"),
                fields=["full_name", "date_of_birth", "photo"],
            )
    return result


def credential_for_citizen(user: User) -> Credential:
    from rahdari.identity.selectors import person_of_account

    person = person_of_account(user)
    credential = current_credential(person) if person else None
    if credential is None:
        raise NotFound(_("You do not have a QR credential yet."), code="no_credential")
    return credential
