"""Payments pages.

Staff: the cycles of every program with their totals, preparing a cycle, a cycle's
progress and preview, approval by a payment approver with her authenticator code, the
batch job and the batches with their bank files. Citizens: "My payments" — the account
her payments go to, changing it (confirmed with the code sent to her phone), every
payment with its status and its receipt from the public ledger. Enrolment officers:
the same account change for a person at the office (the code still goes to her phone
and she reads it out); every look at her payment data is recorded and shown to her.

Views parse, check who may open the page, call a service or selector and render; each
service checks the permission for its own action, four eyes and the codes. A form a
service refuses comes back (200, as Django's form views answer) with the reason next to
the field it concerns, in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.http import is_verified
from rahdari.core.validators import mask_phone
from rahdari.identity import rules as identity_rules
from rahdari.identity.models import Person
from rahdari.ledger import receipts
from rahdari.payments import rules, selectors, services
from rahdari.payments.agent_forms import ReceivedForm
from rahdari.payments.forms import (
    CHANNEL_TEXTS,
    VERIFICATION_TEXTS,
    AccountForm,
    CodeForm,
    CycleDecideForm,
    PersonFindForm,
    PrepareForm,
)
from rahdari.payments.models import (
    CashOut,
    Channel,
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentCycle,
)
from rahdari.payments.sending import batches_send_start

POLL_EVERY = "every 1s"


# --------------------------------------------------------------------------- helpers


def _language() -> str:
    return (get_language() or "en").split("-")[0]


def _staff(request: HttpRequest, *permissions: str) -> User:
    """A staff member who may see payments (or holds one of ``permissions``), with a
    login confirmed by the authenticator where the role needs it."""
    user = request_user(request)
    if not selectors.may_see_payments(user, permissions or selectors.PERMISSIONS):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


def _officer(request: HttpRequest) -> User:
    user = request_user(request)
    if not selectors.may_manage_accounts(user):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


def _citizen(request: HttpRequest) -> tuple[User, Person | None]:
    user = request_user(request)
    if not user.is_citizen:
        raise PermissionDenied
    return user, selectors.person_of_citizen(user)


def _found(loader: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return loader(*args, **kwargs)
    except NotFound as error:
        raise Http404(str(error.message)) from error


def _apply_errors(form: forms.Form, error: ApplicationError) -> None:
    """A service's refusal next to the field it names, else above the form."""
    placed: set[str] = set()
    for name, problems in error.fields.items():
        if name in form.fields:
            for problem in problems:
                form.add_error(name, problem)
                placed.add(str(problem))
    if str(error.message) not in placed:
        form.add_error(None, str(error.message))


def count(value: int) -> str:
    return receipts.format_number(int(value))


def rupees(value: int) -> str:
    return receipts.rupees(int(value))


def channel_label(channel: str) -> str:
    texts = CHANNEL_TEXTS.get(channel)
    return str(texts[0]) if texts else channel


# --------------------------------------------------------------------------- cycles


def _cycle_row(cycle: PaymentCycle) -> dict[str, Any]:
    return {
        "cycle": cycle,
        "payable": count(cycle.payable_count),
        "payable_total": rupees(cycle.payable_total),
        "held": count(cycle.held_count),
        "held_total": rupees(cycle.held_total),
    }


@login_required
@require_http_methods(["GET", "POST"])
def cycle_list(request: HttpRequest) -> HttpResponse:
    """Every program's cycles with status and totals, and the form to prepare one."""
    user = _staff(request)
    names = selectors.program_names(_language())
    programs = list(selectors.programs_all())
    can_prepare = user.has_perm("payments.prepare_cycles")
    choices = [(p.code, names.get(p.pk, p.code)) for p in programs]
    posted = request.method == "POST"
    form = PrepareForm(request.POST if posted else None, programs=choices)
    if posted:
        if not can_prepare:
            raise PermissionDenied
        if form.is_valid():
            try:
                program = selectors.program_get(form.cleaned_data["program"])
                cycle = services.cycle_prepare(
                    program=program, label=form.cleaned_data["label"], actor=user
                )
            except ApplicationError as error:
                _apply_errors(form, error)
            else:
                messages.success(
                    request,
                    _("Cycle %(label)s is being worked out. This page shows its progress.")
                    % {"label": cycle.label},
                )
                return redirect("payments:cycle", cycle_id=cycle.pk)
    groups: dict[Any, dict[str, Any]] = {}
    for cycle in selectors.cycles_overview():
        group = groups.setdefault(
            cycle.program_id,
            {
                "program": cycle.program,
                "name": names.get(cycle.program_id, cycle.program.code),
                "rows": [],
            },
        )
        group["rows"].append(_cycle_row(cycle))
    return render(
        request,
        "payments/cycle_list.html",
        {"groups": list(groups.values()), "form": form, "can_prepare": can_prepare},
    )


