"""Reading applications: hers, the officers' work queue, one with its timeline, and what
the platform already knows about her (the prefilled form)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from rahdari.accounts.models import User
from rahdari.applications import rules
from rahdari.applications.models import Application, ApplicationEvent, ApplicationKind
from rahdari.core.audit import audit_record_read
from rahdari.core.errors import NotFound
from rahdari.core.models import District
from rahdari.core.tracking import normalise_tracking_number
from rahdari.identity import rules as identity_rules
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person
from rahdari.programs import selectors as programs
from rahdari.programs.models import Program
from rahdari.registry import selectors as registry

READ_PURPOSE = "Review of an application"
READ_FIELDS = ["names", "national_id", "household", "documents", "statement"]

REVIEW_PERMISSIONS = ("applications.review_applications", "applications.review_corrections")


def may_review_any(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_citizen", True):
        return False
    return any(user.has_perm(p) for p in REVIEW_PERMISSIONS)


def may_apply_on_behalf(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and not getattr(user, "is_citizen", True)
        and user.has_perm("applications.apply_on_behalf")
    )


# --------------------------------------------------------------------------- programs


@dataclass(frozen=True)
class OpenProgram:
    program: Program
    name: str
    description: str
    papers: list[str]


@dataclass(frozen=True)
class ProgramCatalogue:
    """Every program in one language, from one reading of the programs (three queries):
    the ones open to applications, and each one's name and code by id."""

    open: list[OpenProgram]
    names: dict[Any, str]
    codes: dict[Any, str]


def program_catalogue(language: str) -> ProgramCatalogue:
    open_now, names, codes = [], {}, {}
    for row in programs.programs_overview():
        program = row.program
        name = programs.text_in(row.rules.name, language) if row.rules else program.code
        names[program.pk], codes[program.pk] = name, program.code
        if program.open and row.rules is not None:
            open_now.append(
                OpenProgram(
                    program=program,
                    name=name,
                    description=programs.text_in(row.rules.description, language),
                    papers=rules.required_documents(program=program.code),
                )
            )
    return ProgramCatalogue(open=open_now, names=names, codes=codes)


# --------------------------------------------------------------------------- hers


def person_of_citizen(user: User) -> Person | None:
    return identity.person_of_account(user)


def applications_of(person: Person) -> QuerySet[Application]:
    return (
        Application.objects.filter(person=person).select_related("program").order_by("-created_at")
    )


def applications_in_full(person: Person) -> QuerySet[Application]:
    """Her applications with what a full answer shows (the API's list)."""
    return _base().filter(person=person).order_by("-created_at")


def application_of_person(
    *, person: Person, application_id: Any = None, number: str = ""
) -> Application:
    """One of her applications, by id or by the number she reads out (a complaint names it)."""
    found = Application.objects.select_related("program").filter(person=person)
    if application_id:
        found = found.filter(pk=application_id)
    else:
        found = found.filter(number=normalise_tracking_number(number) or "-")
    application = found.first()
    if application is None:
        raise NotFound(_("There is no such application."), code="no_application")
    return application


def application_of_applicant(*, user: User, application_id: Any) -> Application:
    """Her own application (as a citizen) or, for an officer who applies on people's
    behalf, one of a person of her districts."""
    found = _base().filter(pk=application_id)
    if user.is_citizen:
        person = person_of_citizen(user)
        found = found.filter(person=person) if person else found.none()
    elif may_apply_on_behalf(user) or may_review_any(user):
        found = found.filter(district__in=_districts(user))
    else:
        found = found.none()
    application = found.first()
    if application is None:
        raise NotFound(_("No such application."), code="no_application")
    return application


def _base() -> QuerySet[Application]:
    return Application.objects.select_related(
        "person__account", "person__district", "program", "household", "district", "reviewer"
    )


def _districts(user: User) -> QuerySet[District]:
    return District.objects.all() if user.all_districts else user.districts.all()


# --------------------------------------------------------------------------- the queue


QUEUE_SORTS: Mapping[str, tuple[Any, ...]] = {
    "due": (F("due_at").asc(nulls_last=True), "submitted_at"),
    "oldest": ("submitted_at",),
    "newest": ("-submitted_at",),
    "number": ("number",),
}
QUEUE_STATUSES = ("pending", *(s.value for s in rules.Status if s != rules.Status.DRAFT), "all")


@dataclass(frozen=True)
class QueueFilter:
    status: str = "pending"
    kind: str = ""
    program: str = ""  # code
    district: int | None = None
    overdue: bool = False
    mine: bool = False
    assisted: bool = False
    number: str = ""
    sort: str = "due"


