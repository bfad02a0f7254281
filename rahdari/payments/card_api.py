"""Prepaid cards over the API (mounted at /api/v1/payments/cards): issue, activate,
block, replace, and the money on a card. Cards are named by their payment account's
UUID — never by the issuer's token or a card number."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts.models import User, request_user
from rahdari.core.api import client_errors
from rahdari.core.errors import Forbidden, NotFound
from rahdari.core.http import is_verified
from rahdari.core.validators import mask_phone
from rahdari.payments import cards, rules, selectors
from rahdari.payments.models import PaymentAccount

router = Router(tags=["payment cards"], auth=django_auth)

# Every card endpoint may meet an issuer that cannot be reached: 503 issuer_unavailable,
# nothing changed, try again.
ERRORS = (400, 401, 403, 404, 409, 422, 429, 503)


class CardOut(Schema):
    id: UUID = Field(description="The card's payment account (what the other endpoints take)")
    rahdari_number: str | None
    provider: str
    provider_name: str
    display: str = Field(description="Masked: the issuer and the card number's last 4 digits")
    status: str = Field(description="The account: awaiting_code, active, replaced, cancelled")
    card_status: str = Field(description="The card: issued, active, blocked, replaced")
    verification: str
    activated_at: datetime | None
    replaced_at: datetime | None
    created_at: datetime


class CardIssueIn(Schema):
    rahdari_number: str = Field(description="The Rahdari number of the person (your districts)")
    provider: str = Field(description="The card issuer: bok-card or bop-card")


class CardCodeIn(Schema):
    code: str = Field(description="The 6-digit code the SMS brought to her phone")


class CardBlockIn(Schema):
    reason: str = Field(description="lost, stolen or damaged")


class CodeSentOut(Schema):
    sent_to: str = Field(description="Her phone number, masked")


class CardBalanceOut(Schema):
    id: UUID
    display: str
    balance: int = Field(description="Rupees on the card, as the issuer says now")
    currency: str = "PKR"
    as_of: datetime


def _card_out(account: PaymentAccount) -> dict[str, Any]:
    return {
        "id": account.pk,
        "rahdari_number": account.person.rahdari_number,
        "provider": account.provider,
        "provider_name": rules.provider_name(account.channel, account.provider),
        "display": account.display,
        "status": account.status,
        "card_status": account.card_status,
        "verification": account.verification,
        "activated_at": account.activated_at,
        "replaced_at": account.replaced_at,
        "created_at": account.created_at,
    }


def _user(request: HttpRequest) -> User:
    user = request_user(request)
    if not user.is_citizen and user.requires_totp and not is_verified(user):
        raise Forbidden(_("Confirm your login with your authenticator app first."))
    return user


def _card(user: User, account_id: UUID) -> PaymentAccount:
    """Her own card (a citizen) or a card of a person of the officer's districts."""
    account = selectors.account_get_for(user=user, account_id=account_id)
    if account.channel != "card":
        raise NotFound(_("There is no such card."), code="no_card")
    return account


def _sent_to(account: PaymentAccount) -> dict[str, Any]:
    return {"sent_to": mask_phone(str(account.person.mobile))}


@router.post(
    "",
    response={201: CardOut, **client_errors(*ERRORS)},
    summary="Order a prepaid card for a person; a code goes by SMS to her phone",
    description=(
        "Officers who manage payment accounts. The issuer makes a card in her name for her "
        "district; the card waits (`status` awaiting_code, `card_status` issued) until her "
        "code is confirmed with POST /payments/accounts/{id}/confirm, and then replaces her "
        "current account. 409 `has_card` when her account is a card already (block and "
        "replace it instead), 400 `invalid_provider`, 400 `no_phone`."
    ),
)
def card_issue(request: HttpRequest, payload: CardIssueIn) -> Status[dict[str, Any]]:
    user = _user(request)
    if not selectors.may_manage_accounts(user):
        raise Forbidden(_("You may not record payment accounts."))
    person = selectors.person_find(user=user, rahdari_number=payload.rahdari_number)
    account = cards.card_issue(person=person, provider=payload.provider.strip(), actor=user)
    return Status(201, _card_out(account))


