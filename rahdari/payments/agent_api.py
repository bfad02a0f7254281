"""Cash-out and fraud-review API: an agent starts a cash-out from the beneficiary's QR
ID and records the cash handed over with the code from her phone; she confirms (or
reports receiving less) from her own login; staff read the fraud review leads."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import client_errors
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError, Forbidden
from rahdari.payments import fraud, reconcile, selectors, services
from rahdari.payments.models import CashOut

router = Router(tags=["payments"], auth=django_auth)


class CashOutStartIn(Schema):
    qr: str = Field(max_length=8000, description="The text of the beneficiary's QR ID")
    location: str = Field("", max_length=120, description="The campsite or shop, free text")


class HandOverIn(Schema):
    code: str = Field(description="The 6-digit code she reads out from her SMS")
    amount: int = Field(description="Rupees handed over: more than 0, at most the amount due")


class ReceivedIn(Schema):
    amount_received: int = Field(
        description="Rupees she says she received; less than handed over is a deduction report"
    )


class CashOutOut(Schema):
    id: UUID
    status: str = Field(description="awaiting_code, handed_over, confirmed, disputed, cancelled")
    payment: str = Field(description="The payment's reference (its idempotency key)")
    program: str
    cycle: str
    amount_due: int
    amount_handed: int | None
    amount_confirmed: int | None
    agent: str = Field(description="The agent's name as shown to the beneficiary")
    location: str
    phone_hint: str = Field(description="The last 4 digits of the phone the code went to")
    created_at: datetime
    handed_at: datetime | None
    confirmed_at: datetime | None
    confirmed_via: str


class FraudReviewOut(Schema):
    total: int
    shared_accounts: list[dict[str, Any]]
    shared_phones: list[dict[str, Any]]
    agents_reported: list[dict[str, Any]]
    paid_to_deceased: list[dict[str, Any]]
    changed_before_payment: list[dict[str, Any]]


def _agent(request: HttpRequest) -> User:
    user = request_user(request)
    allowed = selectors.may_hand_out_cash(user)
    return selectors.checked_staff(user, allowed, _("Only payment agents hand out cash."))


def _out(cash_out: CashOut) -> dict[str, Any]:
    payment = cash_out.payment
    return {
        "id": cash_out.pk,
        "status": cash_out.status,
        "payment": payment.key,
        "program": payment.cycle.program.code,
        "cycle": payment.cycle.label,
        "amount_due": cash_out.amount_due,
        "amount_handed": cash_out.amount_handed,
        "amount_confirmed": cash_out.amount_confirmed,
        "agent": cash_out.agent.display_name,
        "location": cash_out.location,
        "phone_hint": str(cash_out.person.mobile)[-4:],
        "created_at": cash_out.created_at,
        "handed_at": cash_out.handed_at,
        "confirmed_at": cash_out.confirmed_at,
        "confirmed_via": cash_out.confirmed_via,
    }


@router.post(
    "/cash-outs",
    response={201: CashOutOut, **client_errors(400, 401, 403, 409, 422, 429)},
    summary="Agent: start a cash-out from the beneficiary's QR ID",
    description=(
        "Verifies the QR ID offline, finds her oldest paid wallet or card payment not yet "
        "collected and sends the code to her phone. Errors: 400 `invalid_qr`, 409 "
        "`nothing_to_collect`, 403 for anyone but a payment agent."
    ),
)
def cash_out_start(request: HttpRequest, payload: CashOutStartIn) -> Status[dict[str, Any]]:
    cash_out = services.cash_out_start(
        agent=_agent(request), qr=payload.qr, location=payload.location
    )
    return Status(201, _out(cash_out))


@router.get(
    "/cash-outs",
    response={200: list[CashOutOut], **client_errors(401, 403)},
    summary="Agent: my cash-outs, newest first (at most 50)",
)
def cash_out_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [_out(c) for c in selectors.cash_outs_of_agent(_agent(request))]


@router.post(
    "/cash-outs/{cash_out_id}/hand-over",
    response={200: CashOutOut, **client_errors(400, 401, 403, 404, 409, 422)},
    summary="Agent: record the cash handed over, with the code she read out",
    description=(
        "Errors: 400 `invalid_code` (wrong or expired code), 400 `invalid_amount` (not "
        "between 1 and the amount due), 409 `not_awaiting_code`, 404 for another agent's "
        "cash-out. She is then asked by SMS to confirm the amount."
    ),
)
def cash_out_hand_over(request: HttpRequest, cash_out_id: UUID, payload: HandOverIn) -> Any:
    agent = _agent(request)
    cash_out = selectors.cash_out_of_agent(agent=agent, cash_out_id=cash_out_id)
    done = services.cash_out_complete(
        cash_out=cash_out, code=payload.code, amount=payload.amount, agent=agent
    )
    return _out(selectors.cash_out_of_agent(agent=agent, cash_out_id=done.pk))


def _citizen(request: HttpRequest) -> tuple[User, Any]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden(_("Only the beneficiary confirms what she received."))
    person = selectors.person_of_citizen(user)
    if person is None:
        raise ApplicationError(_("You are not enrolled yet."), code="no_person", status=404)
    return user, person


@router.get(
    "/me/cash-outs",
    response={200: list[CashOutOut], **client_errors(401, 403, 404)},
    summary="Citizen: the cash agents say they handed me",
)
def my_cash_outs(request: HttpRequest) -> list[dict[str, Any]]:
    _user, person = _citizen(request)
    return [_out(c) for c in selectors.cash_outs_of_person(person)]


@router.post(
    "/me/cash-outs/{cash_out_id}/confirm",
    response={200: CashOutOut, **client_errors(400, 401, 403, 404, 409, 422)},
    summary="Citizen: say how much I received (less is a deduction report)",
)
def my_cash_out_confirm(request: HttpRequest, cash_out_id: UUID, payload: ReceivedIn) -> Any:
    user, person = _citizen(request)
    cash_out = selectors.cash_out_of_person(person=person, cash_out_id=cash_out_id)
    services.cash_out_confirm(
        cash_out=cash_out, amount_received=payload.amount_received, via="web", actor=user
    )
    return _out(
        CashOut.objects.select_related("payment__cycle__program", "agent", "person").get(
            pk=cash_out.pk
        )
    )


@router.get(
    "/fraud-review",
    response={200: FraudReviewOut, **client_errors(401, 403)},
    summary="Staff: the fraud review leads (shared accounts and phones, reported agents, "
    "payments to the deceased, accounts changed just before a payment)",
)
def fraud_review(request: HttpRequest) -> dict[str, Any]:
    user = _payment_staff(request, "payments.view_payments")
    review = fraud.fraud_review()
    audit_record(
        actor=user,
        action="payments.fraud_review_viewed",
        subject=("payments.payment", "fraud-review"),
        changes={"leads": review.total, "via": "api"},
    )
    return {
        "total": review.total,
        "shared_accounts": review.shared_accounts,
        "shared_phones": review.shared_phones,
        "agents_reported": review.agents_reported,
        "paid_to_deceased": review.paid_to_deceased,
        "changed_before_payment": review.changed_before_payment,
    }


# --------------------------------------------------------------------------- one payment


class PaymentEventOut(Schema):
    status: str
    source: str = Field(description="cycle, batch, pain002, callback, camt054, recall, officer…")
    reason_code: str
    at: datetime
    in_ledger: bool


class PaymentOut(Schema):
    key: str = Field(description="The payment's reference (idempotency key, EndToEndId)")
    program: str
    cycle: str
    amount: int
    status: str
    hold: str
    reason_code: str
    channel: str
    provider: str
    attempts: int
    district: str
    rahdari_number: str | None
    events: list[PaymentEventOut]


class DecisionIn(Schema):
    reason: str = Field(
        description="Pay again: new_account, came_forward, officer_error. Reverse: deceased, "
        "ineligible, duplicate, unclaimed, returned."
    )


def _payment_out(payment: Any) -> dict[str, Any]:
    return {
        "key": payment.key,
        "program": payment.cycle.program.code,
        "cycle": payment.cycle.label,
        "amount": payment.amount,
        "status": payment.status,
        "hold": payment.hold,
        "reason_code": payment.reason_code,
        "channel": payment.channel,
        "provider": payment.provider,
        "attempts": payment.attempts,
        "district": payment.district.name,
        "rahdari_number": payment.person.rahdari_number if payment.person else None,
        "events": [
            {
                "status": e.status,
                "source": e.source,
                "reason_code": e.reason_code,
                "at": e.created_at,
                "in_ledger": bool(e.leaf_hash),
            }
            for e in selectors.payment_events(payment)
        ],
    }


def _payment_staff(request: HttpRequest, *permissions: str) -> User:
    user = request_user(request)
    allowed = selectors.may_see_payments(user, permissions or selectors.PERMISSIONS)
    return selectors.checked_staff(user, allowed, _("You may not work on payments."))


@router.get(
    "/payments/{key}",
    response={200: PaymentOut, **client_errors(401, 403, 404)},
    summary="Staff: one payment and its history (the read is recorded on the person)",
)
def payment_get(request: HttpRequest, key: str) -> dict[str, Any]:
    user = _payment_staff(request)
    payment = selectors.payment_by_key(key)
    if payment.person is not None:
        selectors.person_payment_data_read(person=payment.person, actor=user)
    return _payment_out(payment)


@router.post(
    "/payments/{key}/repay",
    response={200: PaymentOut, **client_errors(400, 401, 403, 404, 409)},
    summary="Officer: pay a returned or unclaimed payment again, in the next batch",
    description="Errors: 400 `invalid_reason`, 409 `not_repayable`, `no_account`, "
    "`cycle_closed`. Audited; she gets an SMS.",
)
def payment_repay(request: HttpRequest, key: str, payload: DecisionIn) -> dict[str, Any]:
    user = _payment_staff(request, "payments.prepare_cycles")
    payment = reconcile.payment_repay(
        payment=selectors.payment_by_key(key), reason=payload.reason, actor=user
    )
    return _payment_out(selectors.payment_by_key(payment.key))


@router.post(
    "/payments/{key}/reverse",
    response={200: PaymentOut, **client_errors(400, 401, 403, 404, 409, 503)},
    summary="Officer: reverse a paid, returned or unclaimed payment for good",
    description="A paid wallet or card payment is first recalled from its provider (409 "
    "`already_withdrawn` if the money was taken out; 503 `provider_unavailable`); a paid "
    "bank payment is recalled through the bank (409 `recall_through_bank`). Errors: 400 "
    "`invalid_reason`, 409 `not_reversible`. Ledger entry, SMS, audit.",
)
def payment_reverse(request: HttpRequest, key: str, payload: DecisionIn) -> dict[str, Any]:
    user = _payment_staff(request, "payments.prepare_cycles")
    payment = reconcile.payment_reverse(
        payment=selectors.payment_by_key(key), reason=payload.reason, actor=user
    )
    return _payment_out(selectors.payment_by_key(payment.key))


@router.post(
    "/bank-reports",
    response={200: dict[str, Any], **client_errors(401, 403, 413, 422)},
    summary="Officer: apply a bank's pain.002 status report or camt.054 return notification",
    description="The request body is the XML file itself (Content-Type application/xml), "
    "for banks that deliver by hand rather than through the rail. Each is applied once "
    "(a repeated message id changes nothing). Errors: 422 `malformed_report`, "
    "`unknown_batch`, `other_account`; 413 `too_large` over 12 MB.",
)
def bank_report(request: HttpRequest) -> dict[str, Any]:
    user = _payment_staff(request, "payments.prepare_cycles")
    try:
        data = request.body
    except RequestDataTooBig as exc:
        raise ApplicationError(
            _("The file is too large: send it in parts of at most 12 MB."),
            code="too_large",
            status=413,
        ) from exc
    if b"camt.054" in data[:1024]:
        message = reconcile.returns_ingest(data=data, source="bank", actor=user)
    else:
        message = services.status_report_ingest(data=data, source="bank", actor=user)
    return {"message_id": message.message_id, "source": message.source, "counts": message.counts}
