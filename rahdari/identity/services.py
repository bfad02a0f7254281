"""Identity operations: enrol, verify with the national ID authority, find duplicates,
decide on duplicates, update demographics, lifecycle, corrections, reads.

Every operation runs in one transaction and writes its audit entry. Lifecycle
changes are published as events (rahdari.identity.events).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.images import reencode_photo
from rahdari.core.jobs import JobContext, job_kind
from rahdari.core.keyring import blind_index
from rahdari.core.models import District
from rahdari.core.notifications import notification_send
from rahdari.core.validators import clean_cnic, clean_mobile
from rahdari.identity import events, matching, rules
from rahdari.identity.models import (
    CorrectionRequest,
    DuplicateCandidate,
    Enrolment,
    Person,
    PersonStatus,
    PersonVersion,
)
from rahdari.identity.national_id import VerificationOutcome, connector

PROBLEM_MESSAGES = {
    "future_birth_date": gettext_lazy("The date of birth is in the future."),
    "implausible_birth_date": gettext_lazy("This date of birth is not possible."),
    "sex_contradicts_national_id": gettext_lazy(
        "The last digit of the ID number is odd for men and even for women: it does not fit "
        "the sex given."
    ),
    "minor_needs_crc": gettext_lazy(
        "A child under 18 is enrolled with a CRC (B-Form) number, not a CNIC."
    ),
    "adult_needs_cnic": gettext_lazy("A person of 18 or more is enrolled with a CNIC, not a CRC."),
}
LIVE = (PersonStatus.PENDING, PersonStatus.ACTIVE, PersonStatus.SUSPENDED)
# Fields the national ID authority holds: a change to one of them is verified first.
VERIFIED_FIELDS = frozenset({"full_name", "full_name_ur", "date_of_birth", "sex"})
DEMOGRAPHIC_FIELDS = (
    "full_name",
    "full_name_ur",
    "guardian_name",
    "guardian_name_ur",
    "date_of_birth",
    "sex",
    "mobile",
    "district",
    "tehsil",
    "union_council",
    "village",
)


@dataclass
class PersonData:
    """What an enrolment form or API call gives (validated by `clean_person_data`)."""

    national_id: str
    id_document: str
    full_name: str
    full_name_ur: str
    guardian_name: str
    guardian_name_ur: str
    date_of_birth: date
    sex: str
    mobile: str
    district: District
    tehsil: str = ""
    union_council: str = ""
    village: str = ""
    photo: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def clean_person_data(data: PersonData) -> PersonData:
    """Normalise identifiers and check the rules; raise one ApplicationError with every field."""
    errors: dict[str, list[str]] = {}
    try:
        data.national_id = clean_cnic(data.national_id)
    except ValidationError as exc:
        errors["national_id"] = exc.messages
    if data.mobile:
        try:
            data.mobile = clean_mobile(data.mobile)
        except ValidationError as exc:
            errors["mobile"] = exc.messages
    if not data.full_name.strip():
        errors["full_name"] = [_("Enter the full name.")]
    if data.sex not in ("M", "F", "X"):
        errors["sex"] = [_("Choose the sex.")]
    if data.id_document not in ("cnic", "crc"):
        errors["id_document"] = [_("Choose CNIC or CRC.")]
    if "national_id" not in errors and not errors.keys() & {"sex", "id_document"}:
        for field_name, code in rules.document_problems(
            national_id=data.national_id,
            id_document=data.id_document,
            sex=data.sex,
            date_of_birth=data.date_of_birth,
            today=timezone.localdate(),
        ).items():
            errors.setdefault(field_name, []).append(str(PROBLEM_MESSAGES[code]))
    if errors:
        first = next(iter(errors.values()))[0]
        raise ApplicationError(first, code="invalid_person", fields=errors)
    if data.photo is not None:
        data.photo = reencode_photo(data.photo, max_bytes=settings.RAHDARI_PHOTO_MAX_BYTES)
    data.full_name = " ".join(data.full_name.split())
    data.full_name_ur = " ".join(data.full_name_ur.split())
    data.guardian_name = " ".join(data.guardian_name.split())
    data.guardian_name_ur = " ".join(data.guardian_name_ur.split())
    return data


def _keys(full_name: str, full_name_ur: str) -> str:
    key = matching.name_key(full_name, full_name_ur)
    return blind_index("name", key) if key else ""


def _apply(person: Person, data: PersonData) -> None:
    person.id_document = data.id_document
    person.national_id = data.national_id
    person.national_id_index = blind_index("cnic", data.national_id)
    person.full_name = data.full_name
    person.full_name_ur = data.full_name_ur
    person.guardian_name = data.guardian_name
    person.guardian_name_ur = data.guardian_name_ur
    person.name_key = _keys(data.full_name, data.full_name_ur)
    person.guardian_key = _keys(data.guardian_name, data.guardian_name_ur)
    person.sex = data.sex
    person.date_of_birth = data.date_of_birth.isoformat()
    person.birth_year = data.date_of_birth.year
    person.mobile = data.mobile
    person.mobile_index = blind_index("phone", data.mobile) if data.mobile else ""
    person.district = data.district
    person.tehsil = data.tehsil.strip()
    person.union_council = data.union_council.strip()
    person.village = data.village.strip()
    if data.photo is not None:
        person.photo = base64.b64encode(data.photo).decode("ascii")


def person_enrol(
    *,
    data: PersonData,
    channel: str,
    consent_purpose: str,
    consent_language: str,
    actor: User | None,
    account: User | None = None,
) -> Enrolment:
    """Record a person and their consent, then verify, check for duplicates and number them.

    An ID number that already belongs to a live person is a hard stop (409).
    """
    data = clean_person_data(data)
    if not consent_purpose.strip():
        raise ApplicationError(
            _("The person must be shown the purpose and consent."),
            code="consent_required",
            fields={"consent": [_("Consent is required.")]},
        )
    index = blind_index("cnic", data.national_id)
    if Person.objects.filter(national_id_index=index, status__in=LIVE).exists():
        raise Conflict(
            _("This ID number is already enrolled."),
            code="already_enrolled",
            fields={"national_id": [_("This ID number is already enrolled.")]},
        )
    try:
        with transaction.atomic():
            person = Person(status=PersonStatus.PENDING, account=account)
            _apply(person, data)
            person.save()
            enrolment = Enrolment.objects.create(
                person=person,
                channel=channel,
                officer=actor if channel == "assisted" else None,
                consent_purpose=consent_purpose.strip(),
                consent_language=consent_language,
                consented_at=timezone.now(),
            )
            audit_record(
                actor=actor,
                action="identity.enrolment_submitted",
                subject=enrolment,
                changes={
                    "channel": channel,
                    "person": str(person.pk),
                    "district": data.district.name,
                },
            )
    except IntegrityError as exc:  # a parallel enrolment of the same number won the race
        raise Conflict(_("This ID number is already enrolled."), code="already_enrolled") from exc
    enrolment = enrolment_verify(enrolment=enrolment, actor=actor)
    if (
        enrolment.status in (Enrolment.Status.QUEUED, Enrolment.Status.DUPLICATE_REVIEW)
        and data.mobile
    ):
        # Not decided at once: tell the person it is in hand; the next SMS brings the number.
        notification_send(
            recipient=data.mobile,
            template="identity.enrolment_received",
            language=consent_language,
            params={},
            actor=actor,
        )
    return enrolment


def enrolment_verify(*, enrolment: Enrolment, actor: User | None = None) -> Enrolment:
    """Ask the national ID authority; if it cannot answer, the enrolment waits in the queue."""
    person = enrolment.person
    result = connector().verify(
        national_id=person.national_id,
        full_name=person.full_name,
        full_name_ur=person.full_name_ur,
        date_of_birth=date.fromisoformat(person.date_of_birth),
        sex=person.sex,
    )
    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.status not in (Enrolment.Status.VERIFYING, Enrolment.Status.QUEUED):
            return enrolment
        enrolment.verification_attempts += 1
        enrolment.verification = {**result.as_dict(), "at": timezone.now().isoformat()}
        status = {
            VerificationOutcome.MATCH: Enrolment.Status.VERIFYING,
            VerificationOutcome.MISMATCH: Enrolment.Status.MISMATCH,
            VerificationOutcome.NOT_FOUND: Enrolment.Status.NOT_FOUND,
            VerificationOutcome.UNAVAILABLE: Enrolment.Status.QUEUED,
        }[result.outcome]
        if result.deceased:
            status = Enrolment.Status.REJECTED
            enrolment.reason = "recorded as deceased by the national ID authority"
        enrolment.status = status
        enrolment.save()
        audit_record(
            actor=actor,
            action="identity.enrolment_verified",
            subject=enrolment,
            changes={
                "outcome": result.outcome.value,
                "mismatched": list(result.mismatched_fields),
                "reference": result.reference,
            },
        )
        if status == Enrolment.Status.REJECTED:
            _set_status(person, PersonStatus.REJECTED, enrolment.reason, actor, publish=False)
    if result.outcome == VerificationOutcome.MATCH and not result.deceased:
        return enrolment_check_duplicates(enrolment=enrolment, actor=actor)
    return enrolment


def person_record(person: Person) -> matching.PersonRecord:
    born = date.fromisoformat(person.date_of_birth)
    return matching.PersonRecord(
        id=str(person.pk),
        full_name=person.full_name,
        full_name_ur=person.full_name_ur,
        guardian_name=person.guardian_name,
        guardian_name_ur=person.guardian_name_ur,
        date_of_birth=born,
        birth_year=born.year,
        sex=person.sex,
        district=person.district.name,
        mobile=person.mobile,
    )


def duplicate_pool(person: Person) -> list[Person]:
    """Live persons sharing a blocking key with this one (name key, guardian key, mobile)."""
    years = (person.birth_year - 1, person.birth_year + 1)
    match = Q(name_key=person.name_key, birth_year__range=years) if person.name_key else Q(pk=None)
    if person.guardian_key:
        match |= Q(
            guardian_key=person.guardian_key,
            district=person.district_id,
            birth_year__range=(years[0] - 1, years[1] + 1),
        )
    if person.mobile_index:
        match |= Q(mobile_index=person.mobile_index)
    return list(
        Person.objects.filter(match, status__in=(PersonStatus.ACTIVE, PersonStatus.SUSPENDED))
        .exclude(pk=person.pk)
        .select_related("district")[:500]
    )


def enrolment_check_duplicates(*, enrolment: Enrolment, actor: User | None = None) -> Enrolment:
    """Score the person against possible duplicates: none → approve; some → officer review."""
    person = Person.objects.select_related("district").get(pk=enrolment.person_id)
    found = matching.candidates_for(
        person_record(person), [person_record(p) for p in duplicate_pool(person)]
    )
    with transaction.atomic():
        if not found:
            return _approve(enrolment, actor)
        for existing, score in found:
            DuplicateCandidate.objects.get_or_create(
                new_person=person,
                existing_person_id=existing.id,
                defaults={
                    "score": round(score.total, 4),
                    "components": {k: round(v, 3) for k, v in score.components.items()},
                },
            )
        enrolment.status = Enrolment.Status.DUPLICATE_REVIEW
        enrolment.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="identity.duplicate_suspected",
            subject=enrolment,
            changes={
                "candidates": len(found),
                "best_score": round(max(s.total for _p, s in found), 4),
            },
        )
    return enrolment


def _approve(enrolment: Enrolment, actor: User | None) -> Enrolment:
    person = enrolment.person
    for _attempt in range(5):  # a random number can collide with one in use: draw again
        person.rahdari_number = rules.new_rahdari_number()
        try:
            with transaction.atomic():
                person.status = PersonStatus.ACTIVE
                person.save(update_fields=["rahdari_number", "status", "updated_at"])
                break
        except IntegrityError:
            continue
    else:
        raise ApplicationError("could not draw a free Rahdari number", code="number_exhausted")
    enrolment.status = Enrolment.Status.APPROVED
    enrolment.decided_at = timezone.now()
    enrolment.save(update_fields=["status", "decided_at", "updated_at"])
    audit_record(
        actor=actor,
        action="identity.enrolment_approved",
        subject=enrolment,
        changes={"person": str(person.pk)},
    )
    events.publish(person=person, kind="person.enrolled")
    if person.mobile:
        language = (
            person.account.preferred_language if person.account else enrolment.consent_language
        )
        notification_send(
            recipient=person.mobile,
            template="identity.enrolled",
            language=language,
            params={"number": rules.format_rahdari_number(person.rahdari_number or "")},
            actor=actor,
        )
    return enrolment


def duplicate_decide(
    *, candidate: DuplicateCandidate, same_person: bool, reason: str, actor: User
) -> DuplicateCandidate:
    """An officer compares the pair. Same person → the new record is merged into the
    existing one and its enrolment rejected; different → once no pair is open, approve."""
    if not reason.strip():
        raise ApplicationError(
            _("Give a reason for the decision."),
            code="reason_required",
            fields={"reason": [_("Give a reason for the decision.")]},
        )
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
        if candidate.status != DuplicateCandidate.Status.OPEN:
            raise Conflict(_("This pair was already decided."), code="already_decided")
        for side in (candidate.new_person, candidate.existing_person):
            if not actor.has_perm("accounts.act_in_district", side.district):
                raise Forbidden(_("This person is outside your districts."))
        candidate.status = (
            DuplicateCandidate.Status.MERGED
            if same_person
            else DuplicateCandidate.Status.NOT_DUPLICATE
        )
        candidate.decided_by = actor
        candidate.decided_at = timezone.now()
        candidate.reason = reason.strip()[:200]
        candidate.save()
        audit_record(
            actor=actor,
            action="identity.duplicate_decided",
            subject=candidate,
            changes={"same_person": same_person, "score": candidate.score},
        )
        person = candidate.new_person
        enrolment = person.enrolments.order_by("-created_at").first()
        if same_person:
            person.merged_into = candidate.existing_person
            person.save(update_fields=["merged_into", "updated_at"])
            _set_status(
                person, PersonStatus.MERGED, "duplicate of an enrolled person", actor, publish=False
            )
            DuplicateCandidate.objects.filter(new_person=person, status="open").update(
                status=DuplicateCandidate.Status.MERGED,
                decided_by=actor,
                decided_at=timezone.now(),
                reason=candidate.reason,
            )
            if enrolment:
                enrolment.status = Enrolment.Status.REJECTED
                enrolment.reason = "duplicate of an enrolled person"
                enrolment.decided_at = timezone.now()
                enrolment.save()
        elif (
            enrolment
            and not DuplicateCandidate.objects.filter(new_person=person, status="open").exists()
        ):
            _approve(enrolment, actor)
    return candidate


def _set_status(
    person: Person, status: str, reason: str, actor: User | None, *, publish: bool = True
) -> Person:
    if not rules.can_transition(person.status, status):
        raise Conflict(
            _("A person who is %(current)s cannot become %(new)s.")
            % {"current": person.get_status_display(), "new": PersonStatus(status).label},
            code="invalid_transition",
        )
    previous = person.status
    person.status = status
    person.status_reason = reason[:200]
    person.save(update_fields=["status", "status_reason", "updated_at"])
    audit_record(
        actor=actor,
        action=f"identity.person_{status}",
        subject=person,
        changes={"from": previous, "to": status, "reason": reason[:200]},
    )
    if publish:
        kind = {"active": "person.reinstated"}.get(status, f"person.{status}")
        events.publish(person=person, kind=kind, reason=reason)
    return person


def person_change_status(*, person: Person, status: str, reason: str, actor: User) -> Person:
    """Suspend, reinstate, mark deceased or revoke — with a reason, audited, published."""
    if not reason.strip():
        raise ApplicationError(
            _("Give a reason."), code="reason_required", fields={"reason": [_("Give a reason.")]}
        )
    if status not in (
        PersonStatus.ACTIVE,
        PersonStatus.SUSPENDED,
        PersonStatus.DECEASED,
        PersonStatus.REVOKED,
    ):
        raise ApplicationError(_("This status cannot be set by hand."), code="invalid_status")
    if not actor.has_perm("accounts.act_in_district", person.district):
        raise Forbidden(_("This person is outside your districts."))
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        return _set_status(person, status, reason.strip(), actor)


def _snapshot(person: Person) -> dict[str, Any]:
    return {
        f: (person.district.name if f == "district" else getattr(person, f))
        for f in DEMOGRAPHIC_FIELDS
    }


def person_update(*, person: Person, data: PersonData, reason: str, actor: User) -> Person:
    """Change demographics: history kept, name/date/sex re-verified with the authority."""
    if not reason.strip():
        raise ApplicationError(
            _("Give a reason."), code="reason_required", fields={"reason": [_("Give a reason.")]}
        )
    if not actor.has_perm("accounts.act_in_district", person.district):
        raise Forbidden(_("This person is outside your districts."))
    data.national_id = person.national_id  # the ID number itself never changes here
    data.id_document = person.id_document
    data = clean_person_data(data)
    after = _snapshot_of(data)
    before = _snapshot(person)
    if VERIFIED_FIELDS & {k for k, v in after.items() if before[k] != v}:
        result = connector().verify(
            national_id=data.national_id,
            full_name=data.full_name,
            full_name_ur=data.full_name_ur,
            date_of_birth=data.date_of_birth,
            sex=data.sex,
        )
        if result.outcome == VerificationOutcome.UNAVAILABLE:
            raise ApplicationError(
                _(
                    "The national ID authority cannot be reached. Try again later; nothing was changed."
                ),
                code="authority_unavailable",
                status=503,
            )
        if result.outcome != VerificationOutcome.MATCH:
            fields = {
                f: [_("Does not match the national ID record.")] for f in result.mismatched_fields
            }
            raise ApplicationError(
                _("The new details do not match the national ID record."),
                code="verification_mismatch",
                fields=fields,
            )
    with transaction.atomic():
        # Compare with the row as it is now (locked), not as the caller read it.
        person = Person.objects.select_for_update().select_related("district").get(pk=person.pk)
        before = _snapshot(person)
        changed = [k for k, v in after.items() if before[k] != v]
        if not changed and data.photo is None:
            return person
        version = (
            person.versions.order_by("-version").values_list("version", flat=True).first() or 0
        ) + 1
        PersonVersion.objects.create(
            person=person,
            version=version,
            data=json.dumps(before, ensure_ascii=False),
            changed_fields=changed,
            changed_by=actor,
            reason=reason.strip()[:200],
        )
        _apply(person, data)
        person.save()
        audit_record(
            actor=actor,
            action="identity.person_updated",
            subject=person,
            changes={"fields": changed, "version": version},
        )
        events.publish(person=person, kind="person.updated", reason=reason)
    return person


def _snapshot_of(data: PersonData) -> dict[str, Any]:
    values = {
        f: getattr(data, f) for f in DEMOGRAPHIC_FIELDS if f not in ("district", "date_of_birth")
    }
    values["district"] = data.district.name
    values["date_of_birth"] = data.date_of_birth.isoformat()
    return values


def person_view(*, person: Person, actor: User, purpose: str) -> Person:
    """A staff member opens a person's record: the person will see who, when and why."""
    if not actor.has_perm("accounts.act_in_district", person.district):
        raise Forbidden(_("This person is outside your districts."))
    if not purpose.strip():
        raise ApplicationError(
            _("Say why you are opening this record."),
            code="purpose_required",
            fields={"purpose": [_("Say why you are opening this record.")]},
        )
    with transaction.atomic():
        audit_record_read(
            actor=actor,
            subject=person,
            purpose=purpose.strip()[:200],
            fields=["names", "national_id", "date_of_birth", "mobile", "address", "photo"],
        )
    return person


