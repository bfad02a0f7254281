"""Application forms: only what the platform does not know yet is asked."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.applications import rules
from rahdari.applications.models import ApplicationKind, ApplicationStatus
from rahdari.applications.selectors import QUEUE_SORTS

CORRECTION_LABELS = {
    "full_name": _("Name (English letters)"),
    "full_name_ur": _("Name (Urdu letters)"),
    "guardian_name": _("Father's or husband's name (English letters)"),
    "guardian_name_ur": _("Father's or husband's name (Urdu letters)"),
    "date_of_birth": _("Date of birth"),
    "mobile": _("Mobile number"),
    "tehsil": _("Tehsil"),
    "union_council": _("Union council"),
    "village": _("Village or mohalla"),
}


class StatementForm(forms.Form):
    statement = forms.CharField(
        label=_("Anything the officer should know (optional)"),
        help_text=_("In your own words. You can also leave this empty."),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CorrectionForm(StatementForm):
    """Only the facts she says are wrong: each field left empty stays as it is."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in rules.CORRECTABLE:
            widget = (
                forms.DateInput(attrs={"type": "date"})
                if name == "date_of_birth"
                else forms.TextInput(attrs={"inputmode": "tel"} if name == "mobile" else {})
            )
            self.fields[name] = forms.CharField(
                label=CORRECTION_LABELS[name], required=False, max_length=200, widget=widget
            )
        self.fields["statement"].label = _("Why is it wrong? (optional)")

    def corrections(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name, "") for name in rules.CORRECTABLE}


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the applicant reads this)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AppealForm(forms.Form):
    grounds = forms.CharField(
        label=_("Why is the decision wrong?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


STATUS_CHOICES = [
    ("pending", _("Waiting for an officer")),
    *[(s.value, s.label) for s in ApplicationStatus if s != ApplicationStatus.DRAFT],
    ("all", _("All")),
]
SORT_CHOICES = [
    ("due", _("Deadline first")),
    ("oldest", _("Oldest first")),
    ("newest", _("Newest first")),
    ("number", _("By number")),
]
assert {c for c, _label in SORT_CHOICES} == set(QUEUE_SORTS)


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All")), *ApplicationKind.choices], required=False
    )
    program = forms.ChoiceField(label=_("Program"), choices=[("", _("All"))], required=False)
    district = forms.TypedChoiceField(
        label=_("District"), coerce=int, choices=[("", _("All"))], required=False, empty_value=None
    )
    number = forms.CharField(label=_("Application number"), max_length=14, required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    mine = forms.BooleanField(label=_("Taken up by me"), required=False)
    assisted = forms.BooleanField(label=_("Applied at the office"), required=False)
    sort = forms.ChoiceField(label=_("Sort"), choices=SORT_CHOICES, required=False)

    def __init__(
        self,
        *args: object,
        programs: list[tuple[str, str]],
        districts: list[tuple[int, str]],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["program"].choices = [("", _("All")), *programs]  # type: ignore[attr-defined]
        self.fields["district"].choices = [("", _("All")), *districts]  # type: ignore[attr-defined]


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        label=_("With the chosen applications"),
        choices=[
            ("review", _("Take up for review")),
            ("request_info", _("Ask for more information")),
        ],
    )
    reason = forms.CharField(
        label=_("Reason (for “ask for more information”)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