@dataclass(frozen=True)
class Cell:
    n: int  # for the plural
    count: str
    amount: str


def _preview_context(preview: selectors.Preview | None) -> dict[str, Any] | None:
    """The preview's numbers as the page writes them (grouped, in rupees)."""
    if preview is None:
        return None

    def cell(counts: dict[str, int] | None) -> Cell | None:
        if not counts:
            return None
        return Cell(int(counts["count"]), count(counts["count"]), rupees(counts["amount"]))

    return {
        "payable": cell(preview.payable),
        "held": cell(preview.held),
        "control": cell(preview.control),
        "holds": [
            {"reason": reason, "label": Payment.Hold(reason).label, "cell": cell(counts)}
            for reason, counts in preview.holds
            if reason in Payment.Hold.values
        ],
        "channels": [(c, channel_label(c)) for c in preview.channels],
        "districts": [
            {
                "key": row.key,
                "name": row.name,
                "cells": [cell(row.channels.get(c)) for c in preview.channels],
                "payable": cell({"count": row.payable, "amount": row.amount}),
                "held": count(row.held),
            }
            for row in preview.districts
        ],
        "channel_totals": [cell(preview.channel_totals[c]) for c in preview.channels],
    }


def _batch_row(batch: PaymentBatch) -> dict[str, Any]:
    bank = batch.channel == Channel.BANK
    return {
        "batch": batch,
        "channel": channel_label(batch.channel),
        "provider": rules.provider_name(batch.channel, batch.provider),
        "count": count(batch.count),
        "total": rupees(batch.total),
        "file_url": reverse("payments:batch_file", args=[batch.pk]) if bank else "",
    }