def queue(*, user: User, filters: QueueFilter) -> QuerySet[Application]:
    """Applications the officer reviews (her kinds, her districts), filtered and sorted.
    A page of it costs one query (plus one to count): every column it shows is joined."""
    kinds = []
    if user.has_perm("applications.review_applications"):
        kinds.append(ApplicationKind.PROGRAM)
    if user.has_perm("applications.review_corrections"):
        kinds.append(ApplicationKind.CORRECTION)
    found = Application.objects.exclude(status=rules.Status.DRAFT)
    if set(kinds) != set(ApplicationKind):
        # Only when it narrows: "kind" is not in the queue index, so the filter costs a
        # look at every row (counting 10,000 pending ones took five times as long).
        found = found.filter(kind__in=kinds)
    if not user.all_districts:
        found = found.filter(district__in=user.districts.all())
    if filters.status == "pending":
        found = found.filter(status__in=[s.value for s in rules.WAITING_FOR_OFFICER])
    elif filters.status != "all":
        found = found.filter(status=filters.status)
    if filters.kind:
        found = found.filter(kind=filters.kind)
    if filters.program:
        found = found.filter(program__code=filters.program)
    if filters.district is not None:
        found = found.filter(district_id=filters.district)
    if filters.overdue:
        found = found.filter(due_at__lt=timezone.now())
    if filters.mine:
        found = found.filter(reviewer=user)
    if filters.assisted:
        found = found.filter(assisted=True)
    if filters.number:
        found = found.filter(number__startswith=normalise_tracking_number(filters.number))
    return (
        found.select_related("person", "district", "program", "reviewer")
        .only(
            "id",
            "number",
            "kind",
            "status",
            "due_at",
            "submitted_at",
            "assisted",
            "rules_eligible",
            "program__id",
            "program__code",
            "district__id",
            "district__name",
            "district__name_ur",
            "person__id",
            "person__full_name",
            "person__full_name_ur",
            "person__rahdari_number",
            "reviewer__id",
            "reviewer__username",
            "reviewer__full_name",
        )
        .order_by(*QUEUE_SORTS.get(filters.sort, QUEUE_SORTS["due"]))
    )


def queue_page(found: QuerySet[Application], start: int, stop: int) -> QuerySet[Application]:
    """Rows ``start:stop`` of ``queue()`` in one query, fast on a long queue: the page is
    chosen on the applications alone (sorted, then sliced) and only its rows are joined,
    instead of joining every pending application before the sort (10,000: 3x slower)."""
    return found.filter(pk__in=found.values("pk")[start:stop])


def review_districts(user: User) -> QuerySet[District]:
    return _districts(user).only("id", "name", "name_ur")


def application_for_review(*, user: User, application_id: Any) -> Application:
    """An application the officer reviews (any status but draft)."""
    application = (
        queue(user=user, filters=QueueFilter(status="all")).filter(pk=application_id).first()
    )
    if application is None:
        raise NotFound(_("No such application in your queue."), code="no_application")
    return _base().get(pk=application.pk)


def application_read(*, application: Application, actor: User) -> None:
    """An officer opened her application (facts, papers, words): recorded on her record."""
    audit_record_read(
        actor=actor, subject=application.person, purpose=READ_PURPOSE, fields=READ_FIELDS
    )


# --------------------------------------------------------------------------- one


def timeline(application: Application) -> QuerySet[ApplicationEvent]:
    return application.events.select_related("actor").order_by("at", "id")


def papers(application: Application) -> dict[str, Any]:
    """Kind → the linked version (with its document), for the papers it was sent with."""
    return {
        link.kind: link.version
        for link in application.documents.select_related("version__document")
    }


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class MemberFact:
    name: str
    relationship: str
    born: int
    disability: bool


@dataclass(frozen=True)
class Prefill:
    """What the platform already knows and never asks again."""

    person: list[Fact]
    household_number: str
    members: list[MemberFact]


def prefill(application: Application, language: str) -> Prefill:
    person = application.person
    name = (
        person.full_name_ur
        if language in ("ur", "ps") and person.full_name_ur
        else person.full_name
    )
    born = date.fromisoformat(person.date_of_birth) if person.date_of_birth else None
    district = person.district
    facts = [
        Fact(_("Name"), name),
        Fact(_("Father's or husband's name"), person.guardian_name),
        Fact(_("CNIC"), f"•••••-•••••••-{person.national_id[-1]}" if person.national_id else ""),
        Fact(
            _("Rahdari number"), identity_rules.format_rahdari_number(person.rahdari_number or "")
        ),
        Fact(_("Date of birth"), born.isoformat() if born else ""),
        Fact(_("Mobile number"), f"•••• •••{person.mobile[-4:]}" if person.mobile else ""),
        Fact(
            _("Address"),
            ", ".join(
                p
                for p in (
                    person.village,
                    person.union_council,
                    person.tehsil,
                    district.name_ur if language in ("ur", "ps") else district.name,
                )
                if p
            ),
        ),
    ]
    members: list[MemberFact] = []
    household = application.household
    if household is not None:
        for row in (
            household.members.filter(active=True).select_related("person").order_by("member_no")
        ):
            linked = row.person
            shown = ""
            if linked is not None:
                shown = (
                    linked.full_name_ur
                    if language in ("ur", "ps") and linked.full_name_ur
                    else linked.full_name
                )
            members.append(
                MemberFact(
                    name=shown or _("(not enrolled yet)"),
                    relationship=row.get_relationship_display(),
                    born=row.birth_year,
                    disability=row.has_disability,
                )
            )
    return Prefill(
        person=facts,
        household_number=household.number if household is not None else "",
        members=members,
    )


def is_overdue(application: Application) -> bool:
    return application.due_at is not None and application.due_at < timezone.now()


def pending_count(user: User) -> int:
    return queue(user=user, filters=QueueFilter()).count()


def has_household(person: Person) -> bool:
    return registry.household_of_person(person) is not None
