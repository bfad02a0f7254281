"""Forms of the prepaid-card pages. They parse; ``cards.py`` decides (which card may be
activated, blocked or replaced, the code from her phone)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.payments import rules
from rahdari.payments.cards import BlockReason

# Why the card is blocked, in her words (her page) — the officer's page uses the same.
BLOCK_REASON_TEXTS: dict[str, Any] = {
    BlockReason.LOST: _("I lost it"),
    BlockReason.STOLEN: _("It was stolen"),
    BlockReason.DAMAGED: _("It is broken or does not work"),
}


class CardIssueForm(forms.Form):
    """Which issuer makes her card."""

    provider = forms.ChoiceField(
        label=_("Card company"),
        choices=list(rules.CARD_PROVIDERS.items()),
        help_text=_("The card is made in her name and delivered in her district."),
    )


class CardBlockForm(forms.Form):
    """Why the card is blocked (lost, stolen, damaged)."""

    reason = forms.ChoiceField(
        label=_("What happened to the card?"),
        choices=list(BLOCK_REASON_TEXTS.items()),
        widget=forms.RadioSelect,
    )


class CardStepForm(forms.Form):
    """Which step of a code page a button asks for: send the code, or check it."""

    step = forms.ChoiceField(choices=[("send", "send"), ("code", "code")], widget=forms.HiddenInput)
