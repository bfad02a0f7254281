"""Payments API: payment accounts (the person's own, or recorded by an officer; either
way confirmed with the code sent to her phone), cycles with their preview, approval
with the approver's authenticator code (four eyes), the batch job, batches and their
pain.001 files, and a citizen's own payments with links to their receipts."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import client_errors
from rahdari.core.errors import ApplicationError, Forbidden, NotFound
from rahdari.core.http import is_verified
from rahdari.core.models import Job
from rahdari.identity.models import Person
from rahdari.payments import rules, selectors, services
from rahdari.payments.agent_api import router as agent_router
from rahdari.payments.card_api import router as card_router
from rahdari.payments.forms import VERIFICATION_TEXTS
from rahdari.payments.models import Channel, PaymentAccount, PaymentBatch, PaymentCycle
from rahdari.payments.sending import batches_send_start

router = Router(tags=["payments"], auth=django_auth)


# --------------------------------------------------------------------------- schemas


class PaymentAccountCreateIn(Schema):
    channel: str = Field(description="bank, wallet or card")
    number: str = Field(
        description="The IBAN (bank), the mobile number (wallet) or the card's token "
        "(never a card number)"
    )
    provider: str = Field("", description="Wallet (jazzcash, easypaisa, upaisa) or card issuer")
    rahdari_number: str = Field(
        "", description="Officers: the Rahdari number of the person, who gets the code"
    )


class PaymentAccountConfirmIn(Schema):
    code: str = Field(description="The 6-digit code the SMS brought to the person's phone")


class PaymentAccountOut(Schema):
    id: UUID
    rahdari_number: str | None
    channel: str
    provider: str
    provider_name: str
    display: str = Field(description="Masked, e.g. PK36 HABB •••• 1234")
    status: str
    verification: str
    verification_text: str
    card_status: str
    activated_at: datetime | None
    created_at: datetime


class CountOut(Schema):
    count: int
    amount: int


class DistrictSummaryOut(Schema):
    payable: int
    amount: int
    held: int
    by_channel: dict[str, CountOut]


class CycleSummaryOut(Schema):
    payable: CountOut
    held: CountOut
    holds: dict[str, CountOut]
    by_district: dict[str, DistrictSummaryOut]
    control: CountOut = Field(description="What the bank files must add up to")


class ProgressOut(Schema):
    status: str
    done: int
    total: int
    percent: int
    message: str


class CycleOut(Schema):
    id: UUID
    program: str
    label: str
    status: str
    prepared_by: str | None
    approved_by: str | None
    decided_at: datetime | None
    decision_note: str
    payable_count: int
    payable_total: int
    held_count: int
    held_total: int
    created_at: datetime


class CycleDetailOut(CycleOut):
    progress: ProgressOut
    summary: CycleSummaryOut | None
    batch_job: ProgressOut | None


class CycleCreateIn(Schema):
    program: str = Field(description="The program's code, e.g. cash-transfer")
    label: str = Field(description="2 to 20 letters, digits or dashes, e.g. 2026-Q4")


class CycleDecisionIn(Schema):
    approve: bool
    totp: str = Field("", description="The current code of the approver's authenticator app")
    note: str = ""


class JobOut(Schema):
    id: UUID
    kind: str
    status: str
    total: int
    done: int
    percent: int


class BatchOut(Schema):
    id: UUID
    cycle: UUID
    number: int
    channel: str
    provider: str
    provider_name: str
    status: str
    message_id: str
    count: int
    total: int
    file_name: str
    file_sha256: str
    file_url: str | None


class MyPaymentOut(Schema):
    key: str = Field(description="The payment's reference (the bank's EndToEndId)")
    amount: int
    program: str
    program_name: str
    cycle: str
    status: str
    hold: str
    channel: str
    provider_name: str
    updated_at: datetime
    paid_at: datetime | None
    receipt_url: str | None = Field(description="The receipt page, once in the public ledger")
    receipt_pdf_url: str | None


# --------------------------------------------------------------------------- helpers


def _staff(request: HttpRequest, *permissions: str) -> User:
    user = request_user(request)
    allowed = selectors.may_see_payments(user, permissions or selectors.PERMISSIONS)
    return selectors.checked_staff(user, allowed, _("You may not work on payments."))


def _citizen_person(user: User) -> Person:
    person = selectors.person_of_citizen(user)
    if person is None:
        raise NotFound(_("You are not enrolled yet."), code="no_person")
    return person


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _account_out(account: PaymentAccount) -> dict[str, Any]:
    return {
        "id": account.pk,
        "rahdari_number": account.person.rahdari_number,
        "channel": account.channel,
        "provider": account.provider,
        "provider_name": rules.provider_name(account.channel, account.provider),
        "display": account.display,
        "status": account.status,
        "verification": account.verification,
        "verification_text": str(VERIFICATION_TEXTS.get(account.verification, "")),
        "card_status": account.card_status,
        "activated_at": account.activated_at,
        "created_at": account.created_at,
    }


def _cycle_out(cycle: PaymentCycle) -> dict[str, Any]:
    return {
        "id": cycle.pk,
        "program": cycle.program.code,
        "label": cycle.label,
        "status": cycle.status,
        "prepared_by": _username(cycle.prepared_by),
        "approved_by": _username(cycle.approved_by),
        "decided_at": cycle.decided_at,
        "decision_note": cycle.decision_note,
        "payable_count": cycle.payable_count,
        "payable_total": cycle.payable_total,
        "held_count": cycle.held_count,
        "held_total": cycle.held_total,
        "created_at": cycle.created_at,
    }


def _progress_out(progress: selectors.Progress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    return {
        "status": progress.status,
        "done": progress.done,
        "total": progress.total,
        "percent": progress.percent,
        "message": progress.message,
    }


def _cycle_detail_out(cycle: PaymentCycle) -> dict[str, Any]:
    return {
        **_cycle_out(cycle),
        "progress": _progress_out(selectors.cycle_progress(cycle)),
        "summary": cycle.summary or None,
        "batch_job": _progress_out(selectors.job_progress(selectors.batch_job(cycle))),
    }


def _job_out(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "percent": job.percent,
    }


def _batch_out(batch: PaymentBatch) -> dict[str, Any]:
    bank = batch.channel == Channel.BANK
    return {
        "id": batch.pk,
        "cycle": batch.cycle_id,
        "number": batch.number,
        "channel": batch.channel,
        "provider": batch.provider,
        "provider_name": rules.provider_name(batch.channel, batch.provider),
        "status": batch.status,
        "message_id": batch.message_id,
        "count": batch.count,
        "total": batch.total,
        "file_name": batch.file_name,
        "file_sha256": batch.file_sha256,
        "file_url": reverse("api-v1:payments_batch_file", args=[batch.pk]) if bank else None,
    }


# --------------------------------------------------------------------------- accounts


@router.post(
    "/accounts",
    response={201: PaymentAccountOut, **client_errors(400, 401, 403, 404, 422, 429)},
    summary="Ask for a new payment account; a code goes by SMS to the person's phone",
    description=(
        "A citizen asks for her own account; an officer who manages accounts names the "
        "person with `rahdari_number` (in the officer's districts). The account waits "
        "(`awaiting_code`) until the code is confirmed with POST /accounts/{id}/confirm. "
        "A bad number: 400 `invalid_account` naming the field (`number`, `provider` or "
        "`channel`)."
    ),
)
def account_request(
    request: HttpRequest, payload: PaymentAccountCreateIn
) -> Status[dict[str, Any]]:
    user = request_user(request)
    if user.is_citizen:
        person = _citizen_person(user)
    else:
        if not selectors.may_manage_accounts(user):
            raise Forbidden(_("You may not record payment accounts."))
        if user.requires_totp and not is_verified(user):
            raise Forbidden(_("Confirm your login with your authenticator app first."))
        if not payload.rahdari_number.strip():
            raise ApplicationError(
                _("Give the Rahdari number of the person."),
                code="rahdari_number_required",
                fields={"rahdari_number": [_("Give the Rahdari number of the person.")]},
            )
        person = selectors.person_find(user=user, rahdari_number=payload.rahdari_number)
    account = services.payment_account_request(
        person=person,
        channel=payload.channel,
        number=payload.number,
        provider=payload.provider,
        actor=user,
    )
    return Status(201, _account_out(account))


@router.get(
    "/accounts/me",
    response={200: PaymentAccountOut, **client_errors(401, 403, 404)},
    summary="The logged-in citizen's account in use (404 `no_account` before she has one)",
)
def account_mine(request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden(_("Only citizens have payment accounts of their own."))
    account = selectors.account_active(_citizen_person(user))
    if account is None:
        raise NotFound(_("You have no payment account yet."), code="no_account")
    return _account_out(account)


@router.post(
    "/accounts/{account_id}/confirm",
    response={200: PaymentAccountOut, **client_errors(400, 401, 403, 404, 409, 422, 429)},
    summary="Confirm an account with the code from the SMS; it then replaces the old one",
    description=(
        "The provider is asked whether the account is open and in her name: "
        "`verification` says what it answered (only `verified` accounts are paid). A wrong "
        "or expired code: 400 `invalid_code`."
    ),
)
def account_confirm(
    request: HttpRequest, account_id: UUID, payload: PaymentAccountConfirmIn
) -> dict[str, Any]:
    user = request_user(request)
    if not user.is_citizen and user.requires_totp and not is_verified(user):
        raise Forbidden(_("Confirm your login with your authenticator app first."))
    account = selectors.account_get_for(user=user, account_id=account_id)
    confirmed = services.payment_account_confirm(
        account=account, code=payload.code.strip(), actor=user
    )
    return _account_out(confirmed)


# --------------------------------------------------------------------------- my payments


@router.get(
    "/me/payments",
    response={200: list[MyPaymentOut], **client_errors(401, 403, 404)},
    summary="The logged-in citizen's payments, newest first, with links to their receipts",
)
def my_payments(request: HttpRequest) -> list[dict[str, Any]]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden(_("Only citizens have payments of their own."))
    person = _citizen_person(user)
    language = (get_language() or "en").split("-")[0]
    names = selectors.program_names(language)
    rows = []
    for payment in selectors.payments_of(person):
        event = payment.receipt_event  # type: ignore[attr-defined]
        rows.append(
            {
                "key": payment.key,
                "amount": payment.amount,
                "program": payment.cycle.program.code,
                "program_name": names.get(payment.cycle.program_id, payment.cycle.program.code),
                "cycle": payment.cycle.label,
                "status": payment.status,
                "hold": payment.hold,
                "channel": payment.channel,
                "provider_name": rules.provider_name(payment.channel, payment.provider),
                "updated_at": payment.updated_at,
                "paid_at": payment.paid_at,
                "receipt_url": reverse("payments:my_receipt", args=[event]) if event else None,
                "receipt_pdf_url": reverse("payments:my_receipt_pdf", args=[event])
                if event
                else None,
            }
        )
    return rows


# --------------------------------------------------------------------------- batches


@router.get(
    "/batches/{batch_id}/file",
    response={**client_errors(400, 401, 403, 404, 409)},
    url_name="payments_batch_file",
    summary="A bank batch's ISO 20022 pain.001.001.09 file (staff; every download audited)",
    description=(
        "Written on the first download, with its SHA-256 recorded on the batch; later "
        "downloads serve the same file after checking it against that SHA-256 (409 "
        "`file_changed` if it no longer matches). Wallet and card batches have no file "
        "(400 `not_a_bank_batch`)."
    ),
    openapi_extra={
        "responses": {
            "200": {
                "description": "The pain.001 XML file",
                "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def batch_file(request: HttpRequest, batch_id: UUID) -> FileResponse:
    user = _staff(request, "payments.view_payments", "payments.prepare_cycles")
    batch = selectors.batch_get(batch_id)
    path = selectors.batch_file_open(batch=batch, actor=user)
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/xml"
    )


# --------------------------------------------------------------------------- cycles


@router.get(
    "/cycles",
    response={200: list[CycleOut], **client_errors(401, 403)},
    summary="Every payment cycle, by program, newest first, with its totals",
)
def cycle_list(request: HttpRequest) -> list[dict[str, Any]]:
    _staff(request)
    return [_cycle_out(cycle) for cycle in selectors.cycles_overview()]


@router.post(
    "/cycles",
    response={202: CycleDetailOut, **client_errors(400, 401, 403, 404, 409, 422)},
    summary="Prepare a cycle from the program's latest approved targeting run",
    description=(
        "Its payments are worked out in the background: follow `progress` with "
        "GET /payments/cycles/{id}. 409 `cycle_open` while another cycle of the program "
        "waits for approval, `duplicate_label`, `no_approved_run`."
    ),
)
def cycle_prepare(request: HttpRequest, payload: CycleCreateIn) -> Status[dict[str, Any]]:
    user = _staff(request, "payments.prepare_cycles")
    program = selectors.program_get(payload.program)
    cycle = services.cycle_prepare(program=program, label=payload.label, actor=user)
    return Status(202, _cycle_detail_out(selectors.cycle_get(cycle.pk)))


@router.get(
    "/cycles/{cycle_id}",
    response={200: CycleDetailOut, **client_errors(401, 403, 404)},
    summary="A cycle: status, progress, and its preview (payable, held by reason, by "
    "district and channel, control total) once computed",
)
def cycle_get(request: HttpRequest, cycle_id: UUID) -> dict[str, Any]:
    _staff(request)
    return _cycle_detail_out(selectors.cycle_get(cycle_id))


@router.post(
    "/cycles/{cycle_id}/decision",
    response={200: CycleDetailOut, **client_errors(401, 403, 404, 409, 422)},
    summary="Approve or reject a prepared cycle with the current authenticator code",
    description=(
        "Payment approvers only (403 `permission_denied`); never the preparer (403 "
        "`four_eyes`). A missing or wrong "
        "code: 403 `totp_required`. Every refusal is audited. Approval puts the totals "
        "per district in the public ledger."
    ),
)
def cycle_decision(
    request: HttpRequest, cycle_id: UUID, payload: CycleDecisionIn
) -> dict[str, Any]:
    user = _staff(request)  # the service refuses (and audits) anyone but an approver
    cycle = selectors.cycle_get(cycle_id)
    services.cycle_decide(
        cycle=cycle, approve=payload.approve, actor=user, totp=payload.totp, note=payload.note
    )
    return _cycle_detail_out(selectors.cycle_get(cycle_id))


@router.post(
    "/cycles/{cycle_id}/batches",
    response={202: JobOut, **client_errors(401, 403, 404, 409)},
    summary="Start the job that puts an approved cycle's waiting payments into batches",
    description="Follow it with GET /jobs/{id}; the batches are at GET /payments/cycles/{id}/batches.",
)
def batches_start(request: HttpRequest, cycle_id: UUID) -> Status[dict[str, Any]]:
    user = _staff(request, "payments.prepare_cycles")
    cycle = selectors.cycle_get(cycle_id)
    job = services.batches_build(cycle=cycle, actor=user)
    return Status(202, _job_out(job))


@router.post(
    "/cycles/{cycle_id}/send",
    response={202: JobOut, **client_errors(401, 403, 404, 409)},
    summary="Start the job that sends a cycle's ready batches to the banks and providers",
    description=(
        "Each batch goes once: a bank batch as its pain.001 file, a wallet or card batch as "
        "a G2P Connect disburse request. A provider that refuses or cannot be reached leaves "
        "its batch ready (the job's result lists them); send again later. 409 "
        "`nothing_to_send`, `not_approved`. Follow it with GET /jobs/{id}."
    ),
)
def batches_send(request: HttpRequest, cycle_id: UUID) -> Status[dict[str, Any]]:
    user = _staff(request, "payments.prepare_cycles")
    job = batches_send_start(cycle=selectors.cycle_get(cycle_id), actor=user)
    return Status(202, _job_out(job))


@router.get(
    "/cycles/{cycle_id}/batches",
    response={200: list[BatchOut], **client_errors(401, 403, 404)},
    summary="A cycle's batches, with each bank batch's file name, SHA-256 and download link",
)
def batch_list(request: HttpRequest, cycle_id: UUID) -> list[dict[str, Any]]:
    _staff(request)
    cycle = selectors.cycle_get(cycle_id)
    return [_batch_out(batch) for batch in selectors.cycle_batches(cycle)]


class CallbackAckOut(Schema):
    message: dict[str, Any]


@router.post(
    "/callbacks/{provider}",
    response={200: CallbackAckOut, **client_errors(400, 401, 422)},
    auth=None,
    summary="A wallet operator's or card issuer's G2P Connect on-disburse callback",
    description=(
        "The body is a G2P Connect `on-disburse` message (`header.action` = on-disburse, "
        "`message.transaction_id` = the batch's id, `message.on_disburse` = one status "
        "per `reference_id`: SUCC, RJCT with `status_reason_code`, RCVD or PDNG), signed "
        "with HMAC-SHA256 of the exact body bytes under the provider's shared secret, in "
        "hex, in the `X-Rahdari-Signature` header. Errors: 401 `bad_signature`, 422 "
        "`malformed_callback` or `unknown_batch`; each refusal is audited and changes "
        "nothing. The same callback twice is acknowledged and changes nothing."
    ),
)
def provider_callback(request: HttpRequest, provider: str) -> dict[str, Any]:
    message = services.callback_ingest(
        provider=provider[:16],
        body=request.body,
        signature=request.headers.get("X-Rahdari-Signature", ""),
    )
    return {
        "message": {
            "ack_status": "ACK",
            "correlation_id": message.message_id,
            "counts": message.counts,
        }
    }


# Cash-out at agents, her confirmation, and the fraud review (agent_api.py).
router.add_router("", agent_router)

# Prepaid cards: issue, activate, block, replace, balance (card_api.py).
router.add_router("/cards", card_router)
