"""Banks, wallet operators and card issuers behind narrow interfaces, with reference
implementations that behave like them.

``AccountDirectory.lookup`` answers "is this account open, and in whose name?" — the
name check that "one woman, one bank account" needs (a bank's title fetch, a wallet
operator's KYC name, a card issuer's cardholder). ``directory()`` returns the
configured implementation (``RAHDARI_PAYMENT_DIRECTORY``). The reference one answers
from ``ReferenceAccount`` (the providers' books, loaded from the synthetic population
by ``reference_accounts_load``), with the providers' latency and the occasional
outage. Production adapters (the banks' IBAN title-fetch through 1LINK, the wallet
operators' KYC APIs, the card issuer's API) are described in docs/payments.md.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from rahdari.core.keyring import blind_index
from rahdari.payments.models import ReferenceAccount


class LookupOutcome(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    BLOCKED = "blocked"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Lookup:
    outcome: LookupOutcome
    holder_name: str = ""


class ProviderUnavailable(Exception):
    """The provider did not answer in time; ask again later."""


class AccountDirectory(Protocol):
    def lookup(self, *, channel: str, provider: str, number: str) -> Lookup:
        """Raises ProviderUnavailable when the provider cannot be reached."""
        ...


def account_index(channel: str, provider: str, number: str) -> str:
    """The blind index of an account number (what shared-account checks compare)."""
    return blind_index(f"payment-{channel}", f"{provider}:{number}")


class ReferenceDirectory:
    """Answers from the reference books with a provider's latency (about 80 ms, up to
    a few hundred) and outages (``RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE``)."""

    def __init__(self, *, latency: float | None = None, failure_rate: float | None = None) -> None:
        self.latency = settings.RAHDARI_PAYMENT_PROVIDER_LATENCY if latency is None else latency
        self.failure_rate = (
            settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE if failure_rate is None else failure_rate
        )
        self._random = random.Random()  # noqa: S311 (simulated network, not security)

    def lookup(self, *, channel: str, provider: str, number: str) -> Lookup:
        if self.latency:
            time.sleep(self.latency * (0.5 + self._random.random()))
        if self.failure_rate and self._random.random() < self.failure_rate:
            raise ProviderUnavailable(provider)
        row = ReferenceAccount.objects.filter(
            channel=channel,
            provider=provider,
            number_index=account_index(channel, provider, number),
        ).first()
        if row is None:
            return Lookup(LookupOutcome.NOT_FOUND)
        return Lookup(LookupOutcome(row.state), row.holder_name)


@cache
def _directory_class(path: str) -> type[AccountDirectory]:
    cls: type[AccountDirectory] = import_string(path)
    return cls


def directory() -> AccountDirectory:
    return _directory_class(settings.RAHDARI_PAYMENT_DIRECTORY)()
