"""Forms of the payments pages. They parse; the services decide (whether an IBAN, a
mobile number or a card token is good, four eyes, the authenticator code)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.payments import rules
from rahdari.payments.models import PaymentAccount

Verification = PaymentAccount.Verification

# Eastern Arabic and Persian digits, as Urdu and Pashto keyboards type them.
_LOCAL_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def ascii_digits(text: str) -> str:
    return text.translate(_LOCAL_DIGITS)


# What each channel means, in plain words, beside its picture.
CHANNEL_TEXTS: dict[str, tuple[Any, Any]] = {
    "bank": (
        _("Bank account"),
        _("The money goes into your bank account. You need its IBAN: it starts with PK."),
    ),
    "wallet": (
        _("Mobile wallet"),
        _("The money goes to JazzCash, Easypaisa or UPaisa on your mobile number."),
    ),
    "card": (
        _("Prepaid card"),
        _("The money goes onto your prepaid card. You need the token from the card's letter."),
    ),
}


def _provider_choices() -> list[Any]:
    return [
        ("", _("— none (bank account) —")),
        (_("Mobile wallet"), list(rules.WALLET_PROVIDERS.items())),
        (_("Prepaid card"), list(rules.CARD_PROVIDERS.items())),
    ]


# The account's check by the provider, in words for the account holder.
VERIFICATION_TEXTS: dict[str, Any] = {
    Verification.PENDING: _("Not checked yet."),
    Verification.VERIFIED: _("Checked: the account is in your name. Your payments go to it."),
    Verification.NAME_MISMATCH: _(
        "The account is in someone else's name. Payments wait until you give an account "
        "in your own name."
    ),
    Verification.NOT_FOUND: _(
        "The bank or company does not know this account. Check the number and give it again."
    ),
    Verification.CLOSED: _("The account is closed. Give another account."),
    Verification.UNAVAILABLE: _(
        "The bank or company could not be reached to check it. Payments wait until it is checked."
    ),
}


class AccountForm(forms.Form):
    """Where her payments should go: the channel, the number, the wallet or card issuer."""

    channel = forms.ChoiceField(
        label=_("How do you want to receive the money?"),
        choices=[(value, CHANNEL_TEXTS[value][0]) for value in ("bank", "wallet", "card")],
        widget=forms.RadioSelect,  # drawn as big choices with pictures: _account_form.html
    )
    number = forms.CharField(
        label=_("Account number"),
        max_length=64,
        help_text=_(
            "Bank: the IBAN (PK…, 24 letters and digits). Wallet: the mobile number, like "
            "0300 1234567. Card: the token from the card's letter — never the card number."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "dir": "ltr", "spellcheck": "false", "class": "mono"}
        ),
    )
    provider = forms.ChoiceField(
        label=_("Wallet or card company"),
        required=False,
        choices=_provider_choices,
        help_text=_("Only for a mobile wallet or a prepaid card. A bank is known from the IBAN."),
    )

    def clean_number(self) -> str:
        return ascii_digits(self.cleaned_data["number"]).strip()


class CodeForm(forms.Form):
    """The 6-digit code the SMS brought to her phone."""

    code = forms.CharField(
        label=_("The 6-digit code from the SMS"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "dir": "ltr",
                "class": "big",
            }
        ),
    )

    def clean_code(self) -> str:
        code = ascii_digits(self.cleaned_data["code"]).strip()
        if not code.isdigit():
            raise forms.ValidationError(_("The code is 6 digits."), code="not_digits")
        return code


class PersonFindForm(forms.Form):
    rahdari_number = forms.CharField(
        label=_("Her Rahdari number"),
        max_length=20,
        help_text=_("12 digits, from her QR ID card, e.g. 4821 0937 5562."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "dir": "ltr"}),
    )

    def clean_rahdari_number(self) -> str:
        return ascii_digits(self.cleaned_data["rahdari_number"])


class PrepareForm(forms.Form):
    """A new cycle of a program, from its latest approved targeting run."""

    program = forms.ChoiceField(label=_("Program"))
    label = forms.CharField(
        label=_("Name of the cycle"),
        max_length=20,
        help_text=_("Letters, digits and dashes, e.g. 2026-Q4."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )

    def __init__(self, *args: Any, programs: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["program"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = programs


class CycleDecideForm(forms.Form):
    """Approve or reject a prepared cycle (the button says which), with the current code
    of the approver's authenticator app."""

    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.HiddenInput
    )
    totp = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=8,
        required=False,
        help_text=_("The 6 digits your authenticator app shows now."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "dir": "ltr"}
        ),
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    @property
    def approve(self) -> bool:
        return bool(self.cleaned_data["decision"] == "approve")

    def clean_totp(self) -> str:
        return ascii_digits(self.cleaned_data.get("totp") or "").strip()
