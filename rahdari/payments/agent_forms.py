"""Forms of the cash-out pages: the agent's scan and hand-over, and the beneficiary's
word on what she received."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.credentials.forms import VerifyForm
from rahdari.payments.forms import CodeForm, ascii_digits


class ScanForm(VerifyForm):
    """Her QR ID (the camera fills the text box, a hand-held scanner types into it, or
    the agent takes a photo of the QR) and where the agent is."""

    location = forms.CharField(
        label=_("Where you are (campsite or shop)"),
        required=False,
        max_length=120,
        help_text=_("For example “Mingora campsite, gate 2”."),
    )


def _rupees(value: str) -> int:
    digits = ascii_digits(value or "").replace(",", "").replace(" ", "").strip()
    if not digits.isdigit():
        raise forms.ValidationError(_("Type the amount in rupees, digits only."), code="not_digits")
    return int(digits)


class AmountField(forms.CharField):
    """Rupees typed with any digits (Urdu and Pashto keyboards), commas allowed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 12)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr", "size": 10})
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        return _rupees(text) if text else None


class HandOverForm(CodeForm):
    """Her code (she reads it from her SMS) and the cash the agent hands her."""

    amount = AmountField(
        label=_("Rupees you hand over"),
        help_text=_("Count the notes in front of her. She must receive the full amount."),
    )


class ReceivedForm(forms.Form):
    """What she says she received: all of it, or less (a deduction report)."""

    answer = forms.ChoiceField(
        choices=[("all", _("Yes, I received all of it")), ("less", _("No, I received less"))],
        widget=forms.RadioSelect,
        label=_("Did you receive this amount?"),
    )
    amount = AmountField(label=_("If less: how many rupees did you receive?"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("answer") == "less" and data.get("amount") is None:
            self.add_error("amount", _("Type the rupees you received."))
        return data


class RepayForm(forms.Form):
    """Pay a returned or unclaimed payment again, with the reason."""

    reason = forms.ChoiceField(label=_("Why is it paid again?"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from rahdari.payments.reconcile import REPAY_REASONS

        super().__init__(*args, **kwargs)
        field: Any = self.fields["reason"]
        field.choices = [(code, _(text)) for code, text in REPAY_REASONS.items()]


class ReverseForm(forms.Form):
    """Close a payment for good, with the reason."""

    reason = forms.ChoiceField(label=_("Why is it reversed?"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from rahdari.payments.reconcile import REVERSAL_REASONS

        super().__init__(*args, **kwargs)
        field: Any = self.fields["reason"]
        field.choices = [(code, _(text)) for code, text in REVERSAL_REASONS.items()]
