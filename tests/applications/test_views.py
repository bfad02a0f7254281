"""Application pages in English, Urdu and Pashto: her list and the prefilled form,
photographing a paper right on the application, sending it, the officer's queue (a
fixed number of queries whatever its length) with filters and bulk actions, the review
page with its decisions, refusals in the user's language, and the office desk."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from rahdari.applications import services
from rahdari.applications.models import Application
from rahdari.core.models import AuditEntry
from rahdari.documents.models import DocumentVersion
from rahdari.identity.models import Person
from rahdari.programs.models import Program
from tests.applications.conftest import give_id_card, logged_in
from tests.documents.conftest import EXECUTABLE, photo

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "ur", "ps"]


def tr(language: str, message: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def _html(response: Any) -> str:
    return str(response.content.decode())


def _file(data: bytes, name: str = "photo.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


@pytest.mark.parametrize("language", LANGUAGES)
def test_her_list_offers_the_open_programs_and_a_correction(
    applicant: Person, language: str
) -> None:
    response = logged_in(applicant.account).get(reverse("applications:mine") + f"?lang={language}")
    html = _html(response)
    assert response.status_code == 200
    assert f'lang="{language}"' in html
    assert tr(language, "My applications") in html
    assert 'data-program="cash-transfer"' in html and 'data-program="correction"' in html
    assert tr(language, "ID card (CNIC) — front") in html  # the papers each needs


@pytest.mark.parametrize("language", LANGUAGES)
def test_start_shows_what_is_known_and_the_papers(applicant: Person, language: str) -> None:
    client = logged_in(applicant.account)
    response = client.post(
        reverse("applications:mine") + f"?lang={language}",
        {"kind": "program", "program": "cash-transfer"},
    )
    application = Application.objects.get(person=applicant)
    assert response.status_code == 302
    assert response["Location"] == reverse("applications:detail", args=[application.pk])
    html = _html(client.get(response["Location"]))
    assert tr(language, "What we already know") in html
    assert applicant.guardian_name in html  # from the ID record, not asked again
    assert applicant.national_id not in html  # masked
    assert application.household.number in html
    assert 'data-paper="cnic_front" data-have="no"' in html
    assert 'capture="environment"' in html
    assert f'data-number="{application.number}"' in html


def test_a_paper_photographed_on_the_application_goes_to_her_documents(
    draft: Application, applicant: Person
) -> None:
    client = logged_in(applicant.account)
    url = reverse("applications:upload", args=[draft.pk])
    response = client.post(url, {"kind": "cnic_front", "file": _file(photo(gps=True))})
    assert response.status_code == 302
    version = DocumentVersion.objects.get(document__person=applicant, document__kind="cnic_front")
    assert not version.assisted
    html = _html(client.get(reverse("applications:detail", args=[draft.pk])))
    assert 'data-paper="cnic_front" data-have="yes"' in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_executable_named_jpg_is_refused_in_her_language(
    draft: Application, applicant: Person, language: str
) -> None:
    from rahdari.documents.services import refusal_message

    client = logged_in(applicant.account)
    url = reverse("applications:upload", args=[draft.pk]) + f"?lang={language}"
    response = client.post(url, {"kind": "cnic_front", "file": _file(EXECUTABLE, "photo.jpg")})
    assert response.status_code == 200
    with translation.override(language):
        assert refusal_message("unsupported_type") in _html(response)
    assert not DocumentVersion.objects.exists()


@pytest.mark.parametrize("language", LANGUAGES)
def test_sending_without_papers_names_them_in_her_language(
    draft: Application, applicant: Person, language: str
) -> None:
    client = logged_in(applicant.account)
    url = reverse("applications:act", args=[draft.pk, "submit"]) + f"?lang={language}"
    response = client.post(url, {"statement": ""})
    assert response.status_code == 200
    html = _html(response)
    assert tr(language, "ID card (CNIC) — back") in html
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_send_then_the_timeline_shows_it(draft: Application, applicant: Person) -> None:
    give_id_card(applicant)
    client = logged_in(applicant.account)
    response = client.post(
        reverse("applications:act", args=[draft.pk, "submit"]), {"statement": "We are six."}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "submitted" and draft.statement == "We are six."
    html = _html(client.get(reverse("applications:detail", args=[draft.pk]) + "?lang=ps"))
    assert 'data-status="submitted"' in html and "data-timeline" in html
    assert tr("ps", "sent: waiting for an officer") in html


def test_another_citizen_cannot_see_it(
    draft: Application, make_citizen: Callable[..., Any]
) -> None:
    stranger = make_citizen(phone="+923451112299")
    response = logged_in(stranger).get(reverse("applications:detail", args=[draft.pk]))
    assert response.status_code == 404


def _many_pending(applicant: Person, count: int) -> None:
    """``count`` more decided applications (bulk rows, as the queue's history fills)."""
    from uuid import uuid4

    from rahdari.core.tracking import new_tracking_number

    template = Application.objects.filter(person=applicant).first()
    assert template is not None
    now = timezone.now()
    Application.objects.bulk_create(
        [
            Application(
                id=uuid4(),
                number=new_tracking_number("application"),
                kind="correction",
                person=applicant,
                district=template.district,
                # Decided ones: the database allows one open correction per person.
                status="rejected" if i % 2 else "approved",
                status_changed_at=now,
                submitted_at=now,
                due_at=now,
                created_by=applicant.account,
            )
            for i in range(count)
        ]
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_queue_page_costs_the_same_queries_for_1_or_60_applications(
    submitted: Application,
    applicant: Person,
    desk_officer: Any,
    django_assert_max_num_queries: Any,
    language: str,
) -> None:
    # The enrolment officer reviews corrections; make him review programs as well.
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    desk_officer.user_permissions.add(Permission.objects.get(codename="review_applications"))
    client = logged_in(desk_officer)
    url = reverse("applications:queue") + f"?lang={language}&status=all"
    client.get(url)  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        first = client.get(url)
    assert first.status_code == 200 and f'data-number="{submitted.number}"' in _html(first)
    _many_pending(applicant, 60)
    with CaptureQueriesContext(connection) as many:
        second = client.get(url)
    html = _html(second)
    assert 'data-count="61"' in html
    assert html.count('name="application"') == 50  # one page
    assert len(many) == len(few)


def test_queue_filters_and_sorts(submitted: Application, applicant: Person, reviewer: Any) -> None:
    client = logged_in(reviewer)
    html = _html(
        client.get(reverse("applications:queue") + "?status=submitted&kind=program&sort=oldest")
    )
    assert f'data-number="{submitted.number}"' in html
    none = _html(client.get(reverse("applications:queue") + "?status=approved"))
    assert f'data-number="{submitted.number}"' not in none
    by_number = _html(client.get(reverse("applications:queue") + f"?number={submitted.number[:6]}"))
    assert 'data-count="1"' in by_number
    partial = client.get(reverse("applications:queue"), HTTP_HX_REQUEST="true")
    assert "<html" not in _html(partial) and 'data-table="queue"' in _html(partial)


def test_queue_is_for_reviewers_of_their_districts(
    submitted: Application, make_staff: Callable[..., Any], make_citizen: Callable[..., Any]
) -> None:
    from rahdari.accounts.roles import Role

    mardan = make_staff(Role.PROGRAM_OFFICER, ["Mardan"])
    html = _html(logged_in(mardan).get(reverse("applications:queue")))
    assert f'data-number="{submitted.number}"' not in html
    assert (
        logged_in(mardan).get(reverse("applications:review", args=[submitted.pk])).status_code
        == 404
    )
    agent = make_staff(Role.PAYMENT_AGENT)
    assert logged_in(agent).get(reverse("applications:queue")).status_code == 403
    citizen = make_citizen(phone="+923451112288")
    assert logged_in(citizen).get(reverse("applications:queue")).status_code == 403


def test_bulk_take_up(submitted: Application, reviewer: Any) -> None:
    client = logged_in(reviewer)
    response = client.post(
        reverse("applications:bulk"), {"action": "review", "application": [str(submitted.pk)]}
    )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "under_review" and submitted.reviewer == reviewer


@pytest.mark.parametrize("language", LANGUAGES)
def test_review_page_records_the_read_and_decides(
    submitted: Application, reviewer: Any, applicant: Person, language: str
) -> None:
    client = logged_in(reviewer)
    url = reverse("applications:review", args=[submitted.pk]) + f"?lang={language}"
    html = _html(client.get(url))
    assert "data-rules=" in html  # what the rules say
    assert reverse("documents:view", args=[submitted.documents.first().version_id]) in html
    assert AuditEntry.objects.filter(
        action="identity.person.viewed", subject_id=str(applicant.pk)
    ).exists()
    client.post(reverse("applications:decide", args=[submitted.pk, "review"]))
    refused = client.post(
        reverse("applications:decide", args=[submitted.pk, "reject"]) + f"?lang={language}",
        {"reason": ""},
    )
    assert refused.status_code == 200
    assert tr(language, "Say why: the applicant reads this.") in _html(refused) or tr(
        language, "Required."
    ) in _html(refused)
    done = client.post(
        reverse("applications:decide", args=[submitted.pk, "request_info"]),
        {"reason": "Send the back of the CNIC again"},
    )
    assert done.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "info_requested"
    her = _html(
        logged_in(applicant.account).get(reverse("applications:detail", args=[submitted.pk]))
    )
    assert "Send the back of the CNIC again" in her and 'data-action="respond"' in her


def test_office_applies_on_her_behalf(
    applicant: Person, desk_officer: Any, cash_transfer: Program
) -> None:
    client = logged_in(desk_officer)
    found = client.post(
        reverse("applications:office"), {"rahdari_number": applicant.rahdari_number}
    )
    assert applicant.full_name in _html(found)
    started = client.post(
        reverse("applications:office"),
        {"kind": "program", "program": "cash-transfer", "person": str(applicant.pk)},
    )
    application = Application.objects.get(person=applicant)
    assert started.status_code == 302 and application.assisted
    page = client.get(reverse("applications:detail", args=[application.pk]))
    assert page.status_code == 200
    upload = client.post(
        reverse("applications:upload", args=[application.pk]),
        {"kind": "cnic_front", "file": _file(photo())},
    )
    assert upload.status_code == 302
    assert DocumentVersion.objects.get(document__person=applicant).assisted
    unknown = client.post(reverse("applications:office"), {"rahdari_number": "123412341234"})
    assert unknown.status_code == 200 and "errorlist" in _html(unknown)


def test_closed_program_is_refused_with_a_message(
    applicant: Person, cash_transfer: Program
) -> None:
    Program.objects.filter(pk=cash_transfer.pk).update(open=False)
    response = logged_in(applicant.account).post(
        reverse("applications:mine") + "?lang=ur", {"kind": "program", "program": "cash-transfer"}
    )
    assert response.status_code == 200
    assert tr("ur", "This program is closed to new applications.") in _html(response)
    assert not Application.objects.exists()


def test_status_codes_of_unknown_steps(draft: Application, applicant: Person) -> None:
    client = logged_in(applicant.account)
    assert client.post(reverse("applications:act", args=[draft.pk, "explode"])).status_code == 404
    assert services.application_withdraw is not None