def correction_request(
    *,
    person: Person,
    requested: dict[str, str],
    explanation: str,
    evidence: bytes | None,
    actor: User,
) -> CorrectionRequest:
    """The person asks for a correction, with evidence; it goes to the officers' queue."""
    allowed = {
        "full_name",
        "full_name_ur",
        "guardian_name",
        "guardian_name_ur",
        "date_of_birth",
        "mobile",
        "tehsil",
        "union_council",
        "village",
    }
    cleaned = {k: v.strip() for k, v in requested.items() if k in allowed and v and v.strip()}
    if not cleaned:
        raise ApplicationError(
            _("Say what should be corrected."),
            code="nothing_requested",
            fields={"requested": [_("Say what should be corrected.")]},
        )
    if "date_of_birth" in cleaned:
        try:
            date.fromisoformat(cleaned["date_of_birth"])
        except ValueError as exc:
            raise ApplicationError(
                _("Enter a valid date."),
                code="invalid_date",
                fields={"date_of_birth": [_("Enter a valid date.")]},
            ) from exc
    photo = (
        reencode_photo(evidence, max_bytes=settings.RAHDARI_PHOTO_MAX_BYTES, field="evidence")
        if evidence
        else None
    )
    with transaction.atomic():
        request = CorrectionRequest.objects.create(
            person=person,
            requested=json.dumps(cleaned, ensure_ascii=False),
            explanation=explanation.strip(),
            evidence=base64.b64encode(photo).decode("ascii") if photo else "",
        )
        audit_record(
            actor=actor,
            action="identity.correction_requested",
            subject=request,
            changes={"fields": sorted(cleaned)},
        )
    return request


