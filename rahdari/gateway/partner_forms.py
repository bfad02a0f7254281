from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.gateway import rules
from rahdari.gateway.models import Service


def _operators() -> Any:
    return User.objects.filter(
        is_citizen=False, is_active=True, groups__name=Role.SERVICE_OPERATOR.value
    ).order_by("username")


class PartnerForm(forms.Form):
    name = forms.CharField(label=_("Name of the office"), max_length=120)
    name_ur = forms.CharField(label=_("Name in Urdu"), max_length=120, required=False)
    department = forms.CharField(label=_("Department"), max_length=120)
    contact_email = forms.EmailField(label=_("Contact e-mail"))
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=20, required=False)
    services = forms.ModelMultipleChoiceField(
        label=_("Services it runs"),
        queryset=Service.objects.all(),
        widget=forms.CheckboxSelectMultiple,
    )
    allowed_scopes = forms.MultipleChoiceField(
        label=_("What it may ask for"),
        choices=[(s, s) for s in rules.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only what its services need: each scope is a set of a person's details."),
    )
    rate_per_minute = forms.IntegerField(
        label=_("Requests per minute"), min_value=1, max_value=100_000, initial=600
    )
    operators = forms.ModelMultipleChoiceField(
        label=_("Counter operators (staff accounts)"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["operators"].queryset = _operators()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        services = data.get("services") or []
        scopes = set(data.get("allowed_scopes") or [])
        needed = {scope for service in services for scope in service.scopes}
        extra = scopes - needed
        if services and extra:
            self.add_error(
                "allowed_scopes",
                _("None of its services needs: %(scopes)s.") % {"scopes": ", ".join(sorted(extra))},
            )
        return data
