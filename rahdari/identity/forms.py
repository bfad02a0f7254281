from __future__ import annotations

from typing import Any

from django import forms
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from rahdari.core.models import District
from rahdari.identity.models import IdDocument, Sex

CONSENT_PURPOSE = _(
    "Rahdari will keep your name, ID number, date of birth, mobile number, address and photo, "
    "encrypted, to give you a digital ID card and to let you apply for public services and "
    "support. Officials who open your record are recorded, and you can see who did and why. "
    "Your data is shared with a department only when you agree each time."
)


def consent_texts() -> dict[str, str]:
    """The consent text in each language, as the person reads it."""
    texts = {}
    for code in ("en", "ur", "ps"):
        with translation.override(code):
            texts[code] = str(CONSENT_PURPOSE)
    return texts


class PersonForm(forms.Form):
    id_document = forms.ChoiceField(
        label=_("ID document"), choices=IdDocument.choices, widget=forms.RadioSelect
    )
    national_id = forms.CharField(
        label=_("CNIC or CRC number"),
        max_length=15,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr", "autocomplete": "off"}),
    )
    full_name = forms.CharField(label=_("Full name (English letters)"), max_length=120)
    full_name_ur = forms.CharField(
        label=_("Full name (Urdu script)"),
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"dir": "rtl", "lang": "ur"}),
    )
    guardian_name = forms.CharField(
        label=_("Father's or husband's name (English letters)"), max_length=120, required=False
    )
    guardian_name_ur = forms.CharField(
        label=_("Father's or husband's name (Urdu script)"),
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"dir": "rtl", "lang": "ur"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"), widget=forms.DateInput(attrs={"type": "date"})
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, widget=forms.RadioSelect)
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"dir": "ltr", "inputmode": "tel"}),
    )
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.none())
    tehsil = forms.CharField(label=_("Tehsil"), max_length=80, required=False)
    union_council = forms.CharField(label=_("Union council"), max_length=80, required=False)
    village = forms.CharField(label=_("Village or mohalla"), max_length=120, required=False)
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        help_text=_("A clear photo of the face: JPEG, PNG or WebP, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "user"}),
    )

    def __init__(self, *args: Any, districts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        district_field = self.fields["district"]
        assert isinstance(district_field, forms.ModelChoiceField)
        district_field.queryset = districts if districts is not None else District.objects.all()


class PersonEditForm(PersonForm):
    reason = forms.CharField(label=_("Reason for the change"), max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("national_id", "id_document"):  # the ID number itself never changes here
            self.fields[name].disabled = True


class AssistedEnrolmentForm(PersonForm):
    consent_language = forms.ChoiceField(
        label=_("Language in which the person read or heard the purpose"),
        choices=[("ur", "اردو"), ("ps", "پښتو"), ("en", "English")],
        widget=forms.RadioSelect,
    )
    consent = forms.BooleanField(label=_("The person was told the purpose above and agrees."))


class SelfEnrolmentForm(PersonForm):
    consent = forms.BooleanField(label=_("I have read the purpose above and I agree."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mobile"].disabled = True  # the number proved with the SMS code


class PhoneStartForm(forms.Form):
    mobile = forms.CharField(
        label=_("Your mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"dir": "ltr", "inputmode": "tel", "autofocus": True}),
    )


class PhoneCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from the SMS"),
        regex=r"^\d{6}$",
        error_messages={"invalid": _("The code has 6 digits.")},
        widget=forms.TextInput(
            attrs={
                "dir": "ltr",
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
            }
        ),
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Rahdari number, CNIC, mobile number or name"), max_length=120, required=False
    )
    district = forms.ModelChoiceField(
        label=_("District"), queryset=District.objects.none(), required=False
    )

    def __init__(self, *args: Any, districts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        district_field = self.fields["district"]
        assert isinstance(district_field, forms.ModelChoiceField)
        district_field.queryset = districts if districts is not None else District.objects.all()


class PurposeForm(forms.Form):
    purpose = forms.CharField(
        label=_("Why are you opening this record?"),
        max_length=200,
        help_text=_("The person will see your name, the time and this reason."),
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("New status"),
        choices=[
            ("suspended", _("Suspend")),
            ("active", _("Reinstate")),
            ("deceased", _("Mark as deceased")),
            ("revoked", _("Revoke")),
        ],
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class DuplicateDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("same", _("Same person: merge (the new enrolment is refused)")),
            ("different", _("Different persons: continue the enrolment")),
        ],
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class CorrectionForm(forms.Form):
    full_name = forms.CharField(
        label=_("Correct full name (English letters)"), max_length=120, required=False
    )
    full_name_ur = forms.CharField(
        label=_("Correct full name (Urdu script)"),
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"dir": "rtl", "lang": "ur"}),
    )
    guardian_name = forms.CharField(
        label=_("Correct father's or husband's name"), max_length=120, required=False
    )
    date_of_birth = forms.DateField(
        label=_("Correct date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    village = forms.CharField(label=_("Correct village or mohalla"), max_length=120, required=False)
    explanation = forms.CharField(
        label=_("Explain what is wrong"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    evidence = forms.FileField(
        label=_("Photo of a document that shows the right data"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )


class CorrectionDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("apply", _("Apply the correction (checked with the national ID authority)")),
            ("refuse", _("Refuse")),
        ],
    )
    note = forms.CharField(label=_("Reason"), max_length=200)
