"""Applications: start (prefilled), send with papers, and every move of the workflow.

Every move goes through :func:`_move`: it checks the transition table and who may make
it (``rules.py``), writes an ``ApplicationEvent`` with the actor and the reason, sets
the step's service-level deadline, writes an audit entry and queues an SMS to the
applicant in her language — all in one transaction, so a move is either whole or not
made at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override

from rahdari.accounts.models import User
from rahdari.applications import rules
from rahdari.applications.models import (
    Application,
    ApplicationDocument,
    ApplicationEvent,
    ApplicationKind,
    ApplicationStatus,
)
from rahdari.applications.rules import Actor, Status
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.inbound import Reply, guess_language
from rahdari.core.keyring import blind_index
from rahdari.core.notifications import notification_send, register_templates
from rahdari.core.tracking import (
    format_tracking_number,
    is_valid_tracking_number,
    new_tracking_number,
    normalise_tracking_number,
)
from rahdari.documents import selectors as documents
from rahdari.documents.models import DocumentKind
from rahdari.identity import services as identity
from rahdari.identity.models import Person, PersonStatus
from rahdari.programs import services as programs
from rahdari.programs.models import Program
from rahdari.registry import selectors as registry

MAX_TEXT = 2000


class Invalid(ApplicationError):
    """Something the applicant or officer has to fill in or fix (422, next to the field)."""

    status = 422


register_templates(
    {
        "applications.submitted": gettext_noop(
            "Rahdari: we received your application {number} ({what}). An officer will take "
            "it up by {date}. Keep this number."
        ),
        "applications.under_review": gettext_noop(
            "Rahdari: an officer is now checking your application {number}."
        ),
        "applications.info_requested": gettext_noop(
            "Rahdari: your application {number} needs more from you: {reason} Answer by "
            "{date} on the web or at a Rahdari office."
        ),
        "applications.approved": gettext_noop(
            "Rahdari: your application {number} ({what}) is approved."
        ),
        "applications.rejected": gettext_noop(
            "Rahdari: your application {number} was rejected: {reason} You may appeal by "
            "{date} on the web or at a Rahdari office."
        ),
        "applications.appealed": gettext_noop(
            "Rahdari: we received your appeal about application {number}. A second officer "
            "will decide by {date}."
        ),
        "applications.withdrawn": gettext_noop("Rahdari: your application {number} is withdrawn."),
        "applications.status_reply": gettext_noop(
            "Rahdari: application {number} ({what}): {status}."
        ),
        "applications.status_not_found": gettext_noop(
            "Rahdari: no application {number} was sent from this phone. Check the number; "
            "help at your district office."
        ),
    }
)

# --------------------------------------------------------------------------- who acts


def _reviews(user: User, application: Application) -> bool:
    permission = (
        "applications.review_corrections"
        if application.kind == ApplicationKind.CORRECTION
        else "applications.review_applications"
    )
    return bool(
        user.has_perm(permission)
        and user.has_perm("accounts.act_in_district", application.district)
    )


def may_review(user: User, application: Application) -> bool:
    """An officer who reviews applications of this kind in its district."""
    return _reviews(user, application)


def _applicant_role(application: Application, actor: User) -> bool:
    """True if the actor acts for the applicant: herself (False: not assisted) or an
    officer at the office (True: assisted); anyone else is refused."""
    if actor.is_citizen and application.person.account_id == actor.pk:
        return False
    if actor.has_perm("applications.apply_on_behalf") and actor.has_perm(
        "accounts.act_in_district", application.person.district
    ):
        return True
    raise Forbidden(_("You may not act on this application."))


def _check_actor(application: Application, target: Status, actor: User) -> bool:
    """Raise unless ``actor`` may move the application to ``target``; True if the actor
    is an officer (a review move, or an assisted move of the applicant)."""
    current = Status(application.status)
    if not rules.can_transition(current, target):
        raise Conflict(
            _("This application is “%(status)s”: that step is not possible now.")
            % {"status": application.get_status_display()},
            code="invalid_transition",
        )
    if rules.moved_by(current, target) == Actor.OFFICER:
        if not _reviews(actor, application):
            raise Forbidden(_("You do not review applications of this kind in this district."))
        return True
    return _applicant_role(application, actor)


# --------------------------------------------------------------------------- messages


def language_of(person: Person) -> str:
    account = person.account if person.account_id else None
    return str(getattr(account, "preferred_language", "") or "ur")


def what_of(application: Application, language: str) -> str:
    """What the application is for, in a language: the program's name or "data correction"."""
    if application.program is None:
        with override(language):
            return _("correction of your data")
    return programs.program_name(application.program, language)


