"""Reads of complaints, always scoped. An officer works the complaints at her desks and
sees (on the dashboard and when opening one) those of her desks' areas: a district desk
its district, a divisional cell its division, the provincial cell the whole province.
A complainant sees her own — logged in, or with the tracking number and her phone
number, where a wrong pair says exactly what an unknown number says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from rahdari.accounts.models import User
from rahdari.applications import selectors as applications
from rahdari.applications import services as applications_services
from rahdari.applications.models import Application
from rahdari.core import tracking
from rahdari.core.errors import ApplicationError, NotFound
from rahdari.core.keyring import blind_index
from rahdari.core.models import District
from rahdari.core.validators import clean_mobile
from rahdari.grievances import rules
from rahdari.grievances.models import Category, Complaint, ComplaintEvent, Desk
from rahdari.identity import selectors as identity
from rahdari.identity.models import Person
from rahdari.payments import selectors as payments
from rahdari.payments.models import CashOut, Payment, PaymentEvent
from rahdari.programs.models import Program

HANDLE_PERMISSION = "grievances.handle_complaints"
LODGE_PERMISSION = "grievances.lodge_for_others"


def _staff_member(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and not getattr(user, "is_citizen", True)


def may_handle(user: Any) -> bool:
    return _staff_member(user) and bool(user.has_perm(HANDLE_PERMISSION))


def may_lodge_for_others(user: Any) -> bool:
    return _staff_member(user) and bool(user.has_perm(LODGE_PERMISSION))


def desks_of(user: User) -> QuerySet[Desk]:
    return Desk.objects.filter(officers=user).order_by("level", "area")


def desks_all() -> QuerySet[Desk]:
    return Desk.objects.order_by("level", "area")


def desk_get(desk_id: Any) -> Desk:
    desk = Desk.objects.filter(pk=desk_id).first()
    if desk is None:
        raise NotFound(_("There is no such desk."), code="no_desk")
    return desk


def districts() -> QuerySet[District]:
    return District.objects.order_by("name")


def programs_open_to_appeal() -> QuerySet[Program]:
    return Program.objects.order_by("code")


def _scope(user: User) -> Q:
    """The complaints of the areas of the officer's desks (nothing without a desk)."""
    scope = Q(pk__in=[])
    for level, area in desks_of(user).values_list("level", "area"):
        if level == rules.PROVINCE:
            return Q()
        if level == rules.DIVISION:
            scope |= Q(district__division=area)
        else:
            scope |= Q(district__name=area)
    return scope


def complaints_in_scope(user: User) -> QuerySet[Complaint]:
    if not may_handle(user):
        return Complaint.objects.none()
    return Complaint.objects.filter(_scope(user))


def queue(
    user: User, *, status: str = "", overdue: bool = False, now: datetime | None = None
) -> QuerySet[Complaint]:
    """The complaints at the officer's desks that still need an answer, the most urgent
    (earliest deadline) first; no personal data is read for the list."""
    moment = now or timezone.now()
    complaints = (
        Complaint.objects.filter(desk__officers=user)
        .select_related("desk", "district", "assigned_to")
        .only(
            "id",
            "number",
            "category",
            "channel",
            "status",
            "level",
            "due_at",
            "created_at",
            "desk__name",
            "district__name",
            "assigned_to__username",
        )
        .order_by("due_at", "number")
    )
    if status:
        complaints = complaints.filter(status=status)
    else:
        complaints = complaints.filter(status__in=rules.OPEN_STATUSES)
    if overdue:
        complaints = complaints.filter(due_at__lt=moment)
    return complaints


