from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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

    kind = forms.ChoiceField(
        label=_("How it uses Rahdari"),
        choices=[
            ("counter", _("At a counter: its staff scan the QR (API with client credentials)")),
            ("login", _('Online: people "Log in with Rahdari" on its website (OpenID Connect)')),
        ],
        initial="counter",
        widget=forms.RadioSelect,
    )
    redirect_uris = forms.CharField(
        label=_("Addresses it returns people to after login (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "ltr"}),
        help_text=_("Only for online services. Each must start with https:// ."),
    )

    def clean_redirect_uris(self) -> list[str]:
        uris = [line.strip() for line in self.cleaned_data["redirect_uris"].splitlines()]
        uris = [uri for uri in uris if uri]
        for uri in uris:
            parts = urlsplit(uri)
            local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
            if not (parts.scheme == "https" or local) or not parts.hostname or parts.fragment:
                raise forms.ValidationError(
                    _("Not a valid address: %(uri)s (https://…, no #part).") % {"uri": uri}
                )
        return uris

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
        if (
            data.get("kind") == "login"
            and not data.get("redirect_uris")
            and ("redirect_uris" not in self.errors)
        ):
            self.add_error(
                "redirect_uris", _("An online service needs at least one return address.")
            )
        return data