def correction_decide(
    *, request: CorrectionRequest, apply: bool, note: str, actor: User
) -> CorrectionRequest:
    """An officer applies (through person_update, re-verified) or refuses a correction."""
    if request.status != CorrectionRequest.Status.OPEN:
        raise Conflict(_("This request was already decided."), code="already_decided")
    if not note.strip():
        raise ApplicationError(
            _("Give a reason."), code="reason_required", fields={"note": [_("Give a reason.")]}
        )
    person = request.person
    with transaction.atomic():
        if apply:
            wanted = json.loads(request.requested)
            current = person_data_of(person)
            for key, value in wanted.items():
                setattr(
                    current, key, date.fromisoformat(value) if key == "date_of_birth" else value
                )
            person_update(
                person=person,
                data=current,
                reason=f"correction request: {note.strip()}",
                actor=actor,
            )
        request.status = (
            CorrectionRequest.Status.APPLIED if apply else CorrectionRequest.Status.REFUSED
        )
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.decision_note = note.strip()[:200]
        request.save()
        audit_record(
            actor=actor,
            action="identity.correction_decided",
            subject=request,
            changes={"applied": apply},
        )
    return request


def person_data_of(person: Person) -> PersonData:
    return PersonData(
        national_id=person.national_id,
        id_document=person.id_document,
        full_name=person.full_name,
        full_name_ur=person.full_name_ur,
        guardian_name=person.guardian_name,
        guardian_name_ur=person.guardian_name_ur,
        date_of_birth=date.fromisoformat(person.date_of_birth),
        sex=person.sex,
        mobile=person.mobile,
        district=person.district,
        tehsil=person.tehsil,
        union_council=person.union_council,
        village=person.village,
    )


