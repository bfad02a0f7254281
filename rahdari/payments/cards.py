"""Prepaid cards: issue, activate, block and replace, through the card issuer's adapter
(``providers.card_issuer()``); every change audited, each in one transaction.

A card is a payment account of channel "card": its ``number`` is the issuer's token
(never the card number), its ``display`` the issuer's last four digits, and its
``card_status`` follows the card (``CARD_TRANSITIONS``)::

    issued ──activate──▶ active ──block──▶ blocked ──replace──▶ replaced
       └──────────────block───────────────────▲       (+ a new, active card, same money)

- **Issue** (an officer, for a person whose account is not a card already): the issuer
  makes a card in her name for her district; it becomes the account her payments go to
  when she confirms the code sent to her phone — the ordinary account confirmation
  (``services.payment_account_confirm``), which also asks the issuer whose card it is.
- **Activate** (she, on her page, or an officer she is with): when the card is in her
  hands, with a code sent to her phone. Money paid before that waits on the card.
- **Block** (she, logged in, or an officer she tells — in person or by phone): at once
  and *without a code*. Speed matters when a card is lost, a block moves no money (the
  balance stays with the issuer until the replacement), and she may have lost her phone
  with the card; her login was itself confirmed by an SMS code. She gets an SMS saying
  the card was blocked, so a block she did not ask for does not go unnoticed.
- **Replace** (an officer, for a blocked card, with her code): the issuer moves the
  whole balance onto a new card handed to her at the counter (active at once); the new
  card becomes her account, the old one is kept as replaced, and her payments not yet
  sent to the issuer go to the new card.

The issuer is called inside the transaction that records the change, after the rows
are locked: an outage (``ProviderUnavailable``, 503 ``issuer_unavailable``) or a refusal
(409) rolls everything back, so the platform never records a change the issuer did not
make. A code is checked before the transaction (wrong tries must count even when the
change fails); after an outage she needs a new code.
"""

from __future__ import annotations

from typing import Final

from django.db import transaction
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from rahdari.accounts.models import User
from rahdari.accounts.services import action_code_request, action_code_verify
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError, Conflict
from rahdari.core.notifications import notification_send, register_templates
from rahdari.identity.models import Person
from rahdari.payments import rules
from rahdari.payments.models import CashOut, Channel, Payment, PaymentAccount
from rahdari.payments.providers import (
    CardRefused,
    ProviderUnavailable,
    account_index,
    card_issuer,
)
from rahdari.payments.services import _language_of, _phone_of, _require

CardStatus = PaymentAccount.CardStatus

# What may follow what (the services check it before asking the issuer).
CARD_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    CardStatus.ISSUED: frozenset({CardStatus.ACTIVE, CardStatus.BLOCKED}),
    CardStatus.ACTIVE: frozenset({CardStatus.BLOCKED}),
    CardStatus.BLOCKED: frozenset({CardStatus.REPLACED}),
    CardStatus.REPLACED: frozenset(),
}


class BlockReason(TextChoices):
    LOST = "lost", gettext_lazy("lost")
    STOLEN = "stolen", gettext_lazy("stolen")
    DAMAGED = "damaged", gettext_lazy("damaged")


register_templates(
    {
        "payments.card_activation_code": gettext_noop(
            "Rahdari: {code} is your code to start using your prepaid card {card}. Give it "
            "only if the card is in your hands. It expires in {minutes} minutes."
        ),
        "payments.card_replacement_code": gettext_noop(
            "Rahdari: {code} is your code to move the money on your blocked card {card} to "
            "a new card. Give it only to the officer handing you the new card. It expires "
            "in {minutes} minutes."
        ),
        "payments.card_blocked": gettext_noop(
            "Rahdari: your prepaid card {card} is blocked. The money on it is safe: a "
            "Rahdari office gives you a new card with the same money. If you did not ask "
            "for this, tell a Rahdari office."
        ),
        "payments.card_replaced": gettext_noop(
            "Rahdari: your new prepaid card {card} replaces {old}. Rs {amount} was moved "
            "onto it. Your next payments go to the new card."
        ),
    }
)

