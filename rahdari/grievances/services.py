"""Grievances: lodge (web, office, phone call, SMS/USSD), take, note, move, escalate,
resolve, rate, reopen, close — each one transaction with its audit entry, its step in
the complaint's history and, when the complainant should know, an SMS in her language.

A complaint about an exclusion lodges the household's appeal (programs), so the
eligibility decision goes to review; one about a deduction disputes the cash-out
(payments), so the agent shows up on the fraud review. Attachments are the complainant's
documents (documents store); a voice note is sealed the same way as a document, with a
key of its own, in the documents storage under ``grievances/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rahdari.accounts.models import User
from rahdari.applications.models import Application
from rahdari.core import tracking
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from rahdari.core.inbound import Reply
from rahdari.core.keyring import blind_index
from rahdari.core.models import District
from rahdari.core.notifications import notification_send, register_templates, render
from rahdari.core.ratelimit import rate_limit
from rahdari.core.validators import clean_mobile
from rahdari.documents import services as documents
from rahdari.documents import storage
from rahdari.grievances import audio, rules
from rahdari.grievances.models import (
    Category,
    Channel,
    Complaint,
    ComplaintAttachment,
    ComplaintEvent,
    Desk,
    Outcome,
    Status,
)
from rahdari.identity.models import Person
from rahdari.payments import services as payments
from rahdari.payments.models import CashOut, Payment
from rahdari.programs import services as programs
from rahdari.programs.models import Appeal, Program
from rahdari.registry import selectors as registry

logger = logging.getLogger(__name__)

# What the person reads in "Who looked at my data" (translated when shown).
READ_PURPOSE = gettext_noop("Her complaint, to handle it")
VOICE_DIR = "grievances/voice"
NUMBER_ATTEMPTS = 8

register_templates(
    {
        "grievances.lodged": gettext_noop(
            "Rahdari: we received your complaint. Its number is {number}. We will answer by "
            "{date}. To check it, give this number and your phone number."
        ),
        "grievances.taken": gettext_noop(
            "Rahdari: an officer is now handling your complaint {number}."
        ),
        "grievances.moved": gettext_noop(
            "Rahdari: your complaint {number} was passed to {desk}, which will answer by {date}."
        ),
        "grievances.escalated": gettext_noop(
            "Rahdari: your complaint {number} was not answered in time and went to a higher "
            "office, {desk}, which must answer by {date}."
        ),
        "grievances.resolved": gettext_noop(
            "Rahdari: your complaint {number} was answered: {outcome}. {resolution} Not "
            "satisfied? Reopen it within {days} days with its number and your phone number."
        ),
        "grievances.reopened": gettext_noop(
            "Rahdari: your complaint {number} is open again. We will answer by {date}."
        ),
        "grievances.closed": gettext_noop("Rahdari: your complaint {number} is closed."),
        "grievances.sms_help": gettext_noop(
            "Rahdari: to complain by SMS, send SHIKAYAT followed by your complaint in a few "
            "words, e.g. SHIKAYAT my payment did not arrive."
        ),
    }
)


# --------------------------------------------------------------------------- helpers


def _invalid(code: str, message: str, field: str, status: int = 422) -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]}, status=status)


def _language(language: str) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    return language if language in codes else "ur"


def _date(moment: datetime) -> str:
    return timezone.localtime(moment).date().isoformat()


def _tell(complaint: Complaint, template: str, actor: Any, **params: Any) -> None:
    """An SMS to the complainant in her language (sent by the worker's next round)."""
    notification_send(
        recipient=str(complaint.phone),
        template=template,
        language=complaint.language,
        params={"number": tracking.format_tracking_number(complaint.number), **params},
        actor=actor,
        urgent=False,
    )


def _event(
    complaint: Complaint,
    kind: str,
    actor: User | None,
    *,
    note: str = "",
    from_desk: Desk | None = None,
    to_desk: Desk | None = None,
) -> ComplaintEvent:
    return ComplaintEvent.objects.create(
        complaint=complaint,
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        note=note,
        from_desk=from_desk,
        to_desk=to_desk,
    )


def _move(complaint: Complaint, target: str) -> None:
    if not rules.may_move(complaint.status, target):
        raise Conflict(
            _("This complaint cannot be %(action)s now: it is %(status)s.")
            % {"action": Status(target).label, "status": complaint.get_status_display()},
            code="invalid_transition",
        )
    complaint.status = target


def _require_desk_officer(complaint: Complaint, actor: User) -> None:
    """Only an officer of the desk that holds the complaint works on it."""
    if not actor.has_perm("grievances.handle_complaints"):
        raise Forbidden(_("You may not do this."), code="permission_denied")
    if not complaint.desk.officers.filter(pk=actor.pk).exists():
        raise Forbidden(
            _("This complaint is at another desk. Ask that desk, or have it moved to yours."),
            code="not_your_desk",
        )


def _locked(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update().select_related("desk").get(pk=complaint.pk)


def _changes(complaint: Complaint, **extra: Any) -> dict[str, Any]:
    """What the audit entry says: identifiers and codes, never the text or the phone."""
    return {
        "number": complaint.number,
        "status": complaint.status,
        "desk": str(complaint.desk_id),
        "level": complaint.level,
        **extra,
    }


# --------------------------------------------------------------------------- desks


DESK_NAMES = {
    rules.DISTRICT: "{area} district grievance desk",
    rules.DIVISION: "{area} divisional grievance cell",
    rules.PROVINCE: "Provincial grievance redressal cell",
}


def desk_for(*, level: int, district: District | None) -> Desk:
    """The desk of ``level`` whose area covers ``district`` (made on first use, so a
    new district or division is never left without a desk)."""
    area = rules.desk_area(
        level,
        district=district.name if district else None,
        division=district.division if district else None,
    )
    if area == rules.PROVINCE_AREA:
        level = rules.PROVINCE
    desk = Desk.objects.filter(level=level, area=area).first()
    if desk is not None:
        return desk
    try:
        with transaction.atomic():
            return Desk.objects.create(
                level=level, area=area, name=DESK_NAMES[level].format(area=area)
            )
    except IntegrityError:  # made meanwhile by another request
        return Desk.objects.get(level=level, area=area)


def desks_setup(*, actor: User | None) -> int:
    """Every district desk, every divisional cell and the provincial cell; returns how
    many were made (none on a second run). Audited."""
    made = 0
    with transaction.atomic():
        before = Desk.objects.count()
        for district in District.objects.order_by("name"):
            for level in (rules.DISTRICT, rules.DIVISION):
                desk_for(level=level, district=district)
        desk_for(level=rules.PROVINCE, district=None)
        made = Desk.objects.count() - before
        if made:
            audit_record(
                actor=actor,
                action="grievances.desks_set_up",
                subject=("grievances.desk", "all"),
                changes={"made": made},
            )
    return made


def desk_officer_add(*, desk: Desk, officer: User, actor: User | None) -> Desk:
    """Put a grievance officer on a desk: she sees and works its complaints. Audited."""
    if actor is not None and not actor.has_perm("grievances.manage_desks"):
        raise Forbidden(_("You may not do this."), code="permission_denied")
    if officer.is_citizen or not officer.has_perm("grievances.handle_complaints"):
        raise ApplicationError(
            _("Only a grievance officer can work at a grievance desk."), code="not_an_officer"
        )
    with transaction.atomic():
        desk.officers.add(officer)
        audit_record(
            actor=actor,
            action="grievances.desk_officer_added",
            subject=desk,
            changes={"officer": officer.username},
        )
    return desk


# --------------------------------------------------------------------------- lodging


def _check_text(text: str, *, voice: bytes | None) -> str:
    cleaned = (text or "").strip()
    if not cleaned and not voice:
        raise _invalid(
            "text_required",
            _("Write what happened, or record a voice note."),
            "text",
        )
    if cleaned and len(cleaned) < rules.MIN_TEXT and not voice:
        raise _invalid(
            "text_too_short",
            _("Write a little more: what happened, when and where."),
            "text",
        )
    if len(cleaned) > rules.MAX_TEXT:
        raise _invalid(
            "text_too_long",
            _("Write at most %(n)d characters.") % {"n": rules.MAX_TEXT},
            "text",
        )
    return cleaned


def _check_phone(phone: str) -> str:
    try:
        return clean_mobile(phone)
    except ValidationError as error:
        raise _invalid("invalid_phone", str(error.messages[0]), "phone") from error


def voice_refusal(code: str) -> ApplicationError:
    max_mb = settings.RAHDARI_GRIEVANCE_VOICE_MAX_BYTES // (1024 * 1024)
    messages = {
        "empty": _("The voice note is empty. Record it again."),
        "too_large": _("The voice note is too long. Keep it under %(mb)d MB (a few minutes).")
        % {"mb": max_mb},
        "unsupported_audio": _(
            "This file is not a voice recording. Record with your phone, or choose an audio "
            "file (OGG, WebM, MP3, M4A or WAV)."
        ),
    }
    message = messages.get(code, messages["unsupported_audio"])
    return _invalid(code, message, "voice", status=413 if code == "too_large" else 422)


def _write_voice(complaint_id: Any, data: bytes) -> tuple[str, str, str]:
    """Seal and write the voice note before the transaction; (name, key text, type)."""
    try:
        media_type = audio.check(data, max_bytes=settings.RAHDARI_GRIEVANCE_VOICE_MAX_BYTES)
    except audio.Refused as refused:
        raise voice_refusal(refused.code) from None
    key, key_text = storage.new_key()
    name = f"{VOICE_DIR}/{storage.new_token()}"
    sealed = storage.seal(key, _voice_aad(complaint_id), data)
    written = storage.document_storage().save(name, ContentFile(sealed))
    return written, key_text, media_type


def _voice_aad(complaint_id: Any) -> str:
    return f"grievances.complaint.{complaint_id}"


def _link_appeal(
    *, person: Person, program: Program | None, grounds: str, actor: User | None, assisted: bool
) -> Appeal:
    if program is None:
        raise _invalid("program_required", _("Choose the program you were left out of."), "program")
    household = registry.household_of_person(person)
    if household is None:
        raise _invalid(
            "no_household",
            _(
                "Your household is not in the social registry yet, so there is no decision to "
                "appeal. Ask for a survey at your district office."
            ),
            "program",
        )
    try:
        return programs.appeal_lodge(
            household=household, program=program, grounds=grounds, actor=actor, assisted=assisted
        )
    except Conflict as error:
        if error.code != "appeal_open":
            raise
        # Already appealed (at the program desk or by an earlier complaint): link it.
        return Appeal.objects.get(
            program=program,
            household=household,
            status__in=[Appeal.Status.OPEN, Appeal.Status.UNDER_REVIEW],
        )


def complaint_lodge(
    *,
    category: str,
    text: str,
    phone: str,
    language: str,
    channel: str,
    actor: User | None,
    district: District | None = None,
    person: Person | None = None,
    complainant_name: str = "",
    voice: bytes | None = None,
    attachments: Sequence[bytes] = (),
    payment: Payment | None = None,
    cash_out: CashOut | None = None,
    program: Program | None = None,
    amount_received: int | None = None,
    application: Application | None = None,
) -> Complaint:
    """Lodge a complaint and route it to its first desk with its deadline.

    Side effects: an audit entry ``grievances.complaint_lodged`` and an SMS with the
    tracking number; an exclusion lodges (or links) the household's appeal, a deduction
    disputes the cash-out (fraud review); attachments become the person's documents; a
    voice note is sealed into the documents storage. Refused input writes nothing.
    """
    if category not in Category.values:
        raise _invalid("invalid_category", _("Choose what the complaint is about."), "category")
    if channel not in Channel.values:
        raise _invalid("invalid_channel", _("Unknown channel."), "channel")
    cleaned = _check_text(text, voice=voice)
    number_phone = _check_phone(phone)
    if category in rules.PERSON_CATEGORIES and person is None:
        raise _invalid(
            "person_required",
            _(
                "An appeal needs your Rahdari record: log in with your CNIC, or go to a "
                "Rahdari office."
            ),
            "category",
        )
    if attachments and person is None:
        raise _invalid(
            "attachments_need_person",
            _("Papers can be attached after you log in, or at a Rahdari office."),
            "attachments",
        )
    if payment is not None and (person is None or payment.person_id != person.pk):
        raise NotFound(_("There is no such payment."), code="no_payment")
    if application is not None and (person is None or application.person_id != person.pk):
        raise NotFound(_("There is no such application."), code="no_application")
    if cash_out is not None:
        if person is None or cash_out.person_id != person.pk:
            raise NotFound(_("There is no such cash-out."), code="no_cash_out")
        if amount_received is None and cash_out.status != CashOut.Status.DISPUTED:
            raise _invalid(
                "amount_required",
                _("Enter the amount you actually received."),
                "amount_received",
            )
    if district is None and person is not None:
        district = person.district
    phone_index = blind_index("phone", number_phone)
    rate_limit(
        "grievance-lodge",
        phone_index,
        limit=settings.RAHDARI_GRIEVANCE_LODGE_LIMIT,
        window_seconds=3600,
    )

    complaint_id = Complaint._meta.get_field("id").get_default()
    voice_fields = {}
    written = ""
    if voice:
        written, key_text, media_type = _write_voice(complaint_id, voice)
        voice_fields = {
            "voice_name": written,
            "voice_key": key_text,
            "voice_media_type": media_type,
            "voice_size": len(voice),
        }
    assisted = actor is not None and not actor.is_citizen
    try:
        with transaction.atomic():
            now = timezone.now()
            level = rules.start_level(category, has_district=district is not None)
            desk = desk_for(level=level, district=district)
            appeal = None
            if category == rules.WRONGLY_EXCLUDED and person is not None:
                appeal = _link_appeal(
                    person=person,
                    program=program,
                    grounds=cleaned or _("(voice note)"),
                    actor=actor,
                    assisted=assisted,
                )
            if cash_out is not None and amount_received is not None:
                cash_out = payments.cash_out_dispute(
                    cash_out=cash_out, amount_received=amount_received, via="grievance", actor=actor
                )
            complaint = _create_numbered(
                id=complaint_id,
                category=category,
                channel=channel,
                district=district,
                desk=desk,
                level=desk.level,
                person=person,
                lodged_by=actor if getattr(actor, "is_authenticated", False) else None,
                complainant_name=complainant_name.strip()[:120],
                phone=number_phone,
                phone_index=phone_index,
                language=_language(language),
                text=cleaned,
                due_at=rules.first_deadline(category, now),
                appeal=appeal,
                payment=payment,
                cash_out=cash_out,
                application=application,
                **voice_fields,
            )
            for data in attachments:
                version = _attach(person=person, data=data, actor=actor, assisted=assisted)
                ComplaintAttachment.objects.create(complaint=complaint, version=version)
            _event(complaint, ComplaintEvent.Kind.LODGED, actor, to_desk=desk)
            audit_record(
                actor=actor,
                action="grievances.complaint_lodged",
                subject=complaint,
                changes=_changes(
                    complaint,
                    category=category,
                    channel=channel,
                    district=district.name if district else None,
                    person=str(person.pk) if person else None,
                    voice=bool(voice),
                    attachments=len(attachments),
                    appeal=str(appeal.pk) if appeal else None,
                    payment=payment.key if payment else None,
                    cash_out=str(cash_out.pk) if cash_out else None,
                    application=application.number if application else None,
                ),
            )
            _tell(complaint, "grievances.lodged", actor, date=_date(complaint.due_at))
    except BaseException:
        if written:
            storage.discard(written)
        raise
    return complaint


register_templates(
    {
        "grievances.deduction_text": gettext_noop(
            "At the cash-out I received Rs {received} instead of Rs {due}."
        ),
    }
)


def complaint_from_deduction(cash_out: CashOut, actor: User | None) -> Complaint | None:
    """Her deduction report at the cash-out check (SMS reply or her web page) becomes a
    complaint to the district desk in the same step, linked to the cash-out (already
    disputed by payments) — once per cash-out. Registered with payments at start-up."""
    person = cash_out.person
    if not person.mobile or Complaint.objects.filter(cash_out=cash_out).exists():
        return None
    language = (
        str(getattr(person.account, "preferred_language", "") or "ur")
        if person.account_id
        else "ur"
    )
    text = render(
        "grievances.deduction_text",
        language,
        received=f"{cash_out.amount_confirmed or 0:,}",
        due=f"{cash_out.amount_due:,}",
    )
    return complaint_lodge(
        category=rules.AGENT_DEDUCTION,
        text=text,
        phone=str(person.mobile),
        language=language,
        channel=Channel.SMS if cash_out.confirmed_via == "sms" else Channel.WEB,
        actor=actor,
        person=person,
        cash_out=cash_out,
    )


def _attach(*, person: Person | None, data: bytes, actor: User | None, assisted: bool) -> Any:
    assert person is not None  # checked before the transaction
    try:
        return documents.document_upload(
            person=person, kind="other", data=data, actor=actor, assisted=assisted
        )
    except ApplicationError as error:
        message = str(error.message)
        raise ApplicationError(
            message, code=error.code, fields={"attachments": [message]}, status=error.status
        ) from None


def _create_numbered(**fields: Any) -> Complaint:
    """Insert with a fresh tracking number; a number already taken (one in 10^8 per
    complaint) is drawn again inside a savepoint, so the outer transaction survives."""
    for _attempt in range(NUMBER_ATTEMPTS):
        number = tracking.new_tracking_number("complaint")
        if Complaint.objects.filter(number=number).exists():
            continue
        try:
            with transaction.atomic():
                return Complaint.objects.create(number=number, **fields)
        except IntegrityError:
            if not Complaint.objects.filter(number=number).exists():
                raise  # another constraint: not a collision
    raise Conflict(_("Could not give the complaint a number. Try again."), code="no_number")


# --------------------------------------------------------------------------- handling


def complaint_take(*, complaint: Complaint, actor: User) -> Complaint:
    """An officer of the desk takes the complaint: she handles it. SMS, audited."""
    with transaction.atomic():
        live = _locked(complaint)
        _require_desk_officer(live, actor)
        if live.status == rules.IN_PROGRESS and live.assigned_to_id == actor.pk:
            return live
        _move(live, rules.IN_PROGRESS)
        live.assigned_to = actor
        live.save(update_fields=["status", "assigned_to", "updated_at"])
        _event(live, ComplaintEvent.Kind.TAKEN, actor)
        audit_record(
            actor=actor, action="grievances.complaint_taken", subject=live, changes=_changes(live)
        )
        _tell(live, "grievances.taken", actor)
    return live


def complaint_note_add(*, complaint: Complaint, actor: User, note: str) -> ComplaintEvent:
    """An internal note (encrypted; never shown to the complainant). Audited."""
    text = (note or "").strip()
    if not text:
        raise _invalid("note_required", _("Write the note."), "note")
    if len(text) > rules.MAX_TEXT:
        raise _invalid(
            "note_too_long", _("Write at most %(n)d characters.") % {"n": rules.MAX_TEXT}, "note"
        )
    with transaction.atomic():
        live = _locked(complaint)
        _require_desk_officer(live, actor)
        event = _event(live, ComplaintEvent.Kind.NOTE, actor, note=text)
        audit_record(
            actor=actor,
            action="grievances.complaint_note_added",
            subject=live,
            changes=_changes(live, event=event.pk),
        )
    return event


def complaint_reassign(
    *, complaint: Complaint, actor: User, desk: Desk, reason: str, assignee: User | None = None
) -> Complaint:
    """Move the complaint to another desk (or another officer of the same desk). The
    deadline does not restart: moving a complaint around must not buy time. Audited."""
    why = (reason or "").strip()
    if not why:
        raise _invalid("reason_required", _("Say why it moves."), "reason")
    with transaction.atomic():
        live = _locked(complaint)
        _require_desk_officer(live, actor)
        if live.status not in rules.OPEN_STATUSES:
            raise Conflict(_("Only an open complaint can move."), code="not_open")
        if assignee is not None and not desk.officers.filter(pk=assignee.pk).exists():
            raise _invalid("not_on_desk", _("This officer does not work at that desk."), "assignee")
        if desk.pk == live.desk_id and (assignee is None or assignee.pk == live.assigned_to_id):
            raise _invalid("same_desk", _("Choose another desk or officer."), "desk")
        source = live.desk
        live.desk, live.level, live.assigned_to = desk, desk.level, assignee
        if assignee is None and live.status == rules.IN_PROGRESS:
            live.status = rules.NEW  # waiting for an officer of the new desk
        live.save(update_fields=["desk", "level", "assigned_to", "status", "updated_at"])
        _event(
            live, ComplaintEvent.Kind.REASSIGNED, actor, note=why, from_desk=source, to_desk=desk
        )
        audit_record(
            actor=actor,
            action="grievances.complaint_reassigned",
            subject=live,
            changes=_changes(
                live,
                from_desk=str(source.pk),
                assignee=assignee.username if assignee else None,
            ),
        )
        if desk.pk != source.pk:
            _tell(live, "grievances.moved", actor, desk=desk.name, date=_date(live.due_at))
    return live


def complaint_escalate(
    *, complaint: Complaint, actor: User | None, reason: str = "", now: datetime | None = None
) -> Complaint:
    """One level up, to the desk above in the complaint's area, with that level's own
    deadline. The worker does this when the deadline passed (actor None); an officer of
    the desk may do it earlier. SMS, audited."""
    moment = now or timezone.now()
    with transaction.atomic():
        live = _locked(complaint)
        if actor is not None:
            _require_desk_officer(live, actor)
        elif not rules.is_overdue(live.status, live.due_at, moment):
            return live  # answered or moved meanwhile
        if live.status not in rules.OPEN_STATUSES:
            raise Conflict(_("Only an open complaint can be escalated."), code="not_open")
        level = rules.next_level(live.level)
        if level is None:
            raise Conflict(_("This complaint is already at the provincial cell."), code="top_level")
        source = live.desk
        target = desk_for(level=level, district=live.district)
        live.desk, live.level, live.assigned_to = target, target.level, None
        if live.status == rules.IN_PROGRESS:
            live.status = rules.NEW
        live.escalated_at = moment
        live.due_at = rules.escalated_deadline(target.level, moment)
        live.save(
            update_fields=[
                "desk",
                "level",
                "assigned_to",
                "status",
                "escalated_at",
                "due_at",
                "updated_at",
            ]
        )
        note = (reason or "").strip() or _("The deadline passed without an answer.")
        _event(
            live, ComplaintEvent.Kind.ESCALATED, actor, note=note, from_desk=source, to_desk=target
        )
        audit_record(
            actor=actor,
            action="grievances.complaint_escalated",
            subject=live,
            changes=_changes(live, from_desk=str(source.pk), automatic=actor is None),
        )
        _tell(live, "grievances.escalated", actor, desk=target.name, date=_date(live.due_at))
    return live


def complaints_escalate_overdue(*, now: datetime | None = None, limit: int = 500) -> int:
    """The worker's round: every open complaint past its deadline goes one level up
    (each in its own transaction, so one failure does not hold back the others)."""
    moment = now or timezone.now()
    overdue = list(
        Complaint.objects.filter(
            status__in=rules.OPEN_STATUSES, due_at__lt=moment, level__lt=rules.PROVINCE
        )
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    escalated = 0
    for pk in overdue:
        complaint = Complaint.objects.get(pk=pk)
        before = complaint.level
        if complaint_escalate(complaint=complaint, actor=None, now=moment).level != before:
            escalated += 1
    if escalated:
        logger.info("grievances: %d overdue complaints escalated", escalated)
    return escalated


def complaint_resolve(
    *, complaint: Complaint, actor: User, outcome: str, resolution: str
) -> Complaint:
    """The desk answers: an outcome code and what it tells the complainant (by SMS and
    on her status page). She may rate it, and reopen it within the window. Audited."""
    if outcome not in Outcome.values:
        raise _invalid("invalid_outcome", _("Choose the outcome."), "outcome")
    answer = (resolution or "").strip()
    if not answer:
        raise _invalid(
            "resolution_required", _("Write what was done, for the complainant."), "resolution"
        )
    if len(answer) > 500:
        raise _invalid(
            "resolution_too_long", _("Write at most %(n)d characters.") % {"n": 500}, "resolution"
        )
    with transaction.atomic():
        live = _locked(complaint)
        _require_desk_officer(live, actor)
        _move(live, rules.RESOLVED)
        live.outcome, live.resolution = outcome, answer
        live.resolved_at = timezone.now()
        live.assigned_to = live.assigned_to or actor
        live.save(
            update_fields=[
                "status",
                "outcome",
                "resolution",
                "resolved_at",
                "assigned_to",
                "updated_at",
            ]
        )
        _event(live, ComplaintEvent.Kind.RESOLVED, actor, note=answer)
        audit_record(
            actor=actor,
            action="grievances.complaint_resolved",
            subject=live,
            changes=_changes(live, outcome=outcome),
        )
        _tell(
            live,
            "grievances.resolved",
            actor,
            outcome=_outcome_in(live),
            resolution=answer,
            days=rules.REOPEN_DAYS,
        )
    return live


def _outcome_in(complaint: Complaint) -> str:
    from django.utils import translation

    with translation.override(complaint.language):
        return str(Outcome(complaint.outcome).label)


def complaint_rate(*, complaint: Complaint, rating: int, actor: User | None) -> Complaint:
    """The complainant rates the answer, 1 (bad) to 5 (good), once per answer. Audited."""
    if not isinstance(rating, int) or not rules.RATING_MIN <= rating <= rules.RATING_MAX:
        raise _invalid(
            "invalid_rating",
            _("Choose from %(low)d to %(high)d.") % {"low": rules.RATING_MIN, "high": 5},
            "rating",
        )
    with transaction.atomic():
        live = _locked(complaint)
        if live.status not in (rules.RESOLVED, rules.CLOSED) or live.resolved_at is None:
            raise Conflict(_("There is no answer to rate yet."), code="not_resolved")
        if live.rating is not None:
            raise Conflict(_("You already rated this answer."), code="already_rated")
        live.rating, live.rated_at = rating, timezone.now()
        live.save(update_fields=["rating", "rated_at", "updated_at"])
        _event(live, ComplaintEvent.Kind.RATED, actor, note=str(rating))
        audit_record(
            actor=actor,
            action="grievances.complaint_rated",
            subject=live,
            changes=_changes(live, rating=rating),
        )
    return live


MAX_REOPENS = 2


def complaint_reopen(*, complaint: Complaint, reason: str, actor: User | None) -> Complaint:
    """The complainant is not satisfied: within the window the complaint goes back to
    the desk that answered it, with a fresh deadline. SMS, audited."""
    why = (reason or "").strip()
    if not why:
        raise _invalid("reason_required", _("Say what is still wrong."), "reason")
    if len(why) > rules.MAX_TEXT:
        raise _invalid(
            "reason_too_long",
            _("Write at most %(n)d characters.") % {"n": rules.MAX_TEXT},
            "reason",
        )
    with transaction.atomic():
        live = _locked(complaint)
        now = timezone.now()
        if not rules.may_reopen(live.status, live.resolved_at, now):
            raise Conflict(
                _("This complaint can be reopened only within %(days)d days of its answer.")
                % {"days": rules.REOPEN_DAYS},
                code="not_reopenable",
            )
        if live.reopened_count >= MAX_REOPENS:
            raise Conflict(
                _("This complaint was reopened twice already. Lodge a new complaint."),
                code="reopened_too_often",
            )
        _move(live, rules.REOPENED)
        live.reopened_count += 1
        live.outcome, live.resolution, live.resolved_at = "", "", None
        live.rating, live.rated_at = None, None
        live.due_at = rules.first_deadline(live.category, now)
        live.save()
        _event(live, ComplaintEvent.Kind.REOPENED, actor, note=why)
        audit_record(
            actor=actor,
            action="grievances.complaint_reopened",
            subject=live,
            changes=_changes(live, reopened=live.reopened_count),
        )
        _tell(live, "grievances.reopened", actor, date=_date(live.due_at))
    return live


def complaints_close_settled(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Answers nobody reopened within the window are final: close them (worker)."""
    moment = now or timezone.now()
    window_ended = moment - timedelta(days=rules.REOPEN_DAYS)
    candidates = Complaint.objects.filter(status=rules.RESOLVED, resolved_at__lt=window_ended)
    settled = [
        c
        for c in candidates.order_by("resolved_at")[:limit]
        if rules.settled(c.status, c.resolved_at, moment)
    ]
    for complaint in settled:
        with transaction.atomic():
            live = _locked(complaint)
            if not rules.settled(live.status, live.resolved_at, moment):
                continue
            _move(live, rules.CLOSED)
            live.closed_at = moment
            live.save(update_fields=["status", "closed_at", "updated_at"])
            _event(live, ComplaintEvent.Kind.CLOSED, None)
            audit_record(
                actor=None,
                action="grievances.complaint_closed",
                subject=live,
                changes=_changes(live),
            )
            _tell(live, "grievances.closed", None)
    return len(settled)


# --------------------------------------------------------------------------- reads


def complaint_read(*, complaint: Complaint, actor: User, fields: list[str]) -> None:
    """A staff member opened a complaint: the read is recorded — on the person, who sees
    it under "Who looked at my data", or on the complaint when nobody is enrolled (a
    phone-only complainant) or the complainant is a protected whistle-blower."""
    if complaint.person_id and complaint.person and complaint.person.account_id == actor.pk:
        return
    subject: Any = complaint
    if complaint.person_id and not complaint.identity_protected:
        subject = complaint.person
    with transaction.atomic():
        if subject is complaint:
            audit_record(
                actor=actor,
                action="grievances.complaint.viewed",
                subject=complaint,
                changes={"purpose": READ_PURPOSE, "fields": fields},
            )
        else:
            audit_record_read(actor=actor, subject=subject, purpose=READ_PURPOSE, fields=fields)


def complaint_voice_open(*, complaint: Complaint, actor: User) -> bytes:
    """The voice note, decrypted, for the desk's player. The listen is recorded."""
    if not complaint.voice_name:
        raise NotFound(_("This complaint has no voice note."), code="no_voice")
    complaint_read(complaint=complaint, actor=actor, fields=["voice_note"])
    with storage.document_storage().open(complaint.voice_name, "rb") as handle:
        blob = bytes(handle.read())
    key = storage.key_from_text(str(complaint.voice_key))
    return storage.unseal(key, _voice_aad(complaint.pk), blob)


# --------------------------------------------------------------------------- SMS


SMS_KEYWORDS = ("shikayat", "shikayet", "complaint", "شکایت", "شکايت")


def complaint_sms_handler(phone: str, text: str) -> Reply | None:
    """The inbound-SMS handler: "SHIKAYAT <what happened>" lodges a complaint ("other")
    from the sender's number. The district is the sender's if she is enrolled with this
    number, else the provincial cell triages it. Anything else is not for us (None)."""
    words = (text or "").strip().split(maxsplit=1)
    if not words or words[0].casefold() not in SMS_KEYWORDS:
        return None
    person = Person.objects.filter(mobile_index=blind_index("phone", phone)).first()
    language = "ps" if any(ch in "ټډړږښګڼېۍځڅ" for ch in text) else "ur"
    body = words[1] if len(words) > 1 else ""
    try:
        complaint_lodge(
            category=rules.OTHER,
            text=body,
            phone=phone,
            language=language,
            channel=Channel.SMS,
            actor=None,
            district=person.district if person else None,
        )
    except ApplicationError as error:
        if error.code in ("text_required", "text_too_short", "text_too_long"):
            return Reply(template="grievances.sms_help", language=language)
        raise
    return Reply()  # the "received, number …" SMS is already in the outbox
