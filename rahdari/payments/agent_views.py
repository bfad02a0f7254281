"""Cash-out pages and the fraud review.

Agents (campsites, franchises): scan the beneficiary's QR ID (camera, hand-held scanner
or a photo), she reads out the code sent to her phone, the agent records the cash
handed over; his own cash-outs of the day to balance the till. Beneficiaries: on "My
payments", what an agent says he handed her, confirmed in one step — or "I received
less", which is a deduction report. Officers: the fraud review leads.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rahdari.accounts.models import User, request_user
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError
from rahdari.core.http import is_verified
from rahdari.credentials import selectors as credential_selectors
from rahdari.payments import fraud, selectors, services
from rahdari.payments.agent_forms import HandOverForm, ReceivedForm, ScanForm
from rahdari.payments.models import CashOut
from rahdari.payments.views import (
    _apply_errors,
    _citizen,
    _found,
    _language,
    _my_payments_page,
    _staff,
    cash_out_row,
    rupees,
)


def _agent(request: HttpRequest) -> User:
    user = request_user(request)
    if not selectors.may_hand_out_cash(user):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


def _desk(request: HttpRequest, agent: User, form: ScanForm, status: int = 200) -> HttpResponse:
    names = selectors.program_names(_language())
    rows = [cash_out_row(c, names) for c in selectors.cash_outs_of_agent(agent)]
    handed = sum(
        r["cash_out"].amount_handed or 0
        for r in rows
        if r["cash_out"].status in ("handed_over", "confirmed", "disputed")
    )
    return render(
        request,
        "payments/agent/desk.html",
        {"form": form, "rows": rows, "handed_total": rupees(handed)},
        status=status,
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def agent_desk(request: HttpRequest) -> HttpResponse:
    """GET: the scanner and his cash-outs. POST: her QR starts a cash-out of her oldest
    payment waiting to be collected; the code goes to her phone."""
    agent = _agent(request)
    if request.method == "GET":
        return _desk(request, agent, ScanForm(initial={"location": _last_location(agent)}))
    form = ScanForm(request.POST, request.FILES)
    if not form.is_valid():
        return _desk(request, agent, form)
    qr_text = (form.cleaned_data.get("qr") or "").strip()
    try:
        if not qr_text:
            credential_selectors.verify_rate_limit(request)
            qr_text = credential_selectors.qr_text_from_upload(form.cleaned_data["image"])
        cash_out = services.cash_out_start(
            agent=agent, qr=qr_text, location=form.cleaned_data.get("location") or ""
        )
    except ApplicationError as error:
        _apply_errors(form, error)
        return _desk(request, agent, form)
    return redirect("payments:agent_cash_out", cash_out_id=cash_out.pk)


def _last_location(agent: User) -> str:
    last = selectors.cash_outs_of_agent(agent, limit=1).first()
    return last.location if last else ""


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def agent_cash_out(request: HttpRequest, cash_out_id: str) -> HttpResponse:
    """The code step: she reads out the code from her SMS, he types it and the cash he
    counts out in front of her."""
    agent = _agent(request)
    cash_out = _found(selectors.cash_out_of_agent, agent=agent, cash_out_id=cash_out_id)
    form = HandOverForm(
        request.POST if request.method == "POST" else None,
        initial={"amount": str(cash_out.amount_due)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.cash_out_complete(
                cash_out=cash_out,
                code=form.cleaned_data["code"],
                amount=form.cleaned_data["amount"],
                agent=agent,
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Recorded: you handed over Rs %(amount)s. She is asked by SMS to confirm it.")
                % {"amount": rupees(form.cleaned_data["amount"])},
            )
            return redirect("payments:agent")
        cash_out.refresh_from_db()
    return render(
        request,
        "payments/agent/cash_out.html",
        {
            "row": cash_out_row(cash_out, selectors.program_names(_language())),
            "phone": str(cash_out.person.mobile)[-4:],
            "form": form,
        },
    )


@login_required
@require_POST
def my_cash_out(request: HttpRequest, cash_out_id: str) -> HttpResponse:
    """Her word on a cash-out: all received, or less (a deduction report)."""
    user, person = _citizen(request)
    if person is None:
        return redirect("payments:me")
    cash_out = _found(selectors.cash_out_of_person, person=person, cash_out_id=cash_out_id)
    form = ReceivedForm(request.POST)
    if form.is_valid():
        amount = (
            cash_out.amount_handed or 0
            if form.cleaned_data["answer"] == "all"
            else form.cleaned_data["amount"]
        )
        try:
            done = services.cash_out_confirm(
                cash_out=cash_out, amount_received=amount, via="web", actor=user
            )
        except ApplicationError as error:
            messages.error(request, str(error.message))  # e.g. answered already
            return redirect("payments:me")
        else:
            if done.status == CashOut.Status.DISPUTED:
                messages.warning(
                    request,
                    _(
                        "Your report is recorded: you received Rs %(amount)s instead of "
                        "Rs %(due)s. An officer will look into it. Nobody may take part of "
                        "your money."
                    )
                    % {"amount": rupees(amount), "due": rupees(done.amount_due)},
                )
            else:
                messages.success(
                    request,
                    _("Thank you. You confirmed receiving Rs %(amount)s.")
                    % {"amount": rupees(amount)},
                )
            return redirect("payments:me")
    return _my_payments_page(request, user, person, received_forms={str(cash_out.pk): form})


@login_required
@require_GET
def fraud_review(request: HttpRequest) -> HttpResponse:
    """The leads: shared accounts and phones, agents reported for deductions, payments
    to people recorded as deceased, accounts changed just before a payment. Persons
    appear by Rahdari number only; opening one (payment accounts page) is recorded on
    her. Looking at the list is audited."""
    user = _staff(request, "payments.view_payments")
    review = fraud.fraud_review()
    audit_record(
        actor=user,
        action="payments.fraud_review_viewed",
        subject=("payments.payment", "fraud-review"),
        changes={"leads": review.total},
    )
    return render(request, "payments/fraud.html", {"review": review})