def complaint_for_staff(*, user: User, complaint_id: Any) -> Complaint:
    complaint = (
        complaints_in_scope(user)
        .select_related("desk", "district", "person", "assigned_to", "lodged_by", "appeal")
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None:
        raise NotFound(_("There is no such complaint in your area."), code="no_complaint")
    return complaint


def may_act_on(user: User, complaint: Complaint) -> bool:
    return may_handle(user) and complaint.desk.officers.filter(pk=user.pk).exists()


def status_lookup(*, number: str, phone: str) -> Complaint:
    """The complaint with this tracking number lodged from this phone. A number with a
    wrong check digit is said to be mistyped (that reveals nothing); an unknown number
    and a number with the wrong phone get the same answer, from the same one query."""
    digits = tracking.normalise_tracking_number(number or "")
    if not tracking.is_valid_tracking_number(digits, "complaint"):
        message = _("This is not a complaint number. Check the 10 digits on your SMS.")
        raise ApplicationError(
            message, code="invalid_number", fields={"number": [message]}, status=422
        )
    try:
        index = blind_index("phone", clean_mobile(phone))
    except Exception as error:  # ValidationError: a malformed phone
        message = _("Enter a Pakistani mobile number, for example 0300 1234567.")
        raise ApplicationError(
            message, code="invalid_phone", fields={"phone": [message]}, status=422
        ) from error
    complaint = (
        Complaint.objects.select_related("desk", "district")
        .filter(number=digits, phone_index=index)
        .first()
    )
    if complaint is None:
        raise NotFound(
            _(
                "We found no complaint with this number and this phone number. Check both, "
                "or ask at a Rahdari office."
            ),
            code="no_complaint",
        )
    return complaint


def complaints_of_citizen(user: User) -> QuerySet[Complaint]:
    """Her complaints: lodged by her login, or about her record (lodged at an office)."""
    person = identity.person_of_account(user)
    mine = Q(lodged_by=user)
    if person is not None:
        mine |= Q(person=person)
    return (
        Complaint.objects.filter(mine)
        .select_related("desk")
        .only("id", "number", "category", "status", "due_at", "created_at", "desk__name")
        .order_by("-created_at")
    )


def complaints_of_citizen_in_full(user: User, *, limit: int = 50) -> list[Complaint]:
    """Her complaints with their desks and the steps she sees (``public_events``), newest
    first: three queries however many there are."""
    public = ComplaintEvent.objects.filter(kind__in=ComplaintEvent.PUBLIC_KINDS).order_by("id")
    person = identity.person_of_account(user)
    mine = Q(lodged_by=user) | Q(person=person) if person is not None else Q(lodged_by=user)
    return list(
        Complaint.objects.filter(mine)
        .select_related("desk")
        .prefetch_related(Prefetch("events", queryset=public, to_attr="public_events"))
        .order_by("-created_at")[:limit]
    )


def complaint_of_citizen(*, user: User, complaint_id: Any) -> Complaint:
    complaint = complaints_of_citizen(user).filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("There is no such complaint."), code="no_complaint")
    return Complaint.objects.select_related("desk").get(pk=complaint.pk)


def complaint_get(complaint_id: Any) -> Complaint:
    """By id, unscoped: only for a complaint the caller already proved she may see."""
    complaint = Complaint.objects.select_related("desk").filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("There is no such complaint."), code="no_complaint")
    return complaint


def events_public(complaint: Complaint) -> QuerySet[ComplaintEvent]:
    """The steps the complainant sees (no internal notes, no officer names)."""
    return (
        ComplaintEvent.objects.filter(complaint=complaint, kind__in=ComplaintEvent.PUBLIC_KINDS)
        .select_related("to_desk")
        .defer("note")
        .order_by("id")
    )


def events_all(complaint: Complaint) -> QuerySet[ComplaintEvent]:
    return (
        ComplaintEvent.objects.filter(complaint=complaint)
        .select_related("actor", "from_desk", "to_desk")
        .order_by("id")
    )


def attachments_of(complaint: Complaint) -> list[Any]:
    return [
        a.version for a in complaint.attachments.select_related("version__document").order_by("id")
    ]


def attachment_of(*, complaint: Complaint, version_id: Any) -> Any:
    found = (
        complaint.attachments.select_related("version__document__person")
        .filter(version_id=version_id)
        .first()
    )
    if found is None:
        raise NotFound(_("There is no such paper."), code="no_attachment")
    return found.version


def person_find(*, user: User, rahdari_number: str) -> Person:
    """A person by Rahdari number, for an officer lodging on her behalf."""
    return payments.person_find(user=user, rahdari_number=rahdari_number)


def person_of_citizen(user: User) -> Person | None:
    return identity.person_of_account(user)


def payments_of_person(person: Person, *, limit: int = 12) -> list[Payment]:
    return list(payments.payments_of(person)[:limit])


def cash_outs_of_person(person: Person, *, limit: int = 12) -> list[CashOut]:
    """Her cash-outs a deduction can be reported on (handed over or confirmed)."""
    reportable = (CashOut.Status.HANDED_OVER, CashOut.Status.CONFIRMED)
    return [c for c in payments.cash_outs_of_person(person, limit=limit) if c.status in reportable]


def payment_of_person(*, person: Person, payment_id: Any) -> Payment:
    payment = payments.payments_of(person).filter(pk=payment_id).first()
    if payment is None:
        raise NotFound(_("There is no such payment."), code="no_payment")
    return payment


def payment_of_person_by_reference(*, person: Person, reference: str) -> Payment:
    """One of her payments by the reference on its SMS or receipt (spaces ignored)."""
    key = "".join(reference.split()).upper()[:32]
    payment = payments.payments_of(person).filter(key=key).first() if key else None
    if payment is None:
        raise NotFound(_("She has no payment with this reference."), code="no_payment")
    return payment


def applications_of_person(person: Person) -> list[Application]:
    return list(applications.applications_of(person)[:50])


def application_of_person(
    *, person: Person, application_id: Any = None, number: str = ""
) -> Application:
    return applications.application_of_person(
        person=person, application_id=application_id, number=number
    )


