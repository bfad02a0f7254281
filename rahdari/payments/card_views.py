"""Prepaid-card pages.

Her card on "My payments" (``cards/_my_card.html``: what state it is in, its masked
number, the money on it — fetched from the issuer after the page, so a slow issuer
never slows the page — and the buttons), blocking it when it is lost (no code: see
``cards.py``), and starting it with a code sent to her phone. At the office
(``cards/_officer_card.html`` on her payments page): ordering a card for her, blocking
it when she reports it lost, starting it, and replacing a blocked card with the code she
reads out. A refusal comes back next to the form, in the user's language; an issuer
that cannot be reached is a refusal like any other (never a 500).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from rahdari.accounts.models import User
from rahdari.core.errors import ApplicationError
from rahdari.identity.models import Person
from rahdari.payments import cards, rules, selectors
from rahdari.payments.card_forms import CardBlockForm, CardIssueForm, CardStepForm
from rahdari.payments.forms import CodeForm
from rahdari.payments.models import PaymentAccount
from rahdari.payments.views import _apply_errors, _citizen, _found, _officer, rupees


def _card_context(card: PaymentAccount) -> dict[str, Any]:
    return {
        "card": card,
        "provider": rules.provider_name(card.channel, card.provider),
        "last4": card.display[-4:],
    }


def _balance_context(card: PaymentAccount) -> dict[str, Any]:
    """The money on the card, or why it cannot be shown now."""
    try:
        return {"balance": rupees(cards.card_balance(account=card)), "balance_error": ""}
    except ApplicationError as error:
        return {"balance": "", "balance_error": str(error.message)}


def _code_page(
    request: HttpRequest,
    *,
    card: PaymentAccount,
    person: Person,
    send: Any,
    confirm: Any,
    texts: dict[str, str],
) -> HttpResponse | PaymentAccount:
    """A change confirmed with a code sent to her phone, on one address: a POST with
    step=send sends the code and shows the code field; step=code checks it and makes
    the change (returned for the caller to redirect)."""
    step = CardStepForm(request.POST if request.method == "POST" else None)
    code_form = CodeForm()
    sent = False
    problem = ""
    if request.method == "POST" and step.is_valid():
        if step.cleaned_data["step"] == "send":
            try:
                send()
            except ApplicationError as error:
                problem = str(error.message)
            else:
                sent = True
        else:
            sent = True
            code_form = CodeForm(request.POST)
            if code_form.is_valid():
                try:
                    return confirm(code_form.cleaned_data["code"])  # type: ignore[no-any-return]
                except ApplicationError as error:
                    _apply_errors_to_code(code_form, error)
    return render(
        request,
        "payments/cards/code_step.html",
        _card_context(card)
        | texts
        | {
            "sent": sent,
            "problem": problem,
            "form": code_form,
            "phone": str(person.mobile)[-4:],
            "action": request.path,
        },
    )


def _apply_errors_to_code(form: CodeForm, error: ApplicationError) -> None:
    """A wrong code next to the field; any other refusal above the form."""
    if error.code == "invalid_code":
        form.add_error("code", str(error.message))
    else:
        form.add_error(None, str(error.message))


# --------------------------------------------------------------------------- her card


def _my_card(request: HttpRequest) -> tuple[User, Person, PaymentAccount] | None:
    user, person = _citizen(request)
    card = cards.card_current(person) if person is not None else None
    if person is None or card is None:
        return None
    return user, person, card


@login_required
@require_GET
def my_card(request: HttpRequest) -> HttpResponse:
    """Her card with the money on it (the page for browsers without scripts)."""
    found = _my_card(request)
    if found is None:
        return redirect("payments:me")
    _user, _person, card = found
    return render(
        request,
        "payments/cards/my_card.html",
        _card_context(card) | _balance_context(card),
    )


@login_required
@require_GET
def my_card_balance(request: HttpRequest) -> HttpResponse:
    """The money on her card, fetched by the page after it loaded."""
    found = _my_card(request)
    if found is None:
        return redirect("payments:me")
    if not getattr(request, "htmx", None):
        return redirect("payments:my_card")
    return render(request, "payments/cards/_balance.html", _balance_context(found[2]))


@login_required
@require_http_methods(["GET", "POST"])
def my_card_block(request: HttpRequest) -> HttpResponse:
    """She blocks her lost card at once (no code: her login was confirmed by SMS)."""
    found = _my_card(request)
    if found is None:
        return redirect("payments:me")
    user, _person, card = found
    form = CardBlockForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            cards.card_block(account=card, reason=form.cleaned_data["reason"], actor=user)
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _(
                    "Your card is blocked: nobody can use it now. The money on it is safe. "
                    "Go to a Rahdari office with your ID: they give you a new card with the "
                    "same money."
                ),
            )
            return redirect("payments:me")
    return render(
        request,
        "payments/cards/block.html",
        _card_context(card)
        | {"form": form, "own": True, "action": request.path, "back": reverse("payments:me")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def my_card_activate(request: HttpRequest) -> HttpResponse:
    """She starts her card once it is in her hands, with a code sent to her phone."""
    found = _my_card(request)
    if found is None:
        return redirect("payments:me")
    user, person, card = found
    result = _code_page(
        request,
        card=card,
        person=person,
        send=lambda: cards.card_activation_request(account=card, actor=user),
        confirm=lambda code: cards.card_activate(account=card, code=code, actor=user),
        texts={
            "title": _("Start using my card"),
            "intro": _(
                "Do this only when the card is in your hands. We send a code by SMS to your "
                "phone; enter it here and the card starts working."
            ),
            "send_label": _("Send me the code"),
            "confirm_label": _("Start my card"),
            "back": reverse("payments:me"),
        },
    )
    if isinstance(result, PaymentAccount):
        messages.success(request, _("Your card works now. Your payments go onto it."))
        return redirect("payments:me")
    return result


# --------------------------------------------------------------------------- at the office


def _her(request: HttpRequest, person_id: str) -> tuple[User, Person, PaymentAccount | None]:
    user = _officer(request)
    person = _found(selectors.person_get, user=user, person_id=person_id)
    return user, person, cards.card_current(person)


@login_required
@require_http_methods(["GET", "POST"])
def officer_card_issue(request: HttpRequest, person_id: str) -> HttpResponse:
    """Order a card for her; her payments go to it once she confirms the code."""
    user, person, card = _her(request, person_id)
    form = CardIssueForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = cards.card_issue(
                person=person, provider=form.cleaned_data["provider"], actor=user
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _(
                    "Card %(card)s is ordered in her name. A code was sent by SMS to her phone "
                    "ending %(phone)s: ask her to read it out and enter it below."
                )
                % {"card": issued.display, "phone": str(person.mobile)[-4:]},
            )
            return redirect("payments:person", person_id=person.pk)
    return render(
        request,
        "payments/cards/issue.html",
        {"person": person, "form": form, "card": card, "action": request.path},
    )


@login_required
@require_http_methods(["GET", "POST"])
def officer_card_block(request: HttpRequest, person_id: str) -> HttpResponse:
    """Block her card when she reports it lost, stolen or broken (in person or by phone)."""
    user, person, card = _her(request, person_id)
    if card is None:
        messages.error(request, _("She has no prepaid card."))
        return redirect("payments:person", person_id=person.pk)
    form = CardBlockForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            cards.card_block(account=card, reason=form.cleaned_data["reason"], actor=user)
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Card %(card)s is blocked. The money on it waits for her new card.")
                % {"card": card.display},
            )
            return redirect("payments:person", person_id=person.pk)
    back = reverse("payments:person", args=[person.pk])
    return render(
        request,
        "payments/cards/block.html",
        _card_context(card)
        | {"form": form, "own": False, "person": person, "action": request.path, "back": back},
    )


@login_required
@require_http_methods(["GET", "POST"])
def officer_card_activate(request: HttpRequest, person_id: str) -> HttpResponse:
    """Start her card at the office with the code she reads out."""
    user, person, card = _her(request, person_id)
    if card is None:
        messages.error(request, _("She has no prepaid card."))
        return redirect("payments:person", person_id=person.pk)
    result = _code_page(
        request,
        card=card,
        person=person,
        send=lambda: cards.card_activation_request(account=card, actor=user),
        confirm=lambda code: cards.card_activate(account=card, code=code, actor=user),
        texts={
            "title": _("Start her card"),
            "intro": _(
                "Only when the card is in her hands. A code goes by SMS to her phone; she "
                "reads it out and the card starts working."
            ),
            "send_label": _("Send her the code"),
            "confirm_label": _("Start the card"),
            "back": reverse("payments:person", args=[person.pk]),
        },
    )
    if isinstance(result, PaymentAccount):
        messages.success(request, _("Card %(card)s works now.") % {"card": result.display})
        return redirect("payments:person", person_id=person.pk)
    return result


@login_required
@require_http_methods(["GET", "POST"])
def officer_card_replace(request: HttpRequest, person_id: str) -> HttpResponse:
    """Hand her a new card for a blocked one: her code lets the issuer move the money."""
    user, person, card = _her(request, person_id)
    if card is None:
        messages.error(request, _("She has no prepaid card."))
        return redirect("payments:person", person_id=person.pk)
    result = _code_page(
        request,
        card=card,
        person=person,
        send=lambda: cards.card_replacement_request(account=card, actor=user),
        confirm=lambda code: cards.card_replace(account=card, code=code, actor=user),
        texts={
            "title": _("Give her a new card"),
            "intro": _(
                "The money on the blocked card moves to the new card. A code goes by SMS to "
                "her phone; she reads it out when you hand her the new card."
            ),
            "send_label": _("Send her the code"),
            "confirm_label": _("Replace the card"),
            "back": reverse("payments:person", args=[person.pk]),
        },
    )
    if isinstance(result, PaymentAccount):
        messages.success(
            request,
            _("The new card %(card)s replaces %(old)s; the money moved onto it.")
            % {"card": result.display, "old": card.display},
        )
        return redirect("payments:person", person_id=person.pk)
    return result


@login_required
@require_GET
def officer_card_balance(request: HttpRequest, person_id: str) -> HttpResponse:
    """The money on her card, fetched by her payments page after it loaded."""
    _user, person, card = _her(request, person_id)
    if card is None:
        return redirect("payments:person", person_id=person.pk)
    if getattr(request, "htmx", None):
        return render(request, "payments/cards/_balance.html", _balance_context(card))
    back = reverse("payments:person", args=[person.pk])
    return render(
        request,
        "payments/cards/balance.html",
        _card_context(card) | _balance_context(card) | {"person": person, "back": back},
    )