# The refusal when a card is not where a change needs it (target, current state).
_WRONG_STATE: Final[dict[tuple[str, str], tuple[str, str]]] = {
    (CardStatus.ACTIVE, CardStatus.ACTIVE): (
        "already_active",
        gettext_noop("This card is active already."),
    ),
    (CardStatus.ACTIVE, CardStatus.BLOCKED): (
        "card_blocked",
        gettext_noop("This card is blocked, so it cannot be activated. Replace it."),
    ),
    (CardStatus.BLOCKED, CardStatus.BLOCKED): (
        "already_blocked",
        gettext_noop("This card is blocked already. The money on it is safe until it is replaced."),
    ),
    (CardStatus.REPLACED, CardStatus.ISSUED): (
        "card_not_blocked",
        gettext_noop("Only a blocked card is replaced. Block it first."),
    ),
    (CardStatus.REPLACED, CardStatus.ACTIVE): (
        "card_not_blocked",
        gettext_noop("Only a blocked card is replaced. Block it first."),
    ),
}

_REFUSALS: Final[dict[str, str]] = {
    "unknown_card": gettext_noop("The card company does not know this card."),
    "closed": gettext_noop("The card company says this card is closed."),
    "blocked": gettext_noop("The card company says this card is blocked."),
    "not_blocked": gettext_noop("The card company replaces only a blocked card."),
    "insufficient_balance": gettext_noop("The card has less money on it than this."),
}


def _unavailable() -> ApplicationError:
    return ApplicationError(
        _(
            "The card company could not be reached. Nothing was changed: try again in a "
            "few minutes."
        ),
        code="issuer_unavailable",
        status=503,
    )


def _refused(reason: str) -> ApplicationError:
    return Conflict(
        _(_REFUSALS.get(reason, gettext_noop("The card company refused."))),
        code=f"issuer_{reason}"[:40],
    )


def _display(provider: str, last4: str) -> str:
    return f"{provider} •••• {last4}"


def _own(actor: User | None, person: Person) -> bool:
    return actor is not None and getattr(actor, "person", None) == person


def _may_act(actor: User | None, person: Person) -> None:
    """She herself, or an officer who manages payment accounts (the system: None)."""
    if not _own(actor, person):
        _require(actor, "payments.manage_accounts")


def _expect(account: PaymentAccount, target: str) -> None:
    """Refuse unless ``account`` is her card in use and may move to ``target``."""
    if account.channel != Channel.CARD:
        raise ApplicationError(_("This account is not a prepaid card."), code="not_a_card")
    if account.status == PaymentAccount.Status.AWAITING_CODE:
        raise Conflict(
            _("This card is not hers yet: confirm it first with the code sent to her phone."),
            code="not_confirmed",
        )
    if account.status != PaymentAccount.Status.ACTIVE or account.card_status == CardStatus.REPLACED:
        raise Conflict(_("This card was replaced or is no longer in use."), code="card_replaced")
    if target in CARD_TRANSITIONS.get(account.card_status, frozenset()):
        return
    code, message = _WRONG_STATE.get(
        (target, account.card_status),
        ("card_state", gettext_noop("This cannot be done to the card now.")),
    )
    raise Conflict(_(message), code=code)


def _locked(account: PaymentAccount) -> PaymentAccount:
    return (
        PaymentAccount.objects.select_for_update(of=("self",))
        .select_related("person")
        .get(pk=account.pk)
    )


def _fresh(account: PaymentAccount) -> PaymentAccount:
    """The account as stored now (a caller may hold an older copy)."""
    return PaymentAccount.objects.select_related("person").get(pk=account.pk)


# --------------------------------------------------------------------------- reads


def card_current(person: Person) -> PaymentAccount | None:
    """Her card in use (active, blocked or not yet activated), if her account is a card."""
    return (
        PaymentAccount.objects.filter(
            person=person, status=PaymentAccount.Status.ACTIVE, channel=Channel.CARD
        )
        .exclude(card_status=CardStatus.REPLACED)
        .first()
    )


def card_balance(*, account: PaymentAccount) -> int:
    """The rupees on the card now, as its issuer says (503 ``issuer_unavailable`` when it
    cannot be reached)."""
    if account.channel != Channel.CARD:
        raise ApplicationError(_("This account is not a prepaid card."), code="not_a_card")
    try:
        return card_issuer().balance(provider=account.provider, token=str(account.number))
    except ProviderUnavailable as exc:
        raise _unavailable() from exc
    except CardRefused as exc:
        raise _refused(exc.reason) from exc


# --------------------------------------------------------------------------- changes


