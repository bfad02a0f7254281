"""Forms of the service desk: scan the person's QR, type the code they read out, record
what the counter did."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from rahdari.gateway import rules
from rahdari.gateway.models import Service

# What a counter records after it used the attributes, in the operator's language.
OUTCOME_LABELS: dict[str, Any] = {
    # sehat-card
    "admitted": _("Admitted"),
    "outpatient": _("Treated as an outpatient"),
    "referred": _("Referred to another hospital"),
    "not_covered": _("Not covered by the Sehat Card"),
    # school-enrolment
    "enrolled": _("Enrolled"),
    "waiting_list": _("On the waiting list"),
    "documents_missing": _("Documents missing"),
    # excise-tax
    "tax_shown": _("Tax due shown"),
    "paid": _("Paid"),
    "no_record": _("No record found"),
    # services not open yet
    "submitted": _("Application submitted"),
    "copy_issued": _("Copy issued"),
}

STANDING_MONTHS = 6
RAHDARI_NUMBER = re.compile(r"^\d{12}$")


def outcome_label(code: str) -> Any:
    return OUTCOME_LABELS.get(code, code.replace("_", " "))


class ScanForm(forms.Form):
    """The person's QR (camera, hand-held scanner or a photo), or their Rahdari number."""

    qr = forms.CharField(
        label=_("QR text or Rahdari number"),
        required=False,
        max_length=8000,
        help_text=_(
            "A hand-held scanner types the code here. You can also type the 12-digit "
            "Rahdari number."
        ),
        widget=forms.Textarea(
            attrs={"rows": 3, "dir": "ltr", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    image = forms.FileField(
        label=_("Photo of the QR code"),
        required=False,
        help_text=_("JPEG, PNG or WebP, at most 10 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    note = forms.CharField(
        label=_("Note added to the purpose (optional)"),
        required=False,
        max_length=100,
        help_text=_("The person sees it with the request, e.g. “emergency admission”."),
    )
    remember = forms.BooleanField(
        label=_("Remember the person's consent for 6 months"),
        required=False,
        help_text=_(
            "The SMS tells the person. If they read out the code, they agree, and next "
            "time no code is needed. They can withdraw it in Rahdari."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("qr") or "").strip() and not data.get("image"):
            raise forms.ValidationError(
                _("Scan the QR code, type its text or the Rahdari number, or choose a photo of it.")
            )
        return data

    def typed(self) -> tuple[str | None, str | None]:
        """(QR text, Rahdari number): what was typed or scanned is one or the other."""
        text = (self.cleaned_data.get("qr") or "").strip()
        digits = re.sub(r"[\s-]", "", text)
        if RAHDARI_NUMBER.match(digits):
            return None, digits
        return (text or None), None

    @property
    def standing_months(self) -> int:
        return STANDING_MONTHS if self.cleaned_data.get("remember") else 0


class CodeForm(forms.Form):
    request = forms.UUIDField(widget=forms.HiddenInput)
    code = forms.CharField(
        label=_("Code from the SMS"),
        min_length=rules.CONSENT_CODE_DIGITS,
        max_length=rules.CONSENT_CODE_DIGITS,
        validators=[RegexValidator(r"^\d{6}$", _("Type the 6 digits of the code."))],
        help_text=_("The 6 digits the person reads out from their SMS."),
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "off",
                "dir": "ltr",
                "pattern": "[0-9]{6}",
                "size": 8,
            }
        ),
    )

    def clean_code(self) -> str:
        return str(self.cleaned_data["code"]).strip()


class OutcomeForm(forms.Form):
    request = forms.UUIDField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(label=_("What was done?"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["outcome"]
        field.choices = [(code, outcome_label(code)) for code in service.outcomes]