def _progress(progress: selectors.Progress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    return {
        "status": progress.status,
        "done": count(progress.done),
        "total": count(progress.total),
        "n": progress.total,
        "percent": progress.percent,
    }


def _cycle_context(
    user: User, cycle: PaymentCycle, decide_form: CycleDecideForm | None = None
) -> dict[str, Any]:
    computing = selectors.cycle_computing(cycle)
    paying = cycle.status in (
        PaymentCycle.Status.APPROVED,
        PaymentCycle.Status.DISBURSING,
        PaymentCycle.Status.CLOSED,
    )
    job = selectors.batch_job(cycle) if paying else None
    batching = selectors.job_running(job)
    waiting = 0
    if cycle.status in (PaymentCycle.Status.APPROVED, PaymentCycle.Status.DISBURSING):
        waiting = selectors.cycle_waiting_payments(cycle)
    preview = None
    if not computing:
        preview = selectors.cycle_preview(cycle, urdu_names=translation.get_language_bidi())
    names = selectors.program_names(_language())
    return {
        "cycle": cycle,
        "name": names.get(cycle.program_id, cycle.program.code),
        "progress": _progress(selectors.cycle_progress(cycle)),
        "computing": computing,
        "batch_progress": _progress(selectors.job_progress(job)),
        "batching": batching,
        "polling": computing or batching,
        "poll": POLL_EVERY,
        "own": cycle.prepared_by_id == user.pk,
        "can_decide": user.has_perm("accounts.approve_payments"),
        "decide_form": decide_form or CycleDecideForm(initial={"decision": "approve"}),
        "can_batch": user.has_perm("payments.prepare_cycles") and bool(waiting) and not batching,
        "waiting": count(waiting),
        "waiting_n": waiting,
        "preview": _preview_context(preview),
        "batches": [_batch_row(b) for b in selectors.cycle_batches(cycle)] if paying else [],
        "attention": selectors.payments_needing_decision(cycle) if paying else [],
        **_sending_context(user, cycle, paying, batching),
    }


def _sending_context(
    user: User, cycle: PaymentCycle, paying: bool, batching: bool
) -> dict[str, Any]:
    """The send button (ready batches, nothing being sent) and the last send's result."""
    job = selectors.send_job(cycle) if paying else None
    sending = selectors.job_running(job)
    ready = (
        cycle.batches.filter(status=PaymentBatch.Status.READY).count()
        if paying and cycle.status != PaymentCycle.Status.CLOSED
        else 0
    )
    result = job.result if job is not None and not sending else {}
    return {
        "ready_batches": ready,
        "can_send": user.has_perm("payments.prepare_cycles")
        and bool(ready)
        and not sending
        and not batching,
        "sending": sending,
        "send_refused": (result or {}).get("refused", []),
    }


@login_required
@require_GET
def cycle_detail(request: HttpRequest, cycle_id: str) -> HttpResponse:
    """A cycle: progress while its entitlements are worked out (the page polls this
    view), then the preview, approval, the batch job and the batches."""
    user = _staff(request)
    cycle = _found(selectors.cycle_get, cycle_id)
    context = _cycle_context(user, cycle)
    if getattr(request, "htmx", None):
        return render(request, "payments/partials/_cycle_body.html", context)
    return render(request, "payments/cycle.html", context)


@login_required
@require_POST
def cycle_decide(request: HttpRequest, cycle_id: str) -> HttpResponse:
    """Approve or reject with the authenticator code; a refusal is shown next to the form
    in the approver's language (the service audits it)."""
    user = _staff(request)  # the service refuses (and audits) anyone but an approver
    cycle = _found(selectors.cycle_get, cycle_id)
    form = CycleDecideForm(request.POST)
    if form.is_valid():
        try:
            services.cycle_decide(
                cycle=cycle,
                approve=form.approve,
                actor=user,
                totp=form.cleaned_data["totp"],
                note=form.cleaned_data["note"],
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _("The cycle is approved: its totals are in the public ledger.")
                if form.approve
                else _("The cycle is rejected. Nobody is paid by it."),
            )
            return redirect("payments:cycle", cycle_id=cycle.pk)
    cycle = selectors.cycle_get(cycle.pk)
    return render(request, "payments/cycle.html", _cycle_context(user, cycle, form))


@login_required
@require_POST
def batches_start(request: HttpRequest, cycle_id: str) -> HttpResponse:
    user = _staff(request, "payments.prepare_cycles")
    cycle = _found(selectors.cycle_get, cycle_id)
    try:
        services.batches_build(cycle=cycle, actor=user)
    except ApplicationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The batches are being made. This page shows the progress."))
    return redirect("payments:cycle", cycle_id=cycle.pk)


@login_required
@require_POST
def batches_send(request: HttpRequest, cycle_id: str) -> HttpResponse:
    """Send every ready batch (a job: the bank files to the banks, the disburse requests
    to the wallet and card companies)."""
    user = _staff(request, "payments.prepare_cycles")
    cycle = _found(selectors.cycle_get, cycle_id)
    try:
        batches_send_start(cycle=cycle, actor=user)
    except ApplicationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The batches are being sent. Their status changes below."))
    return redirect("payments:cycle", cycle_id=cycle.pk)


@login_required
@require_GET
def batch_file(request: HttpRequest, batch_id: str) -> HttpResponseBase:
    """A bank batch's pain.001 file, streamed (written on the first download; audited)."""
    user = _staff(request, "payments.view_payments", "payments.prepare_cycles")
    batch = _found(selectors.batch_get, batch_id)
    try:
        path = selectors.batch_file_open(batch=batch, actor=user)
    except ApplicationError as error:
        messages.error(request, str(error.message))
        return redirect("payments:cycle", cycle_id=batch.cycle_id)
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/xml"
    )


# --------------------------------------------------------------------------- accounts


def _account_context(account: PaymentAccount | None) -> dict[str, Any] | None:
    if account is None:
        return None
    return {
        "account": account,
        "channel": channel_label(account.channel),
        "provider": rules.provider_name(account.channel, account.provider),
        "verification": VERIFICATION_TEXTS.get(account.verification, ""),
        "verified": account.verification == PaymentAccount.Verification.VERIFIED,
    }


def _payment_rows(person: Person, names: dict[Any, str], *, own: bool) -> list[dict[str, Any]]:
    rows = []
    for payment in selectors.payments_of(person):
        event = payment.receipt_event  # type: ignore[attr-defined]
        status = str(Payment.Status(payment.status).label)
        if payment.hold:
            status = f"{status}: {Payment.Hold(payment.hold).label}"
        rows.append(
            {
                "payment": payment,
                "amount": rupees(payment.amount),
                "program": names.get(payment.cycle.program_id, payment.cycle.program.code),
                "status": status,
                "channel": channel_label(payment.channel) if payment.channel else "—",
                "receipt_url": reverse("payments:my_receipt", args=[event])
                if event and own
                else "",
            }
        )
    return rows