def card_issue(*, person: Person, provider: str, actor: User | None) -> PaymentAccount:
    """An officer orders a card in her name from ``provider``, for her district; it waits
    (``awaiting_code``) until she confirms the code sent to her phone
    (``services.payment_account_confirm``). Audited."""
    _require(actor, "payments.manage_accounts")
    if provider not in rules.CARD_PROVIDERS:
        message = _("Choose the card's issuer.")
        raise ApplicationError(message, code="invalid_provider", fields={"provider": [message]})
    phone = _phone_of(person)
    if card_current(person) is not None:
        raise Conflict(
            _(
                "She has a prepaid card already. If it is lost, block it and replace it: the "
                "money on it moves to the new card."
            ),
            code="has_card",
        )
    district = person.district.name
    try:
        with transaction.atomic():
            card = card_issuer().issue(
                provider=provider, name=str(person.full_name), district=district
            )
            PaymentAccount.objects.filter(
                person=person, status=PaymentAccount.Status.AWAITING_CODE
            ).update(status=PaymentAccount.Status.CANCELLED)
            account = PaymentAccount.objects.create(
                person=person,
                channel=Channel.CARD,
                provider=provider,
                number=card.token,
                number_index=account_index(Channel.CARD, provider, card.token),
                display=_display(provider, card.last4),
                card_status=CardStatus.ISSUED,
                requested_by=actor,
            )
            action_code_request(
                phone=phone,
                language=_language_of(person),
                template="payments.account_code",
                params={"account": account.display},
            )
            audit_record(
                actor=actor,
                action="payments.card_issued",
                subject=account,
                changes={"provider": provider, "district": district},
            )
    except ProviderUnavailable as exc:
        raise _unavailable() from exc
    except CardRefused as exc:
        raise _refused(exc.reason) from exc
    return account


def card_activation_request(*, account: PaymentAccount, actor: User | None) -> None:
    """Send her the code that activates her card (she, or an officer she is with, asks).
    Audited."""
    account = _fresh(account)
    person = account.person
    _may_act(actor, person)
    _expect(account, CardStatus.ACTIVE)
    phone = _phone_of(person)
    with transaction.atomic():
        action_code_request(
            phone=phone,
            language=_language_of(person),
            template="payments.card_activation_code",
            params={"card": account.display},
        )
        audit_record(
            actor=actor,
            action="payments.card_activation_requested",
            subject=account,
            changes={"assisted": not _own(actor, person)},
        )


def card_activate(*, account: PaymentAccount, code: str, actor: User | None) -> PaymentAccount:
    """Her code activates the card at the issuer. Audited."""
    account = _fresh(account)
    person = account.person
    _may_act(actor, person)
    _expect(account, CardStatus.ACTIVE)
    action_code_verify(phone=_phone_of(person), code=code, action="payments.card_activation_code")
    try:
        with transaction.atomic():
            live = _locked(account)
            _expect(live, CardStatus.ACTIVE)
            card_issuer().activate(provider=live.provider, token=str(live.number))
            live.card_status = CardStatus.ACTIVE
            live.save(update_fields=["card_status", "updated_at"])
            audit_record(
                actor=actor,
                action="payments.card_activated",
                subject=live,
                changes={"assisted": not _own(actor, person)},
            )
    except ProviderUnavailable as exc:
        raise _unavailable() from exc
    except CardRefused as exc:
        raise _refused(exc.reason) from exc
    return live


def card_block(*, account: PaymentAccount, reason: str, actor: User | None) -> PaymentAccount:
    """Block a lost, stolen or damaged card at once — no code (module docstring): she,
    logged in, or an officer she tells. The money stays on it for the replacement; she
    gets an SMS. Audited."""
    account = _fresh(account)
    person = account.person
    _may_act(actor, person)
    if reason not in BlockReason.values:
        message = _("Say why: lost, stolen or damaged.")
        raise ApplicationError(message, code="invalid_reason", fields={"reason": [message]})
    _expect(account, CardStatus.BLOCKED)
    try:
        with transaction.atomic():
            live = _locked(account)
            _expect(live, CardStatus.BLOCKED)
            was = live.card_status
            card_issuer().block(provider=live.provider, token=str(live.number), reason=reason)
            live.card_status = CardStatus.BLOCKED
            live.save(update_fields=["card_status", "updated_at"])
            if person.mobile:
                notification_send(
                    recipient=str(person.mobile),
                    template="payments.card_blocked",
                    language=_language_of(person),
                    params={"card": live.display},
                    urgent=True,
                )
            audit_record(
                actor=actor,
                action="payments.card_blocked",
                subject=live,
                changes={"reason": reason, "was": was, "assisted": not _own(actor, person)},
            )
    except ProviderUnavailable as exc:
        raise _unavailable() from exc
    except CardRefused as exc:
        raise _refused(exc.reason) from exc
    return live