def _when(moment: datetime | None, language: str) -> str:
    if moment is None:
        return ""
    with override(language):
        return date_format(timezone.localtime(moment), "DATE_FORMAT")


def _tell(application: Application, status: Status, reason: str) -> None:
    """The SMS for the move to ``status``, in the applicant's language (outbox)."""
    person = application.person
    if not person.mobile:
        return
    language = language_of(person)
    date = application.due_at
    if status == Status.REJECTED:
        date = rules.appeal_open_until(application.status_changed_at)
    notification_send(
        recipient=person.mobile,
        template=f"applications.{status.value}",
        language=language,
        params={
            "number": format_tracking_number(application.number),
            "what": what_of(application, language),
            "date": _when(date, language),
            "reason": reason.strip().rstrip(".") + "." if reason.strip() else "",
        },
        urgent=False,
    )


# --------------------------------------------------------------------------- the moves


def _clean_reason(reason: str, *, required: bool, field_name: str = "reason") -> str:
    text = (reason or "").strip()
    if required and not text:
        raise Invalid(
            _("Say why: the applicant reads this."),
            code="reason_required",
            fields={field_name: [_("Required.")]},
        )
    if len(text) > MAX_TEXT:
        raise Invalid(
            _("At most %(n)s characters.") % {"n": MAX_TEXT},
            code="too_long",
            fields={field_name: [_("At most %(n)s characters.") % {"n": MAX_TEXT}]},
        )
    return text


def _locked(application: Application) -> Application:
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("person__account", "person__district", "program", "district", "household")
        .get(pk=application.pk)
    )


def _move(
    live: Application,
    target: Status,
    *,
    actor: User,
    reason: str,
    by_officer: bool,
    extra_fields: Iterable[str] = (),
) -> Application:
    """Record a checked move of a locked application (inside the caller's transaction)."""
    now = timezone.now()
    previous = live.status
    live.status = target.value
    live.status_changed_at = now
    live.due_at = rules.due_at(target, now)
    live.save(update_fields=["status", "status_changed_at", "due_at", "updated_at", *extra_fields])
    ApplicationEvent.objects.create(
        application=live,
        at=now,
        from_status=previous,
        to_status=target.value,
        actor=actor,
        by_officer=by_officer,
        reason=reason,
    )
    audit_record(
        actor=actor,
        action=f"applications.{target.value}",
        subject=live,
        changes={
            "number": live.number,
            "from": previous,
            "by_officer": by_officer,
            "assisted": by_officer and rules.moved_by(previous, target) == Actor.APPLICANT,
        },
    )
    _tell(live, target, reason)
    return live


