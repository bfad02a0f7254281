"""Reads of payments for the pages and the API: cycles with their preview, progress and
batches; a person's payment account and her payments with their receipts; who may see
what.

Two reads leave a trace, as the registry's and the programs' do: an officer opening a
person's payment data is recorded on the person (``person_payment_data_read``; she sees
who looked, when and why), and a bank file handed out is audited
(``batch_file_open``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record, audit_record_read
from rahdari.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from rahdari.core.http import is_verified
from rahdari.core.models import AuditEntry, District, Job
from rahdari.identity import rules as identity_rules
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person
from rahdari.ledger import entries
from rahdari.ledger import selectors as ledger
from rahdari.ledger.services import entry_salt
from rahdari.payments import rules, services
from rahdari.payments.models import (
    CashOut,
    Channel,
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentCycle,
    PaymentEvent,
)
from rahdari.programs import selectors as programs
from rahdari.programs.models import Program, ProgramVersion

PERMISSIONS = ("payments.view_payments", "payments.prepare_cycles", "accounts.approve_payments")
"""Holding any one of these opens the cycles pages (each button's service checks its own)."""

READ_PURPOSE = gettext_noop("Payment account and payments, at her request")
READ_FIELDS = ["payment_account", "payments"]
BATCH_JOB = "payments.build_batches"
SEND_JOB = "payments.send_batches"


def _staff_member(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and not getattr(user, "is_citizen", True)


def may_see_payments(user: Any, permissions: tuple[str, ...] = PERMISSIONS) -> bool:
    """A staff member holding one of ``permissions`` (a citizen never)."""
    return _staff_member(user) and any(user.has_perm(p) for p in permissions)


def checked_staff(user: Any, allowed: bool, refusal: Any) -> User:
    """The API's gate: a staff member ``allowed`` to act, whose login is confirmed with the
    authenticator where the role needs it; Forbidden (403, uniform error) otherwise."""
    if not allowed:
        raise Forbidden(refusal)
    if user.requires_totp and not is_verified(user):
        raise Forbidden(_("Confirm your login with your authenticator app first."))
    return user  # type: ignore[no-any-return]


def may_manage_accounts(user: Any) -> bool:
    """An officer who records payment accounts for people at an office."""
    return _staff_member(user) and bool(user.has_perm("payments.manage_accounts"))


# --------------------------------------------------------------------------- programs


def program_names(language: str) -> dict[Any, str]:
    """Each program's name in ``language`` from its approved rules, by program id (1 query)."""
    versions = ProgramVersion.objects.filter(status=ProgramVersion.Status.APPROVED)
    return {
        version.program_id: programs.text_in(programs.rules_of(version).name, language)
        for version in versions
    }


def programs_all() -> QuerySet[Program]:
    return Program.objects.order_by("code")


def program_get(code: str) -> Program:
    return programs.program_get(code)


# --------------------------------------------------------------------------- cycles


def cycles_overview() -> QuerySet[PaymentCycle]:
    """Every cycle, by program, newest first, with who prepared and approved it (1 query)."""
    return PaymentCycle.objects.select_related(
        "program", "prepared_by", "approved_by", "job"
    ).order_by("program__code", "-created_at")


def cycle_get(cycle_id: Any) -> PaymentCycle:
    cycle = (
        PaymentCycle.objects.select_related("program", "run", "prepared_by", "approved_by", "job")
        .filter(pk=cycle_id)
        .first()
    )
    if cycle is None:
        raise NotFound(_("There is no such payment cycle."), code="no_cycle")
    return cycle


@dataclass(frozen=True)
class Progress:
    status: str  # the job's: queued, running, succeeded, failed
    done: int
    total: int
    percent: int
    message: str


def job_progress(job: Job | None) -> Progress | None:
    if job is None:
        return None
    return Progress(job.status, job.done, job.total, job.percent, job.message)


def cycle_progress(cycle: PaymentCycle) -> Progress:
    """How far the job computing the entitlements is (the cycle says computing until done)."""
    found = job_progress(cycle.job)
    if found is None:
        count = cycle.payable_count + cycle.held_count
        return Progress("succeeded", count, count, 100, "")
    return found


def cycle_computing(cycle: PaymentCycle) -> bool:
    return cycle.status == PaymentCycle.Status.COMPUTING


def batch_job(cycle: PaymentCycle) -> Job | None:
    """The latest job that puts the cycle's payments into batches."""
    return (
        Job.objects.filter(kind=BATCH_JOB, params__cycle=str(cycle.pk))
        .order_by("-created_at")
        .first()
    )


def send_job(cycle: PaymentCycle) -> Job | None:
    """The latest job that sends the cycle's ready batches."""
    return (
        Job.objects.filter(kind=SEND_JOB, params__cycle=str(cycle.pk))
        .order_by("-created_at")
        .first()
    )


def job_running(job: Job | None) -> bool:
    return job is not None and job.status in (Job.Status.QUEUED, Job.Status.RUNNING)


def cycle_waiting_payments(cycle: PaymentCycle) -> int:
    """Payments of the cycle waiting to go into a batch."""
    return Payment.objects.filter(cycle=cycle, status=Payment.Status.PENDING).count()


def cycle_batches(cycle: PaymentCycle) -> QuerySet[PaymentBatch]:
    return PaymentBatch.objects.filter(cycle=cycle).order_by("number")


@dataclass(frozen=True)
class DistrictRow:
    """One district of a cycle's preview: payable by channel, the total, the held."""

    key: str
    name: str
    channels: dict[str, dict[str, int]]
    payable: int
    amount: int
    held: int


@dataclass(frozen=True)
class Preview:
    payable: dict[str, int]
    held: dict[str, int]
    control: dict[str, int]
    holds: list[tuple[str, dict[str, int]]]
    channels: list[str]
    districts: list[DistrictRow]
    channel_totals: dict[str, dict[str, int]]


def cycle_preview(cycle: PaymentCycle, *, urdu_names: bool) -> Preview | None:
    """The computed cycle as the approver checks it: payable and held, holds by reason,
    a row per district with a column per channel, and the control total (1 query for the
    districts' Urdu names where the page is right to left)."""
    summary = cycle.summary or {}
    if not summary:
        return None
    by_district: dict[str, dict[str, Any]] = summary.get("by_district", {})
    names: dict[str, str] = {}
    if urdu_names and by_district:
        names = dict(
            District.objects.filter(name__in=list(by_district)).values_list("name", "name_ur")
        )
    order = [c.value for c in Channel]
    present = {channel for row in by_district.values() for channel in row.get("by_channel", {})}
    channels = [c for c in order if c in present] + sorted(present - set(order))
    totals = {c: {"count": 0, "amount": 0} for c in channels}
    rows = []
    for key, row in by_district.items():
        by_channel = row.get("by_channel", {})
        for channel, counts in by_channel.items():
            totals[channel]["count"] += int(counts["count"])
            totals[channel]["amount"] += int(counts["amount"])
        rows.append(
            DistrictRow(
                key=key,
                name=names.get(key) or key,
                channels={c: by_channel[c] for c in channels if c in by_channel},
                payable=int(row.get("payable", 0)),
                amount=int(row.get("amount", 0)),
                held=int(row.get("held", 0)),
            )
        )
    holds = sorted(summary.get("holds", {}).items(), key=lambda item: -item[1]["count"])
    return Preview(
        payable=summary.get("payable", {"count": 0, "amount": 0}),
        held=summary.get("held", {"count": 0, "amount": 0}),
        control=summary.get("control", {"count": 0, "amount": 0}),
        holds=holds,
        channels=channels,
        districts=rows,
        channel_totals=totals,
    )


# --------------------------------------------------------------------------- batches


def batch_get(batch_id: Any) -> PaymentBatch:
    batch = PaymentBatch.objects.select_related("cycle__program").filter(pk=batch_id).first()
    if batch is None:
        raise NotFound(_("There is no such batch."), code="no_batch")
    return batch


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def batch_file_open(*, batch: PaymentBatch, actor: User) -> Path:
    """A bank batch's pain.001 file for a staff member to hand to the bank: written on
    the first download (``services.batch_file_write`` records its SHA-256), checked
    against that SHA-256 on every later one, and each download audited."""
    if batch.channel != Channel.BANK:
        raise ApplicationError(
            _("Only bank batches have instruction files."), code="not_a_bank_batch"
        )
    directory = Path(settings.RAHDARI_PAYMENT_FILES_DIR) / batch.cycle.label
    path = directory / batch.file_name if batch.file_name else None
    if path is None or not path.is_file():
        path = services.batch_file_write(batch=batch, directory_path=directory)
        batch.refresh_from_db(fields=["file_name", "file_sha256"])
    elif _sha256_of(path) != batch.file_sha256:
        raise Conflict(
            _(
                "The stored file no longer matches the fingerprint recorded when it was "
                "written. Do not send it: ask the operations team to check the file store."
            ),
            code="file_changed",
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="payments.file_downloaded",
            subject=batch,
            changes={"file": batch.file_name, "sha256": batch.file_sha256, "count": batch.count},
        )
    return path


# --------------------------------------------------------------------------- accounts


def person_of_citizen(user: User) -> Person | None:
    """The person whose account this citizen login is (None before enrolment)."""
    return identity.person_of_account(user)


def person_find(*, user: User, rahdari_number: str) -> Person:
    """A person of the officer's districts by Rahdari number (spaces and dashes allowed)."""
    digits = "".join(ch for ch in rahdari_number if ch.isdigit())
    person = None
    if len(digits) == 12 and identity_rules.is_valid_rahdari_number(digits):
        person = identity.persons_visible_to(user).filter(rahdari_number=digits).first()
    if person is None:
        raise NotFound(
            _("No enrolled person with this Rahdari number in your districts."),
            code="no_person",
            fields={"rahdari_number": [_("Check the number on her card or QR.")]},
        )
    return person


def person_get(*, user: User, person_id: Any) -> Person:
    person = identity.persons_visible_to(user).filter(pk=person_id).first()
    if person is None:
        raise NotFound(_("No such person in your districts."), code="no_person")
    return person


def person_payment_data_read(*, person: Person, actor: User) -> None:
    """An officer opens a person's payment account and payments: the read is recorded on
    the person, who sees who looked, when and why."""
    with transaction.atomic():
        audit_record_read(actor=actor, subject=person, purpose=READ_PURPOSE, fields=READ_FIELDS)


def payment_reads_of(person: Person) -> QuerySet[AuditEntry]:
    """Who looked at this person's payment data, newest first."""
    return identity.reads_of(person).filter(changes__purpose=READ_PURPOSE)


def account_active(person: Person) -> PaymentAccount | None:
    return PaymentAccount.objects.filter(person=person, status=PaymentAccount.Status.ACTIVE).first()


def account_awaiting(person: Person) -> PaymentAccount | None:
    """The change waiting for the code sent to her phone, if any."""
    return (
        PaymentAccount.objects.filter(person=person, status=PaymentAccount.Status.AWAITING_CODE)
        .order_by("-created_at")
        .first()
    )


def account_get_for(*, user: User, account_id: Any) -> PaymentAccount:
    """An account the user may confirm: a citizen's own, or one of a person of an
    officer's districts (officers who manage accounts)."""
    accounts = PaymentAccount.objects.select_related("person")
    if user.is_citizen:
        found = accounts.filter(pk=account_id, person__account=user).first()
    elif may_manage_accounts(user):
        visible = identity.persons_visible_to(user).values("pk")
        found = accounts.filter(pk=account_id, person__in=visible).first()
    else:
        found = None
    if found is None:
        raise NotFound(_("There is no such payment account."), code="no_account")
    return found


# --------------------------------------------------------------------------- payments


def payments_of(person: Person) -> QuerySet[Payment]:
    """Every payment to the person, newest first, each with the id of its latest event
    in the public ledger (``receipt_event``, None before any) — 1 query."""
    latest_event = (
        PaymentEvent.objects.filter(payment=OuterRef("pk"), leaf_hash__isnull=False)
        .order_by("-id")
        .values("id")[:1]
    )
    return (
        Payment.objects.filter(person=person)
        .select_related("cycle__program")
        .annotate(receipt_event=Subquery(latest_event))
        .order_by("-id")
    )


def payment_event_get(*, person: Person, event_id: int) -> PaymentEvent:
    """One ledger event of one of the person's own payments (404 for anyone else's)."""
    event = (
        PaymentEvent.objects.select_related("payment__cycle__program")
        .filter(pk=event_id, payment__person=person, leaf_hash__isnull=False)
        .first()
    )
    if event is None:
        raise NotFound(_("There is no such receipt."), code="no_receipt")
    return event


def payment_receipt(event: PaymentEvent) -> entries.Receipt | None:
    """The event's receipt with its private salt (so she can prove the payment was
    hers), or None while its entry waits to be added to the signed log."""
    if not event.leaf_hash:
        return None
    return ledger.receipt(leaf_hash=bytes(event.leaf_hash), salt=entry_salt(event.entry_id))


# --------------------------------------------------------------------------- cash-out


def may_hand_out_cash(user: Any) -> bool:
    """A payment agent (campsite or franchise) with a staff login."""
    return _staff_member(user) and bool(user.has_perm("payments.operate_cash_out"))


def cash_outs_of_agent(agent: User, *, limit: int = 50) -> QuerySet[CashOut]:
    """The agent's own cash-outs, newest first (what he needs to balance his till)."""
    return (
        CashOut.objects.filter(agent=agent)
        .select_related("payment__cycle__program")
        .order_by("-created_at")[:limit]
    )


def cash_out_of_agent(*, agent: User, cash_out_id: Any) -> CashOut:
    """One of the agent's own cash-outs (404 for another agent's)."""
    found = (
        CashOut.objects.select_related("payment__cycle__program", "person")
        .filter(pk=cash_out_id, agent=agent)
        .first()
    )
    if found is None:
        raise NotFound(_("There is no such cash-out."), code="no_cash_out")
    return found


def cash_outs_of_person(person: Person, *, limit: int = 20) -> QuerySet[CashOut]:
    """Her cash-outs, the ones waiting for her word first, then newest first."""
    return (
        CashOut.objects.filter(person=person)
        .exclude(status__in=[CashOut.Status.AWAITING_CODE, CashOut.Status.CANCELLED])
        .select_related("agent", "payment__cycle__program")
        .order_by("-handed_at", "-created_at")[:limit]
    )


def cash_out_of_person(*, person: Person, cash_out_id: Any) -> CashOut:
    found = CashOut.objects.filter(pk=cash_out_id, person=person).first()
    if found is None:
        raise NotFound(_("There is no such cash-out."), code="no_cash_out")
    return found


# --------------------------------------------------------------------------- one payment

DECISION_STATUSES = (Payment.Status.RETURNED, Payment.Status.UNCLAIMED, Payment.Status.FAILED)


def payments_needing_decision(cycle: PaymentCycle, *, limit: int = 50) -> list[Payment]:
    """Returned and unclaimed payments, and failed ones out of automatic retries: an
    officer pays them again or reverses them (1 query)."""
    return list(
        Payment.objects.filter(cycle=cycle, status__in=DECISION_STATUSES)
        .exclude(status=Payment.Status.FAILED, attempts__lt=rules.MAX_ATTEMPTS)
        .select_related("district")
        .order_by("status", "id")[:limit]
    )


def payment_by_key(key: str) -> Payment:
    """One payment by its reference, for staff who see payments."""
    payment = (
        Payment.objects.select_related("cycle__program", "district", "person", "account")
        .filter(key=key.strip().upper()[:32])
        .first()
    )
    if payment is None:
        raise NotFound(_("There is no payment with this reference."), code="no_payment")
    return payment


def payment_events(payment: Payment) -> QuerySet[PaymentEvent]:
    return PaymentEvent.objects.filter(payment=payment).order_by("id")
