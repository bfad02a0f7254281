"""Forms of the programs pages. They parse; the services decide (the rules of a
definition, four eyes, what an appeal needs)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.core.models import District


class ProposeForm(forms.Form):
    """A new version of a program's rules: the whole definition as JSON, and why."""

    definition = forms.CharField(
        label=_("Rules (JSON)"),
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "dir": "ltr"}),
        help_text=_(
            "The current rules are filled in. Change what needs changing; every problem "
            "is listed with where it is."
        ),
    )
    note = forms.CharField(
        label=_("What changes and why"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_definition(self) -> dict[str, Any]:
        text = self.cleaned_data["definition"]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                _("This is not valid JSON (line %(line)d, column %(column)d: %(problem)s)."),
                params={"line": error.lineno, "column": error.colno, "problem": error.msg},
                code="invalid_json",
            ) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(_("The rules are one JSON object {…}."), code="not_object")
        return data


class DecideForm(forms.Form):
    """Approve or reject proposed rules or a computed run (the button says which)."""

    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.HiddenInput
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


class RunStartForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("targeting", _("targeting")), ("recertification", _("recertification"))]
    )


class WhatIfForm(forms.Form):
    cutoff = forms.FloatField(
        label=_("Cut-off to try"),
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
        help_text=_("A score above 0 and at most 100. Nothing is changed."),
    )


class DecisionFilterForm(forms.Form):
    district = forms.ModelChoiceField(
        label=_("District"), queryset=District.objects.none(), required=False
    )
    eligible = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[("", _("All")), ("yes", _("Eligible")), ("no", _("Not eligible"))],
    )

    def __init__(self, *args: Any, districts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["district"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = districts
        field.empty_label = _("All my districts")

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {"district": None, "eligible": None}
        outcome = self.cleaned_data.get("eligible")
        return {
            "district": self.cleaned_data.get("district"),
            "eligible": {"yes": True, "no": False}.get(outcome or ""),
        }


class AppealForm(forms.Form):
    grounds = forms.CharField(
        label=_("Why the household says the decision is wrong"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("In the household's own words, e.g. “We sold the car in 2024.”"),
    )


class AppealDecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("review", _("Start review")),
            ("uphold", _("Uphold")),
            ("dismiss", _("Dismiss")),
        ],
        widget=forms.HiddenInput,
    )
    note = forms.CharField(
        label=_("Reason for the decision"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") in ("uphold", "dismiss") and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why: the household is told the outcome."))
        return data
