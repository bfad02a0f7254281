"""Applications fixtures: a surveyed Swat household whose married woman is enrolled and
has a citizen login, her ID-card photos in her documents, an approved cash-transfer
run, and the officers who apply for people (enrolment) and review (program)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rahdari.accounts.roles import Role
from rahdari.applications import services
from rahdari.applications.models import Application
from rahdari.documents import services as documents
from rahdari.identity.models import Person
from rahdari.programs.models import Program
from tests.documents.conftest import documents_dir, photo  # noqa: F401 — storage per test
from tests.identity.conftest import enrol, registered  # noqa: F401 — persons
from tests.payments.conftest import approved_run, enrolled_payee, officers  # noqa: F401
from tests.registry.conftest import make_household, survey_round  # noqa: F401 — households


@pytest.fixture
def applicant(enrolled_payee: Callable[..., Person], make_citizen: Callable[..., Any]) -> Person:  # noqa: F811
    """Gul Bibi of Swat: enrolled, in a surveyed (poor) household, with a citizen login."""
    person = enrolled_payee("Swat")
    user = make_citizen(phone=str(person.mobile), language="ur")
    Person.objects.filter(pk=person.pk).update(account=user)
    person.refresh_from_db()
    return person


@pytest.fixture
def reviewer(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.PROGRAM_OFFICER, ["Swat"], full_name="Saima Yousaf")


@pytest.fixture
def second_reviewer(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.PROGRAM_OFFICER, ["Swat"], full_name="Imran Khattak")


@pytest.fixture
def desk_officer(make_staff: Callable[..., Any]) -> Any:
    """An enrolment officer of Swat: applies for people, reviews corrections."""
    return make_staff(Role.ENROLMENT_OFFICER, ["Swat"], full_name="Aisha Khan")


@pytest.fixture
def cash_transfer() -> Program:
    return Program.objects.get(code="cash-transfer")


def give_id_card(person: Person) -> None:
    """Her CNIC front and back in her documents (photos with EXIF, as phones take them)."""
    for kind in ("cnic_front", "cnic_back"):
        documents.document_upload(
            person=person, kind=kind, data=photo(gps=True), actor=person.account
        )


@pytest.fixture
def draft(applicant: Person, cash_transfer: Program) -> Application:
    return services.application_start(
        person=applicant, kind="program", program=cash_transfer, actor=applicant.account
    )


@pytest.fixture
def submitted(draft: Application) -> Application:
    give_id_card(draft.person)
    return services.application_submit(application=draft, actor=draft.person.account)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client