@dataclass(frozen=True)
class ApplicationView:
    """The application a complaint is about, as the desk sees it: its number, what it is
    for, where it stands and since when; a link to it for an officer who reviews it."""

    number: str
    what: str
    status: str
    status_label: str
    status_since: Any
    due_at: Any
    review_url: str


def application_view(complaint: Complaint, user: User) -> ApplicationView | None:
    application = complaint.application
    if application is None:
        return None
    may_review = applications_services.may_review(user, application)
    return ApplicationView(
        number=tracking.format_tracking_number(application.number),
        what=applications_services.what_of(application, get_language() or "ur"),
        status=application.status,
        status_label=str(application.get_status_display()),
        status_since=application.status_changed_at,
        due_at=application.due_at,
        review_url=reverse("applications:review", args=[application.pk]) if may_review else "",
    )


def cash_out_of_person(*, person: Person, cash_out_id: Any) -> CashOut:
    return payments.cash_out_of_person(person=person, cash_out_id=cash_out_id)


@dataclass(frozen=True)
class PaymentView:
    """The payment a complaint is about, as the desk sees it: status and its steps in
    the public ledger (each with its leaf hash)."""

    payment: Payment
    events: list[PaymentEvent]

    @property
    def ledger_events(self) -> list[PaymentEvent]:
        return [e for e in self.events if e.leaf_hash]


def payment_view(complaint: Complaint) -> PaymentView | None:
    payment = complaint.payment if complaint.payment_id else None
    if payment is None and complaint.cash_out_id:
        payment = complaint.cash_out.payment if complaint.cash_out else None
    if payment is None:
        return None
    full = payments.payment_by_key(payment.key)
    return PaymentView(full, list(payments.payment_events(full)))


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: int
    percent: int


@dataclass
class Dashboard:
    open_total: int = 0
    overdue: int = 0
    answered: int = 0
    average_rating: float | None = None
    by_age: list[Bar] = field(default_factory=list)
    by_category: list[Bar] = field(default_factory=list)
    by_district: list[Bar] = field(default_factory=list)
    overdue_by_level: list[Bar] = field(default_factory=list)


def _bars(rows: list[tuple[str, str, int]]) -> list[Bar]:
    top = max((value for _k, _l, value in rows), default=0)
    return [
        Bar(key, label, value, round(value * 100 / top) if top else 0) for key, label, value in rows
    ]


def dashboard(user: User, *, now: datetime | None = None) -> Dashboard:
    """Open complaints by age, deadline breaches, by category and by district, for the
    areas of the officer's desks: four aggregate queries (plus the desks')."""
    moment = now or timezone.now()
    scope = complaints_in_scope(user)
    open_ = scope.filter(status__in=rules.OPEN_STATUSES)
    bands: dict[str, Any] = {}
    for label, low, high in rules.AGE_BANDS:
        window = Q(created_at__lte=moment - timedelta(days=low))
        if high is not None:
            window &= Q(created_at__gt=moment - timedelta(days=high + 1))
        bands[f"age_{label}"] = Count("pk", filter=window)
    totals = open_.aggregate(
        open_total=Count("pk"),
        overdue=Count("pk", filter=Q(due_at__lt=moment)),
        overdue_1=Count("pk", filter=Q(due_at__lt=moment, level=1)),
        overdue_2=Count("pk", filter=Q(due_at__lt=moment, level=2)),
        overdue_3=Count("pk", filter=Q(due_at__lt=moment, level=3)),
        **bands,
    )
    answered = scope.filter(status__in=[rules.RESOLVED, rules.CLOSED]).aggregate(
        n=Count("pk"), rating=Avg("rating")
    )
    categories = dict(open_.values_list("category").annotate(n=Count("pk")).order_by())
    by_district = list(
        open_.values_list("district__name").annotate(n=Count("pk")).order_by("-n", "district__name")
    )
    level_names = {1: _("District desks"), 2: _("Divisional cells"), 3: _("Provincial cell")}
    return Dashboard(
        open_total=totals["open_total"],
        overdue=totals["overdue"],
        answered=answered["n"],
        average_rating=round(answered["rating"], 1) if answered["rating"] is not None else None,
        by_age=_bars(
            [
                (label, _("%(band)s days") % {"band": label}, totals[f"age_{label}"])
                for label, _low, _high in rules.AGE_BANDS
            ]
        ),
        by_category=_bars([(c.value, str(c.label), categories.get(c.value, 0)) for c in Category]),
        by_district=_bars(
            [(name or "", name or _("District not known"), n) for name, n in by_district]
        ),
        overdue_by_level=_bars(
            [
                (str(level), str(level_names[level]), totals[f"overdue_{level}"])
                for level in (1, 2, 3)
            ]
        ),
    )
