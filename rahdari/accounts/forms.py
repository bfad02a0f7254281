from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from rahdari.accounts.roles import STAFF_ROLES
from rahdari.core.models import District
from rahdari.core.validators import clean_cnic, clean_mobile


class StaffLoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}
        ),
    )


class CnicForm(forms.Form):
    cnic = forms.CharField(
        label=_("CNIC number"),
        max_length=15,
        help_text=_("13 digits, as printed on your card, e.g. 17301-1234567-1"),
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "autofocus": True, "dir": "ltr"}
        ),
    )

    def clean_cnic(self) -> str:
        return clean_cnic(str(self.cleaned_data["cnic"]))


class LoginCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "dir": "ltr",
            }
        ),
    )

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"]).strip()
        if not code.isdigit():
            raise ValidationError(_("The code has 6 digits."), code="invalid_code")
        return code


class StaffCreateForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        max_length=150,
        regex=r"^[a-z0-9_.-]{3,150}$",
        error_messages={"invalid": _("Use 3 or more lower-case letters, digits, dots or dashes.")},
    )
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    phone = forms.CharField(
        label=_("Mobile number"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"dir": "ltr", "inputmode": "tel"}),
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=[("en", "English"), ("ur", "اردو"), ("ps", "پښتو")]
    )
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=[(r.value, r.label) for r in STAFF_ROLES],
        widget=forms.CheckboxSelectMultiple,
    )
    districts = forms.ModelMultipleChoiceField(
        label=_("Districts"),
        queryset=District.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    password = forms.CharField(
        label=_("Initial password"),
        strip=False,
        widget=forms.PasswordInput,
        help_text=_("At least 10 characters; not a common password."),
    )

    def clean_phone(self) -> str:
        phone = self.cleaned_data.get("phone", "")
        return clean_mobile(phone) if phone else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        staff_roles_needing_district = {
            "enrolment_officer",
            "program_officer",
            "grievance_officer",
            "service_operator",
            "payment_approver",
        }
        if set(data.get("roles") or []) & staff_roles_needing_district and not data.get(
            "districts"
        ):
            self.add_error("districts", _("Officers need at least one district."))
        return data


class CitizenLookupForm(CnicForm):
    purpose = forms.CharField(
        label=_("Why are you looking at this account?"),
        max_length=200,
        help_text=_("The citizen will see your name, the time and this reason."),
    )
