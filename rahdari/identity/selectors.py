"""Reads about persons: officer search (scoped to districts), queues, a person's own view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from rahdari.accounts.models import User
from rahdari.core.keyring import blind_index
from rahdari.core.models import AuditEntry
from rahdari.core.validators import clean_cnic, clean_mobile
from rahdari.identity import matching, rules
from rahdari.identity.models import CorrectionRequest, DuplicateCandidate, Enrolment, Person


def persons_visible_to(user: User) -> QuerySet[Person]:
    """An officer sees the persons of their districts; administrators and auditors all."""
    persons = Person.objects.select_related("district")
    if user.all_districts:
        return persons
    return persons.filter(district__in=user.districts.all())


@dataclass(frozen=True)
class SearchHit:
    person: Person
    score: float


def person_search(
    *, user: User, query: str, district_id: int | None = None, limit: int = 25
) -> list[SearchHit]:
    """Find by Rahdari number, CNIC, mobile (exact, through blind indexes) or name (fuzzy,
    Latin or Urdu script). Only persons in the user's districts are ever returned."""
    query = " ".join(query.split())
    if not query:
        return []
    persons = persons_visible_to(user)
    if district_id:
        persons = persons.filter(district_id=district_id)
    digits = "".join(ch for ch in query if ch.isdigit())
    exact: Q | None = None
    if len(digits) == 12 and rules.is_valid_rahdari_number(digits):
        exact = Q(rahdari_number=digits)
    elif len(digits) == 13:
        try:
            exact = Q(national_id_index=blind_index("cnic", clean_cnic(digits)))
        except Exception:
            exact = None
    elif 10 <= len(digits) <= 12:
        try:
            exact = Q(mobile_index=blind_index("phone", clean_mobile(query)))
        except Exception:
            exact = None
    if exact is not None:
        return [SearchHit(p, 1.0) for p in persons.filter(exact)[:limit]]
    is_urdu = any("\u0600" <= ch <= "\u06ff" for ch in query)
    key = matching.name_key("" if is_urdu else query, query if is_urdu else "")
    if not key:
        return []
    pool = list(persons.filter(name_key=blind_index("name", key))[:2000])
    hits = []
    for person in pool:
        similarity = matching.name_similarity(
            "" if is_urdu else query,
            query if is_urdu else "",
            person.full_name,
            person.full_name_ur,
        )
        if similarity >= 0.6:
            hits.append(SearchHit(person, similarity))
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits[:limit]


def open_duplicates_for(user: User) -> QuerySet[DuplicateCandidate]:
    candidates = DuplicateCandidate.objects.filter(
        status=DuplicateCandidate.Status.OPEN
    ).select_related("new_person__district", "existing_person__district")
    if not user.all_districts:
        # Both records are shown side by side: the officer must cover both districts.
        # A pair across districts goes to an officer of both, or to an administrator.
        mine = user.districts.all()
        candidates = candidates.filter(
            new_person__district__in=mine, existing_person__district__in=mine
        )
    return candidates.order_by("-score", "created_at")


def open_corrections_for(user: User) -> QuerySet[CorrectionRequest]:
    requests = CorrectionRequest.objects.filter(
        status=CorrectionRequest.Status.OPEN
    ).select_related("person__district")
    if not user.all_districts:
        requests = requests.filter(person__district__in=user.districts.all())
    return requests.order_by("created_at")


def person_of_account(user: User) -> Person | None:
    return (
        Person.objects.select_related("district")
        .filter(account=user)
        .exclude(status__in=("merged", "rejected"))
        .order_by("-created_at")
        .first()
    )


def latest_enrolment(person: Person) -> Enrolment | None:
    return person.enrolments.order_by("-created_at").first()


def reads_of(person: Person) -> QuerySet[AuditEntry]:
    """Who opened this person's record: staff and partners, with purpose."""
    return (
        AuditEntry.objects.filter(
            subject_type="identity.person",
            subject_id=str(person.pk),
            action="identity.person.viewed",
        )
        .select_related("actor")
        .order_by("-seq")
    )


# How far each enrolment status has come through the four steps a person sees.
STEP_REACHED: dict[str, int] = {
    Enrolment.Status.VERIFYING: 1,
    Enrolment.Status.QUEUED: 1,
    Enrolment.Status.MISMATCH: 1,
    Enrolment.Status.NOT_FOUND: 1,
    Enrolment.Status.REJECTED: 1,
    Enrolment.Status.DUPLICATE_REVIEW: 2,
    Enrolment.Status.APPROVED: 4,
}


def enrolment_steps(enrolment: Enrolment | None) -> list[dict[str, Any]]:
    """The steps a person sees on their page, each done, current or waiting."""
    order = ["submitted", "verified", "duplicates", "numbered"]
    reached = STEP_REACHED.get(enrolment.status, 1) if enrolment else 0
    return [
        {"step": s, "state": "done" if i < reached else "current" if i == reached else "waiting"}
        for i, s in enumerate(order)
    ]
