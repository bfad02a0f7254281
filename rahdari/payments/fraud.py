"""The fraud review list: patterns that the known leakages leave in the data — one
account or phone behind many beneficiaries, agents that beneficiaries report for
deductions, payments to people recorded as deceased, and accounts changed just before
a payment. Each row is a lead for an investigator, not a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, F, Min, OuterRef, Q

from rahdari.identity.models import Person, PersonStatus
from rahdari.payments.models import CashOut, Payment, PaymentAccount, PaymentEvent

DEDUCTION_REPORTS = 3  # an agent reported this often is reviewed
CHANGE_WINDOW = timedelta(days=14)  # an account this new when paid is a lead
LIMIT = 200


@dataclass
class FraudReview:
    shared_accounts: list[dict[str, Any]] = field(default_factory=list)
    shared_phones: list[dict[str, Any]] = field(default_factory=list)
    agents_reported: list[dict[str, Any]] = field(default_factory=list)
    paid_to_deceased: list[dict[str, Any]] = field(default_factory=list)
    changed_before_payment: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(
            len(rows)
            for rows in (
                self.shared_accounts,
                self.shared_phones,
                self.agents_reported,
                self.paid_to_deceased,
                self.changed_before_payment,
            )
        )


def fraud_review(*, limit: int = LIMIT) -> FraudReview:
    """The current leads, at most ``limit`` of each kind, largest first. Rows name
    people by Rahdari number only."""
    review = FraudReview()
    shared = (
        PaymentAccount.objects.filter(status=PaymentAccount.Status.ACTIVE)
        .values("number_index")
        .annotate(persons=Count("person", distinct=True))
        .filter(persons__gt=1)
        .order_by("-persons")[:limit]
    )
    displays = _accounts_by_index([row["number_index"] for row in shared])
    for row in shared:
        channel, provider, display, numbers = displays[row["number_index"]]
        review.shared_accounts.append(
            {
                "channel": channel,
                "provider": provider,
                "account": display,
                "beneficiaries": row["persons"],
                "rahdari_numbers": numbers,
            }
        )

    paid_persons = Payment.objects.exclude(status=Payment.Status.HELD).values("person")
    phones = (
        Person.objects.filter(pk__in=paid_persons)
        .exclude(mobile_index="")
        .values("mobile_index")
        .annotate(persons=Count("id"))
        .filter(persons__gt=1)
        .order_by("-persons")[:limit]
    )
    for row in phones:
        numbers = sorted(
            str(number)
            for number in Person.objects.filter(
                mobile_index=row["mobile_index"], pk__in=paid_persons
            ).values_list("rahdari_number", flat=True)
        )
        review.shared_phones.append({"beneficiaries": row["persons"], "rahdari_numbers": numbers})

    agents = (
        CashOut.objects.filter(status=CashOut.Status.DISPUTED)
        .values("agent__username", "agent__full_name")
        .annotate(reports=Count("id"))
        .filter(reports__gte=DEDUCTION_REPORTS)
        .order_by("-reports")[:limit]
    )
    review.agents_reported = [
        {
            "agent": row["agent__username"],
            "name": row["agent__full_name"],
            "reports": row["reports"],
        }
        for row in agents
    ]

    review.paid_to_deceased = [
        {"payment": key, "rahdari_number": number, "status": status, "amount": amount}
        for key, number, status, amount in Payment.objects.filter(
            person__status=PersonStatus.DECEASED,
            status__in=[Payment.Status.INSTRUCTED, Payment.Status.PAID],
        )
        .order_by("-id")
        .values_list("key", "person__rahdari_number", "status", "amount")[:limit]
    ]

    first_instructed = (
        PaymentEvent.objects.filter(payment=OuterRef("pk"), status=Payment.Status.INSTRUCTED)
        .values("payment")
        .annotate(at=Min("created_at"))
        .values("at")
    )
    recent = (
        Payment.objects.filter(account__activated_at__isnull=False)
        .filter(Exists(PaymentEvent.objects.filter(payment=OuterRef("pk"), status="instructed")))
        .annotate(instructed_at=first_instructed)
        .filter(
            Q(instructed_at__gte=F("account__activated_at"))
            & Q(instructed_at__lt=F("account__activated_at") + CHANGE_WINDOW)
        )
        .exclude(account__requested_by__isnull=True)  # an officer recorded it for her
        .order_by("-id")
        .values_list("key", "person__rahdari_number", "account__display", "amount")[:limit]
    )
    review.changed_before_payment = [
        {"payment": key, "rahdari_number": number, "account": display, "amount": amount}
        for key, number, display, amount in recent
    ]
    return review


def _accounts_by_index(indexes: list[str]) -> dict[str, tuple[str, str, str, list[str]]]:
    found: dict[str, tuple[str, str, str, list[str]]] = {}
    rows = (
        PaymentAccount.objects.filter(number_index__in=indexes, status=PaymentAccount.Status.ACTIVE)
        .order_by("number_index", "person__rahdari_number")
        .values_list("number_index", "channel", "provider", "display", "person__rahdari_number")
    )
    for index, channel, provider, display, number in rows:
        entry = found.setdefault(index, (channel, provider, display, []))
        entry[3].append(str(number))
    return found
