"""Document forms, and the plain-language words for each kind of paper."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.documents.models import DocumentKind, ScanStatus

# One short sentence per kind, for people who read little: what the paper is.
KIND_HELP = {
    DocumentKind.CNIC_FRONT: _("The side of your ID card with your photo."),
    DocumentKind.CNIC_BACK: _("The side of your ID card with your address."),
    DocumentKind.B_FORM: _("The NADRA paper that lists your children."),
    DocumentKind.DEATH_CERTIFICATE: _("The paper from the union council when someone died."),
    DocumentKind.INCOME_PROOF: _("A salary slip, or a letter that says what you earn."),
    DocumentKind.DISABILITY_CERTIFICATE: _("The paper from the hospital or social welfare."),
    DocumentKind.PHOTO: _("A clear photo of your face."),
    DocumentKind.OTHER: _("Any other paper you were asked for."),
}

# The picture shown next to each kind (an icon of includes/icons.html or our own).
KIND_PICTURE = {
    DocumentKind.CNIC_FRONT: "card-front",
    DocumentKind.CNIC_BACK: "card-back",
    DocumentKind.B_FORM: "family",
    DocumentKind.DEATH_CERTIFICATE: "paper",
    DocumentKind.INCOME_PROOF: "cash",
    DocumentKind.DISABILITY_CERTIFICATE: "paper",
    DocumentKind.PHOTO: "face",
    DocumentKind.OTHER: "paper",
}

SCAN_TEXTS = dict(ScanStatus.choices)

ACCEPT = "image/*,application/pdf"


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What paper is it?"),
        choices=DocumentKind.choices,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label=_("Take a photo or choose a file"),
        required=False,  # checked by content in the service, with its own message
        help_text=_("A photo (JPEG or PNG) or a PDF, up to 10 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT, "capture": "environment"}),
    )


class PersonFindForm(forms.Form):
    rahdari_number = forms.CharField(
        label=_("Rahdari number"),
        max_length=20,
        help_text=_("The 12 digits on her card or QR."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
