"""Payments pages (a form a service refuses comes back, 200, with the reason next to
it, as Django's form views do): cycles for program officers and approvers in English, Urdu and Pashto
(refused to citizens, visitors and officers without the role); preparing a cycle and
following its progress; approval refused without or with a wrong authenticator code, to
the preparer and to a program officer, with the reason in the approver's language;
batches and the bank file (valid pain.001 with the payments' keys, audited); a
citizen's "My payments" (account change with the SMS code, history, receipts from the
public ledger); an enrolment officer recording an account, the look recorded and shown
to her. The list pages' query counts do not grow with their rows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst
from django_otp.plugins.otp_totp.models import TOTPDevice
from lxml import etree

from rahdari.accounts.roles import Role
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry
from rahdari.identity.models import Person
from rahdari.ledger.services import ledger_publish
from rahdari.payments import rules, services
from rahdari.payments.models import (
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentCycle,
    PaymentEvent,
)
from rahdari.programs.models import Program, TargetingRun
from tests.payments.conftest import bank_book, iban_for, last_action_code, totp_now

TOTP_MESSAGE = (
    "Enter the current code from your authenticator app. A code works once only: if you "
    "just used it to log in, wait for the next one."
)

pytestmark = pytest.mark.django_db

XSD = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "iso20022"
XSD = XSD / "pain.001.001.09.xsd"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def tr(language: str, message: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def _html(response: Any) -> str:
    return str(response.content.decode())


def _login(user: Any) -> Client:
    """A client logged in as ``user``; confirmed with the authenticator where it has one."""
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


def _fresh_codes(user: Any) -> None:
    """Forget wrong tries and the last code used (django-otp refuses a code twice)."""
    TOTPDevice.objects.filter(user=user).update(
        throttling_failure_count=0, throttling_failure_timestamp=None, last_t=-1
    )


def _verified_account(person: Person, n: int) -> PaymentAccount:
    iban = iban_for(n)
    bank_book(iban, str(person.full_name))
    requested = services.payment_account_request(
        person=person, channel="bank", number=iban, provider="", actor=None
    )
    return services.payment_account_confirm(
        account=requested, code=last_action_code(person), actor=None
    )


def _citizen_of(person: Person, make_citizen: Callable[..., Any]) -> Client:
    citizen = make_citizen(phone=str(person.mobile))
    Person.objects.filter(pk=person.pk).update(account=citizen)
    return _login(citizen)


@pytest.fixture
def payees(enrolled_payee: Callable[..., Person]) -> dict[str, Person]:
    """One payee with a verified bank account (Swat), one without (Mardan), one deceased."""
    paid = enrolled_payee()
    _verified_account(paid, 1)
    unbanked = enrolled_payee(district="Mardan")
    deceased = enrolled_payee()
    _verified_account(deceased, 2)
    Person.objects.filter(pk=deceased.pk).update(status="deceased")
    return {"paid": paid, "unbanked": unbanked, "deceased": deceased}


@pytest.fixture
def prepared(
    payees: dict[str, Person], approved_run: Callable[[], TargetingRun], officers: Any
) -> PaymentCycle:
    approved_run()
    cycle = services.cycle_prepare(
        program=Program.objects.get(code="cash-transfer"), label="2026-Q4", actor=officers[0]
    )
    job_run(job_id=str(cycle.job_id))
    cycle.refresh_from_db()
    return cycle


def _approved(cycle: PaymentCycle, approver: Any) -> PaymentCycle:
    _fresh_codes(approver)
    return services.cycle_decide(cycle=cycle, approve=True, actor=approver, totp=totp_now(approver))


def _paid_out(cycle: PaymentCycle, approver: Any, preparer: Any) -> PaymentCycle:
    """Approved, and its payments put into batches (instructed, each with its event)."""
    cycle = _approved(cycle, approver)
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=preparer).pk))
    cycle.refresh_from_db()
    return cycle


# --------------------------------------------------------------------------- cycles


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_cycle_pages_render_for_officers_and_approvers(
    prepared: PaymentCycle, officers: Any, approver: Any, lang: str
) -> None:
    for user in (officers[1], approver):
        client = _login(user)
        listing = client.get(reverse("payments:list") + f"?lang={lang}")
        assert listing.status_code == 200
        body = _html(listing)
        assert ('dir="rtl"' in body) == (lang != "en")
        assert 'data-cycle="2026-Q4"' in body and 'data-cycle-status="prepared"' in body
        assert 'data-program="cash-transfer"' in body
        page = _html(client.get(reverse("payments:cycle", args=[prepared.pk]) + f"?lang={lang}"))
        assert ('dir="rtl"' in page) == (lang != "en")
        assert 'data-cycle-status="prepared"' in page
        assert "13,500" in page  # grouped in every language, as the ledger writes rupees
        assert 'data-hold="deceased"' in page and 'data-hold="no_account"' in page
        assert 'data-district="Swat"' in page and 'data-channel="bank"' in page
        if lang == "ur":
            assert "سوات" in page
    assert 'id="decide-form"' in _html(
        _login(approver).get(reverse("payments:cycle", args=[prepared.pk]))
    )
    assert 'id="decide-form"' not in _html(
        _login(officers[1]).get(reverse("payments:cycle", args=[prepared.pk]))
    )


def test_cycles_are_refused_to_citizens_visitors_and_other_staff(
    prepared: PaymentCycle, make_citizen: Any, make_staff: Any
) -> None:
    urls = [
        reverse("payments:list"),
        reverse("payments:cycle", args=[prepared.pk]),
    ]
    citizen = _login(make_citizen())
    enrolment_officer = _login(make_staff(Role.ENROLMENT_OFFICER, ["Swat"]))
    visitor = Client()
    for url in urls:
        assert visitor.get(url).status_code == 302, url
        assert reverse("accounts:login") in visitor.get(url)["Location"]
        assert citizen.get(url).status_code == 403, url
        assert enrolment_officer.get(url).status_code == 403, url
    decide = reverse("payments:cycle_decide", args=[prepared.pk])
    assert citizen.post(decide, {"decision": "approve", "totp": "123456"}).status_code == 403
    # An approver whose login was not confirmed with the authenticator is refused too.
    unconfirmed = make_staff(Role.PAYMENT_APPROVER)
    client = Client()
    client.force_login(unconfirmed)
    assert client.get(reverse("payments:list")).status_code == 403


def test_prepare_a_cycle_and_follow_its_progress(
    payees: dict[str, Person], approved_run: Callable[[], TargetingRun], officers: Any
) -> None:
    approved_run()
    maker = _login(officers[0])
    url = reverse("payments:list")
    bad = maker.post(url + "?lang=ur", {"program": "cash-transfer", "label": "Q4 2026!"})
    assert bad.status_code == 200
    problem = tr("ur", "2 to 20 letters, digits or dashes, e.g. 2026-Q4.")
    assert problem in _html(bad) and 'id="id_label_error"' in _html(bad)
    no_run = maker.post(url, {"program": "school-top-up", "label": "2026-Q4"})
    assert no_run.status_code == 200
    # The language chosen above stays for the session.
    assert tr("ur", "This program has no approved targeting run to pay from.") in _html(no_run)
    started = maker.post(url, {"program": "cash-transfer", "label": "2026-Q4"})
    cycle = PaymentCycle.objects.get()
    assert started.status_code == 302
    assert started["Location"] == reverse("payments:cycle", args=[cycle.pk])
    page = _html(maker.get(started["Location"]))
    assert 'data-cycle-status="computing"' in page
    assert 'id="cycle-bar"' in page and 'hx-trigger="every 1s"' in page

    job_run(job_id=str(cycle.job_id))
    polled = _html(maker.get(started["Location"], HTTP_HX_REQUEST="true"))
    assert "<html" not in polled and 'data-cycle-status="prepared"' in polled
    assert "every 1s" not in polled and "data-four-eyes" in polled
    assert 'data-total="control"' in polled and "13,500" in polled
    listing = _html(maker.get(url))
    assert 'data-cycle-status="prepared"' in listing


def test_approval_needs_an_approver_who_did_not_prepare_and_her_current_code(
    prepared: PaymentCycle, officers: Any, approver: Any, make_staff: Any
) -> None:
    decide = reverse("payments:cycle_decide", args=[prepared.pk])
    # A program officer may not approve at all (the service refuses and audits it).
    refused = _login(officers[1]).post(decide + "?lang=en", {"decision": "approve"})
    assert refused.status_code == 200
    assert "Only a payment approver may decide a cycle." in _html(refused)
    client = _login(approver)
    no_code = client.post(decide + "?lang=ur", {"decision": "approve", "totp": ""})
    assert no_code.status_code == 200
    page = _html(no_code)
    assert tr("ur", TOTP_MESSAGE) in page
    assert tr("ur", "The code is missing or wrong.") in page
    assert 'id="id_totp_error"' in page and 'dir="rtl"' in page
    wrong = client.post(decide + "?lang=ps", {"decision": "approve", "totp": "000000"})
    assert wrong.status_code == 200
    assert tr("ps", TOTP_MESSAGE) in _html(wrong)
    assert PaymentCycle.objects.get(pk=prepared.pk).status == "prepared"
    assert AuditEntry.objects.filter(action="payments.cycle_decision_refused").count() == 3

    _fresh_codes(approver)
    approved = client.post(
        decide, {"decision": "approve", "totp": totp_now(approver), "note": "Totals checked"}
    )
    assert approved.status_code == 302
    cycle = PaymentCycle.objects.get(pk=prepared.pk)
    assert cycle.status == "approved" and cycle.approved_by == approver
    shown = _html(client.get(approved["Location"]))
    assert "data-decided" in shown and "Totals checked" in shown
    again = client.post(decide + "?lang=en", {"decision": "approve", "totp": "123456"})
    assert again.status_code == 200 and "not waiting for approval" in _html(again)


def test_the_preparer_may_not_approve_even_as_an_approver(
    payees: dict[str, Person], approved_run: Callable[[], TargetingRun], make_staff: Any
) -> None:
    both = make_staff(Role.PAYMENT_APPROVER)
    both.groups.add(Group.objects.get(name=Role.PROGRAM_OFFICER.value))
    TOTPDevice.objects.create(user=both, name="phone", confirmed=True)
    approved_run()
    client = _login(both)
    client.post(reverse("payments:list"), {"program": "cash-transfer", "label": "2026-Q4"})
    cycle = PaymentCycle.objects.get()
    job_run(job_id=str(cycle.job_id))
    assert "data-four-eyes" in _html(client.get(reverse("payments:cycle", args=[cycle.pk])))
    refused = client.post(
        reverse("payments:cycle_decide", args=[cycle.pk]) + "?lang=ur",
        {"decision": "approve", "totp": totp_now(both)},
    )
    assert refused.status_code == 200
    assert tr("ur", "A cycle you prepared must be approved by someone else.") in _html(refused)
    assert PaymentCycle.objects.get(pk=cycle.pk).status == "prepared"


def test_batches_and_the_bank_file(
    prepared: PaymentCycle,
    officers: Any,
    approver: Any,
    make_citizen: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.RAHDARI_PAYMENT_FILES_DIR = tmp_path
    cycle = _approved(prepared, approver)
    maker = _login(officers[0])
    url = reverse("payments:cycle", args=[cycle.pk])
    assert reverse("payments:batches_start", args=[cycle.pk]) in _html(maker.get(url))
    assert maker.post(reverse("payments:batches_start", args=[cycle.pk])).status_code == 302
    running = _html(maker.get(url))
    assert 'id="batch-bar"' in running and 'hx-trigger="every 1s"' in running
    from rahdari.core.models import Job

    job_run(job_id=str(Job.objects.get(kind="payments.build_batches").pk))
    done = _html(maker.get(url, HTTP_HX_REQUEST="true"))
    assert "every 1s" not in done and 'data-batch="1"' in done
    batch = PaymentBatch.objects.get(cycle=cycle)
    link = reverse("payments:batch_file", args=[batch.pk])
    assert link in done and "HBL" in done

    # Citizens and visitors never get a bank file.
    assert _login(make_citizen()).get(link).status_code == 403
    assert Client().get(link).status_code == 302
    response = _login(approver).get(link)
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert f'filename="{batch.message_id}.xml"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    path = tmp_path / "2026-Q4" / f"{batch.message_id}.xml"
    assert path.read_bytes() == data
    tree = etree.fromstring(data)
    ids = tree.xpath("//p:EndToEndId/text()", namespaces=NS)
    assert ids == list(Payment.objects.filter(batch=batch).values_list("key", flat=True))
    if XSD.is_file():
        xmlschema.XMLSchema(str(XSD)).validate(str(path))
    batch.refresh_from_db()
    assert batch.file_sha256 == hashlib.sha256(data).hexdigest()
    entry = AuditEntry.objects.get(action="payments.file_downloaded")
    assert entry.actor == approver and entry.changes["sha256"] == batch.file_sha256
    page = _html(maker.get(url))
    assert batch.file_sha256 in page and batch.file_name in page

    # The second download is the same file; a changed file is refused, not sent.
    again = maker.get(link)
    assert b"".join(again.streaming_content) == data  # type: ignore[attr-defined]
    assert AuditEntry.objects.filter(action="payments.file_downloaded").count() == 2
    path.write_bytes(data.replace(b"13500.00", b"99999.00"))
    tampered = maker.get(link, follow=True)
    assert "no longer matches" in _html(tampered)


def test_the_cycle_list_query_count_does_not_grow_with_cycles(
    prepared: PaymentCycle,
    officers: Any,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    client = _login(officers[1])
    url = reverse("payments:list")
    client.get(url)  # warm the session
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    for n, code in enumerate(["cash-transfer", "school-top-up", "disability-allowance"] * 2):
        PaymentCycle.objects.create(
            program=Program.objects.get(code=code),
            run=prepared.run,
            label=f"2025-Q{n + 1}",
            status="rejected",
            prepared_by=officers[0],
            payable_count=n,
            payable_total=n * 13_500,
        )
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert _html(response).count("data-cycle=") == 7


# --------------------------------------------------------------------------- My payments


@pytest.mark.parametrize("lang", ["ur", "ps"])
def test_a_citizen_changes_her_account_with_the_code_from_her_phone(
    enrolled_payee: Callable[..., Person], make_citizen: Any, lang: str
) -> None:
    person = enrolled_payee()
    client = _citizen_of(person, make_citizen)
    me = reverse("payments:me")
    page = client.get(me + f"?lang={lang}")
    assert page.status_code == 200
    body = _html(page)
    assert 'dir="rtl"' in body and 'data-account="none"' in body
    assert 'data-channel="bank"' in body and 'data-channel="wallet"' in body
    assert tr(lang, "Mobile wallet") in body

    bad = client.post(me, {"channel": "bank", "number": "PK37SCBL0000001123456702"})
    assert bad.status_code == 200
    wrong_digits = tr(
        lang, "This IBAN's check digits are wrong: please copy it again from the bank."
    )
    assert 'id="id_number_error"' in _html(bad) and wrong_digits in _html(bad)
    wallet = client.post(me, {"channel": "wallet", "number": "03001234567", "provider": ""})
    assert wallet.status_code == 200 and 'id="id_provider_error"' in _html(wallet)

    iban = iban_for(5)
    bank_book(iban, str(person.full_name))
    asked = client.post(me, {"channel": "bank", "number": iban, "provider": ""})
    assert asked.status_code == 302 and asked["Location"] == reverse("payments:my_code")
    code_page = _html(client.get(asked["Location"]))
    assert iban[-4:] in code_page and iban not in code_page
    wrong = client.post(reverse("payments:my_code"), {"code": "000000"})
    assert wrong.status_code == 200 and 'id="id_code_error"' in _html(wrong)
    # Urdu digits from a phone keyboard are read as the same code.
    code = last_action_code(person).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    done = client.post(reverse("payments:my_code"), {"code": code}, follow=True)
    assert done.status_code == 200
    shown = _html(done)
    assert 'data-verification="verified"' in shown
    assert tr(lang, "Checked: the account is in your name. Your payments go to it.") in shown
    account = PaymentAccount.objects.get(person=person, status="active")
    assert account.verification == "verified" and account.requested_by is not None
    # No change waits any more: the code page sends her back.
    assert client.get(reverse("payments:my_code"))["Location"] == me


def test_my_payments_lists_her_payments_with_receipts_and_only_hers(
    prepared: PaymentCycle,
    payees: dict[str, Person],
    officers: Any,
    approver: Any,
    make_citizen: Any,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    cycle = _paid_out(prepared, approver, officers[0])
    paid = payees["paid"]
    client = _citizen_of(paid, make_citizen)
    me = reverse("payments:me")
    payment = Payment.objects.get(cycle=cycle, person=paid)
    event = PaymentEvent.objects.get(payment=payment)
    body = _html(client.get(me + "?lang=ur"))
    assert f'data-payment="{payment.key}"' in body and 'data-payment-status="instructed"' in body
    assert "13,500" in body and "2026-Q4" in body
    assert capfirst(tr("ur", "sent to the bank or provider")) in body
    assert reverse("payments:my_receipt", args=[event.pk]) in body
    assert "غیر مشروط نقد مالی امداد" in body  # the program's name in Urdu

    receipt_url = reverse("payments:my_receipt", args=[event.pk])
    pending = _html(client.get(receipt_url))
    assert "data-receipt-pending" in pending
    ledger_publish()
    signed = client.get(receipt_url + "?lang=ur")
    page = _html(signed)
    assert signed.status_code == 200 and "data-receipt" in page and 'class="ledger-qr"' in page
    assert payment.key in page and "data-receipt-pending" not in page
    pdf = client.get(reverse("payments:my_receipt_pdf", args=[event.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    svg = client.get(reverse("payments:my_receipt_qr", args=[event.pk]))
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert etree.fromstring(svg.content).tag == "{http://www.w3.org/2000/svg}svg"

    # Someone else's receipt does not exist for her; nor hers for anyone else.
    other = _citizen_of(payees["unbanked"], make_citizen)
    assert other.get(receipt_url).status_code == 404
    assert f'data-payment="{payment.key}"' not in _html(other.get(me))

    # The history's query count does not grow with her payments.
    client.get(me)
    with django_assert_max_num_queries(20) as few:
        client.get(me)
    for n in range(3):
        extra = Payment.objects.create(
            key=rules.payment_key(cycle.pk, payment.beneficiary_id, f"top-up-{n}"),
            cycle=cycle,
            beneficiary_id=payment.beneficiary_id,
            component=f"top-up-{n}",
            person=paid,
            district_id=payment.district_id,
            amount=2_000,
            status="paid",
            channel="bank",
            provider="HABB",
        )
        PaymentEvent.objects.create(
            payment=extra, status="paid", source="callback", leaf_hash=bytes([n]) * 32
        )
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(me)
    assert _html(response).count("data-payment=") == 4
    assert _html(response).count("data-receipt-link") == 4


def test_a_citizen_who_is_not_enrolled_and_staff(make_citizen: Any, officers: Any) -> None:
    client = _login(make_citizen())
    page = client.get(reverse("payments:me"))
    assert page.status_code == 200 and reverse("identity:my_record") in _html(page)
    assert client.get(reverse("payments:my_receipt", args=[1])).status_code == 404
    assert _login(officers[0]).get(reverse("payments:me")).status_code == 403


# --------------------------------------------------------------------------- at the office


def test_an_officer_records_her_account_and_the_look_is_shown_to_her(
    enrolled_payee: Callable[..., Person], make_staff: Any, make_citizen: Any
) -> None:
    person = enrolled_payee()
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    client = _login(officer)
    find = reverse("payments:accounts")
    assert client.get(find).status_code == 200
    unknown = client.post(find, {"rahdari_number": "1234 5678 9012"})
    assert unknown.status_code == 200 and 'id="id_rahdari_number_error"' in _html(unknown)
    # An officer of another district does not find her.
    elsewhere = _login(make_staff(Role.ENROLMENT_OFFICER, ["Kohat"]))
    number = str(person.rahdari_number)
    assert 'id="id_rahdari_number_error"' in _html(elsewhere.post(find, {"rahdari_number": number}))
    assert elsewhere.get(reverse("payments:person", args=[person.pk])).status_code == 404

    found = client.post(find, {"rahdari_number": f"{number[:4]} {number[4:8]} {number[8:]}"})
    assert found["Location"] == reverse("payments:person", args=[person.pk])
    page = _html(client.get(found["Location"]))
    assert "data-read-recorded" in page and 'data-account="none"' in page
    reads = AuditEntry.objects.filter(
        action="identity.person.viewed", subject_id=str(person.pk), actor=officer
    )
    assert reads.count() == 1
    assert reads.get().changes["purpose"] == "Payment account and payments, at her request"

    iban = iban_for(11)
    bank_book(iban, str(person.full_name))
    asked = client.post(found["Location"], {"channel": "bank", "number": iban, "provider": ""})
    assert asked.status_code == 302
    waiting = _html(client.get(found["Location"]))
    assert reverse("payments:person_code", args=[person.pk]) in waiting
    code_url = reverse("payments:person_code", args=[person.pk])
    wrong = client.post(code_url, {"code": "000000"})
    assert wrong.status_code == 200 and 'id="id_code_error"' in _html(wrong)
    assert not PaymentAccount.objects.filter(person=person, status="active").exists()
    confirmed = client.post(code_url, {"code": last_action_code(person)}, follow=True)
    assert 'data-verification="verified"' in _html(confirmed)
    account = PaymentAccount.objects.get(person=person, status="active")
    assert account.requested_by == officer
    assert AuditEntry.objects.filter(
        action="payments.account_requested", changes__assisted=True
    ).exists()

    # She sees who looked at her payment data, and why.
    mine = _html(_citizen_of(person, make_citizen).get(reverse("payments:me")))
    assert mine.count("data-read") >= reads.count() and officer.display_name in mine

    # Citizens and program officers may not use the office page.
    assert _login(make_citizen()).get(find).status_code == 403
    program_officer = _login(make_staff(Role.PROGRAM_OFFICER, ["Swat"]))
    assert program_officer.get(find).status_code == 403
