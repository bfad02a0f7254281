"""Grievance forms. They parse and check what was typed; the rules are the services'."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.core.models import District
from rahdari.grievances import rules
from rahdari.grievances.models import Category, Channel, Desk, Outcome, Status
from rahdari.programs.models import Program

# One short sentence per category, for people who read little.
CATEGORY_HELP = {
    Category.PAYMENT_NOT_RECEIVED: _("The money did not arrive in your account or wallet."),
    Category.AGENT_DEDUCTION: _("The agent gave you less than your full payment."),
    Category.WRONGLY_EXCLUDED: _("You think your household should be in a program."),
    Category.DATA_CORRECTION: _("Your name, date of birth or family is wrong in our records."),
    Category.QR_ID_PROBLEM: _("Your QR ID card is lost, does not scan or shows wrong details."),
    Category.MISCONDUCT: _(
        "An official asked for money or treated you badly. The desk will not see your name."
    ),
    Category.OTHER: _("Anything else."),
}

AUDIO_ACCEPT = "audio/*"
FILE_ACCEPT = "image/*,application/pdf"


class LodgeForm(forms.Form):
    """One form for the three ways in: a citizen logged in (``mode="citizen"``), anyone
    with a phone number (``"public"``), an officer for someone (``"office"``)."""

    category = forms.ChoiceField(
        label=_("What is your complaint about?"),
        choices=Category.choices,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("What happened?"),
        required=False,  # a voice note may replace it: checked by the service
        max_length=rules.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Say what happened, when and where. Or record a voice note below."),
    )
    voice = forms.FileField(
        label=_("Voice note (if you prefer to speak)"),
        required=False,
        help_text=_("Record on your phone, up to a few minutes."),
        widget=forms.ClearableFileInput(attrs={"accept": AUDIO_ACCEPT, "capture": "user"}),
    )
    phone = forms.CharField(
        label=_("Your mobile number"),
        max_length=20,
        help_text=_("We send the complaint number and every answer to this number."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "dir": "ltr"}),
    )
    complainant_name = forms.CharField(
        label=_("Your name (optional)"), max_length=120, required=False
    )
    district = forms.ModelChoiceField(
        label=_("Your district"),
        queryset=District.objects.order_by("name"),
        required=False,
        empty_label=_("I do not know"),
    )
    program = forms.ModelChoiceField(
        label=_("Which program were you left out of?"),
        queryset=Program.objects.order_by("code"),
        required=False,
    )
    payment = forms.ChoiceField(label=_("Which payment?"), required=False)
    cash_out = forms.ChoiceField(label=_("Which cash-out?"), required=False)
    amount_received = forms.IntegerField(
        label=_("How many rupees did you actually receive?"),
        required=False,
        min_value=0,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
    )
    attachment = forms.FileField(
        label=_("A photo or paper (optional)"),
        required=False,
        help_text=_("A photo (JPEG or PNG) or a PDF. It is kept with your documents."),
        widget=forms.ClearableFileInput(attrs={"accept": FILE_ACCEPT}),
    )
    channel = forms.ChoiceField(
        label=_("How did the person come to you?"),
        choices=[(Channel.OFFICE, Channel.OFFICE.label), (Channel.CALL, Channel.CALL.label)],
        required=False,
    )
    rahdari_number = forms.CharField(
        label=_("Rahdari number (if enrolled)"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    application = forms.ChoiceField(label=_("Which application?"), required=False)
    application_number = forms.CharField(
        label=_("Application number (if about an application)"),
        max_length=20,
        required=False,
        help_text=_("The 10 digits from the application's SMS. Needs the Rahdari number."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "dir": "ltr"}),
    )
    payment_reference = forms.CharField(
        label=_("Payment reference (if about a payment)"),
        max_length=32,
        required=False,
        help_text=_("From the payment SMS or receipt. Needs the Rahdari number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )

    def __init__(
        self,
        *args: Any,
        mode: str,
        payments: list[tuple[str, Any]] | None = None,
        cash_outs: list[tuple[str, Any]] | None = None,
        applications: list[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mode = mode
        self.category_values: list[str] = list(Category.values)
        if mode == "citizen":
            for name in ("phone", "complainant_name", "district", "channel", "rahdari_number"):
                del self.fields[name]
        else:
            del self.fields["payment"], self.fields["cash_out"], self.fields["amount_received"]
        if mode != "office":
            del self.fields["payment_reference"], self.fields["application_number"]
        if mode != "citizen":
            del self.fields["application"]
        else:
            cast(forms.ChoiceField, self.fields["application"]).choices = [
                ("", _("Not about an application")),
                *(applications or []),
            ]
        if mode == "public":
            for name in ("program", "attachment", "channel", "rahdari_number"):
                del self.fields[name]
            # An appeal needs the household's record: only after logging in or at an office.
            self.category_values = [c for c in Category.values if c not in rules.PERSON_CATEGORIES]
            cast(forms.ChoiceField, self.fields["category"]).choices = [
                c for c in Category.choices if c[0] in self.category_values
            ]
        if mode == "office":
            self.fields["phone"].label = _("The person's mobile number")
            self.fields["complainant_name"].label = _("The person's name (optional)")
            self.fields["district"].label = _("The person's district")
        if "payment" in self.fields:
            none_paid: list[tuple[str, Any]] = [("", _("None of them / not about a payment"))]
            no_cash: list[tuple[str, Any]] = [("", _("Not about a cash-out"))]
            cast(forms.ChoiceField, self.fields["payment"]).choices = none_paid + (payments or [])
            cast(forms.ChoiceField, self.fields["cash_out"]).choices = no_cash + (cash_outs or [])


class StatusForm(forms.Form):
    number = forms.CharField(
        label=_("Complaint number"),
        max_length=20,
        help_text=_("The 10 digits in the SMS we sent you."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "dir": "ltr"}),
    )
    phone = forms.CharField(
        label=_("Your mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "dir": "ltr"}),
    )


RATINGS = [
    (5, _("5 — very good")),
    (4, _("4 — good")),
    (3, _("3 — acceptable")),
    (2, _("2 — poor")),
    (1, _("1 — very poor")),
]


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How good was the answer?"),
        choices=RATINGS,
        coerce=int,
        widget=forms.RadioSelect,
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("What is still wrong?"),
        max_length=rules.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Internal note (the complainant does not see it)"),
        max_length=rules.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)
    resolution = forms.CharField(
        label=_("Answer to the complainant (sent by SMS)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReassignForm(forms.Form):
    desk = forms.ModelChoiceField(label=_("Move to desk"), queryset=Desk.objects.all())
    reason = forms.CharField(label=_("Why"), max_length=300)


class EscalateForm(forms.Form):
    reason = forms.CharField(label=_("Why it goes up now"), max_length=300)


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Open (needs an answer)")), *Status.choices],
    )
    overdue = forms.BooleanField(label=_("Only past the deadline"), required=False)
