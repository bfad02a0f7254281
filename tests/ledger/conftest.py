"""Ledger fixtures: realistic events of each kind."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from rahdari.ledger.services import Event

_serial = itertools.count(1)
DISTRICTS = ["Peshawar", "Swat", "Mardan", "Chitral Lower"]


def payment_event(
    status: str = "paid", *, district: str = "Swat", amount: int = 13_500, number: str | None = None
) -> Event:
    n = next(_serial)
    return Event(
        kind=f"payments.{status}",
        fields={
            "program": "cash-transfer",
            "cycle": "2026-Q4",
            "district": district,
            "payment": f"PAY{n:08d}",
            "channel": "bank",
            "amount": amount,
        },
        beneficiary=number or f"RD{n:010d}",
    )


def cycle_event(totals: list[tuple[str, int, int]], *, cycle: str = "2026-Q4") -> Event:
    return Event(
        kind="payments.cycle_approved",
        fields={
            "program": "cash-transfer",
            "cycle": cycle,
            "totals": [{"district": d, "count": c, "amount": a} for d, c, a in totals],
        },
    )


@pytest.fixture
def payment_events() -> Callable[..., list[Event]]:
    def make(count: int, **kwargs: Any) -> list[Event]:
        return [
            payment_event(district=DISTRICTS[i % len(DISTRICTS)], **kwargs) for i in range(count)
        ]

    return make
