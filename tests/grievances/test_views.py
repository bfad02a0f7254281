"""Grievance pages: lodging in Pashto with a phone number only, refusals shown on the
form, the status page (number and phone in the body, one answer for every miss), rating
and reopening, the desk's queue (query count), a complaint with its voice note and
actions, the office form, and the dashboard's charts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from stdnum import verhoeff

from rahdari.accounts.roles import Role
from rahdari.core.models import AuditEntry, District
from rahdari.grievances import services
from rahdari.grievances.models import Complaint, Desk
from rahdari.identity.models import Person
from tests.grievances.conftest import PHONE, logged_in, wav_note

pytestmark = pytest.mark.django_db


def _lodge_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "category": "payment_not_received",
        "text": "دا میاشت زما پیسې نه دي راغلي.",
        "phone": "0345 1234567",
        "district": str(District.objects.get(name="Swat").pk),
    }
    data.update(overrides)
    return data


def _lodged(**overrides: Any) -> Complaint:
    fields: dict[str, Any] = {
        "category": "payment_not_received",
        "text": "My payment for October did not arrive.",
        "phone": PHONE,
        "language": "ps",
        "channel": "web_phone",
        "actor": None,
        "district": District.objects.get(name="Swat"),
    }
    fields.update(overrides)
    return services.complaint_lodge(**fields)


def test_anyone_lodges_a_complaint_in_pashto_with_a_phone_number(desks: dict[str, Desk]) -> None:
    client = Client()
    page = client.get("/grievances/new/?lang=ps")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="ps" dir="rtl"' in html
    assert 'name="phone"' in html and 'accept="audio/*"' in html and "capture" in html
    assert 'value="wrongly_excluded"' not in html  # an appeal needs her record
    response = client.post("/grievances/new/?lang=ps", _lodge_data(voice=_audio_file()))
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("grievances:status_detail", args=[complaint.pk])
    assert complaint.language == "ps" and complaint.channel == "web_phone"
    assert complaint.voice_media_type == "audio/wav"
    shown = client.get(response["Location"])
    assert shown.status_code == 200
    assert f'data-tracking-number="{complaint.number}"' in shown.content.decode()
    assert PHONE not in shown.content.decode()


def _audio_file() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("note.wav", wav_note(), content_type="audio/wav")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"text": ""}, "Write what happened, or record a voice note."),
        ({"phone": "12"}, "Enter a Pakistani mobile number"),
        ({"category": ""}, "This field is required."),
    ],
)
def test_bad_input_comes_back_on_the_form_and_saves_nothing(
    desks: dict[str, Desk], overrides: dict[str, Any], message: str
) -> None:
    response = Client().post("/grievances/new/", _lodge_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Complaint.objects.exists()


def test_a_wrong_or_oversized_voice_note_is_refused_on_the_form(
    desks: dict[str, Desk], settings: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    exe = SimpleUploadedFile("note.mp3", b"MZ\x90\x00 not audio", content_type="audio/mpeg")
    response = Client().post("/grievances/new/", _lodge_data(voice=exe))
    assert "This file is not a voice recording" in response.content.decode()
    settings.RAHDARI_GRIEVANCE_VOICE_MAX_BYTES = 1000
    response = Client().post("/grievances/new/", _lodge_data(voice=_audio_file()))
    assert "The voice note is too long" in response.content.decode()
    assert not Complaint.objects.exists()


def test_flooding_from_one_phone_is_refused_with_429(desks: dict[str, Desk], settings: Any) -> None:
    settings.RAHDARI_GRIEVANCE_LODGE_LIMIT = 1
    client = Client()
    assert client.post("/grievances/new/", _lodge_data()).status_code == 302
    refused = client.post("/grievances/new/", _lodge_data())
    assert refused.status_code == 429
    assert "Too many requests" in refused.content.decode()
    assert Complaint.objects.count() == 1


def _valid_other(complaint: Complaint) -> str:
    """A well-formed complaint number that is not this one."""
    body = "7" + ("12345678" if complaint.number[1:9] != "12345678" else "87654321")
    return body + str(verhoeff.calc_check_digit(body))


def test_the_status_page_takes_number_and_phone_in_the_body_and_leaks_nothing(
    desks: dict[str, Desk],
) -> None:
    complaint = _lodged()
    client = Client()
    assert client.get(reverse("grievances:status_detail", args=[complaint.pk])).status_code == 404
    wrong_phone = client.post(
        "/grievances/status/", {"number": complaint.number, "phone": "03001112223"}
    )
    unknown = client.post(
        "/grievances/status/", {"number": _valid_other(complaint), "phone": PHONE}
    )
    for response in (wrong_phone, unknown):
        assert response.status_code == 200
        assert "We found no complaint with this number and this phone number" in (
            response.content.decode()
        )
    mistyped = complaint.number[:-1] + str((int(complaint.number[-1]) + 1) % 10)
    typo = client.post("/grievances/status/", {"number": mistyped, "phone": PHONE})
    assert "This is not a complaint number" in typo.content.decode()
    found = client.post(
        "/grievances/status/",
        {"number": complaint.number[:4] + " " + complaint.number[4:], "phone": "0345-1234567"},
    )
    assert found.status_code == 302 and complaint.number not in found["Location"]
    page = client.get(found["Location"]).content.decode()
    assert 'data-status="new"' in page and complaint.desk.name in page


def test_she_sees_the_answer_rates_it_and_reopens(
    desks: dict[str, Desk], swat_officer: Any
) -> None:
    complaint = _lodged()
    services.complaint_resolve(
        complaint=complaint, actor=swat_officer, outcome="fixed", resolution="Sent again."
    )
    client = Client()
    client.post("/grievances/status/", {"number": complaint.number, "phone": PHONE})
    page = client.get(reverse("grievances:status_detail", args=[complaint.pk])).content.decode()
    assert 'data-resolution="fixed"' in page and "Sent again." in page
    bad = client.post(reverse("grievances:rate", args=[complaint.pk]), {"rating": "9"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    rated = client.post(reverse("grievances:rate", args=[complaint.pk]), {"rating": "4"})
    assert rated.status_code == 302
    complaint.refresh_from_db()
    assert complaint.rating == 4
    empty = client.post(reverse("grievances:reopen", args=[complaint.pk]), {"reason": ""})
    assert "This field is required." in empty.content.decode()
    client.post(reverse("grievances:reopen", args=[complaint.pk]), {"reason": "Still missing."})
    complaint.refresh_from_db()
    assert complaint.status == "reopened"
    stranger = Client()
    assert (
        stranger.post(reverse("grievances:rate", args=[complaint.pk]), {"rating": "1"}).status_code
        == 404
    )


def test_the_queue_lists_the_desks_complaints_in_a_fixed_number_of_queries(
    desks: dict[str, Desk],
    swat_officer: Any,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    client = logged_in(swat_officer)
    _lodged()
    client.get("/grievances/desk/")  # warm the session and permission caches
    # session, user, groups/permissions (2), count, page of complaints, desks
    with django_assert_num_queries(7):
        first = client.get("/grievances/desk/")
    for n in range(5):
        _lodged(phone=f"+92300111222{n}")
    with django_assert_num_queries(7):
        more = client.get("/grievances/desk/")
    assert more.content.decode().count("data-complaint=") == 6
    assert first.status_code == 200
    partial = client.get("/grievances/desk/?overdue=on", HTTP_HX_REQUEST="true")
    assert (
        "<html" not in partial.content.decode() and "data-empty-queue" in partial.content.decode()
    )


def test_an_officer_opens_a_complaint_hears_the_voice_note_and_answers_it(
    desks: dict[str, Desk], swat_officer: Any
) -> None:
    note = wav_note()
    complaint = _lodged(voice=note, complainant_name="Gul Bibi")
    client = logged_in(swat_officer)
    page = client.get(reverse("grievances:complaint", args=[complaint.pk])).content.decode()
    assert "Gul Bibi" in page and "4567" in page and PHONE not in page
    assert reverse("grievances:voice", args=[complaint.pk]) in page and "<audio" in page
    voice = client.get(reverse("grievances:voice", args=[complaint.pk]))
    assert voice.status_code == 200 and voice["Content-Type"] == "audio/wav"
    assert voice.content == note and "no-store" in voice["Cache-Control"]
    reads = AuditEntry.objects.filter(action="grievances.complaint.viewed").count()
    assert reads == 2  # the page and the voice note
    client.post(reverse("grievances:act", args=[complaint.pk, "take"]))
    empty = client.post(
        reverse("grievances:act", args=[complaint.pk, "resolve"]),
        {"outcome": "fixed", "resolution": ""},
    )
    assert "This field is required." in empty.content.decode()
    client.post(
        reverse("grievances:act", args=[complaint.pk, "resolve"]),
        {"outcome": "fixed", "resolution": "The payment was sent again."},
    )
    complaint.refresh_from_db()
    assert complaint.status == "resolved" and complaint.assigned_to == swat_officer
    assert client.post(reverse("grievances:act", args=[complaint.pk, "fly"])).status_code == 404


def test_a_whistle_blowers_identity_is_hidden_from_the_desk(
    desks: dict[str, Desk], malakand_officer: Any
) -> None:
    complaint = _lodged(category="misconduct", complainant_name="Gul Bibi")
    page = logged_in(malakand_officer).get(reverse("grievances:complaint", args=[complaint.pk]))
    html = page.content.decode()
    assert 'data-identity="protected"' in html
    # Her number in any form (not just four digits, which a random token may contain).
    assert "Gul Bibi" not in html
    assert not any(form in html for form in ("1234567", "345 1234567", "3451234567"))


def test_another_areas_officer_and_a_citizen_cannot_open_it(
    desks: dict[str, Desk], desk_officer: Callable[..., Any], make_citizen: Callable[..., Any]
) -> None:
    complaint = _lodged()
    mardan = desk_officer(desks["mardan"])
    assert (
        logged_in(mardan).get(reverse("grievances:complaint", args=[complaint.pk])).status_code
        == 404
    )
    assert (
        logged_in(mardan).get(reverse("grievances:voice", args=[complaint.pk])).status_code == 404
    )
    assert logged_in(make_citizen()).get("/grievances/desk/").status_code == 403
    assert Client().get("/grievances/desk/").status_code == 302  # to the login page


def test_an_enrolment_officer_lodges_for_a_walk_in_by_rahdari_number(
    desks: dict[str, Desk], make_staff: Callable[..., Any], enrolled_payee: Callable[..., Person]
) -> None:
    person = enrolled_payee()
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    client = logged_in(officer)
    assert client.get("/grievances/desk/new/").status_code == 200
    bad = client.post(
        "/grievances/desk/new/",
        _lodge_data(rahdari_number="1234 5678 9012", channel="office"),
    )
    assert "No enrolled person with this Rahdari number" in bad.content.decode()
    done = client.post(
        "/grievances/desk/new/",
        _lodge_data(
            rahdari_number=str(person.rahdari_number),
            channel="call",
            text="Her card does not scan at the hospital.",
        ),
    )
    assert done.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.person == person and complaint.channel == "call"
    assert complaint.lodged_by == officer


def test_a_citizen_logged_in_lodges_and_sees_her_complaints(
    desks: dict[str, Desk], enrolled_payee: Callable[..., Person], make_citizen: Callable[..., Any]
) -> None:
    person = enrolled_payee()
    citizen = make_citizen(phone=str(person.mobile), language="ps")
    Person.objects.filter(pk=person.pk).update(account=citizen)
    client = logged_in(citizen)
    form = client.get("/grievances/new/").content.decode()
    assert 'name="phone"' not in form and 'value="wrongly_excluded"' in form
    response = client.post(
        "/grievances/new/",
        {"category": "qr_id_problem", "text": "My QR card shows the wrong village."},
    )
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.person == person and complaint.channel == "web"
    assert complaint.district == person.district
    home = client.get("/grievances/").content.decode()
    assert f'data-complaint="{complaint.number}"' in home


def test_the_dashboard_draws_its_charts_with_tables(
    desks: dict[str, Desk],
    swat_officer: Any,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    _lodged()
    _lodged(category="agent_deduction", phone="+923001234560")
    Complaint.objects.filter(category="agent_deduction").update(
        due_at=Complaint.objects.get(category="agent_deduction").created_at
    )
    client = logged_in(swat_officer)
    client.get("/grievances/desk/dashboard/")
    # session, user, permissions (2), desks (scope), totals, answered, categories,
    # districts, desks (heading)
    with django_assert_num_queries(10):
        page = client.get("/grievances/desk/dashboard/")
    html = page.content.decode()
    assert html.count('<svg class="bar-chart"') == 4
    assert 'data-figure="open"><strong>2</strong>' in html
    assert re.search(r'data-figure="overdue"[^>]*><strong>1</strong>', html)
    assert 'data-table="chart-category"' in html and '<th scope="row">Swat</th>' in html


def test_the_desk_opens_an_attached_paper_and_she_sees_the_look(
    desks: dict[str, Desk],
    swat_officer: Any,
    malakand_officer: Any,
    enrolled_payee: Callable[..., Person],
) -> None:
    from tests.documents.conftest import photo

    person = enrolled_payee()
    complaint = _lodged(
        person=person,
        phone=str(person.mobile),
        actor=swat_officer,
        channel="office",
        attachments=[photo((300, 200))],
    )
    client = logged_in(swat_officer)
    page = client.get(reverse("grievances:complaint", args=[complaint.pk])).content.decode()
    match = re.search(r'href="([^"]+)" data-attachment', page)
    assert match
    paper = client.get(match.group(1))
    assert paper.status_code == 200 and paper["Content-Type"] == "image/jpeg"
    reads = AuditEntry.objects.filter(action="identity.person.viewed", subject_id=str(person.pk))
    assert reads.count() == 2  # the complaint, then the paper
    protected = _lodged(
        category="misconduct",
        person=person,
        phone="+923001234561",
        actor=swat_officer,
        channel="office",
        attachments=[photo((300, 200))],
    )
    version = protected.attachments.get().version
    cell = logged_in(malakand_officer)
    html = cell.get(reverse("grievances:complaint", args=[protected.pk])).content.decode()
    assert "data-attachment" not in html
    url = reverse("grievances:attachment", args=[protected.pk, version.pk])
    assert cell.get(url).status_code == 404


def test_a_caller_reads_out_her_payment_reference_and_the_desk_sees_the_ledger(
    desks: dict[str, Desk],
    wallet_cycle: dict[str, Any],
    swat_officer: Any,
    make_staff: Callable[..., Any],
) -> None:
    from rahdari.payments import services as payments
    from rahdari.payments.models import Payment

    payments.reports_collect()
    person = wallet_cycle["person"]
    payment = Payment.objects.get(person=person)
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    client = logged_in(officer)
    data = _lodge_data(
        rahdari_number=str(person.rahdari_number),
        channel="call",
        phone=str(person.mobile),
        text="She says the money never reached her wallet.",
    )
    wrong = client.post("/grievances/desk/new/", {**data, "payment_reference": "RDQNOTREAL"})
    assert "She has no payment with this reference." in wrong.content.decode()
    assert not Complaint.objects.exists()
    done = client.post("/grievances/desk/new/", {**data, "payment_reference": payment.key.lower()})
    assert done.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.payment == payment
    page = logged_in(swat_officer).get(reverse("grievances:complaint", args=[complaint.pk]))
    html = page.content.decode()
    assert 'data-link="payment"' in html and payment.key in html
    assert 'data-table="ledger"' in html and 'data-payment-status="paid"' in html


def test_a_caller_names_her_application_and_the_desk_sees_where_it_stands(
    desks: dict[str, Desk],
    enrolled_payee: Callable[..., Any],
    swat_officer: Any,
    make_staff: Callable[..., Any],
) -> None:
    """She says her application has waited for weeks: the officer at the desk links it by the
    number she reads out (only hers can be linked), and the desk sees its status."""
    from rahdari.applications import services as applications
    from rahdari.programs.models import Program

    person = enrolled_payee()
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    application = applications.application_start(
        person=person,
        kind="program",
        program=Program.objects.get(code="cash-transfer"),
        actor=officer,
    )
    other = enrolled_payee()
    theirs = applications.application_start(
        person=other, kind="correction", program=None, actor=officer
    )
    client = logged_in(officer)
    data = _lodge_data(
        rahdari_number=str(person.rahdari_number),
        channel="call",
        phone=str(person.mobile),
        text="She applied weeks ago and has heard nothing since.",
        category="other",
    )
    wrong = client.post("/grievances/desk/new/", {**data, "application_number": theirs.number})
    assert "There is no such application." in wrong.content.decode()
    assert not Complaint.objects.exists()
    spoken = " ".join([application.number[:4], application.number[4:8], application.number[8:]])
    done = client.post("/grievances/desk/new/", {**data, "application_number": spoken})
    assert done.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.application == application
    html = logged_in(swat_officer).get(reverse("grievances:complaint", args=[complaint.pk]))
    page = html.content.decode()
    assert 'data-link="application"' in page and 'data-application-status="draft"' in page
    assert spoken in page
