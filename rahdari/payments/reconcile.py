"""After a payment is made: money the bank sends back, money nobody collects, and the
officer's two answers to either — pay it again, or reverse it for good.

- **Returned**: a bank books a credited payment back onto the program's account and
  says so in a camt.054 notification (``returns_ingest``; collected by the worker with
  the pain.002 reports). The payment becomes *returned* with the bank's reason; a
  reason about the account (closed, frozen, another name) marks her account so, and the
  payment follows in a later batch once she has a new verified account — as a failed
  one does.
- **Unclaimed**: a wallet or prepaid-card payment nobody collected within
  ``RAHDARI_PAYMENT_COLLECTION_DAYS`` is recalled from the provider
  (``unclaimed_sweep``, every worker round). If the money is still there it comes back
  to the program and the payment is *unclaimed*; she is told by SMS and can have it
  paid again at an office. If she took it out somewhere else (the provider says so),
  nothing changes and that answer is kept (an event), so she is not asked about again.
- **Pay again** (``payment_repay``): an officer puts a returned or unclaimed payment
  back into the next batch, with the reason, audited.
- **Reverse** (``payment_reverse``): an officer closes a payment for good with the
  reason — an unclaimed or returned one (the money is back already), or a paid one
  made in error (e.g. to a person recorded as deceased), after the provider recalled
  the money. Each change has its event and its ledger entry; nothing is half done.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError, Conflict
from rahdari.core.notifications import notification_send, register_templates
from rahdari.payments import camt054, rules
from rahdari.payments.models import (
    CashOut,
    Channel,
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentEvent,
    ProviderMessage,
)
from rahdari.payments.providers import ProviderUnavailable, disbursement_provider
from rahdari.payments.services import _ACCOUNT_VERIFICATION, _record, _refused, _require
from rahdari.programs.services import program_name

logger = logging.getLogger(__name__)

ROW = (
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
    "batch_id",
)
"""The columns ``services._record`` reads from each changed payment (and its batch)."""

REVERSAL_REASONS: dict[str, Any] = {
    "deceased": gettext_noop("the recipient had died before the payment"),
    "ineligible": gettext_noop("the household was found not to be eligible"),
    "duplicate": gettext_noop("the household was paid twice"),
    "unclaimed": gettext_noop("the money was not collected and the cycle is closed"),
    "returned": gettext_noop("the bank returned the money and no new account was given"),
}
REPAY_REASONS: dict[str, Any] = {
    "new_account": gettext_noop("she gave a new account"),
    "came_forward": gettext_noop("she came to the office to collect it"),
    "officer_error": gettext_noop("the earlier payment went wrong through no fault of hers"),
}

register_templates(
    {
        "payments.unclaimed": gettext_noop(
            "Rahdari: Rs {amount} ({program}, {cycle}) was not collected within {days} days "
            "and went back to the program. Visit your district office with your QR ID to "
            "have it paid again."
        ),
        "payments.reversed": gettext_noop(
            "Rahdari: the payment of Rs {amount} ({program}, {cycle}) was cancelled because "
            "{reason}. If this is wrong, complain at your district office or on Rahdari."
        ),
        "payments.repaid": gettext_noop(
            "Rahdari: Rs {amount} ({program}, {cycle}) will be paid again in the next batch, "
            "into {account}."
        ),
    }
)


def _by_batch(rows: list[tuple[Any, ...]]) -> dict[Any, list[tuple[Any, ...]]]:
    grouped: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        grouped[row[10]].append(row)
    return grouped


def _record_changes(
    rows: list[tuple[Any, ...]], status: str, reasons: dict[Any, str], source: str
) -> None:
    """Events, ledger entries (and the SMS ``_record`` sends) for rows grouped by batch."""
    batches = PaymentBatch.objects.select_related("cycle__program").in_bulk(
        {row[10] for row in rows}
    )
    for batch_id, group in _by_batch(rows).items():
        _record(
            batches[batch_id], [(row, status, reasons.get(row[0], "")) for row in group], source
        )


def _notify(row: tuple[Any, ...], batch: PaymentBatch, template: str, **params: Any) -> None:
    if not row[6]:
        return
    language = row[9] or "ur"
    notification_send(
        recipient=str(row[6]),
        template=template,
        language=language,
        params={
            "amount": f"{row[3]:,}",
            "program": program_name(batch.cycle.program, language),
            "cycle": batch.cycle.label,
            "account": row[8] or "",
            **params,
        },
        urgent=False,
    )


# --------------------------------------------------------------------------- returns


def returns_ingest(
    *, data: bytes, source: str = "bank", actor: User | None = None
) -> ProviderMessage:
    """Apply a bank's camt.054 notification of returned payments: each paid payment it
    names becomes returned, with the bank's reason, an event, a ledger entry and an SMS.
    A notification seen before changes nothing; a malformed one, or one for another
    account, is refused whole and audited; a return of a payment that is not paid, or
    of a different amount, is counted and not applied."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        notice = camt054.parse_camt054(data)
    except camt054.Camt054Error as exc:
        raise _refused(
            actor,
            "payments.returns_refused",
            digest[:16],
            {"reason": "malformed", "detail": str(exc)[:200]},
            _("This is not a valid camt.054 return notification: %(detail)s") % {"detail": exc},
            code="malformed_report",
            status=422,
        ) from exc
    if notice.account != settings.RAHDARI_PAYMENT_DEBTOR_IBAN:
        raise _refused(
            actor,
            "payments.returns_refused",
            notice.message_id[:32],
            {"reason": "other_account"},
            _("The notification is about another account than the program's."),
            code="other_account",
            status=422,
        )
    wanted = {item.end_to_end_id: item for item in notice.returns}
    counts = {"returned": 0, "unknown": 0, "repeated": 0, "amount_differs": 0}
    with transaction.atomic():
        seen = ProviderMessage.objects.filter(
            source=f"{source}-returns", message_id=notice.message_id
        ).first()
        if seen is not None:
            return seen
        rows = list(
            Payment.objects.select_for_update(of=("self",))
            .filter(key__in=list(wanted))
            .values_list(*ROW)
        )
        counts["unknown"] = len(wanted) - len(rows)
        if any(row[2] == Payment.Status.INSTRUCTED for row in rows):
            # The bank's status report on the payment has not arrived yet: read this
            # notification again later rather than lose the return.
            raise Conflict(
                _("A returned payment's status report has not arrived yet; try again later."),
                code="report_pending",
            )
        applied = []
        for row in rows:
            item = wanted[row[1]]
            if row[2] != Payment.Status.PAID:
                counts["repeated"] += 1
            elif row[3] != item.amount:
                counts["amount_differs"] += 1
            else:
                applied.append(row)
        reasons = {row[0]: wanted[row[1]].reason_code for row in applied}
        for code in set(reasons.values()):
            ids = [pk for pk, reason in reasons.items() if reason == code]
            Payment.objects.filter(pk__in=ids).update(
                status=Payment.Status.RETURNED, reason_code=code
            )
            if code in _ACCOUNT_VERIFICATION:
                PaymentAccount.objects.filter(
                    pk__in={row[7] for row in applied if row[0] in ids}
                ).update(verification=_ACCOUNT_VERIFICATION[code])
        _record_changes(applied, Payment.Status.RETURNED, reasons, "camt054")
        counts["returned"] = len(applied)
        message = ProviderMessage.objects.create(
            source=f"{source}-returns",
            message_id=notice.message_id,
            sha256=digest,
            outcome=ProviderMessage.Outcome.APPLIED,
            counts=counts,
        )
        audit_record(
            actor=actor,
            action="payments.returns_applied",
            subject=message,
            changes=counts,
        )
    return message


