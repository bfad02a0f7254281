"""Grievance services against the database: lodging from every channel, bad input that
writes nothing, the flood limit, handling, escalation, the complainant's rating and
reopening, whistle-blowers, and the links to appeals, payments and the fraud review."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from rahdari.accounts.roles import Role
from rahdari.core import tracking
from rahdari.core.errors import ApplicationError, Conflict, Forbidden, NotFound, RateLimited
from rahdari.core.models import AuditEntry, District, OutboundMessage
from rahdari.credentials.services import credential_issue
from rahdari.documents.models import DocumentVersion
from rahdari.grievances import selectors, services
from rahdari.grievances.models import Complaint, ComplaintEvent, Desk
from rahdari.identity.models import Person
from rahdari.payments import fraud
from rahdari.payments import services as payments
from rahdari.payments.models import Payment
from rahdari.programs.models import Appeal, Program
from tests.documents.conftest import photo
from tests.grievances.conftest import OGG_NOTE, PHONE, wav_note

pytestmark = pytest.mark.django_db


def _swat() -> District:
    return District.objects.get(name="Swat")


def lodge(**overrides: Any) -> Complaint:
    fields: dict[str, Any] = {
        "category": "payment_not_received",
        "text": "My payment for October did not arrive in my wallet.",
        "phone": "0345 1234567",
        "language": "ps",
        "channel": "web_phone",
        "actor": None,
        "district": _swat(),
    }
    fields.update(overrides)
    return services.complaint_lodge(**fields)


def _files(location: Path) -> list[Path]:
    return [p for p in location.rglob("*") if p.is_file()] if location.exists() else []


def test_a_phone_only_complaint_is_routed_numbered_and_acknowledged_in_pashto(
    desks: dict[str, Desk],
) -> None:
    complaint = lodge()
    assert tracking.is_valid_tracking_number(complaint.number, "complaint")
    assert complaint.desk == desks["swat"] and complaint.level == 1
    assert complaint.status == "new"
    assert complaint.due_at - complaint.created_at == timedelta(days=7) or abs(
        (complaint.due_at - complaint.created_at) - timedelta(days=7)
    ) < timedelta(seconds=2)
    sms = OutboundMessage.objects.get(template="grievances.lodged")
    assert sms.language == "ps" and str(sms.recipient) == PHONE
    assert tracking.format_tracking_number(complaint.number) in str(sms.text)
    entry = AuditEntry.objects.get(action="grievances.complaint_lodged")
    assert entry.changes["number"] == complaint.number and entry.changes["channel"] == "web_phone"
    assert "wallet" not in str(entry.changes) and "345" not in str(entry.changes)
    assert [e.kind for e in ComplaintEvent.objects.filter(complaint=complaint)] == ["lodged"]
    # At rest the text and the phone are sealed.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT text, phone FROM grievances_complaint WHERE number = %s", [complaint.number]
        )
        text, phone = cursor.fetchone()
    assert "wallet" not in text and "1234567" not in phone and text.startswith("v1.")


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"text": "   "}, "text_required", "text"),
        ({"text": "bad"}, "text_too_short", "text"),
        ({"text": "x" * 2001}, "text_too_long", "text"),
        ({"phone": "12345"}, "invalid_phone", "phone"),
        ({"phone": "+44 20 7946 0958"}, "invalid_phone", "phone"),
        ({"category": "weather"}, "invalid_category", "category"),
        ({"voice": b"not audio at all, a text file"}, "unsupported_audio", "voice"),
        ({"voice": b"\xff\xd8\xff\xe0" + b"\x00" * 100}, "unsupported_audio", "voice"),
        ({"voice": b"OggS" + b"\x00" * (5 * 1024 * 1024)}, "too_large", "voice"),
        ({"attachments": [b"%PDF-1.4"]}, "attachments_need_person", "attachments"),
        ({"category": "wrongly_excluded"}, "person_required", "category"),
    ],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(
    desks: dict[str, Desk], _storage: Path, overrides: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        lodge(**overrides)
    assert refused.value.code == code
    assert field in refused.value.fields and refused.value.status in (413, 422)
    assert not Complaint.objects.exists() and not OutboundMessage.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="grievances.complaint").exists()
    assert _files(_storage) == []


def test_one_phone_cannot_flood_the_desk(desks: dict[str, Desk], settings: Any) -> None:
    settings.RAHDARI_GRIEVANCE_LODGE_LIMIT = 2
    lodge()
    lodge(phone="+923451234567")  # the same number written another way
    with pytest.raises(RateLimited):
        lodge()
    assert Complaint.objects.count() == 2
    lodge(phone="03331234567")  # another number is not held up


def test_a_voice_note_is_sealed_and_played_back_with_the_listen_recorded(
    desks: dict[str, Desk], swat_officer: Any, _storage: Path
) -> None:
    note = wav_note()
    complaint = lodge(text="", voice=note)
    assert complaint.voice_media_type == "audio/wav" and complaint.voice_size == len(note)
    [stored] = _files(_storage)
    assert note[:64] not in stored.read_bytes()  # encrypted on disk
    assert services.complaint_voice_open(complaint=complaint, actor=swat_officer) == note
    read = AuditEntry.objects.get(action="grievances.complaint.viewed")
    assert read.changes["fields"] == ["voice_note"] and read.actor == swat_officer


def test_a_failed_lodge_removes_its_voice_file(
    desks: dict[str, Desk], _storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "_event", broken)
    with pytest.raises(RuntimeError):
        lodge(voice=OGG_NOTE)
    assert _files(_storage) == [] and not Complaint.objects.exists()


def test_a_taken_number_is_drawn_again(
    desks: dict[str, Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = lodge()
    fresh = tracking.new_tracking_number("complaint")
    numbers = iter([first.number, fresh])
    monkeypatch.setattr(tracking, "new_tracking_number", lambda kind: next(numbers))
    assert lodge(phone="03001234567").number == fresh


def test_the_desk_takes_notes_and_resolves_and_she_rates_and_reopens(
    desks: dict[str, Desk], swat_officer: Any, malakand_officer: Any
) -> None:
    complaint = lodge()
    with pytest.raises(Forbidden):  # another desk's complaint
        services.complaint_take(complaint=complaint, actor=malakand_officer)
    taken = services.complaint_take(complaint=complaint, actor=swat_officer)
    assert taken.status == "in_progress" and taken.assigned_to == swat_officer
    note = services.complaint_note_add(
        complaint=taken, actor=swat_officer, note="Called JazzCash: reversed."
    )
    assert note.kind == "note"
    with pytest.raises(ApplicationError) as empty:
        services.complaint_note_add(complaint=taken, actor=swat_officer, note=" ")
    assert empty.value.code == "note_required"
    with pytest.raises(ApplicationError) as no_answer:
        services.complaint_resolve(
            complaint=taken, actor=swat_officer, outcome="fixed", resolution=""
        )
    assert no_answer.value.code == "resolution_required"
    with pytest.raises(Conflict):
        services.complaint_rate(complaint=taken, rating=5, actor=None)  # nothing to rate yet
    resolved = services.complaint_resolve(
        complaint=taken,
        actor=swat_officer,
        outcome="fixed",
        resolution="The payment was sent again on 25 November.",
    )
    assert resolved.status == "resolved" and resolved.outcome == "fixed"
    answer = OutboundMessage.objects.get(template="grievances.resolved")
    assert "25 November" in str(answer.text) and answer.language == "ps"
    with pytest.raises(ApplicationError) as bad_rating:
        services.complaint_rate(complaint=resolved, rating=9, actor=None)
    assert bad_rating.value.code == "invalid_rating"
    rated = services.complaint_rate(complaint=resolved, rating=2, actor=None)
    assert rated.rating == 2
    with pytest.raises(Conflict):
        services.complaint_rate(complaint=rated, rating=3, actor=None)
    reopened = services.complaint_reopen(
        complaint=rated, reason="The money is still not there.", actor=None
    )
    assert reopened.status == "reopened" and reopened.rating is None
    assert reopened.desk == desks["swat"] and reopened.reopened_count == 1
    assert [e.kind for e in selectors.events_public(reopened)] == ["lodged", "resolved", "reopened"]
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "grievances.complaint_taken",
        "grievances.complaint_note_added",
        "grievances.complaint_resolved",
        "grievances.complaint_rated",
        "grievances.complaint_reopened",
    } <= actions
    templates = list(
        OutboundMessage.objects.order_by("created_at").values_list("template", flat=True)
    )
    assert [t for t in templates if t.startswith("grievances.")] == [
        "grievances.lodged",
        "grievances.taken",
        "grievances.resolved",
        "grievances.reopened",
    ]


def test_reopening_only_within_thirty_days_then_it_closes(
    desks: dict[str, Desk], swat_officer: Any
) -> None:
    complaint = services.complaint_resolve(
        complaint=lodge(), actor=swat_officer, outcome="explained", resolution="Rules applied."
    )
    Complaint.objects.filter(pk=complaint.pk).update(
        resolved_at=timezone.now() - timedelta(days=31)
    )
    with pytest.raises(Conflict) as late:
        services.complaint_reopen(complaint=complaint, reason="Still wrong", actor=None)
    assert late.value.code == "not_reopenable"
    assert services.complaints_close_settled() == 1
    complaint.refresh_from_db()
    assert complaint.status == "closed" and complaint.closed_at is not None
    assert OutboundMessage.objects.filter(template="grievances.closed").count() == 1
    rated = services.complaint_rate(complaint=complaint, rating=4, actor=None)  # still rateable
    assert rated.rating == 4


def test_an_overdue_complaint_escalates_to_the_division_then_the_province(
    desks: dict[str, Desk], swat_officer: Any
) -> None:
    complaint = services.complaint_take(complaint=lodge(), actor=swat_officer)
    assert services.complaints_escalate_overdue() == 0
    now = timezone.now() + timedelta(days=8)
    assert services.complaints_escalate_overdue(now=now) == 1
    complaint.refresh_from_db()
    assert complaint.desk == desks["malakand"] and complaint.level == 2
    assert complaint.status == "new" and complaint.assigned_to is None
    assert complaint.due_at == now + timedelta(days=5)
    sms = OutboundMessage.objects.get(template="grievances.escalated")
    assert "Malakand" in str(sms.text)
    entry = AuditEntry.objects.get(action="grievances.complaint_escalated")
    assert entry.changes["automatic"] is True and entry.actor is None
    later = now + timedelta(days=6)
    assert services.complaints_escalate_overdue(now=later) == 1
    complaint.refresh_from_db()
    assert complaint.desk == desks["province"] and complaint.level == 3
    assert services.complaints_escalate_overdue(now=later + timedelta(days=30)) == 0
    with pytest.raises(Forbidden):  # the Swat officer has no say at the province
        services.complaint_take(complaint=complaint, actor=swat_officer)


def test_an_officer_moves_a_complaint_without_restarting_its_clock(
    desks: dict[str, Desk], swat_officer: Any
) -> None:
    complaint = services.complaint_take(complaint=lodge(), actor=swat_officer)
    due = complaint.due_at
    with pytest.raises(ApplicationError) as why:
        services.complaint_reassign(
            complaint=complaint, actor=swat_officer, desk=desks["mardan"], reason=""
        )
    assert why.value.code == "reason_required"
    moved = services.complaint_reassign(
        complaint=complaint, actor=swat_officer, desk=desks["mardan"], reason="She lives in Mardan"
    )
    assert moved.desk == desks["mardan"] and moved.status == "new" and moved.due_at == due
    assert OutboundMessage.objects.filter(template="grievances.moved").count() == 1


def test_a_whistle_blower_is_routed_past_the_district_and_reads_stay_off_her_record(
    desks: dict[str, Desk], malakand_officer: Any, enrolled_payee: Callable[..., Person]
) -> None:
    person = enrolled_payee()
    complaint = lodge(
        category="misconduct",
        text="The tehsil officer asked for Rs 2,000 to add my name.",
        person=person,
        complainant_name="Gul Bibi",
    )
    assert complaint.desk == desks["malakand"] and complaint.identity_protected
    services.complaint_read(complaint=complaint, actor=malakand_officer, fields=["text"])
    assert AuditEntry.objects.filter(
        action="grievances.complaint.viewed", subject_id=str(complaint.pk)
    ).exists()
    assert not AuditEntry.objects.filter(
        action="identity.person.viewed", subject_id=str(person.pk)
    ).exists()


def test_a_read_of_a_known_persons_complaint_is_shown_to_her(
    desks: dict[str, Desk], swat_officer: Any, enrolled_payee: Callable[..., Person]
) -> None:
    person = enrolled_payee()
    complaint = lodge(person=person, phone=str(person.mobile), channel="office", actor=swat_officer)
    assert complaint.lodged_by == swat_officer
    services.complaint_read(complaint=complaint, actor=swat_officer, fields=["text", "phone"])
    entry = AuditEntry.objects.get(action="identity.person.viewed", subject_id=str(person.pk))
    assert entry.changes["purpose"] == services.READ_PURPOSE


def test_status_by_number_and_phone_never_says_which_was_wrong(desks: dict[str, Desk]) -> None:
    complaint = lodge()
    found = selectors.status_lookup(
        number=tracking.format_tracking_number(complaint.number), phone="0345-1234567"
    )
    assert found == complaint
    messages = set()
    other_number = complaint.number[:-1]
    from stdnum import verhoeff

    other_number = "7" + ("00000000" if complaint.number[1:9] != "00000000" else "00000001")
    other_number += str(verhoeff.calc_check_digit(other_number))
    for number, phone in [(complaint.number, "03331234567"), (other_number, "03451234567")]:
        with pytest.raises(NotFound) as missing:
            selectors.status_lookup(number=number, phone=phone)
        messages.add((missing.value.code, str(missing.value.message)))
    assert len(messages) == 1
    with pytest.raises(ApplicationError) as typo:
        wrong = complaint.number[:-1] + str((int(complaint.number[-1]) + 1) % 10)
        selectors.status_lookup(number=wrong, phone="03451234567")
    assert typo.value.code == "invalid_number" and "number" in typo.value.fields


def test_an_exclusion_complaint_lodges_the_households_appeal(
    desks: dict[str, Desk],
    enrolled_payee: Callable[..., Person],
    approved_run: Callable[[], Any],
) -> None:
    person = enrolled_payee(has_car=True)  # a car: the proxy-means test excludes them
    approved_run()
    program = Program.objects.get(code="cash-transfer")
    complaint = lodge(
        category="wrongly_excluded",
        text="We sold the car two years ago; the survey is old.",
        person=person,
        program=program,
        phone=str(person.mobile),
    )
    appeal = Appeal.objects.get()
    assert complaint.appeal == appeal and appeal.status == "open"
    assert str(appeal.grounds).startswith("We sold the car")
    again = lodge(
        category="wrongly_excluded",
        text="Still waiting for the review of our case.",
        person=person,
        program=program,
        phone=str(person.mobile),
    )
    assert again.appeal == appeal and Appeal.objects.count() == 1  # linked, not duplicated


def test_an_exclusion_complaint_without_a_decision_writes_nothing(
    desks: dict[str, Desk], enrolled_payee: Callable[..., Person]
) -> None:
    person = enrolled_payee()
    with pytest.raises(NotFound) as none:
        lodge(
            category="wrongly_excluded",
            text="I was never told why I am not in the program.",
            person=person,
            program=Program.objects.get(code="cash-transfer"),
        )
    assert none.value.code == "no_decision"
    assert not Complaint.objects.exists() and not Appeal.objects.exists()


def test_attachments_of_a_known_person_go_to_her_documents(
    desks: dict[str, Desk], enrolled_payee: Callable[..., Person], swat_officer: Any
) -> None:
    person = enrolled_payee()
    complaint = lodge(
        person=person, actor=swat_officer, channel="office", attachments=[photo((400, 300))]
    )
    [version] = selectors.attachments_of(complaint)
    assert version.document.person == person and version.assisted
    assert DocumentVersion.objects.count() == 1
    with pytest.raises(ApplicationError) as bad:
        lodge(person=person, actor=swat_officer, channel="office", attachments=[b"MZ\x90 exe"])
    assert bad.value.code == "unsupported_type" and "attachments" in bad.value.fields
    assert Complaint.objects.count() == 1


@pytest.fixture
def handed_over(wallet_cycle: dict[str, Any], make_staff: Callable[..., Any]) -> dict[str, Any]:
    """She was paid into her wallet and an agent recorded handing her Rs 13,500."""
    payments.reports_collect()
    person = wallet_cycle["person"]
    agent = make_staff(Role.PAYMENT_AGENT, ["Swat"])
    qr = str(credential_issue(person=person, actor=None).qr_compact)
    cash_out = payments.cash_out_start(agent=agent, qr=qr)
    code = OutboundMessage.objects.filter(template="payments.cash_out_code").latest("created_at")
    found = re.search(r"\b(\d{6})\b", str(code.text))
    assert found
    cash_out = payments.cash_out_complete(
        cash_out=cash_out, code=found.group(1), amount=13_500, agent=agent
    )
    return {**wallet_cycle, "agent": agent, "cash_out": cash_out}


def test_a_deduction_complaint_puts_the_agent_on_the_fraud_review(
    desks: dict[str, Desk], handed_over: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    person, cash_out = handed_over["person"], handed_over["cash_out"]
    confirmed = payments.cash_out_confirm(
        cash_out=cash_out, amount_received=13_500, via="sms", actor=None
    )
    assert confirmed.status == "confirmed"  # she said yes in front of him; later she complains
    with pytest.raises(ApplicationError) as missing:
        lodge(category="agent_deduction", person=person, cash_out=confirmed)
    assert missing.value.code == "amount_required"
    complaint = lodge(
        category="agent_deduction",
        text="The agent kept 1,500 rupees and told me to say yes.",
        person=person,
        cash_out=confirmed,
        amount_received=12_000,
        phone=str(person.mobile),
    )
    confirmed.refresh_from_db()
    assert complaint.cash_out == confirmed and confirmed.status == "disputed"
    assert confirmed.amount_confirmed == 12_000
    monkeypatch.setattr(fraud, "DEDUCTION_REPORTS", 1)
    [flagged] = fraud.fraud_review().agents_reported
    assert flagged["agent"] == handed_over["agent"].username
    view = selectors.payment_view(complaint)
    assert view is not None and view.payment.pk == confirmed.payment_id


def test_a_payment_complaint_shows_the_payment_and_its_ledger_entry(
    desks: dict[str, Desk], wallet_cycle: dict[str, Any], enrolled_payee: Callable[..., Person]
) -> None:
    payments.reports_collect()
    person = wallet_cycle["person"]
    payment = Payment.objects.get(person=person)
    complaint = lodge(person=person, payment=payment, phone=str(person.mobile))
    view = selectors.payment_view(complaint)
    assert view is not None and view.payment == payment
    assert view.ledger_events and all(e.leaf_hash for e in view.ledger_events)
    stranger = enrolled_payee(district="Mardan")
    with pytest.raises(NotFound):  # someone else's payment
        lodge(person=stranger, payment=payment)


def test_an_sms_lodges_a_complaint(desks: dict[str, Desk]) -> None:
    reply = services.complaint_sms_handler(PHONE, "SHIKAYAT paisay nahi milay do mahine se")
    assert reply is not None
    complaint = Complaint.objects.get()
    assert complaint.channel == "sms" and complaint.desk == desks["province"]
    assert services.complaint_sms_handler(PHONE, "YES") is None
    help_reply = services.complaint_sms_handler(PHONE, "shikayat")
    assert help_reply is not None and help_reply.template == "grievances.sms_help"


def test_a_deduction_of_nothing_is_refused_and_leaves_the_cash_out_alone(
    desks: dict[str, Desk], handed_over: dict[str, Any]
) -> None:
    person, cash_out = handed_over["person"], handed_over["cash_out"]
    with pytest.raises(ApplicationError) as full:
        lodge(
            category="agent_deduction",
            person=person,
            cash_out=cash_out,
            amount_received=13_500,
            phone=str(person.mobile),
        )
    assert full.value.code == "no_deduction" and "amount_received" in full.value.fields
    cash_out.refresh_from_db()
    assert cash_out.status == "handed_over" and not Complaint.objects.exists()


def test_a_deduction_reported_at_the_cash_out_check_is_a_complaint_in_one_step(
    desks: dict[str, Desk], handed_over: dict[str, Any]
) -> None:
    """She answers the cash-out check with less than she was due (SMS or web): the cash-out
    is disputed and a complaint to the Swat desk is opened for it in the same step, with
    the amounts in her words and its number sent to her; once per cash-out."""
    person, cash_out = handed_over["person"], handed_over["cash_out"]
    disputed = payments.cash_out_confirm(
        cash_out=cash_out, amount_received=12_000, via="sms", actor=None
    )
    assert disputed.status == "disputed"
    complaint = Complaint.objects.get(cash_out=disputed)
    assert complaint.category == "agent_deduction" and complaint.channel == "sms"
    assert complaint.person == person and complaint.desk.level == 1
    assert "12,000" in complaint.text and "13,500" in complaint.text
    assert services.complaint_from_deduction(disputed, None) is None  # not twice
    assert Complaint.objects.filter(cash_out=disputed).count() == 1


def test_a_full_confirmation_opens_no_complaint(
    desks: dict[str, Desk], handed_over: dict[str, Any]
) -> None:
    payments.cash_out_confirm(
        cash_out=handed_over["cash_out"], amount_received=13_500, via="web", actor=None
    )
    assert not Complaint.objects.exists()


def test_a_complaint_links_only_her_own_application(
    desks: dict[str, Desk], enrolled_payee: Callable[..., Person], make_staff: Callable[..., Any]
) -> None:
    from rahdari.applications import services as applications

    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    person, other = enrolled_payee(), enrolled_payee()
    hers = applications.application_start(
        person=person, kind="correction", program=None, actor=officer
    )
    theirs = applications.application_start(
        person=other, kind="correction", program=None, actor=officer
    )
    with pytest.raises(NotFound) as refused:
        lodge(category="other", person=person, application=theirs, phone=str(person.mobile))
    assert refused.value.code == "no_application" and not Complaint.objects.exists()
    complaint = lodge(category="other", person=person, application=hers, phone=str(person.mobile))
    assert complaint.application == hers
    entry = AuditEntry.objects.get(action="grievances.complaint_lodged")
    assert entry.changes["application"] == hers.number
