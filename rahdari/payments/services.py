"""Payments: accounts the beneficiary confirms, cycles a second officer approves with
her authenticator, batches that instruct each entitlement exactly once, and the public
ledger entry of every step.

Exactly once, by construction: a payment row per (cycle, beneficiary, component) with
a unique ``key``; jobs work in chunks whose writes and checkpoint commit together, and
every insert tolerates a chunk already written, so a worker killed at any point
resumes without paying anyone twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid as uuid_module
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_otp.plugins.otp_totp.models import TOTPDevice

from rahdari.accounts.models import User
from rahdari.accounts.services import action_code_request, action_code_verify
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.inbound import Reply
from rahdari.core.jobs import JobContext, job_create, job_kind
from rahdari.core.keyring import keyring
from rahdari.core.models import District
from rahdari.core.notifications import notification_send, register_templates
from rahdari.core.parallel import in_threads
from rahdari.core.sql import among, insert_rows, refresh_statistics
from rahdari.identity.models import Person, PersonStatus
from rahdari.ledger.services import Event, ledger_submit, ledger_submit_many
from rahdari.payments import iso20022, rules
from rahdari.payments.models import (
    CashOut,
    Channel,
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentCycle,
    PaymentEvent,
    ProviderMessage,
    ReferenceAccount,
)
from rahdari.payments.providers import (
    G2P_REASONS,
    LookupOutcome,
    ProviderUnavailable,
    ReferenceDisbursementProvider,
    account_index,
    bank_rail,
    directory,
    disbursement_provider,
    sign_callback,
)
from rahdari.programs.models import Beneficiary, Program, TargetingRun
from rahdari.programs.services import program_name
from rahdari.registry import selectors as registry

logger = logging.getLogger(__name__)

CHUNK = 10_000
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{1,19}$")

register_templates(
    {
        "payments.account_code": gettext_noop(
            "Rahdari: {code} is your code to receive payments in {account}. Give it only if "
            "you asked for this change. It expires in {minutes} minutes."
        ),
        "payments.paid": gettext_noop(
            "Rahdari: Rs {amount} ({program}, {cycle}) was paid into {account}. Reference "
            "{reference}. Nobody may ask you for any part of it."
        ),
        "payments.failed_account": gettext_noop(
            "Rahdari: Rs {amount} ({program}, {cycle}) could not be paid into {account}: the "
            "bank says {reason}. Give a new account at a Rahdari office or on the web, and "
            "the payment will follow."
        ),
    }
)


def _require(actor: User | None, permission: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise Forbidden(_("You may not do this."), code="permission_denied")


# --- Payment accounts ------------------------------------------------------------


def _phone_of(person: Person) -> str:
    if not person.mobile:
        raise ApplicationError(
            _(
                "This person has no mobile number on record: add one at an enrolment office "
                "first, so that she can confirm the account with a code."
            ),
            code="no_phone",
        )
    return str(person.mobile)


def payment_account_request(
    *, person: Person, channel: str, number: str, provider: str, actor: User | None
) -> PaymentAccount:
    """Record a new account for a person's payments and send her a code; it replaces her
    current account only when she confirms (``payment_account_confirm``). The person
    herself, or an officer who may manage accounts, asks. Audited."""
    own = actor is not None and getattr(actor, "person", None) == person
    if not own:
        _require(actor, "payments.manage_accounts")
    try:
        checked = rules.check_account(channel, number, provider)
    except rules.AccountError as exc:
        raise ApplicationError(
            exc.message, code="invalid_account", fields={exc.field: [str(exc.message)]}
        ) from exc
    phone = _phone_of(person)
    with transaction.atomic():
        PaymentAccount.objects.filter(
            person=person, status=PaymentAccount.Status.AWAITING_CODE
        ).update(status=PaymentAccount.Status.CANCELLED)
        account = PaymentAccount.objects.create(
            person=person,
            channel=checked.channel,
            provider=checked.provider,
            number=checked.number,
            number_index=account_index(checked.channel, checked.provider, checked.number),
            display=checked.display,
            card_status=(
                PaymentAccount.CardStatus.ISSUED if checked.channel == Channel.CARD else ""
            ),
            requested_by=actor,
        )
        action_code_request(
            phone=phone,
            language=_language_of(person),
            template="payments.account_code",
            params={"account": checked.display},
        )
        audit_record(
            actor=actor,
            action="payments.account_requested",
            subject=account,
            changes={"channel": checked.channel, "provider": checked.provider, "assisted": not own},
        )
    return account


def _language_of(person: Person) -> str:
    user = getattr(person, "account", None)
    return str(getattr(user, "preferred_language", "") or "ur")


_VERIFICATION = {
    LookupOutcome.CLOSED: PaymentAccount.Verification.CLOSED,
    LookupOutcome.BLOCKED: PaymentAccount.Verification.CLOSED,
    LookupOutcome.NOT_FOUND: PaymentAccount.Verification.NOT_FOUND,
}


def payment_account_confirm(
    *, account: PaymentAccount, code: str, actor: User | None
) -> PaymentAccount:
    """The beneficiary's code makes the account hers: the provider is asked whether it
    is open and in her name, and it replaces her current account. Audited; the result
    of the name check decides whether cycles pay into it."""
    if account.status != PaymentAccount.Status.AWAITING_CODE:
        raise Conflict(
            _("This account change is not waiting for a code."), code="not_awaiting_code"
        )
    person = account.person
    action_code_verify(phone=_phone_of(person), code=code, action="payments.account_code")
    verification, holder = _verify_with_provider(account, person)
    now = timezone.now()
    with transaction.atomic():
        live = PaymentAccount.objects.select_for_update().get(pk=account.pk)
        if live.status != PaymentAccount.Status.AWAITING_CODE:
            raise Conflict(
                _("This account change is not waiting for a code."), code="not_awaiting_code"
            )
        PaymentAccount.objects.filter(person=person, status=PaymentAccount.Status.ACTIVE).update(
            status=PaymentAccount.Status.REPLACED, replaced_at=now
        )
        live.status = PaymentAccount.Status.ACTIVE
        live.activated_at = now
        live.verification = verification
        live.verified_at = now if verification != PaymentAccount.Verification.UNAVAILABLE else None
        live.holder_name = holder
        live.save()
        audit_record(
            actor=actor,
            action="payments.account_changed",
            subject=live,
            changes={
                "channel": live.channel,
                "provider": live.provider,
                "verification": verification,
            },
        )
    return live


def payment_accounts_recheck(*, limit: int = 500) -> int:
    """Ask the providers again about accounts they could not answer for (the worker,
    every minute); returns how many got an answer. Payments into them wait until then."""
    answered = 0
    waiting = PaymentAccount.objects.select_related("person").filter(
        status=PaymentAccount.Status.ACTIVE,
        verification=PaymentAccount.Verification.UNAVAILABLE,
    )
    for account in waiting[:limit]:
        verification, holder = _verify_with_provider(account, account.person)
        if verification == PaymentAccount.Verification.UNAVAILABLE:
            continue
        PaymentAccount.objects.filter(pk=account.pk).update(
            verification=verification, holder_name=holder, verified_at=timezone.now()
        )
        audit_record(
            actor=None,
            action="payments.account_rechecked",
            subject=account,
            changes={"verification": verification},
        )
        answered += 1
    return answered


def _verify_with_provider(account: PaymentAccount, person: Person) -> tuple[str, str]:
    try:
        found = directory().lookup(
            channel=account.channel, provider=account.provider, number=str(account.number)
        )
    except ProviderUnavailable:
        logger.warning("payment provider %s unavailable for a name check", account.provider)
        return PaymentAccount.Verification.UNAVAILABLE, ""
    if found.outcome in _VERIFICATION:
        return _VERIFICATION[found.outcome], ""
    if rules.names_match(str(person.full_name), found.holder_name):
        return PaymentAccount.Verification.VERIFIED, found.holder_name
    return PaymentAccount.Verification.NAME_MISMATCH, found.holder_name


# --- Cycles --------------------------------------------------------------------------


def cycle_prepare(*, program: Program, label: str, actor: User | None) -> PaymentCycle:
    """A new cycle from the program's latest approved targeting run; its entitlements
    are worked out by a background job. Audited."""
    _require(actor, "payments.prepare_cycles")
    if actor is None:
        raise Forbidden(_("A cycle is prepared by a named officer."), code="permission_denied")
    label = (label or "").strip()
    if not _LABEL.match(label):
        raise ApplicationError(
            _("Name the cycle with letters, digits and dashes, e.g. 2026-Q4."),
            code="invalid_label",
            fields={"label": [_("2 to 20 letters, digits or dashes, e.g. 2026-Q4.")]},
        )
    run = (
        TargetingRun.objects.filter(program=program, status=TargetingRun.Status.APPROVED)
        .order_by("-decided_at")
        .first()
    )
    if run is None:
        raise Conflict(
            _("This program has no approved targeting run to pay from."), code="no_approved_run"
        )
    with transaction.atomic():
        busy = PaymentCycle.objects.filter(
            program=program,
            status__in=[PaymentCycle.Status.COMPUTING, PaymentCycle.Status.PREPARED],
        )
        if busy.exists():
            raise Conflict(
                _("Another cycle of this program is waiting for approval."), code="cycle_open"
            )
        if PaymentCycle.objects.filter(program=program, label=label).exists():
            raise Conflict(
                _("This program already has a cycle with that name."), code="duplicate_label"
            )
        cycle = PaymentCycle.objects.create(
            program=program, run=run, label=label, prepared_by=actor
        )
        job = job_create(
            kind="payments.compute_cycle", params={"cycle": str(cycle.pk)}, actor=actor
        )
        PaymentCycle.objects.filter(pk=cycle.pk).update(job=job)
        cycle.job = job
        audit_record(
            actor=actor,
            action="payments.cycle_prepared",
            subject=cycle,
            changes={"program": program.code, "label": label, "run": str(run.pk)},
        )
    return cycle


@job_kind("payments.compute_cycle")
def cycle_compute(ctx: JobContext) -> dict[str, Any]:
    """One payment row per beneficiary: the amount from the frozen run, the payee (the
    household's ever-married woman first), her active account, or the reason it is held.
    Chunks of 10,000 beneficiaries in id order; a chunk already written is skipped by
    the unique key, so a crash resumes cleanly."""
    cycle = PaymentCycle.objects.select_related("program").get(pk=ctx.job.params["cycle"])
    if cycle.status != PaymentCycle.Status.COMPUTING:
        return {"status": cycle.status}
    todo = Beneficiary.objects.filter(program=cycle.program_id).exclude(
        status=Beneficiary.Status.EXITED
    )
    ctx.set_total(todo.count())
    after = ctx.job.checkpoint.get("after")
    if after:
        todo = todo.filter(pk__gt=after)
    rows = todo.order_by("pk").values_list(
        "pk", "household_id", "member__person_id", "status", "benefit", "household__district_id"
    )

    def work(numbered: tuple[int, list[tuple[Any, ...]]]) -> None:
        with transaction.atomic():
            _compute_chunk(cycle, numbered[1])

    # Chunks may finish out of order (threads): the checkpoint is the end of the chunks
    # done without a gap before them. A chunk done again after a crash is skipped row
    # by row (the unique key).
    finished: set[int] = set()
    ends: dict[int, Any] = {}
    contiguous = 0
    for (number, chunk), _done in in_threads(
        work,
        enumerate(_chunks(rows.iterator(chunk_size=CHUNK), CHUNK)),
        workers=settings.RAHDARI_PAYMENT_THREADS,
    ):
        finished.add(number)
        ends[number] = chunk[-1][0]
        checkpoint = ctx.job.checkpoint
        while contiguous in finished:
            checkpoint = {"after": str(ends.pop(contiguous))}
            finished.discard(contiguous)
            contiguous += 1
        ctx.advance(len(chunk), checkpoint)
    with transaction.atomic():
        summary = _cycle_summary(cycle)
        PaymentCycle.objects.filter(pk=cycle.pk).update(
            status=PaymentCycle.Status.PREPARED,
            payable_count=summary["payable"]["count"],
            payable_total=summary["payable"]["amount"],
            held_count=summary["held"]["count"],
            held_total=summary["held"]["amount"],
            summary=summary,
        )
        audit_record(
            actor=None,
            action="payments.cycle_computed",
            subject=cycle,
            changes={"payable": summary["payable"], "held": summary["held"]},
        )
    return {"payable": summary["payable"], "held": summary["held"]}


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _compute_chunk(cycle: PaymentCycle, chunk: list[tuple[Any, ...]]) -> None:
    payees = registry.household_payees(
        [household for _b, household, member_person, *_rest in chunk if member_person is None]
    )
    recipients = {
        b: member_person or payees.get(household) for b, household, member_person, *_ in chunk
    }
    uuid = _uuid_adapter()
    person_ids = [uuid(p) for p in {p for p in recipients.values() if p is not None}]
    # Each payee's status, then her active account: two queries, each with its ids as one
    # array parameter (a list of 10,000 parameters costs more to send than to run). Apart,
    # each is a bitmap scan that reads its table's pages in order, ahead of need; joined,
    # the accounts were looked up one payee at a time, a page read waited for each.
    accounts: dict[Any, tuple[Any, str, str, str]] = {}
    with connection.cursor() as cursor:
        where, param = among("id", person_ids)
        cursor.execute(
            f"SELECT id, status FROM {Person._meta.db_table} WHERE {where}",  # noqa: S608
            [param],
        )
        statuses: dict[Any, str] = {
            _as_uuid(person): status for person, status in cursor.fetchall()
        }
        where, param = among("person_id", person_ids)
        cursor.execute(
            "SELECT person_id, id, channel, provider, verification "  # noqa: S608
            f"FROM {PaymentAccount._meta.db_table} WHERE {where} AND status = %s",
            [param, PaymentAccount.Status.ACTIVE.value],
        )
        for person, *account in cursor.fetchall():
            accounts[_as_uuid(person)] = (_as_uuid(account[0]), *account[1:])
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    cycle_id = uuid(cycle.pk)
    rows = []
    for beneficiary, _household, _member, status, benefit, district in chunk:
        person = recipients[beneficiary]
        account = accounts.get(person) if person else None
        hold = _hold_for(status, statuses.get(person) if person else None, account)
        paid_into = account if account and not hold else None
        rows.append(
            (
                rules.payment_key(cycle.pk, beneficiary, "benefit"),
                cycle_id,
                uuid(beneficiary),
                "benefit",
                None if person is None else uuid(person),
                district,
                benefit,
                str(hold),
                None if paid_into is None else uuid(paid_into[0]),
                "" if paid_into is None else paid_into[1],
                "" if paid_into is None else paid_into[2],
                "held" if hold else "pending",
                0,
                "",
                now,
            )
        )
    # A chunk a crashed run already wrote (or a second worker writes) is skipped row by
    # row by the unique key, as bulk_create(ignore_conflicts=True) did.
    with connection.cursor() as cursor:
        insert_rows(cursor, Payment._meta.db_table, _PAYMENT_COLUMNS, rows, skip_existing=True)


_PAYMENT_COLUMNS = (
    "key",
    "cycle_id",
    "beneficiary_id",
    "component",
    "person_id",
    "district_id",
    "amount",
    "hold",
    "account_id",
    "channel",
    "provider",
    "status",
    "attempts",
    "reason_code",
    "updated_at",
)
_EVENT_COLUMNS = (
    "created_at",
    "updated_at",
    "payment_id",
    "status",
    "source",
    "reason_code",
    "leaf_hash",
    "entry_id",
)


def _as_uuid(value: Any) -> uuid_module.UUID:
    """A UUID read by raw SQL: native on PostgreSQL, 32 hex digits on SQLite."""
    return value if isinstance(value, uuid_module.UUID) else uuid_module.UUID(value)


def _uuid_adapter() -> Any:
    """UUIDs as the database stores them: native on PostgreSQL, 32 hex digits on SQLite."""
    if connection.features.has_native_uuid_field:
        return lambda value: value
    return lambda value: value.hex


def _hold_for(beneficiary_status: str, person_status: str | None, account: Any) -> str:
    if person_status is None:
        return Payment.Hold.NO_RECIPIENT
    if person_status == PersonStatus.DECEASED:
        return Payment.Hold.DECEASED
    if beneficiary_status == Beneficiary.Status.SUSPENDED or person_status != PersonStatus.ACTIVE:
        return Payment.Hold.SUSPENDED
    if account is None or account[3] != PaymentAccount.Verification.VERIFIED:
        return Payment.Hold.NO_ACCOUNT
    return Payment.Hold.NONE


def _cycle_summary(cycle: PaymentCycle) -> dict[str, Any]:
    """Totals by district and channel, holds by reason, and the control total."""
    names = dict(District.objects.values_list("pk", "name"))
    by_district: dict[str, dict[str, Any]] = {}
    holds: dict[str, dict[str, int]] = {}
    payable = {"count": 0, "amount": 0}
    held = {"count": 0, "amount": 0}
    rows = (
        Payment.objects.filter(cycle=cycle)
        .values("district_id", "channel", "hold")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("district_id", "channel", "hold")
    )
    for row in rows:
        n, total = row["n"], int(row["total"] or 0)
        district = by_district.setdefault(
            names[row["district_id"]], {"payable": 0, "amount": 0, "held": 0, "by_channel": {}}
        )
        if row["hold"]:
            held["count"] += n
            held["amount"] += total
            district["held"] += n
            reason = holds.setdefault(row["hold"], {"count": 0, "amount": 0})
            reason["count"] += n
            reason["amount"] += total
            continue
        payable["count"] += n
        payable["amount"] += total
        district["payable"] += n
        district["amount"] += total
        channel = district["by_channel"].setdefault(row["channel"], {"count": 0, "amount": 0})
        channel["count"] += n
        channel["amount"] += total
    return {
        "payable": payable,
        "held": held,
        "holds": holds,
        "by_district": dict(sorted(by_district.items())),
        # The control total a bank checks against the files: count and rupees.
        "control": {"count": payable["count"], "amount": payable["amount"]},
    }


def _totp_ok(actor: User, code: str) -> bool:
    code = (code or "").strip()
    if not code.isdigit():
        return False
    return any(
        device.verify_token(code)
        for device in TOTPDevice.objects.filter(user=actor, confirmed=True)
    )


def cycle_decide(
    *, cycle: PaymentCycle, approve: bool, actor: User, totp: str, note: str = ""
) -> PaymentCycle:
    """A payment approver — never the preparer — approves a prepared cycle with a fresh
    authenticator code, or rejects it. Approval locks the entitlements and puts the
    totals per district in the public ledger. Refused attempts are audited too."""

    def refuse(error: ApplicationError) -> ApplicationError:
        audit_record(
            actor=actor,
            action="payments.cycle_decision_refused",
            subject=cycle,
            changes={"reason": error.code, "approve": approve},
        )
        return error

    if not actor.has_perm("accounts.approve_payments"):
        raise refuse(
            Forbidden(_("Only a payment approver may decide a cycle."), code="permission_denied")
        )
    if actor.pk == cycle.prepared_by_id:
        raise refuse(
            Forbidden(_("A cycle you prepared must be approved by someone else."), code="four_eyes")
        )
    if PaymentCycle.objects.filter(pk=cycle.pk).values_list("status", flat=True).first() != (
        PaymentCycle.Status.PREPARED
    ):
        raise Conflict(_("This cycle is not waiting for approval."), code="not_prepared")
    if not _totp_ok(actor, totp):
        raise refuse(
            Forbidden(
                _(
                    "Enter the current code from your authenticator app. A code works once "
                    "only: if you just used it to log in, wait for the next one."
                ),
                code="totp_required",
                fields={"totp": [_("The code is missing or wrong.")]},
            )
        )
    with transaction.atomic():
        live = PaymentCycle.objects.select_for_update().select_related("program").get(pk=cycle.pk)
        if live.status != PaymentCycle.Status.PREPARED:
            raise Conflict(_("This cycle is not waiting for approval."), code="not_prepared")
        live.status = PaymentCycle.Status.APPROVED if approve else PaymentCycle.Status.REJECTED
        live.approved_by = actor if approve else None
        live.decided_at = timezone.now()
        live.decision_note = note.strip()[:300]
        if approve:
            live.ledger_leaf = _publish_cycle(live)
        live.save()
        audit_record(
            actor=actor,
            action="payments.cycle_approved" if approve else "payments.cycle_rejected",
            subject=live,
            changes={"payable": live.summary.get("payable"), "note": live.decision_note},
        )
    return live


def _publish_cycle(cycle: PaymentCycle) -> bytes:
    totals = [
        {"district": district, "count": row["payable"], "amount": row["amount"]}
        for district, row in cycle.summary.get("by_district", {}).items()
        if row["payable"]
    ]
    submitted = ledger_submit(
        kind="payments.cycle_approved",
        fields={"program": cycle.program.code, "cycle": cycle.label, "totals": totals},
    )
    return submitted.leaf_hash


# --- Batches -------------------------------------------------------------------------


def batches_build(*, cycle: PaymentCycle, actor: User | None) -> Any:
    """Start the job that puts every waiting payment of an approved cycle into batches
    per channel and provider. Audited."""
    _require(actor, "payments.prepare_cycles")
    if cycle.status not in (PaymentCycle.Status.APPROVED, PaymentCycle.Status.DISBURSING):
        raise Conflict(_("Only an approved cycle is paid."), code="not_approved")
    job = job_create(kind="payments.build_batches", params={"cycle": str(cycle.pk)}, actor=actor)
    audit_record(actor=actor, action="payments.batches_started", subject=cycle, changes={})
    return job


@job_kind("payments.build_batches")
def batches_compute(ctx: JobContext) -> dict[str, Any]:
    """Each batch in one transaction: the batch row, its payments marked instructed (one
    more attempt), their events and their ledger entries. What a crash interrupts is
    rolled back and rebuilt; a payment already instructed is never taken again."""
    cycle = PaymentCycle.objects.select_related("program").get(pk=ctx.job.params["cycle"])
    if cycle.status == PaymentCycle.Status.APPROVED:
        PaymentCycle.objects.filter(pk=cycle.pk).update(status=PaymentCycle.Status.DISBURSING)
    with transaction.atomic():
        _requeue_failed(cycle)
    # The cycle's payments were all written (or re-queued) since the statistics were
    # last gathered: plans for the batch UPDATE need them current.
    refresh_statistics(Payment._meta.db_table)
    waiting = Payment.objects.filter(cycle=cycle, status=Payment.Status.PENDING)
    ctx.set_total(ctx.job.done + waiting.count())
    size = settings.RAHDARI_PAYMENT_BATCH_SIZE
    groups = list(
        waiting.values_list("channel", "provider").distinct().order_by("channel", "provider")
    )
    # Each group's waiting payments once, in id order, then a batch per slice (asking
    # again for "the lowest waiting ids" per batch re-reads every payment instructed
    # before it, whose old index entries stay until a vacuum: quadratic in batches).
    # The slices are numbered here, after the cycle's last batch.
    last = cycle.batches.order_by("-number").values_list("number", flat=True).first() or 0
    slices: list[tuple[int, str, str, list[int]]] = []
    for channel, provider in groups:
        ids = list(
            waiting.filter(channel=channel, provider=provider)
            .order_by("id")
            .values_list("id", flat=True)
        )
        for start in range(0, len(ids), size):
            slices.append((last + len(slices) + 1, channel, provider, ids[start : start + size]))

    def work(item: tuple[int, str, str, list[int]]) -> PaymentBatch | None:
        number, channel, provider, ids = item
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    return _instruct(cycle, channel, provider, ids, number)
            except _NothingLeft:
                return None  # another worker instructed them first
            except IntegrityError:
                if not PaymentBatch.objects.filter(cycle=cycle, number=number).exists():
                    raise  # not the number: nothing a retry would change
                # Another job of this cycle took the number meanwhile: the next free one.
                number = 1 + (
                    PaymentBatch.objects.filter(cycle=cycle)
                    .order_by("-number")
                    .values_list("number", flat=True)
                    .first()
                    or 0
                )
        raise Conflict(_("Batch numbers kept colliding; run the job again."), code="busy")

    batches = 0
    for _item, batch in in_threads(work, slices, workers=settings.RAHDARI_PAYMENT_THREADS):
        if batch is not None:
            batches += 1
            ctx.advance(batch.count, {"batches": batches})
    return {"batches": batches}


class _NothingLeft(Exception):
    """The payments a batch was started for were taken by another worker meanwhile."""


def _requeue_failed(cycle: PaymentCycle) -> int:
    """Failed payments go into the next batch: a technical failure as it was; one the
    bank refused for the account (AC01, AC04, AC06, BE01) only once the beneficiary has a
    new verified account, which it then uses. At most ``rules.MAX_ATTEMPTS`` tries."""
    failed = list(
        Payment.objects.select_for_update()
        .filter(cycle=cycle, status=Payment.Status.FAILED, attempts__lt=rules.MAX_ATTEMPTS)
        .values_list("id", "person_id", "account_id", "reason_code")
    )
    if not failed:
        return 0
    accounts = {
        person: (pk, channel, provider)
        for pk, person, channel, provider in PaymentAccount.objects.filter(
            person__in={person for _id, person, _a, _r in failed},
            status=PaymentAccount.Status.ACTIVE,
            verification=PaymentAccount.Verification.VERIFIED,
        ).values_list("pk", "person_id", "channel", "provider")
    }
    requeued = []
    for payment_id, person, account_id, reason in failed:
        if reason in iso20022.ACCOUNT_REASON_CODES:
            new = accounts.get(person)
            if new is None or new[0] == account_id:
                continue  # waits for a new account
            Payment.objects.filter(pk=payment_id).update(
                account_id=new[0], channel=new[1], provider=new[2]
            )
        requeued.append(payment_id)
    Payment.objects.filter(pk__in=requeued).update(status=Payment.Status.PENDING, reason_code="")
    PaymentEvent.objects.bulk_create(
        [
            PaymentEvent(payment_id=pk, status=Payment.Status.PENDING, source="retry")
            for pk in requeued
        ]
    )
    return len(requeued)


def _instruct(
    cycle: PaymentCycle, channel: str, provider: str, ids: list[int], number: int
) -> PaymentBatch:
    """Batch ``number``: the payments ``ids`` (waiting, of one channel and provider), in the
    caller's transaction: the batch row, the payments marked instructed by one UPDATE
    that locks and changes those still waiting (and returns what the events and the
    ledger entries need), their events and their ledger entries. A payment another
    worker instructed meanwhile is no longer waiting and is left out; if none is left,
    raises _NothingLeft (the caller rolls back)."""
    districts = dict(District.objects.values_list("pk", "name"))
    batch = PaymentBatch.objects.create(
        cycle=cycle,
        number=number,
        channel=channel,
        provider=provider,
        status=PaymentBatch.Status.READY,
        message_id=_message_id(cycle, number),
    )
    uuid = _uuid_adapter()
    where, param = among("id", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Payment._meta.db_table} SET status = %s, batch_id = %s, "  # noqa: S608
            f"attempts = attempts + 1 WHERE {where} AND status = %s "
            "RETURNING id, key, amount, district_id, person_id",
            [
                Payment.Status.INSTRUCTED.value,
                uuid(batch.pk),
                param,
                Payment.Status.PENDING.value,
            ],
        )
        rows = sorted(cursor.fetchall())
        if not rows:
            raise _NothingLeft
        people = [p for *_, p in rows if p is not None]
        where, param = among("id", people)
        cursor.execute(
            f"SELECT id, rahdari_number FROM {Person._meta.db_table} WHERE {where}",  # noqa: S608
            [param],
        )
        numbers = dict(cursor.fetchall())
    batch.count, batch.total = len(rows), sum(r[2] for r in rows)
    PaymentBatch.objects.filter(pk=batch.pk).update(count=batch.count, total=batch.total)
    submitted = ledger_submit_many(
        events=[
            Event(
                kind="payments.instructed",
                fields={
                    "program": cycle.program.code,
                    "cycle": cycle.label,
                    "district": districts[district],
                    "payment": key,
                    "channel": channel,
                    "amount": amount,
                },
                beneficiary=numbers.get(person),
            )
            for _id, key, amount, district, person in rows
        ]
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        insert_rows(
            cursor,
            PaymentEvent._meta.db_table,
            _EVENT_COLUMNS,
            [
                (now, now, row[0], "instructed", "batch", "", sub.leaf_hash, sub.entry_id)
                for row, sub in zip(rows, submitted, strict=True)
            ],
        )
    return batch


def _message_id(cycle: PaymentCycle, number: int) -> str:
    """ISO 20022 MsgId (≤ 35): "RDP" + 20 hex of the cycle + "-" + batch number."""
    return f"RDP{cycle.pk.hex[:20].upper()}-{number:04d}"


# --- Instruction files -----------------------------------------------------------------


def _transfers(batch: PaymentBatch) -> Iterator[iso20022.CreditTransfer]:
    """The batch's transfers in payment order, read a page at a time (a server-side
    cursor on PostgreSQL) and decrypted a page at a time."""
    remittance = f"{batch.cycle.program.code} {batch.cycle.label}"[:140]
    ring = keyring()
    number_context = PaymentAccount._meta.get_field("number").context()
    holder_context = PaymentAccount._meta.get_field("holder_name").context()
    name_context = Person._meta.get_field("full_name").context()

    def plain(tokens: list[str | None], context: str) -> list[str | None]:
        # Encrypted columns keep NULL and "" as they are; only the rest is sealed.
        sealed = [token for token in tokens if token]
        opened = iter(ring.decrypt_many(sealed, context))
        return [next(opened) if token else token for token in tokens]

    with connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT p.key, p.attempts, p.amount, a.number, a.holder_name, person.full_name "  # noqa: S608
            f"FROM {Payment._meta.db_table} p "
            f"LEFT JOIN {PaymentAccount._meta.db_table} a ON a.id = p.account_id "
            f"LEFT JOIN {Person._meta.db_table} person ON person.id = p.person_id "
            "WHERE p.batch_id = %s ORDER BY p.id",
            [_uuid_adapter()(batch.pk)],
        )
        while page := cursor.fetchmany(5_000):
            numbers = plain([row[3] for row in page], number_context)
            holders = plain([row[4] for row in page], holder_context)
            names = plain(
                [row[5] if not holder else None for row, holder in zip(page, holders, strict=True)],
                name_context,
            )
            for (key, attempts, amount, *_sealed), number, holder, full_name in zip(
                page, numbers, holders, names, strict=True
            ):
                yield iso20022.CreditTransfer(
                    end_to_end_id=key,
                    instruction_id=rules.instruction_id(key, attempts),
                    amount=amount,
                    creditor=iso20022.Party(name=str(holder or full_name)[:140], iban=str(number)),
                    remittance=remittance,
                )


def batch_file_write(*, batch: PaymentBatch, directory_path: Path) -> Path:
    """Write a bank batch's pain.001.001.09 file (streamed: the payments are read from
    the database in pages and written as they come) and record its SHA-256."""
    if batch.channel != Channel.BANK:
        raise ApplicationError(
            _("Only bank batches have instruction files."), code="not_a_bank_batch"
        )
    directory_path.mkdir(parents=True, exist_ok=True)
    path = directory_path / f"{batch.message_id}.xml"
    partial = path.with_suffix(".xml.partial")
    with partial.open("wb") as out:
        # Times from the batch, not the clock: writing the file again gives the same bytes
        # (the SHA-256 the bank may already hold).
        summary = iso20022.write_pain001(
            out,
            message_id=batch.message_id,
            created_at=batch.created_at.replace(microsecond=0),
            initiating_party=settings.RAHDARI_PAYMENT_DEBTOR_NAME,
            debtor=iso20022.Party(
                name=settings.RAHDARI_PAYMENT_DEBTOR_NAME,
                iban=settings.RAHDARI_PAYMENT_DEBTOR_IBAN,
                bic=settings.RAHDARI_PAYMENT_DEBTOR_BIC,
            ),
            payment_info_id=batch.message_id,
            execution_date=timezone.localtime(batch.created_at).date(),
            transfers=_transfers(batch),
            count=batch.count,
            control_sum=batch.total,
        )
    partial.replace(path)
    PaymentBatch.objects.filter(pk=batch.pk).update(file_name=path.name, file_sha256=summary.sha256)
    return path


def cycle_export(*, cycle: PaymentCycle, out: Path) -> list[Path]:
    """Every bank batch's instruction file of a cycle into ``out``, in batch order; on
    PostgreSQL written by RAHDARI_PAYMENT_THREADS threads (a file is half Python, half
    the database's reading)."""
    batches = list(
        cycle.batches.filter(channel=Channel.BANK)
        .select_related("cycle__program")
        .order_by("number")
    )
    written = dict(
        in_threads(
            lambda batch: batch_file_write(batch=batch, directory_path=out),
            batches,
            workers=settings.RAHDARI_PAYMENT_THREADS,
        )
    )
    return [written[batch] for batch in batches]


# --- Reference providers' books ----------------------------------------------------------

WALLET_OF_OPERATOR = {"Jazz": "jazzcash", "Telenor": "easypaisa", "Ufone": "upaisa"}


def reference_accounts_load_synthetic(*, households: int, seed: int) -> int:
    """Fill the reference providers' books from the synthetic population: every person's
    IBAN at her bank (one in fifty closed), and a wallet for about a third of the mobile
    numbers at their operator's wallet. Upserts; returns how many accounts were written."""
    from phonenumbers import carrier, parse

    from rahdari.core.synthetic import generate_batches

    rows: dict[tuple[str, str, str], ReferenceAccount] = {}
    for batch in generate_batches(households=households, seed=seed):
        persons = batch.persons
        for i in range(len(persons["person_id"])):
            name = f"{persons['given_name'][i]} {persons['family_name'][i]}".strip()
            iban, mobile = str(persons["iban"][i]), str(persons["mobile"][i])
            if iban:
                bank = iban[4:8]
                key = account_index("bank", bank, iban)
                closed = int(hashlib.sha256(iban.encode()).hexdigest()[:4], 16) % 50 == 0
                rows[("bank", bank, key)] = ReferenceAccount(
                    channel="bank",
                    provider=bank,
                    number_index=key,
                    holder_name=name,
                    state="closed" if closed else "open",
                )
            if mobile and int(hashlib.sha256(mobile.encode()).hexdigest()[:4], 16) % 3 == 0:
                wallet = WALLET_OF_OPERATOR.get(carrier.name_for_number(parse(mobile), "en"))
                if wallet:
                    key = account_index("wallet", wallet, mobile)
                    rows[("wallet", wallet, key)] = ReferenceAccount(
                        channel="wallet", provider=wallet, number_index=key, holder_name=name
                    )
    with transaction.atomic():
        ReferenceAccount.objects.bulk_create(
            list(rows.values()),
            batch_size=2_000,
            update_conflicts=True,
            unique_fields=["channel", "provider", "number_index"],
            update_fields=["holder_name", "state"],
        )
        audit_record(
            actor=None,
            action="payments.reference_books_loaded",
            subject=("payments.referenceaccount", "synthetic"),
            changes={"households": households, "seed": seed, "accounts": len(rows)},
        )
    return len(rows)


# --- Sending batches, collecting and applying status reports ------------------------------


def batch_send(*, batch: PaymentBatch, actor: User | None) -> PaymentBatch:
    """Send a ready batch to its provider, once: a bank batch as its pain.001 file, a
    wallet or card batch as a G2P Connect ``disburse`` request (a refused request leaves
    the batch ready, with the provider's error). Audited."""
    _require(actor, "payments.prepare_cycles")
    with transaction.atomic():
        live = (
            PaymentBatch.objects.select_for_update()
            .select_related("cycle__program")
            .get(pk=batch.pk)
        )
        if live.status != PaymentBatch.Status.READY:
            raise Conflict(_("This batch was sent already."), code="already_sent")
        if live.channel == Channel.BANK:
            path = batch_file_write(
                batch=live, directory_path=settings.RAHDARI_PAYMENT_FILES_DIR / live.cycle.label
            )
            bank_rail().send(bank=live.provider, path=path)
        else:
            ack = disbursement_provider().disburse(
                provider=live.provider, request=_disburse_request(live)
            )
            if ack.get("message", {}).get("ack_status") != "ACK":
                error = str(ack.get("message", {}).get("error", {}).get("code", "nack"))[:60]
                raise ApplicationError(
                    _("The provider refused the batch: %(error)s") % {"error": error},
                    code="provider_refused",
                    status=409,
                )
        live.status = PaymentBatch.Status.SENT
        live.sent_at = timezone.now()
        live.save(update_fields=["status", "sent_at", "updated_at"])
        audit_record(
            actor=actor,
            action="payments.batch_sent",
            subject=live,
            changes={"message_id": live.message_id, "count": live.count, "total": live.total},
        )
    return live


def _financial_address(channel: str, provider: str, number: str) -> str:
    """A G2P Connect financial address: mobile:+923001234567@jazzcash, token:…@bok-card."""
    scheme = "mobile" if channel == Channel.WALLET else "token"
    return f"{scheme}:{number}@{provider}"


def _disburse_request(batch: PaymentBatch) -> dict[str, Any]:
    now = timezone.now().isoformat()
    rows = (
        Payment.objects.filter(batch=batch)
        .order_by("id")
        .values_list(
            "key", "amount", "account__number", "account__holder_name", "person__full_name"
        )
    )
    note = f"{batch.cycle.program.code} {batch.cycle.label}"[:99]
    return {
        "header": {
            "version": "1.0.0",
            "message_id": batch.message_id,
            "message_ts": now,
            "action": "disburse",
            "sender_id": "rahdari",
            "receiver_id": batch.provider,
            "total_count": batch.count,
            "is_msg_encrypted": False,
        },
        "message": {
            "transaction_id": batch.message_id,
            "disburse": [
                {
                    "reference_id": key,
                    "payer_fa": f"account:{settings.RAHDARI_PAYMENT_DEBTOR_IBAN}",
                    "payer_name": settings.RAHDARI_PAYMENT_DEBTOR_NAME,
                    "payee_fa": _financial_address(batch.channel, batch.provider, str(number)),
                    "payee_name": str(holder or full_name),
                    "amount": str(amount),
                    "currency_code": "PKR",
                    "note": note,
                    "purpose": "SSBE",
                }
                for key, amount, number, holder, full_name in rows
            ],
        },
    }


def cycle_send(*, cycle: PaymentCycle, actor: User | None) -> int:
    """Send every ready batch of a cycle; returns how many went."""
    sent = 0
    for batch in cycle.batches.filter(status=PaymentBatch.Status.READY):
        batch_send(batch=batch, actor=actor)
        sent += 1
    return sent


def _refused(
    actor: User | None,
    action: str,
    about: str,
    changes: dict[str, Any],
    message: Any,
    *,
    code: str,
    status: int = 422,
) -> ApplicationError:
    """A provider's message refused whole (nothing changed): the refusal is audited and
    the error to raise is returned."""
    audit_record(
        actor=actor, action=action, subject=("payments.providermessage", about), changes=changes
    )
    return ApplicationError(message, code=code, status=status)


def callback_ingest(*, provider: str, body: bytes, signature: str) -> ProviderMessage:
    """Apply a provider's signed G2P Connect ``on-disburse`` callback: SUCC → paid,
    RJCT → failed (its reason recorded as the matching ISO 20022 code), RCVD/PDNG → no
    change. A bad signature (401), a malformed body or an unknown batch (422) changes
    nothing and is audited; the same callback twice changes nothing."""
    expected = sign_callback(provider, body)
    if not hmac.compare_digest(expected, (signature or "").strip().lower()):
        raise _refused(
            None,
            "payments.callback_refused",
            provider[:16],
            {"reason": "bad_signature"},
            _("The callback's signature is wrong."),
            code="bad_signature",
            status=401,
        )
    try:
        data = json.loads(body)
        header, message = data["header"], data["message"]
        if header["action"] != "on-disburse":
            raise ValueError("not an on-disburse callback")
        message_id, batch_id = str(header["message_id"]), str(message["transaction_id"])
        statuses = [
            iso20022.TransactionStatus(
                original_end_to_end_id=str(item["reference_id"]),
                status={"SUCC": "ACSC", "RJCT": "RJCT", "RCVD": "RCVD", "PDNG": "PDNG"}[
                    item["status"]
                ],
                reason_code=G2P_REASONS.get(str(item.get("status_reason_code", "")), "NARR")
                if item["status"] == "RJCT"
                else None,
            )
            for item in message["on_disburse"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise _refused(
            None,
            "payments.callback_refused",
            provider[:16],
            {"reason": "malformed"},
            _("This is not a valid on-disburse callback."),
            code="malformed_callback",
            status=422,
        ) from exc
    batch = (
        PaymentBatch.objects.select_related("cycle__program")
        .filter(message_id=batch_id, provider=provider)
        .exclude(channel=Channel.BANK)
        .first()
    )
    if batch is None:
        raise _refused(
            None,
            "payments.callback_refused",
            message_id[:32],
            {"reason": "unknown_batch"},
            _("The callback is about a batch this platform did not send."),
            code="unknown_batch",
            status=422,
        )
    return _ingest(
        batch,
        f"{batch.channel}:{provider}",
        message_id,
        hashlib.sha256(body).hexdigest(),
        statuses,
        None,
        "callback",
    )


def reports_collect() -> int:
    """Fetch the banks' waiting status reports (and the reference providers' callbacks)
    and apply each (the worker, every minute).
    A report that cannot be applied is recorded and left for an officer; the others go on."""
    applied = 0
    rail = bank_rail()
    for name, data in rail.receive():
        try:
            if b"camt.054" in data[:1024]:  # returns of credited payments (reconcile.py)
                from rahdari.payments.reconcile import returns_ingest

                returns_ingest(data=data, source="bank", actor=None)
            else:
                status_report_ingest(data=data, source="bank", actor=None)
            applied += 1
        except ApplicationError as exc:
            logger.warning("bank report %s not applied: %s", name, exc.code)
            if exc.code == "report_pending":
                continue  # a return before its payment's report: read it again next round
        rail.acknowledge(name)
    provider = disbursement_provider()
    if isinstance(provider, ReferenceDisbursementProvider):
        # The reference providers "call back" here; real ones post to the callback URL.
        for file, name, body, signature in provider.due_callbacks():
            try:
                callback_ingest(provider=name, body=body, signature=signature)
                applied += 1
            except ApplicationError as exc:
                logger.warning("callback from %s not applied: %s", name, exc.code)
            provider.acknowledge(file)
    return applied


REASONS = {
    "AC01": gettext_noop("the account number is wrong"),
    "AC04": gettext_noop("the account is closed"),
    "AC06": gettext_noop("the account is blocked"),
    "BE01": gettext_noop("the account is in another name"),
    "AM02": gettext_noop("the amount is above the account's limit"),
}
_ACCOUNT_VERIFICATION = {
    "AC01": PaymentAccount.Verification.NOT_FOUND,
    "AC04": PaymentAccount.Verification.CLOSED,
    "AC06": PaymentAccount.Verification.CLOSED,
    "BE01": PaymentAccount.Verification.NAME_MISMATCH,
}


def status_report_ingest(*, data: bytes, source: str, actor: User | None) -> ProviderMessage:
    """Apply a bank's pain.002 report: each instructed payment it names becomes paid or
    failed (with the bank's reason), with an event, a ledger entry and an SMS. A report
    seen before changes nothing; a malformed report, or one about an unknown batch, is
    refused whole with the reason and audited; a status for a payment that is not in the
    batch is counted, not applied."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        report = iso20022.parse_pain002(data)
    except iso20022.Pain002Error as exc:
        raise _refused(
            actor,
            "payments.report_refused",
            digest[:16],
            {"reason": "malformed", "detail": str(exc)[:200]},
            _("This is not a valid pain.002 status report: %(detail)s") % {"detail": exc},
            code="malformed_report",
            status=422,
        ) from exc
    batch = (
        PaymentBatch.objects.select_related("cycle__program")
        .filter(message_id=report.original_message_id)
        .first()
    )
    if batch is None:
        raise _refused(
            actor,
            "payments.report_refused",
            report.message_id[:32],
            {"reason": "unknown_batch", "original": report.original_message_id},
            _("The report is about a file this platform did not send."),
            code="unknown_batch",
            status=422,
        )
    return _ingest(
        batch,
        f"{source}:{batch.provider}",
        report.message_id,
        digest,
        report.transactions,
        actor,
        "pain002",
    )


def _ingest(
    batch: PaymentBatch,
    source: str,
    message_id: str,
    digest: str,
    statuses: Iterable[iso20022.TransactionStatus],
    actor: User | None,
    kind: str,
) -> ProviderMessage:
    with transaction.atomic():
        seen = ProviderMessage.objects.filter(source=source, message_id=message_id).first()
        if seen is not None:
            return seen
        counts = _apply_statuses(batch, statuses, kind)
        message = ProviderMessage.objects.create(
            source=source,
            message_id=message_id,
            batch=batch,
            sha256=digest,
            outcome=ProviderMessage.Outcome.APPLIED,
            counts=counts,
        )
        still_open = Payment.objects.filter(batch=batch, status=Payment.Status.INSTRUCTED)
        if not still_open.exists():
            PaymentBatch.objects.filter(pk=batch.pk).update(status=PaymentBatch.Status.CLOSED)
        audit_record(
            actor=actor,
            action="payments.report_applied",
            subject=message,
            changes={"batch": batch.message_id, **counts},
        )
    return message


def _apply_statuses(
    batch: PaymentBatch, transactions: Iterable[iso20022.TransactionStatus], kind: str
) -> dict[str, int]:
    wanted = {t.original_end_to_end_id: t for t in transactions}
    counts = {"paid": 0, "failed": 0, "pending": 0, "unknown": 0, "repeated": 0}
    rows: list[tuple[Any, ...]] = []
    keys = list(wanted)
    for start in range(0, len(keys), 5_000):
        rows += list(
            Payment.objects.select_for_update(of=("self",))
            .filter(batch=batch, key__in=keys[start : start + 5_000])
            .values_list(
                "id",
                "key",
                "status",
                "amount",
                "district__name",
                "person__rahdari_number",
                "person__mobile",
                "account_id",
                "account__display",
                "person__account__preferred_language",
            )
        )
    counts["unknown"] = len(wanted) - len(rows)
    paid, failed = [], []
    for row in rows:
        status = wanted[row[1]]
        if row[2] != Payment.Status.INSTRUCTED:
            counts["repeated"] += 1
        elif status.status in iso20022.PAID_STATUSES:
            paid.append(row)
        elif status.status in iso20022.FAILED_STATUSES:
            failed.append((row, status.reason_code or "NARR"))
        else:
            counts["pending"] += 1
    now = timezone.now()
    if paid:
        Payment.objects.filter(pk__in=[r[0] for r in paid]).update(
            status=Payment.Status.PAID, paid_at=now
        )
    for reason in {code for _row, code in failed}:
        Payment.objects.filter(pk__in=[r[0] for r, code in failed if code == reason]).update(
            status=Payment.Status.FAILED, reason_code=reason
        )
        if reason in _ACCOUNT_VERIFICATION:
            PaymentAccount.objects.filter(
                pk__in={r[7] for r, code in failed if code == reason}
            ).update(verification=_ACCOUNT_VERIFICATION[reason])
    _record(
        batch,
        [(r, Payment.Status.PAID, "") for r in paid]
        + [(r, Payment.Status.FAILED, code) for r, code in failed],
        kind,
    )
    counts["paid"], counts["failed"] = len(paid), len(failed)
    return counts


def _record(
    batch: PaymentBatch, changes: list[tuple[tuple[Any, ...], str, str]], source: str
) -> None:
    """Events, ledger entries and SMS for payments that changed status."""
    if not changes:
        return
    cycle = batch.cycle
    submitted = ledger_submit_many(
        events=[
            Event(
                kind=f"payments.{status}",
                fields={
                    "program": cycle.program.code,
                    "cycle": cycle.label,
                    "district": row[4],
                    "payment": row[1],
                    "channel": batch.channel,
                    "amount": row[3],
                },
                beneficiary=row[5],
            )
            for row, status, _reason in changes
        ]
    )
    PaymentEvent.objects.bulk_create(
        [
            PaymentEvent(
                payment_id=row[0],
                status=status,
                source=source,
                reason_code=reason,
                leaf_hash=sub.leaf_hash,
                entry_id=sub.entry_id,
            )
            for (row, status, reason), sub in zip(changes, submitted, strict=True)
        ],
        batch_size=5_000,
    )
    names: dict[str, str] = {}
    for row, status, reason in changes:
        if not row[6]:
            continue
        language = row[9] or "ur"
        if language not in names:
            names[language] = program_name(cycle.program, language)
        if status == Payment.Status.PAID:
            template, params = "payments.paid", {"reference": row[1]}
        elif reason in REASONS:
            with translation.override(language):
                params = {"reason": str(_(REASONS[reason]))}
            template = "payments.failed_account"
        else:
            continue  # a technical failure is retried; the beneficiary need not act
        notification_send(
            recipient=str(row[6]),
            template=template,
            language=language,
            params={
                "amount": f"{row[3]:,}",
                "program": names[language],
                "cycle": cycle.label,
                "account": row[8] or "",
                **params,
            },
            urgent=False,
        )


# --- Cash-out at agents and campsites --------------------------------------------------

register_templates(
    {
        "payments.cash_out_code": gettext_noop(
            "Rahdari: {code} is your code to collect Rs {amount} from agent {agent}. Give it "
            "only when you are at the counter. You must receive all Rs {amount}."
        ),
        "payments.cash_out_check": gettext_noop(
            "Rahdari: agent {agent} says he gave you Rs {amount}. If that is right, reply YES. "
            "If you got less, reply with the amount you got, e.g. 12000."
        ),
        "payments.cash_out_thanks": gettext_noop(
            "Rahdari: thank you. You confirmed receiving Rs {amount} from agent {agent}."
        ),
        "payments.cash_out_disputed": gettext_noop(
            "Rahdari: we recorded that agent {agent} gave you Rs {amount} instead of Rs {due}. "
            "This is a deduction report; an officer will look into it. Nobody may take part "
            "of your money."
        ),
    }
)

CASH_OUT_CHANNELS = (Channel.WALLET, Channel.CARD)


def _person_from_qr(*, qr: str, agent: User) -> Person:
    from rahdari.credentials.services import credential_verify

    result = credential_verify(text=qr, actor=agent)
    number = result.claims.get("id") if result.valid else None
    person = Person.objects.filter(rahdari_number=number).first() if number else None
    if person is None:
        from rahdari.credentials.selectors import reason_text

        message = reason_text(result.reason) if not result.valid else _("No such person.")
        raise ApplicationError(
            _("This QR code is not a valid Rahdari ID: %(reason)s") % {"reason": message},
            code="invalid_qr",
            fields={"qr": [str(message)]},
        )
    return person


def cash_out_start(*, agent: User, qr: str, location: str = "") -> CashOut:
    """An agent scans the beneficiary's QR ID: her oldest paid, not yet collected wallet
    or card payment is found and a code goes to her phone. Audited."""
    _require(agent, "payments.operate_cash_out")
    person = _person_from_qr(qr=qr, agent=agent)
    phone = _phone_of(person)
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .select_related("cycle__program")
            .filter(person=person, status=Payment.Status.PAID, channel__in=CASH_OUT_CHANNELS)
            .exclude(  # collected, or another agent is collecting it right now
                Exists(
                    CashOut.objects.filter(payment=OuterRef("pk")).filter(
                        Q(status__in=["handed_over", "confirmed", "disputed"])
                        | (Q(status="awaiting_code") & ~Q(agent=agent))
                    )
                )
            )
            .order_by("paid_at", "id")
            .first()
        )
        if payment is None:
            raise Conflict(
                _("This person has no payment waiting to be collected."), code="nothing_to_collect"
            )
        CashOut.objects.filter(
            payment=payment, agent=agent, status=CashOut.Status.AWAITING_CODE
        ).update(status=CashOut.Status.CANCELLED)
        cash_out = CashOut.objects.create(
            payment=payment,
            person=person,
            agent=agent,
            location=location.strip()[:120],
            amount_due=payment.amount,
        )
        action_code_request(
            phone=phone,
            language=_language_of(person),
            template="payments.cash_out_code",
            params={"amount": f"{payment.amount:,}", "agent": agent.display_name},
        )
        audit_record(
            actor=agent,
            action="payments.cash_out_started",
            subject=cash_out,
            changes={
                "payment": payment.key,
                "amount_due": payment.amount,
                "location": location[:60],
            },
        )
    return cash_out


def cash_out_complete(*, cash_out: CashOut, code: str, amount: int, agent: User) -> CashOut:
    """The beneficiary's code proves she is at the counter; the agent records the cash
    handed over (never more than due). She is asked by SMS to confirm the amount."""
    _require(agent, "payments.operate_cash_out")
    if cash_out.agent_id != agent.pk:
        raise Forbidden(_("Another agent started this cash-out."), code="not_your_cash_out")
    if (
        not isinstance(amount, int)
        or isinstance(amount, bool)
        or not 0 < amount <= cash_out.amount_due
    ):
        raise ApplicationError(
            _("Enter the rupees you handed over: more than 0 and at most %(due)s.")
            % {"due": f"{cash_out.amount_due:,}"},
            code="invalid_amount",
            fields={"amount": [_("Between 1 and the amount due.")]},
        )
    person = cash_out.person
    action_code_verify(phone=_phone_of(person), code=code, action="payments.cash_out_code")
    with transaction.atomic():
        live = CashOut.objects.select_for_update().get(pk=cash_out.pk)
        if live.status != CashOut.Status.AWAITING_CODE:
            raise Conflict(_("This cash-out is finished already."), code="not_awaiting_code")
        live.status = CashOut.Status.HANDED_OVER
        live.amount_handed = amount
        live.handed_at = timezone.now()
        live.save(update_fields=["status", "amount_handed", "handed_at", "updated_at"])
        # Prepaid cards: the cash comes off her card at the issuer; a refusal or an outage
        # undoes this hand-over (cards.py; imported here because cards imports services).
        from rahdari.payments.cards import card_cash_out_debit

        card_cash_out_debit(cash_out=live, amount=amount)
        _wallet_cash_out_debit(cash_out=live, amount=amount)
        notification_send(
            recipient=_phone_of(person),
            template="payments.cash_out_check",
            language=_language_of(person),
            params={"amount": f"{amount:,}", "agent": agent.display_name},
            urgent=False,
        )
        audit_record(
            actor=agent,
            action="payments.cash_handed_over",
            subject=live,
            changes={"amount_due": live.amount_due, "amount_handed": amount},
        )
    return live


def _wallet_cash_out_debit(*, cash_out: CashOut, amount: int) -> None:
    """The cash an agent hands over for a wallet payment comes out of her wallet at the
    operator, inside the cash-out's transaction: an outage or too little in the wallet
    undoes the hand-over record and tells the agent not to hand the cash over."""
    payment = cash_out.payment
    if payment.channel != Channel.WALLET or payment.account is None:
        return
    try:
        taken = disbursement_provider().cash_out(
            provider=payment.provider,
            payee=(Channel.WALLET, str(payment.account.number)),
            amount=amount,
            reference=str(cash_out.pk),
        )
    except ProviderUnavailable as exc:
        raise ApplicationError(
            _(
                "The wallet company could not be reached: do not hand over the cash. Try "
                "again in a few minutes."
            ),
            code="provider_unavailable",
            status=503,
        ) from exc
    if not taken:
        raise Conflict(
            _("Her wallet does not hold this amount any more. Do not hand over the cash."),
            code="wallet_short",
        )


DeductionListener = Callable[[CashOut, User | None], object]
_DEDUCTION_LISTENERS: list[DeductionListener] = []


def register_deduction_listener(listener: DeductionListener) -> None:
    """Apps that act on a deduction report register here at start-up (the grievance
    desk opens a complaint for it): payments must not import them."""
    if listener not in _DEDUCTION_LISTENERS:
        _DEDUCTION_LISTENERS.append(listener)


def _tell_deduction_listeners(cash_out: CashOut, actor: User | None) -> None:
    """Each listener in its own savepoint: the deduction report itself stands even when
    a listener refuses (e.g. her phone's complaint limit), which is logged."""
    for listener in _DEDUCTION_LISTENERS:
        try:
            with transaction.atomic():
                listener(cash_out, actor)
        except ApplicationError as refused:
            logger.warning("deduction listener refused: %s", refused.code)


def _cash_out_answered(
    live: CashOut,
    *,
    status: str,
    amount_received: int,
    via: str,
    actor: User | None,
    previous_status: str | None = None,
) -> None:
    """Record what she says she got (confirmed, or disputed: a deduction report), audited
    as ``payments.cash_out_confirmed`` or ``payments.cash_out_disputed``."""
    live.status = status
    live.amount_confirmed = amount_received
    live.confirmed_at = live.confirmed_at or timezone.now()
    live.confirmed_via = via[:8]
    live.save(
        update_fields=["status", "amount_confirmed", "confirmed_at", "confirmed_via", "updated_at"]
    )
    changes: dict[str, Any] = {
        "amount_due": live.amount_due,
        "amount_handed": live.amount_handed,
        "amount_confirmed": amount_received,
        "via": via,
    }
    if previous_status is not None:
        changes["previous_status"] = previous_status
    audit_record(
        actor=actor,
        action=f"payments.cash_out_{status}",
        subject=live,
        changes=changes,
    )


def cash_out_confirm(
    *, cash_out: CashOut, amount_received: int, via: str, actor: User | None
) -> CashOut:
    """The beneficiary says how much she got (SMS reply, her web page, or an officer who
    heard her). Less than the agent recorded — or less than due — is a deduction report:
    the cash-out is disputed and counts against the agent in the fraud review, and the
    registered listeners act on it (the grievance desk opens a complaint)."""
    if amount_received < 0:
        raise ApplicationError(_("An amount cannot be negative."), code="invalid_amount")
    with transaction.atomic():
        live = CashOut.objects.select_for_update().get(pk=cash_out.pk)
        if live.status != CashOut.Status.HANDED_OVER:
            raise Conflict(
                _("This cash-out is not waiting for confirmation."), code="not_handed_over"
            )
        short = amount_received < (live.amount_handed or 0) or amount_received < live.amount_due
        _cash_out_answered(
            live,
            status=CashOut.Status.DISPUTED if short else CashOut.Status.CONFIRMED,
            amount_received=amount_received,
            via=via,
            actor=actor,
        )
        if short:  # her deduction report is also a complaint, in the same step
            _tell_deduction_listeners(live, actor)
    return live


_REPLY = re.compile(r"^\s*(?:(yes|haan|han|ji|ہاں|جی|هو)(?!\w)|(\d[\d,]*))", re.IGNORECASE)


def cash_out_sms_reply(*, phone: str, text: str) -> CashOut | None:
    """An SMS reply from a beneficiary: "YES" (or ہاں / هو) confirms the last cash-out
    waiting for her, a number is the amount she got. Returns None if nothing waits or
    the reply says neither."""
    from rahdari.core.keyring import blind_index

    match = _REPLY.match(text or "")
    if match is None:
        return None
    cash_out = (
        CashOut.objects.filter(
            person__mobile_index=blind_index("phone", phone), status=CashOut.Status.HANDED_OVER
        )
        .order_by("-handed_at")
        .first()
    )
    if cash_out is None:
        return None
    amount = (
        (cash_out.amount_handed or 0) if match.group(1) else int(match.group(2).replace(",", ""))
    )
    return cash_out_confirm(cash_out=cash_out, amount_received=amount, via="sms", actor=None)


def cash_out_sms_handler(phone: str, text: str) -> Reply | None:
    """The inbound-SMS handler (registered in PaymentsConfig.ready): a reply to the
    cash-out check. Anything else is not for payments (None)."""
    cash_out = cash_out_sms_reply(phone=phone, text=text)
    if cash_out is None:
        return None
    params = {
        "amount": f"{cash_out.amount_confirmed or 0:,}",
        "due": f"{cash_out.amount_due:,}",
        "agent": cash_out.agent.display_name,
    }
    disputed = cash_out.status == CashOut.Status.DISPUTED
    return Reply(
        template="payments.cash_out_disputed" if disputed else "payments.cash_out_thanks",
        language=_language_of(cash_out.person),
        params=params,
    )


def cash_out_dispute(
    *, cash_out: CashOut, amount_received: int, via: str, actor: User | None
) -> CashOut:
    """A deduction reported after the cash-out check (a complaint to the grievance desk,
    also when she had first confirmed): the cash-out is disputed with the amount she
    says she got, and counts against the agent in the fraud review. Audited."""
    if amount_received < 0:
        raise ApplicationError(_("An amount cannot be negative."), code="invalid_amount")
    with transaction.atomic():
        live = CashOut.objects.select_for_update().get(pk=cash_out.pk)
        if live.status not in (CashOut.Status.HANDED_OVER, CashOut.Status.CONFIRMED):
            raise Conflict(
                _("This cash-out cannot be reported: no cash was recorded as handed over."),
                code="not_handed_over",
            )
        if amount_received >= live.amount_due:
            raise ApplicationError(
                _("This is the full amount due: there was no deduction."),
                code="no_deduction",
                fields={"amount_received": [_("Enter the amount you actually received.")]},
            )
        _cash_out_answered(
            live,
            status=CashOut.Status.DISPUTED,
            amount_received=amount_received,
            via=via,
            actor=actor,
            previous_status=live.status,
        )
    return live
