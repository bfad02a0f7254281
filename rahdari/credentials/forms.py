from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.core.models import District


class VerifyForm(forms.Form):
    qr = forms.CharField(
        label=_("QR text"),
        required=False,
        max_length=8000,
        help_text=_("A hand-held scanner types the code here. Or take a photo of the QR below."),
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

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("qr") or "").strip() and not data.get("image"):
            raise forms.ValidationError(_("Scan a QR code, type its text or choose a photo of it."))
        return data


class ReasonForm(forms.Form):
    ACTIONS = [
        ("issue", _("Issue a new credential (the current one stops working)")),
        ("suspend", _("Suspend")),
        ("reinstate", _("Lift the suspension")),
        ("revoke", _("Revoke for good")),
    ]
    action = forms.ChoiceField(label=_("What to do"), choices=ACTIONS, widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("Recorded in the audit log, e.g. “card lost” or “reported stolen”."),
    )


class BulkForm(forms.Form):
    JOBS = [
        ("issue", _("Issue credentials to everyone active who has none")),
        ("cards", _("Make printable ID cards (PDF, 100 cards each)")),
    ]
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.none())
    job = forms.ChoiceField(label=_("Job"), choices=JOBS, widget=forms.RadioSelect)
    language = forms.ChoiceField(
        label=_("Language of the card labels"),
        choices=[("ur", "اردو"), ("ps", "پښتو"), ("en", "English")],
        initial="ur",
    )

    def __init__(self, *args: Any, districts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = districts  # type: ignore[attr-defined]