def application_start(
    *, person: Person, kind: str, program: Program | None, actor: User
) -> Application:
    """A draft application for ``person`` — by herself, or by an officer at the office
    (recorded as assisted). A program application is for her household in the registry.
    Refused: a closed program, a person not active, no household, one already open."""
    if kind not in ApplicationKind.values:
        raise Invalid(_("Choose what you apply for."), code="invalid_kind")
    if person.status != PersonStatus.ACTIVE:
        raise Conflict(
            _("Only a person with an active Rahdari record can apply."), code="person_not_active"
        )
    household = None
    if kind == ApplicationKind.PROGRAM:
        if program is None:
            raise Invalid(
                _("Choose a program."),
                code="program_required",
                fields={"program": [_("Required.")]},
            )
        if not program.open or not program.versions.filter(status="approved").exists():
            raise Conflict(_("This program is closed to new applications."), code="program_closed")
        household = registry.household_of_person(person)
        if household is None:
            raise Conflict(
                _(
                    "Your household is not in the social registry yet. An enrolment officer "
                    "surveys it first: visit your district office or call the helpline."
                ),
                code="no_household",
            )
    else:
        program = None
    draft = Application(
        kind=kind,
        program=program,
        person=person,
        household=household,
        district=person.district,
        status_changed_at=timezone.now(),
        created_by=actor,
    )
    assisted = _applicant_role(draft, actor)
    draft.assisted = assisted
    for _attempt in range(5):
        draft.number = new_tracking_number("application")
        try:
            with transaction.atomic():
                draft.save(force_insert=True)
                ApplicationEvent.objects.create(
                    application=draft,
                    at=draft.status_changed_at,
                    to_status=Status.DRAFT.value,
                    actor=actor,
                    by_officer=assisted,
                )
                audit_record(
                    actor=actor,
                    action="applications.started",
                    subject=draft,
                    changes={
                        "number": draft.number,
                        "kind": kind,
                        "program": program.code if program else None,
                        "assisted": assisted,
                    },
                )
            return draft
        except IntegrityError as error:
            existing = _open_application(
                kind=kind, program=program, household=household, person=person
            )
            if existing is not None:
                raise Conflict(
                    _("An application %(number)s is already open: continue that one.")
                    % {"number": format_tracking_number(existing.number)},
                    code="already_open",
                    fields={"number": [existing.number]},
                ) from error
            # Otherwise the number was taken (one in a hundred million): draw again.
    raise Conflict(_("Please try again."), code="retry")


def _open_application(
    *, kind: str, program: Program | None, household: Any, person: Person
) -> Application | None:
    open_ = Application.objects.filter(status__in=[s.value for s in rules.OPEN], kind=kind)
    if kind == ApplicationKind.PROGRAM:
        return open_.filter(program=program, household=household).first()
    return open_.filter(person=person).first()


def _clean_correction(correction: dict[str, str]) -> dict[str, str]:
    cleaned = {
        key: str(value).strip()
        for key, value in correction.items()
        if key in rules.CORRECTABLE and str(value or "").strip()
    }
    problems = {
        key: [_("At most 200 characters.")] for key, value in cleaned.items() if len(value) > 200
    }
    if "date_of_birth" in cleaned:
        try:
            datetime.strptime(cleaned["date_of_birth"], "%Y-%m-%d")  # noqa: DTZ007 — a date
        except ValueError:
            problems["date_of_birth"] = [_("Enter a valid date.")]
    if problems:
        raise Invalid(_("Some fields are not valid."), code="invalid", fields=problems)
    return cleaned


def application_save(
    *,
    application: Application,
    actor: User,
    statement: str,
    correction: dict[str, str] | None = None,
) -> Application:
    """Keep what the applicant wrote on a draft (or while answering a request)."""
    text = _clean_reason(statement, required=False, field_name="statement")
    with transaction.atomic():
        live = _locked(application)
        if live.status not in (Status.DRAFT, Status.INFO_REQUESTED):
            raise Conflict(_("This application can no longer be changed."), code="not_editable")
        _applicant_role(live, actor)
        live.statement = text
        fields = ["statement", "updated_at"]
        if live.kind == ApplicationKind.CORRECTION and correction is not None:
            live.correction = json.dumps(_clean_correction(correction), ensure_ascii=False)
            fields.append("correction")
        live.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="applications.saved",
            subject=live,
            changes={"number": live.number},
        )
    return live


def corrections_of(application: Application) -> dict[str, str]:
    return dict(json.loads(application.correction)) if application.correction else {}


def required_kinds(application: Application) -> list[str]:
    return rules.required_documents(
        program=application.program.code if application.program is not None else None,
        corrected=sorted(corrections_of(application)),
    )


def _link_documents(live: Application) -> None:
    """Link the latest version of every paper the application needs (upload once);
    refuse, naming each missing paper, when one is not in her documents."""
    kinds = required_kinds(live)
    latest = documents.latest_versions(person=live.person, kinds=kinds)
    missing = [k for k in kinds if k not in latest]
    if missing:
        labels = [str(DocumentKind(k).label) for k in missing]
        raise Invalid(
            _("These papers are missing: %(papers)s.") % {"papers": ", ".join(labels)},
            code="documents_missing",
            fields={"documents": labels},
        )
    for kind, version in latest.items():
        ApplicationDocument.objects.update_or_create(
            application=live, kind=kind, defaults={"version": version}
        )