# --------------------------------------------------------------------------- unclaimed

COLLECTED_ELSEWHERE = "collected"  # PaymentEvent.source: the provider says she took it out


def unclaimed_sweep(*, limit: int = 2_000) -> int:
    """Recall wallet and card payments nobody collected in time (every worker round);
    returns how many became unclaimed. A provider that cannot be reached is asked again
    next round; each payment is decided in its own transaction."""
    cutoff = timezone.now() - timedelta(days=settings.RAHDARI_PAYMENT_COLLECTION_DAYS)
    collected_here = CashOut.objects.filter(
        payment=OuterRef("pk"),
        status__in=[
            CashOut.Status.HANDED_OVER,
            CashOut.Status.CONFIRMED,
            CashOut.Status.DISPUTED,
            CashOut.Status.AWAITING_CODE,
        ],
    )
    collected_elsewhere = PaymentEvent.objects.filter(
        payment=OuterRef("pk"), source=COLLECTED_ELSEWHERE
    )
    candidates = list(
        Payment.objects.filter(
            status=Payment.Status.PAID,
            channel__in=[Channel.WALLET, Channel.CARD],
            paid_at__lt=cutoff,
        )
        .exclude(Exists(collected_here))
        .exclude(Exists(collected_elsewhere))
        .order_by("paid_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    provider = disbursement_provider()
    unclaimed = 0
    for payment_id in candidates:
        try:
            with transaction.atomic():
                unclaimed += _recall_one(provider, payment_id)
        except ProviderUnavailable:
            logger.info("unclaimed sweep: provider unavailable, retried next round")
            break
    return unclaimed


def _recall_one(provider: Any, payment_id: int) -> int:
    row = (
        Payment.objects.select_for_update(of=("self",))
        .filter(pk=payment_id, status=Payment.Status.PAID)
        .values_list(*ROW, "channel", "provider", "account__number")
        .first()
    )
    if row is None:
        return 0  # changed meanwhile
    recalled = provider.recall(
        provider=row[12], reference_id=row[1], payee=(row[11], str(row[13])), amount=row[3]
    )
    if not recalled:
        PaymentEvent.objects.create(
            payment_id=payment_id, status=Payment.Status.PAID, source=COLLECTED_ELSEWHERE
        )
        return 0
    Payment.objects.filter(pk=payment_id).update(status=Payment.Status.UNCLAIMED)
    batch = PaymentBatch.objects.select_related("cycle__program").get(pk=row[10])
    _record(batch, [(row[:11], Payment.Status.UNCLAIMED, "")], "recall")
    _notify(row, batch, "payments.unclaimed", days=settings.RAHDARI_PAYMENT_COLLECTION_DAYS)
    return 1


# --------------------------------------------------------------------------- officers


def _locked(payment: Payment) -> tuple[Any, ...]:
    row = (
        Payment.objects.select_for_update(of=("self",))
        .filter(pk=payment.pk)
        .values_list(*ROW, "channel", "provider", "account__number", "cycle__status")
        .get()
    )
    return tuple(row)


def _reason_of(reason: str, table: dict[str, Any]) -> str:
    if reason not in table:
        raise ApplicationError(
            _("Choose one of the reasons."),
            code="invalid_reason",
            fields={"reason": [_("Choose one of the reasons.")]},
        )
    return reason


def payment_repay(*, payment: Payment, reason: str, actor: User) -> Payment:
    """A returned or unclaimed payment goes into the next batch — to her current
    verified account, which must exist. Audited, with the reason."""
    _require(actor, "payments.prepare_cycles")
    _reason_of(reason, REPAY_REASONS)
    with transaction.atomic():
        row = _locked(payment)
        if not rules.can_move(row[2], Payment.Status.PENDING) or row[2] not in (
            Payment.Status.RETURNED,
            Payment.Status.UNCLAIMED,
        ):
            raise Conflict(
                _("Only a returned or unclaimed payment is paid again."), code="not_repayable"
            )
        if row[14] == "closed":
            raise Conflict(_("The cycle is closed."), code="cycle_closed")
        account = PaymentAccount.objects.filter(
            person=payment.person,
            status=PaymentAccount.Status.ACTIVE,
            verification=PaymentAccount.Verification.VERIFIED,
        ).first()
        if account is None:
            raise Conflict(
                _("She has no verified payment account: record one first."),
                code="no_account",
            )
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.PENDING,
            reason_code="",
            account=account,
            channel=account.channel,
            provider=account.provider,
        )
        PaymentEvent.objects.create(
            payment_id=payment.pk, status=Payment.Status.PENDING, source="officer"
        )
        batch = PaymentBatch.objects.select_related("cycle__program").get(pk=row[10])
        _notify(row[:8] + (account.display,) + row[9:11], batch, "payments.repaid")
        audit_record(
            actor=actor,
            action="payments.payment_repaid",
            subject=("payments.payment", row[1]),
            changes={"from": row[2], "reason": reason, "account": account.display},
        )
    payment.refresh_from_db()
    return payment


def payment_reverse(*, payment: Payment, reason: str, actor: User) -> Payment:
    """Close a payment for good: a returned or unclaimed one (the money is back with the
    program already), or a paid one made in error once its provider recalled the money
    (a bank payment cannot be recalled here: the bank's recall procedure comes first,
    and its return notification makes it returned). Event, ledger entry, SMS, audit."""
    _require(actor, "payments.prepare_cycles")
    _reason_of(reason, REVERSAL_REASONS)
    with transaction.atomic():
        row = _locked(payment)
        status = row[2]
        if not rules.can_move(status, Payment.Status.REVERSED):
            raise Conflict(
                _("Only a paid, returned or unclaimed payment can be reversed."),
                code="not_reversible",
            )
        if status == Payment.Status.PAID:
            if (
                CashOut.objects.filter(payment=payment)
                .exclude(status__in=[CashOut.Status.AWAITING_CODE, CashOut.Status.CANCELLED])
                .exists()
            ):
                raise Conflict(
                    _("The money was already taken out; it cannot be recalled."),
                    code="already_withdrawn",
                )
            if row[11] == Channel.BANK:
                raise Conflict(
                    _(
                        "A bank payment is recalled through the bank. When the bank returns "
                        "the money, reverse the returned payment."
                    ),
                    code="recall_through_bank",
                )
            try:
                recalled = disbursement_provider().recall(
                    provider=row[12],
                    reference_id=row[1],
                    payee=(row[11], str(row[13])),
                    amount=row[3],
                )
            except ProviderUnavailable as exc:
                raise ApplicationError(
                    _("The provider cannot be reached. Nothing was changed; try again later."),
                    code="provider_unavailable",
                    status=503,
                ) from exc
            if not recalled:
                raise Conflict(
                    _("The money was already taken out; it cannot be recalled."),
                    code="already_withdrawn",
                )
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.REVERSED)
        batch = PaymentBatch.objects.select_related("cycle__program").get(pk=row[10])
        _record(batch, [(row[:11], Payment.Status.REVERSED, "")], "officer")
        language = row[9] or "ur"
        with translation.override(language):
            text = str(_(REVERSAL_REASONS[reason]))
        _notify(row, batch, "payments.reversed", reason=text)
        audit_record(
            actor=actor,
            action="payments.payment_reversed",
            subject=("payments.payment", row[1]),
            changes={"from": status, "reason": reason},
        )
    payment.refresh_from_db()
    return payment