def _person_context(person: Person, *, own: bool) -> dict[str, Any]:
    """Her account, a change waiting for its code, her payments, who looked."""
    awaiting = selectors.account_awaiting(person)
    return {
        "person": person,
        "active": _account_context(selectors.account_active(person)),
        "awaiting": awaiting,
        "awaiting_provider": rules.provider_name(awaiting.channel, awaiting.provider)
        if awaiting
        else "",
        "payments": _payment_rows(person, selectors.program_names(_language()), own=own),
        "phone": mask_phone(str(person.mobile)) if person.mobile else "",
        "channel_texts": CHANNEL_TEXTS,
    }


def _request_account(form: AccountForm, person: Person, actor: User) -> PaymentAccount | None:
    if not form.is_valid():
        return None
    try:
        return services.payment_account_request(
            person=person,
            channel=form.cleaned_data["channel"],
            number=form.cleaned_data["number"],
            provider=form.cleaned_data["provider"] or "",
            actor=actor,
        )
    except ApplicationError as error:
        _apply_errors(form, error)
        return None


def _confirm_account(form: CodeForm, account: PaymentAccount, actor: User) -> PaymentAccount | None:
    if not form.is_valid():
        return None
    try:
        return services.payment_account_confirm(
            account=account, code=form.cleaned_data["code"], actor=actor
        )
    except ApplicationError as error:
        form.add_error("code", str(error.message))
        return None


def _confirmed_message(account: PaymentAccount) -> str:
    return _("The new account %(account)s is now the one your payments go to. %(check)s") % {
        "account": account.display,
        "check": VERIFICATION_TEXTS.get(account.verification, ""),
    }


@login_required
@require_http_methods(["GET", "POST"])
def my_payments(request: HttpRequest) -> HttpResponse:
    """Her account, the form to change it, and every payment with its receipt."""
    user, person = _citizen(request)
    if person is None:
        return render(request, "payments/my_payments_none.html")
    form = AccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and _request_account(form, person, user) is not None:
        messages.success(
            request,
            _("We sent a code by SMS to your phone ending %(phone)s. Enter it here.")
            % {"phone": str(person.mobile)[-4:]},
        )
        return redirect("payments:my_code")
    return _my_payments_page(request, user, person, form=form)


def cash_out_row(cash_out: CashOut, names: dict[Any, str]) -> dict[str, Any]:
    """A cash-out for the agent's list and her page (``names``: program_names)."""
    payment = cash_out.payment
    return {
        "cash_out": cash_out,
        "program": names.get(payment.cycle.program_id, payment.cycle.program.code),
        "cycle": payment.cycle.label,
        "due": rupees(cash_out.amount_due),
        "handed": rupees(cash_out.amount_handed) if cash_out.amount_handed is not None else "",
        "confirmed": rupees(cash_out.amount_confirmed)
        if cash_out.amount_confirmed is not None
        else "",
        "status": cash_out.get_status_display(),
    }