@router.get(
    "/me",
    response={200: CardOut, **client_errors(401, 403, 404)},
    summary="The logged-in citizen's card in use (404 `no_card` when her account is not a card)",
)
def card_mine(request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    if not user.is_citizen:
        raise Forbidden(_("Only citizens have payment cards of their own."))
    person = selectors.person_of_citizen(user)
    card = cards.card_current(person) if person is not None else None
    if card is None:
        raise NotFound(_("You have no prepaid card."), code="no_card")
    return _card_out(card)


@router.get(
    "/{account_id}/balance",
    response={200: CardBalanceOut, **client_errors(401, 403, 404, 409, 503)},
    summary="The rupees on a card now, from its issuer",
    description=(
        "Her own card, or (officers) a card of a person of your districts — the officer's "
        "read is recorded and shown to her. 503 `issuer_unavailable` when the issuer "
        "cannot be reached."
    ),
)
def card_balance(request: HttpRequest, account_id: UUID) -> dict[str, Any]:
    user = _user(request)
    account = _card(user, account_id)
    balance = cards.card_balance(account=account)
    if not user.is_citizen:
        selectors.person_payment_data_read(person=account.person, actor=user)
    return {
        "id": account.pk,
        "display": account.display,
        "balance": balance,
        "as_of": timezone.now(),
    }


@router.post(
    "/{account_id}/activation-code",
    response={202: CodeSentOut, **client_errors(*ERRORS)},
    summary="Send her the code that starts (activates) her card",
    description=(
        "She, or an officer she is with, once the card is in her hands. Then POST "
        "/payments/cards/{id}/activate with the code. 409 `already_active`, `card_blocked`, "
        "`not_confirmed` (the card is not her account yet); 429 after too many codes."
    ),
)
def card_activation_code(request: HttpRequest, account_id: UUID) -> Status[dict[str, Any]]:
    user = _user(request)
    account = _card(user, account_id)
    cards.card_activation_request(account=account, actor=user)
    return Status(202, _sent_to(account))


@router.post(
    "/{account_id}/activate",
    response={200: CardOut, **client_errors(*ERRORS)},
    summary="Activate a card with the code from her phone",
    description=(
        "The issuer activates the card. 400 `invalid_code` for a wrong or expired code "
        "(nothing changes); 409 as for /activation-code; 503 `issuer_unavailable` (nothing "
        "changed; ask for a new code and try again)."
    ),
)
def card_activate(request: HttpRequest, account_id: UUID, payload: CardCodeIn) -> dict[str, Any]:
    user = _user(request)
    account = _card(user, account_id)
    return _card_out(cards.card_activate(account=account, code=payload.code.strip(), actor=user))


@router.post(
    "/{account_id}/block",
    response={200: CardOut, **client_errors(*ERRORS)},
    summary="Block a lost, stolen or damaged card at once (no code)",
    description=(
        "She herself, or an officer she tells. No code is needed: a block moves no money, "
        "the balance stays with the issuer for the replacement, and she may have lost her "
        "phone with the card; she gets an SMS. 400 `invalid_reason`; 409 `already_blocked` "
        "or `card_replaced`; 503 `issuer_unavailable` (nothing changed; try again)."
    ),
)
def card_block(request: HttpRequest, account_id: UUID, payload: CardBlockIn) -> dict[str, Any]:
    user = _user(request)
    account = _card(user, account_id)
    return _card_out(cards.card_block(account=account, reason=payload.reason.strip(), actor=user))


@router.post(
    "/{account_id}/replacement-code",
    response={202: CodeSentOut, **client_errors(*ERRORS)},
    summary="Send her the code that lets a blocked card be replaced",
    description=(
        "Officers, when handing her the new card. Then POST /payments/cards/{id}/replace "
        "with the code. 409 `card_not_blocked` for a card that is not blocked."
    ),
)
def card_replacement_code(request: HttpRequest, account_id: UUID) -> Status[dict[str, Any]]:
    user = _user(request)
    _officers_only(user)
    account = _card(user, account_id)
    cards.card_replacement_request(account=account, actor=user)
    return Status(202, _sent_to(account))


@router.post(
    "/{account_id}/replace",
    response={201: CardOut, **client_errors(*ERRORS)},
    summary="Replace a blocked card: the balance moves to a new card, which becomes hers",
    description=(
        "Officers, with the code from her phone. The issuer moves the whole balance onto "
        "the new card (returned, active); the old card is kept as `replaced`, and her "
        "payments not yet sent go to the new card. 400 `invalid_code`; 409 "
        "`card_not_blocked` (replacing a card that is not blocked); 503 "
        "`issuer_unavailable` (nothing changed)."
    ),
)
def card_replace(
    request: HttpRequest, account_id: UUID, payload: CardCodeIn
) -> Status[dict[str, Any]]:
    user = _user(request)
    _officers_only(user)
    account = _card(user, account_id)
    new = cards.card_replace(account=account, code=payload.code.strip(), actor=user)
    return Status(201, _card_out(new))


def _officers_only(user: User) -> None:
    if not selectors.may_manage_accounts(user):
        raise Forbidden(
            _("A new card is handed over at a Rahdari office."), code="permission_denied"
        )