@dataclass(frozen=True)
class RulesCheck:
    eligible: bool
    score: float
    cutoff: float
    benefit: int
    version: int


def rules_check_of(application: Application) -> RulesCheck | None:
    if not application.rules_check:
        return None
    return RulesCheck(**json.loads(application.rules_check))


def application_submit(*, application: Application, actor: User) -> Application:
    """Send the application: its papers are linked, a program application is checked
    against the approved rules (for the officer), and it waits for an officer."""
    with transaction.atomic():
        live = _locked(application)
        by_officer = _check_actor(live, Status.SUBMITTED, actor)
        fields = ["submitted_at"]
        if live.kind == ApplicationKind.PROGRAM:
            assert live.program is not None and live.household is not None
            if not live.program.open:
                raise Conflict(
                    _("This program is closed to new applications."), code="program_closed"
                )
            check = programs.household_check(
                program=live.program, household=live.household, person_id=live.person_id
            )
            live.rules_eligible = None if check is None else check.eligible
            live.rules_check = (
                ""
                if check is None
                else json.dumps(
                    asdict(
                        RulesCheck(
                            eligible=check.eligible,
                            score=check.score,
                            cutoff=check.cutoff,
                            benefit=check.benefit,
                            version=check.version,
                        )
                    )
                )
            )
            fields += ["rules_eligible", "rules_check"]
        elif not corrections_of(live):
            raise Invalid(
                _("Say what should be corrected."),
                code="nothing_requested",
                fields={"correction": [_("Say what should be corrected.")]},
            )
        _link_documents(live)
        live.submitted_at = live.submitted_at or timezone.now()
        _move(
            live,
            Status.SUBMITTED,
            actor=actor,
            reason="",
            by_officer=by_officer,
            extra_fields=fields,
        )
    return live


def application_review_start(*, application: Application, actor: User) -> Application:
    """An officer takes the application up: it is under review, in her name."""
    with transaction.atomic():
        live = _locked(application)
        _check_actor(live, Status.UNDER_REVIEW, actor)
        live.reviewer = actor
        _move(
            live,
            Status.UNDER_REVIEW,
            actor=actor,
            reason="",
            by_officer=True,
            extra_fields=["reviewer"],
        )
    return live


def application_request_info(*, application: Application, actor: User, reason: str) -> Application:
    """The officer asks the applicant for something (a clearer paper, a fact): she has
    ``STEP_DAYS[info_requested]`` days to answer."""
    text = _clean_reason(reason, required=True)
    with transaction.atomic():
        live = _locked(application)
        _check_actor(live, Status.INFO_REQUESTED, actor)
        _move(live, Status.INFO_REQUESTED, actor=actor, reason=text, by_officer=True)
    return live


def application_respond(*, application: Application, actor: User, statement: str) -> Application:
    """She answers a request (new papers are linked again; her words are kept): the
    application goes back to the officers."""
    text = _clean_reason(statement, required=False, field_name="statement")
    with transaction.atomic():
        live = _locked(application)
        by_officer = _check_actor(live, Status.SUBMITTED, actor)
        _link_documents(live)
        _move(live, Status.SUBMITTED, actor=actor, reason=text, by_officer=by_officer)
    return live