@job_kind("identity.verify_queued")
def enrolments_verify_queued(ctx: JobContext) -> dict[str, Any]:
    """Verify the enrolments that waited while the national ID authority was unavailable."""
    queued = Enrolment.objects.filter(status=Enrolment.Status.QUEUED).order_by("created_at")
    ctx.set_total(ctx.job.done + queued.count())
    done = {"matched": 0, "still_queued": 0, "other": 0}
    for enrolment in list(queued):
        result = enrolment_verify(enrolment=enrolment)
        key = (
            "still_queued"
            if result.status == Enrolment.Status.QUEUED
            else "matched"
            if result.status in (Enrolment.Status.APPROVED, Enrolment.Status.DUPLICATE_REVIEW)
            else "other"
        )
        done[key] += 1
        with transaction.atomic():
            ctx.advance(1, {"last": str(enrolment.pk)})
    return done


def enrolments_retry_if_queued() -> str | None:
    """Periodic: start a verification job when enrolments wait and none is under way."""
    from rahdari.core.jobs import job_create
    from rahdari.core.models import Job

    if not Enrolment.objects.filter(status=Enrolment.Status.QUEUED).exists():
        return None
    if Job.objects.filter(kind="identity.verify_queued", status__in=("queued", "running")).exists():
        return None
    return str(job_create(kind="identity.verify_queued", params={}, actor=None).pk)