def card_replacement_request(*, account: PaymentAccount, actor: User | None) -> None:
    """An officer about to hand her a new card sends her the code that allows moving the
    money of her blocked card. Audited."""
    account = _fresh(account)
    _require(actor, "payments.manage_accounts")
    _expect(account, CardStatus.REPLACED)
    person = account.person
    phone = _phone_of(person)
    with transaction.atomic():
        action_code_request(
            phone=phone,
            language=_language_of(person),
            template="payments.card_replacement_code",
            params={"card": account.display},
        )
        audit_record(
            actor=actor,
            action="payments.card_replacement_requested",
            subject=account,
            changes={},
        )


def card_replace(*, account: PaymentAccount, code: str, actor: User | None) -> PaymentAccount:
    """Her code lets the issuer replace her blocked card: the whole balance moves onto the
    new card, which becomes her account (the old one is kept as replaced), and her
    payments not yet sent follow it. SMS to her; audited. Returns the new card."""
    account = _fresh(account)
    _require(actor, "payments.manage_accounts")
    _expect(account, CardStatus.REPLACED)
    person = account.person
    action_code_verify(phone=_phone_of(person), code=code, action="payments.card_replacement_code")
    try:
        with transaction.atomic():
            old = _locked(account)
            _expect(old, CardStatus.REPLACED)
            card = card_issuer().replace(provider=old.provider, token=str(old.number))
            now = timezone.now()
            old.status = PaymentAccount.Status.REPLACED
            old.card_status = CardStatus.REPLACED
            old.replaced_at = now
            old.save(update_fields=["status", "card_status", "replaced_at", "updated_at"])
            new = PaymentAccount.objects.create(
                person=person,
                channel=Channel.CARD,
                provider=old.provider,
                number=card.token,
                number_index=account_index(Channel.CARD, old.provider, card.token),
                display=_display(old.provider, card.last4),
                holder_name=old.holder_name,
                status=PaymentAccount.Status.ACTIVE,
                verification=old.verification,
                verified_at=old.verified_at,
                card_status=CardStatus.ACTIVE,  # handed over at the counter, with her code
                activated_at=now,
                requested_by=actor,
            )
            # Through her payments (payment_person): none are read by account alone.
            moved = Payment.objects.filter(
                person=person, account=old, status=Payment.Status.PENDING
            ).update(account=new)
            if person.mobile:
                notification_send(
                    recipient=str(person.mobile),
                    template="payments.card_replaced",
                    language=_language_of(person),
                    params={"card": new.display, "old": old.display, "amount": f"{card.balance:,}"},
                    urgent=False,
                )
            audit_record(
                actor=actor,
                action="payments.card_replaced",
                subject=new,
                changes={
                    "replaces": str(old.pk),
                    "balance_moved": card.balance,
                    "payments_moved": moved,
                },
            )
    except ProviderUnavailable as exc:
        raise _unavailable() from exc
    except CardRefused as exc:
        raise _refused(exc.reason) from exc
    return new


# --------------------------------------------------------------------------- cash-out


def card_cash_out_debit(*, cash_out: CashOut, amount: int) -> None:
    """The cash an agent hands over for a card payment comes off her card at the issuer,
    inside the cash-out's transaction: an outage or a refusal (a blocked card, less money
    on it) undoes the hand-over record and tells the agent not to hand the cash over.
    Other channels: nothing. The card debited is her card in use (a replacement carries
    the money of the card the payment went to)."""
    payment = cash_out.payment
    if payment.channel != Channel.CARD:
        return
    card = card_current(cash_out.person) or payment.account
    if card is None or card.channel != Channel.CARD:
        return
    try:
        card_issuer().withdraw(
            provider=card.provider,
            token=str(card.number),
            amount=amount,
            reference=str(cash_out.pk),
        )
    except ProviderUnavailable as exc:
        raise ApplicationError(
            _(
                "The card company could not be reached: do not hand over the cash. Try again "
                "in a few minutes."
            ),
            code="issuer_unavailable",
            status=503,
        ) from exc
    except CardRefused as exc:
        raise Conflict(
            _("%(refusal)s Do not hand over the cash.")
            % {"refusal": _(_REFUSALS.get(exc.reason, gettext_noop("The card company refused.")))},
            code=f"issuer_{exc.reason}"[:40],
        ) from exc
