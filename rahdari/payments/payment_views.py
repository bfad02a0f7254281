"""One payment for staff: its history (every event, with its ledger entry), the cash-outs
of it, and — for officers who prepare cycles — paying a returned or unclaimed payment
again, or reversing one, with the reason. Opening it is recorded on the person."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from rahdari.accounts.models import User
from rahdari.core.errors import ApplicationError
from rahdari.payments import reconcile, rules, selectors
from rahdari.payments.agent_forms import RepayForm, ReverseForm
from rahdari.payments.models import CashOut, Payment
from rahdari.payments.views import _apply_errors, _found, _language, _staff, channel_label, rupees

REPAYABLE = (Payment.Status.RETURNED, Payment.Status.UNCLAIMED)


def _page(
    request: HttpRequest,
    user: User,
    payment: Payment,
    *,
    repay_form: forms.Form | None = None,
    reverse_form: forms.Form | None = None,
) -> HttpResponse:
    if payment.person is not None:
        selectors.person_payment_data_read(person=payment.person, actor=user)
    names = selectors.program_names(_language())
    may_act = user.has_perm("payments.prepare_cycles")
    context: dict[str, Any] = {
        "payment": payment,
        "program": names.get(payment.cycle.program_id, payment.cycle.program.code),
        "amount": rupees(payment.amount),
        "channel": channel_label(payment.channel) if payment.channel else "—",
        "provider": rules.provider_name(payment.channel, payment.provider)
        if payment.channel
        else "",
        "events": selectors.payment_events(payment),
        "cash_outs": CashOut.objects.filter(payment=payment).select_related("agent"),
        "repay_form": (repay_form or RepayForm())
        if may_act and payment.status in REPAYABLE
        else None,
        "reverse_form": (reverse_form or ReverseForm())
        if may_act and rules.can_move(payment.status, Payment.Status.REVERSED)
        else None,
    }
    return render(request, "payments/payment.html", context)


@login_required
@require_GET
def payment_detail(request: HttpRequest, key: str) -> HttpResponse:
    user = _staff(request)
    return _page(request, user, _found(selectors.payment_by_key, key))


# The two decisions on a payment: the form, the service, the message once done.
DECISIONS: dict[str, tuple[type[forms.Form], Any, Any]] = {
    "repay": (
        RepayForm,
        reconcile.payment_repay,
        gettext_lazy("The payment goes into the next batch."),
    ),
    "reverse": (
        ReverseForm,
        reconcile.payment_reverse,
        gettext_lazy("The payment is reversed. She was told by SMS."),
    ),
}


@login_required
@require_POST
def payment_decide(request: HttpRequest, key: str, decision: str) -> HttpResponse:
    """Pay again or reverse, with the reason (officers who prepare cycles)."""
    user = _staff(request, "payments.prepare_cycles")
    payment = _found(selectors.payment_by_key, key)
    form_class, service, done = DECISIONS[decision]
    form = form_class(request.POST)
    if form.is_valid():
        try:
            service(payment=payment, reason=form.cleaned_data["reason"], actor=user)
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, str(done))
            return redirect("payments:payment", key=payment.key)
    return _page(request, user, payment, **{f"{decision}_form": form})