def _my_payments_page(
    request: HttpRequest,
    user: User,
    person: Person,
    *,
    form: AccountForm | None = None,
    received_forms: dict[str, forms.Form] | None = None,
) -> HttpResponse:
    received_forms = received_forms or {}
    names = selectors.program_names(_language())
    cash_outs = [
        cash_out_row(cash_out, names)
        | {"form": received_forms.get(str(cash_out.pk)) or ReceivedForm()}
        for cash_out in selectors.cash_outs_of_person(person)
    ]
    context = _person_context(person, own=True) | {
        "form": form or AccountForm(),
        "reads": selectors.payment_reads_of(person)[:50],
        "cash_outs": cash_outs,
    }
    return render(request, "payments/my_payments.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def my_code(request: HttpRequest) -> HttpResponse:
    """The code step: the 6 digits from the SMS make the new account hers."""
    user, person = _citizen(request)
    if person is None:
        return redirect("payments:me")
    awaiting = selectors.account_awaiting(person)
    if awaiting is None:
        return redirect("payments:me")
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        confirmed = _confirm_account(form, awaiting, user)
        if confirmed is not None:
            messages.success(request, _confirmed_message(confirmed))
            return redirect("payments:me")
    return render(
        request,
        "payments/my_code.html",
        {
            "account": awaiting,
            "provider": rules.provider_name(awaiting.channel, awaiting.provider),
            "channel": channel_label(awaiting.channel),
            "phone": str(person.mobile)[-4:],
            "form": form,
        },
    )


# --------------------------------------------------------------------------- receipts


def _my_event(request: HttpRequest, event_id: int) -> Any:
    _user, person = _citizen(request)
    if person is None:
        raise Http404
    return _found(selectors.payment_event_get, person=person, event_id=event_id)


@login_required
@require_GET
def my_receipt(request: HttpRequest, event_id: int) -> HttpResponse:
    """One of her payments' receipts from the public ledger, with its private salt: the
    QR opens the public checker, which proves the payment is in the signed log."""
    event = _my_event(request, event_id)
    receipt = selectors.payment_receipt(event)
    payment = event.payment
    context: dict[str, Any] = {
        "event": event,
        "payment": payment,
        "amount": rupees(payment.amount),
        "status": Payment.Status(event.status).label,
        "receipt": None,
    }
    if receipt is not None:
        context["receipt"] = receipts.receipt_context(
            receipt,
            pdf_url=reverse("payments:my_receipt_pdf", args=[event.pk]),
            districts=receipts.district_names(),
        )
        context["qr_url"] = reverse("payments:my_receipt_qr", args=[event.pk])
    return render(request, "payments/my_receipt.html", context)


def _signed_receipt(request: HttpRequest, event_id: int) -> Any:
    receipt = selectors.payment_receipt(_my_event(request, event_id))
    if receipt is None:
        raise Http404
    return receipt


@login_required
@require_GET
def my_receipt_pdf(request: HttpRequest, event_id: int) -> HttpResponse:
    receipt = _signed_receipt(request, event_id)
    pdf = receipts.receipt_pdf(receipt, language=get_language() or "en")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="rahdari-receipt-{event_id}.pdf"'
    return response


@login_required
@require_GET
def my_receipt_qr(request: HttpRequest, event_id: int) -> HttpResponse:
    receipt = _signed_receipt(request, event_id)
    svg = '<?xml version="1.0" encoding="UTF-8"?>\n' + receipts.receipt_qr_svg(receipt)
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Disposition"] = f'attachment; filename="rahdari-receipt-{event_id}.svg"'
    return response


# --------------------------------------------------------------------------- at the office


@login_required
@require_http_methods(["GET", "POST"])
def officer_find(request: HttpRequest) -> HttpResponse:
    """An enrolment officer finds the person by Rahdari number (sent in the body, never
    in the address)."""
    user = _officer(request)
    form = PersonFindForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            person = selectors.person_find(
                user=user, rahdari_number=form.cleaned_data["rahdari_number"]
            )
        except NotFound as error:
            form.add_error("rahdari_number", str(error.message))
        else:
            return redirect("payments:person", person_id=person.pk)
    return render(request, "payments/officer_find.html", {"form": form})


def _officer_page(
    request: HttpRequest,
    user: User,
    person: Person,
    form: AccountForm | None = None,
    code_form: CodeForm | None = None,
) -> HttpResponse:
    selectors.person_payment_data_read(person=person, actor=user)
    context = _person_context(person, own=False) | {
        "number": identity_rules.format_rahdari_number(person.rahdari_number or ""),
        "form": form or AccountForm(),
        "code_form": code_form or CodeForm(),
    }
    return render(request, "payments/officer_person.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def officer_person(request: HttpRequest, person_id: str) -> HttpResponse:
    """Her account and payments (the look is recorded and shown to her); the officer
    records a new account for her, and a code goes to her phone."""
    user = _officer(request)
    person = _found(selectors.person_get, user=user, person_id=person_id)
    if request.method == "GET":
        return _officer_page(request, user, person)
    form = AccountForm(request.POST)
    if _request_account(form, person, user) is None:
        return _officer_page(request, user, person, form=form)
    messages.success(
        request,
        _(
            "A code was sent by SMS to her phone ending %(phone)s. Ask her to read it out "
            "and enter it below."
        )
        % {"phone": str(person.mobile)[-4:]},
    )
    return redirect("payments:person", person_id=person.pk)


@login_required
@require_POST
def officer_code(request: HttpRequest, person_id: str) -> HttpResponse:
    user = _officer(request)
    person = _found(selectors.person_get, user=user, person_id=person_id)
    awaiting = selectors.account_awaiting(person)
    if awaiting is None:
        messages.error(request, _("No account change is waiting for a code."))
        return redirect("payments:person", person_id=person.pk)
    code_form = CodeForm(request.POST)
    confirmed = _confirm_account(code_form, awaiting, user)
    if confirmed is None:
        return _officer_page(request, user, person, code_form=code_form)
    messages.success(
        request,
        _("The account %(account)s is now hers. The bank's check: %(check)s")
        % {"account": confirmed.display, "check": confirmed.get_verification_display()},
    )
    return redirect("payments:person", person_id=person.pk)