def application_decide(
    *, application: Application, actor: User, approve: bool, reason: str
) -> Application:
    """The officer approves or rejects (an appeal too: then by another officer than the
    one who rejected). Approving a program application enrols the household if the
    approved rules find it eligible; a correction is applied to her ID record (and
    re-verified with the national ID authority)."""
    target = Status.APPROVED if approve else Status.REJECTED
    with transaction.atomic():
        live = _locked(application)
        _check_actor(live, target, actor)
        text = _clean_reason(reason, required=rules.needs_reason(live.status, target))
        if live.status == Status.APPEALED and live.rejected_by_id == actor.pk:
            raise Forbidden(
                _("Another officer decides the appeal against your own rejection."),
                code="four_eyes",
            )
        fields = ["decided_at"]
        live.decided_at = timezone.now()
        if approve and live.kind == ApplicationKind.PROGRAM:
            assert live.program is not None and live.household is not None
            programs.beneficiary_enrol_on_application(
                program=live.program,
                household=live.household,
                person_id=live.person_id,
                actor=actor,
                reference=live.number,
            )
        if live.kind == ApplicationKind.CORRECTION:
            request = identity.correction_request(
                person=live.person,
                requested=corrections_of(live),
                explanation=live.statement,
                evidence=None,
                actor=actor,
            )
            live.correction_request = identity.correction_decide(
                request=request,
                apply=approve,
                note=text or _("Application %(number)s") % {"number": live.number},
                actor=actor,
            )
            fields.append("correction_request")
        if not approve:
            live.rejected_by = actor
            fields.append("rejected_by")
        _move(live, target, actor=actor, reason=text, by_officer=True, extra_fields=fields)
    return live


def application_appeal(*, application: Application, actor: User, grounds: str) -> Application:
    """She appeals a rejection within ``APPEAL_DAYS``, once; another officer decides."""
    text = _clean_reason(grounds, required=True, field_name="grounds")
    with transaction.atomic():
        live = _locked(application)
        by_officer = _check_actor(live, Status.APPEALED, actor)
        if live.events.filter(to_status=Status.APPEALED).exists():
            raise Conflict(_("This application was already appealed once."), code="appealed_once")
        if timezone.now() > rules.appeal_open_until(live.status_changed_at):
            raise Conflict(
                _("The %(days)s days to appeal have passed.") % {"days": rules.APPEAL_DAYS},
                code="appeal_too_late",
            )
        _move(live, Status.APPEALED, actor=actor, reason=text, by_officer=by_officer)
    return live


def application_withdraw(*, application: Application, actor: User) -> Application:
    """She takes her application back before a decision."""
    with transaction.atomic():
        live = _locked(application)
        by_officer = _check_actor(live, Status.WITHDRAWN, actor)
        _move(live, Status.WITHDRAWN, actor=actor, reason="", by_officer=by_officer)
    return live


# --------------------------------------------------------------------------- bulk


BULK_ACTIONS = ("review", "request_info")


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # number -> why


def applications_bulk(
    *, applications: Iterable[Application], action: str, actor: User, reason: str = ""
) -> BulkResult:
    """One action on many applications from the queue, each in its own transaction: one
    that cannot take it (already moved by a colleague) is reported, the rest go on."""
    if action not in BULK_ACTIONS:
        raise Invalid(_("Choose an action."), code="invalid_action")
    if action == "request_info":
        reason = _clean_reason(reason, required=True)
    result = BulkResult()
    for application in applications:
        try:
            if action == "review":
                application_review_start(application=application, actor=actor)
            else:
                application_request_info(application=application, actor=actor, reason=reason)
        except ApplicationError as error:
            result.refused[application.number] = str(error.message)
        else:
            result.done.append(application.number)
    return result


# --------------------------------------------------------------------------- SMS


STATUS_WORDS = ("status", "haal", "حالت", "حال", "حال؟", "درخواست", "غوښتنلیک")


def status_sms_handler(phone: str, text: str) -> Reply | None:
    """ "STATUS 2482109375" (or the number alone) from the applicant's phone: the status.
    The same answer for a number that does not exist and for one sent from another
    phone, so nobody learns whose numbers exist."""
    words = text.strip().split()
    if not words:
        return None
    if words[0].lower() in STATUS_WORDS:
        words = words[1:]
    number = normalise_tracking_number("".join(words))
    if not is_valid_tracking_number(number, "application"):
        return None
    application = (
        Application.objects.select_related("person__account", "program")
        .filter(number=number, person__mobile_index=blind_index("phone", phone))
        .first()
    )
    shown = format_tracking_number(number)
    if application is None:
        return Reply(
            template="applications.status_not_found",
            language=guess_language(text),
            params={"number": shown},
        )
    language = language_of(application.person)
    with override(language):
        status = str(ApplicationStatus(application.status).label)
    return Reply(
        template="applications.status_reply",
        language=language,
        params={"number": shown, "what": what_of(application, language), "status": status},
    )
