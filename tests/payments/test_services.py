"""Payment accounts, cycles and batches through the services: the state, the audit
entry and the ledger entry of each step, and what is refused."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from django.db import IntegrityError, connection, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from rahdari.accounts.roles import Role
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.identity.models import Person
from rahdari.ledger import entries
from rahdari.ledger.models import LogEntry
from rahdari.ledger.services import entry_salt, ledger_integrate
from rahdari.payments import rules, services
from rahdari.payments.models import (
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentCycle,
    PaymentEvent,
    ReferenceAccount,
)
from rahdari.payments.providers import bank_rail, sign_callback
from rahdari.programs.models import Program
from tests.payments.conftest import account_for as _account
from tests.payments.conftest import (
    bank_book,
    cycle_batched,
    iban_for,
    last_action_code,
    totp_now,
)

pytestmark = pytest.mark.django_db


def test_an_account_in_her_own_name_is_verified_after_her_code(
    enrolled_payee: Callable[..., Person], make_staff: Any
) -> None:
    person = enrolled_payee()
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    iban = iban_for(7)
    bank_book(iban, f"MRS {str(person.full_name).upper()}")
    account = services.payment_account_request(
        person=person, channel="bank", number=iban, provider="", actor=officer
    )
    assert account.status == "awaiting_code" and account.display.endswith(iban[-4:])
    assert iban not in account.display
    with pytest.raises(ApplicationError) as wrong:
        services.payment_account_confirm(account=account, code="000000", actor=officer)
    assert wrong.value.code == "invalid_code"
    confirmed = services.payment_account_confirm(
        account=account, code=last_action_code(person), actor=officer
    )
    assert confirmed.status == "active" and confirmed.verification == "verified"
    assert AuditEntry.objects.filter(action="payments.account_changed").count() == 1
    # A second account replaces the first only once she confirms it.
    second = _account(person, 8)
    account.refresh_from_db()
    assert account.status == "replaced" and second.status == "active"


@pytest.mark.parametrize(
    ("holder", "state", "expected"),
    [
        ("Sher Khan", "open", "name_mismatch"),
        (None, "closed", "closed"),
    ],
)
def test_the_bank_says_whose_account_it_is(
    enrolled_payee: Callable[..., Person], holder: str | None, state: str, expected: str
) -> None:
    person = enrolled_payee()
    assert _account(person, 9, holder=holder, state=state).verification == expected


def test_an_account_the_bank_does_not_know(enrolled_payee: Callable[..., Person]) -> None:
    person = enrolled_payee()
    account = services.payment_account_request(
        person=person, channel="bank", number=iban_for(99), provider="", actor=None
    )
    confirmed = services.payment_account_confirm(
        account=account, code=last_action_code(person), actor=None
    )
    assert confirmed.verification == "not_found"


@pytest.mark.parametrize(
    ("channel", "number", "provider", "field"),
    [
        ("bank", "PK37SCBL0000001123456702", "", "number"),  # wrong check digits
        ("bank", "GB82WEST12345698765432", "", "number"),  # not Pakistani
        ("wallet", "0300 123", "jazzcash", "number"),
        ("wallet", "03001234567", "paypal", "provider"),
        ("card", "4111 1111 1111 1111", "bok-card", "number"),  # a card number, never kept
        ("cheque", "123", "", "channel"),
    ],
)
def test_bad_account_numbers_are_refused_with_the_field(
    enrolled_payee: Callable[..., Person], channel: str, number: str, provider: str, field: str
) -> None:
    person = enrolled_payee()
    with pytest.raises(ApplicationError) as caught:
        services.payment_account_request(
            person=person, channel=channel, number=number, provider=provider, actor=None
        )
    assert caught.value.code == "invalid_account" and field in caught.value.fields
    assert not PaymentAccount.objects.exists()


def test_only_the_person_or_an_officer_may_change_her_account(
    enrolled_payee: Callable[..., Person], make_staff: Any
) -> None:
    person = enrolled_payee()
    with pytest.raises(Forbidden):
        services.payment_account_request(
            person=person,
            channel="wallet",
            number="03001234567",
            provider="jazzcash",
            actor=make_staff(Role.AUDITOR),
        )


def test_a_cycle_pays_the_verified_and_holds_the_rest_with_reasons(
    cycle_ready: dict[str, Any],
) -> None:
    cycle = cycle_ready["cycle"]
    assert cycle.status == "prepared"
    by_person = {p.person_id: p for p in Payment.objects.filter(cycle=cycle)}
    assert by_person[cycle_ready["paid"].pk].status == "pending"
    assert by_person[cycle_ready["unbanked"].pk].hold == "no_account"
    assert by_person[cycle_ready["deceased"].pk].hold == "deceased"
    assert cycle.payable_count == 1 and cycle.payable_total == 13_500
    assert cycle.held_count == 2 and cycle.summary["holds"]["deceased"]["count"] == 1
    assert cycle.summary["control"] == {"count": 1, "amount": 13_500}
    assert cycle.summary["by_district"]["Swat"]["by_channel"]["bank"] == {
        "count": 1,
        "amount": 13_500,
    }
    # Every key is the deterministic idempotency key of its entitlement.
    for payment in by_person.values():
        assert payment.key == rules.payment_key(cycle.pk, payment.beneficiary_id, "benefit")
    # Computing again (a resumed job) adds nothing.
    services._compute_chunk(
        cycle,
        [
            (p.beneficiary_id, p.beneficiary.household_id, None, "active", p.amount, p.district_id)
            for p in by_person.values()
        ],
    )
    assert Payment.objects.filter(cycle=cycle).count() == 3


def test_approval_needs_another_approver_and_a_fresh_code(
    cycle_ready: dict[str, Any], approver: Any, officers: tuple[Any, Any], make_staff: Any
) -> None:
    cycle = cycle_ready["cycle"]
    with pytest.raises(Forbidden) as no_role:
        services.cycle_decide(cycle=cycle, approve=True, actor=officers[0], totp="123456")
    assert no_role.value.code == "permission_denied"
    with pytest.raises(Forbidden) as no_code:
        services.cycle_decide(cycle=cycle, approve=True, actor=approver, totp="")
    assert no_code.value.code == "totp_required"
    with pytest.raises(Forbidden):
        services.cycle_decide(cycle=cycle, approve=True, actor=approver, totp="000000")
    refused = AuditEntry.objects.filter(action="payments.cycle_decision_refused")
    assert refused.count() == 3
    assert PaymentCycle.objects.get(pk=cycle.pk).status == "prepared"
    # A wrong code slows the next try down (django-otp's throttling); wait it out.
    TOTPDevice.objects.filter(user=approver).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )

    approved = services.cycle_decide(
        cycle=cycle, approve=True, actor=approver, totp=totp_now(approver)
    )
    assert approved.status == "approved" and approved.approved_by == approver
    ledger_integrate()
    entry = entries.decode_entry(bytes(LogEntry.objects.get(kind="payments.cycle_approved").body))
    assert entry["cycle"] == "2026-Q4" and entry["totals"] == [
        {"district": "Swat", "count": 1, "amount": 13_500}
    ]
    assert bytes(approved.ledger_leaf or b"") == bytes(
        LogEntry.objects.get(kind="payments.cycle_approved").leaf_hash
    )
    with pytest.raises(Conflict):
        services.cycle_decide(cycle=approved, approve=True, actor=approver, totp=totp_now(approver))


def test_the_database_refuses_self_approval(cycle_ready: dict[str, Any]) -> None:
    cycle = cycle_ready["cycle"]
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentCycle.objects.filter(pk=cycle.pk).update(approved_by=cycle.prepared_by)


def test_the_database_refuses_a_second_payment_for_an_entitlement(
    cycle_ready: dict[str, Any],
) -> None:
    """One payment per (cycle, beneficiary, component) is the key's unique constraint:
    the key is derived from the three, so a second row for the same entitlement carries
    the same key."""
    payment = Payment.objects.filter(cycle=cycle_ready["cycle"]).first()
    assert payment is not None
    assert payment.key == rules.payment_key(
        payment.cycle_id, payment.beneficiary_id, payment.component
    )
    twin = Payment(
        key=rules.payment_key(payment.cycle_id, payment.beneficiary_id, payment.component),
        cycle_id=payment.cycle_id,
        beneficiary_id=payment.beneficiary_id,
        component=payment.component,
        person_id=payment.person_id,
        district_id=payment.district_id,
        amount=payment.amount,
        hold=payment.hold,
        status=payment.status,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    assert Payment.objects.filter(beneficiary_id=payment.beneficiary_id).count() == 1


def test_a_paid_person_account_or_beneficiary_cannot_be_deleted(
    cycle_ready: dict[str, Any],
) -> None:
    """The three are not database constraints (models.Payment says why); Django's
    PROTECT still refuses to delete what a payment refers to, and nothing changes."""
    from django.db.models import ProtectedError

    payment = Payment.objects.get(cycle=cycle_ready["cycle"], person=cycle_ready["paid"])
    assert payment.account is not None
    for referenced in (payment.person, payment.account, payment.beneficiary):
        with pytest.raises(ProtectedError), transaction.atomic():
            referenced.delete()
    payment.refresh_from_db()
    assert payment.person is not None and payment.account is not None


def test_cycle_names_and_one_open_cycle_at_a_time(
    cycle_ready: dict[str, Any], officers: tuple[Any, Any]
) -> None:
    program = Program.objects.get(code="cash-transfer")
    with pytest.raises(Conflict) as open_cycle:
        services.cycle_prepare(program=program, label="2027-Q1", actor=officers[0])
    assert open_cycle.value.code == "cycle_open"
    with pytest.raises(ApplicationError) as bad:
        services.cycle_prepare(program=program, label="Q4 2026!", actor=officers[0])
    assert bad.value.code == "invalid_label"
    with pytest.raises(Conflict) as no_run:
        services.cycle_prepare(
            program=Program.objects.get(code="school-top-up"), label="2026-Q4", actor=officers[0]
        )
    assert no_run.value.code == "no_approved_run"


def test_batches_instruct_each_payment_once_with_its_ledger_entry(
    cycle_ready: dict[str, Any], approver: Any, officers: tuple[Any, Any]
) -> None:
    cycle = services.cycle_decide(
        cycle=cycle_ready["cycle"], approve=True, actor=approver, totp=totp_now(approver)
    )
    job = services.batches_build(cycle=cycle, actor=officers[0])
    job_run(job_id=str(job.pk))
    payment = Payment.objects.get(cycle=cycle, status="instructed")
    batch = PaymentBatch.objects.get(cycle=cycle)
    assert payment.batch == batch and payment.attempts == 1
    assert (batch.count, batch.total, batch.channel, batch.provider) == (1, 13_500, "bank", "HABB")
    event = PaymentEvent.objects.get(payment=payment)
    ledger_integrate()
    entry = entries.decode_entry(bytes(LogEntry.objects.get(leaf_hash=event.leaf_hash).body))
    assert entry["kind"] == "payments.instructed" and entry["payment"] == payment.key
    number = cycle_ready["paid"].rahdari_number
    assert number not in str(entry)
    assert entry["beneficiary"] == entries.commitment(number, entry_salt(event.entry_id))
    # A second run finds nothing waiting: no second instruction, no second entry.
    again = services.batches_build(cycle=cycle, actor=officers[0])
    job_run(job_id=str(again.pk))
    assert PaymentBatch.objects.filter(cycle=cycle).count() == 1
    assert LogEntry.objects.filter(kind="payments.instructed").count() == 1


XSD = (
    Path(__file__).resolve().parents[3] / "shared" / "testdata" / "iso20022" / "pain.001.001.09.xsd"
)


def test_the_bank_file_is_valid_pain001_with_the_key_as_end_to_end_id(
    cycle_ready: dict[str, Any], approver: Any, officers: tuple[Any, Any], tmp_path: Path
) -> None:
    cycle = services.cycle_decide(
        cycle=cycle_ready["cycle"], approve=True, actor=approver, totp=totp_now(approver)
    )
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=officers[0]).pk))
    [path] = services.cycle_export(cycle=cycle, out=tmp_path)
    data = path.read_bytes()
    payment = Payment.objects.get(cycle=cycle, status="instructed")
    batch = PaymentBatch.objects.get(pk=payment.batch_id)
    assert path.name == f"{batch.message_id}.xml"
    assert batch.file_sha256 == hashlib.sha256(data).hexdigest()
    assert f"<EndToEndId>{payment.key}</EndToEndId>".encode() in data
    assert f"<InstrId>{payment.key}/1</InstrId>".encode() in data
    assert b"<CtrlSum>13500.00</CtrlSum>" in data
    if XSD.is_file():
        xmlschema.XMLSchema(str(XSD)).validate(str(path))


def test_the_export_command_writes_the_cycles_files(
    cycle_ready: dict[str, Any],
    approver: Any,
    officers: tuple[Any, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rahdari import cli

    cycle = services.cycle_decide(
        cycle=cycle_ready["cycle"], approve=True, actor=approver, totp=totp_now(approver)
    )
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=officers[0]).pk))
    assert cli.main(["payments", "export", "--cycle", str(cycle.pk), "--out", str(tmp_path)]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert len(files) == 1 and Path(files[0]).is_file()
    assert cli.main(["payments", "export", "--cycle", "nonsense", "--out", str(tmp_path)]) == 2


def test_the_banks_report_marks_payments_paid_with_ledger_entry_and_sms(
    sent_cycle: dict[str, Any],
) -> None:
    assert services.reports_collect() == 1
    payment = Payment.objects.get(pk=sent_cycle["payment"].pk)
    assert payment.status == "paid" and payment.paid_at is not None
    assert PaymentBatch.objects.get(pk=payment.batch_id).status == "closed"
    event = PaymentEvent.objects.get(payment=payment, status="paid")
    assert event.source == "pain002" and event.leaf_hash
    ledger_integrate()
    entry = entries.decode_entry(bytes(LogEntry.objects.get(kind="payments.paid").body))
    assert entry["payment"] == payment.key and entry["amount"] == 13_500
    sms = OutboundMessage.objects.filter(template="payments.paid").get()
    assert payment.key in sms.text and "13,500" in sms.text
    assert AuditEntry.objects.filter(action="payments.report_applied").count() == 1
    assert services.reports_collect() == 0  # nothing new from the bank


def test_a_report_seen_twice_changes_nothing(sent_cycle: dict[str, Any], settings: Any) -> None:
    [(_name, data)] = bank_rail().receive()  # not acknowledged: delivered again next time
    first = services.status_report_ingest(data=data, source="bank", actor=None)
    again = services.status_report_ingest(data=data, source="bank", actor=None)
    assert first.pk == again.pk and first.counts["paid"] == 1
    assert PaymentEvent.objects.filter(status="paid").count() == 1


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda data: data[: len(data) // 2], "malformed_report"),
        (lambda data: b"<!DOCTYPE x [<!ENTITY a 'b'>]>" + data, "malformed_report"),
        (lambda data: data.replace(b"<OrgnlMsgId>RDP", b"<OrgnlMsgId>XYZ"), "unknown_batch"),
    ],
)
def test_bad_reports_are_refused_whole_and_audited(
    sent_cycle: dict[str, Any], mutate: Callable[[bytes], bytes], code: str
) -> None:
    [(_name, data)] = bank_rail().receive()
    with pytest.raises(ApplicationError) as refused:
        services.status_report_ingest(data=mutate(data), source="bank", actor=None)
    assert refused.value.code == code and refused.value.status == 422
    assert Payment.objects.get(pk=sent_cycle["payment"].pk).status == "instructed"
    assert AuditEntry.objects.filter(action="payments.report_refused").count() == 1


def test_a_status_for_a_payment_not_in_the_batch_is_counted_not_applied(
    sent_cycle: dict[str, Any],
) -> None:
    [(_name, data)] = bank_rail().receive()
    key = sent_cycle["payment"].key
    forged = data.replace(key.encode(), b"A" * 32)
    message = services.status_report_ingest(data=forged, source="bank", actor=None)
    assert message.counts["unknown"] == 1 and message.counts["paid"] == 0
    assert Payment.objects.get(pk=sent_cycle["payment"].pk).status == "instructed"


def test_a_refused_account_waits_for_a_new_one_then_goes_in_the_next_batch(
    built_cycle: dict[str, Any], officers: tuple[Any, Any]
) -> None:
    sent_cycle = built_cycle
    payment = sent_cycle["payment"]
    first_batch = payment.batch_id
    person = Person.objects.get(pk=payment.person_id)
    # The bank knows the account under another name by the time the file arrives.
    ReferenceAccount.objects.filter(channel="bank").update(holder_name="Sher Khan Afridi")
    services.cycle_send(cycle=sent_cycle["cycle"], actor=officers[0])
    assert services.reports_collect() == 1
    payment.refresh_from_db()
    assert payment.status == "failed" and payment.reason_code == "BE01"
    assert PaymentAccount.objects.get(pk=payment.account_id).verification == "name_mismatch"
    assert OutboundMessage.objects.filter(template="payments.failed_account").count() == 1
    cycle = sent_cycle["cycle"]
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=officers[0]).pk))
    assert Payment.objects.get(pk=payment.pk).status == "failed"  # no new account yet
    new = _account(person, 3)
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=officers[0]).pk))
    payment.refresh_from_db()
    assert payment.status == "instructed" and payment.attempts == 2
    assert payment.account_id == new.pk and payment.batch_id != first_batch
    ledger_integrate()
    assert LogEntry.objects.filter(kind="payments.instructed").count() == 2
    assert LogEntry.objects.filter(kind="payments.failed").count() == 1


def test_a_wallet_batch_is_paid_through_the_providers_signed_callback(
    wallet_cycle: dict[str, Any],
) -> None:
    assert services.reports_collect() == 1
    payment = Payment.objects.get(batch=wallet_cycle["batch"])
    assert payment.status == "paid"
    assert PaymentEvent.objects.get(payment=payment, status="paid").source == "callback"
    assert PaymentBatch.objects.get(pk=wallet_cycle["batch"].pk).status == "closed"


def _callback(provider: str, batch: PaymentBatch, status: str = "SUCC", **extra: Any) -> bytes:
    payment = Payment.objects.get(batch=batch)
    item = {
        "reference_id": payment.key,
        "timestamp": "2026-12-04T10:00:00+05:00",
        "status": status,
        **extra,
    }
    return json.dumps(
        {
            "header": {"message_id": f"CB-{status}-{len(extra)}", "action": "on-disburse"},
            "message": {"transaction_id": batch.message_id, "on_disburse": [item]},
        }
    ).encode()


def test_callbacks_that_are_forged_malformed_or_repeated_change_nothing(
    wallet_cycle: dict[str, Any],
) -> None:
    batch = wallet_cycle["batch"]
    body = _callback("jazzcash", batch, "RJCT", status_reason_code="rjct.payee_fa.invalid")
    with pytest.raises(ApplicationError) as forged:
        services.callback_ingest(provider="jazzcash", body=body, signature="0" * 64)
    assert forged.value.status == 401 and forged.value.code == "bad_signature"
    with pytest.raises(ApplicationError) as malformed:
        bad = b'{"header": {}}'
        services.callback_ingest(
            provider="jazzcash", body=bad, signature=sign_callback("jazzcash", bad)
        )
    assert malformed.value.code == "malformed_callback"
    other = _callback("easypaisa", batch)
    with pytest.raises(ApplicationError) as foreign:
        services.callback_ingest(
            provider="easypaisa", body=other, signature=sign_callback("easypaisa", other)
        )
    assert foreign.value.code == "unknown_batch"
    assert AuditEntry.objects.filter(action="payments.callback_refused").count() == 3
    assert Payment.objects.get(batch=batch).status == "instructed"
    # A genuine refusal: the wallet does not exist any more.
    first = services.callback_ingest(
        provider="jazzcash", body=body, signature=sign_callback("jazzcash", body)
    )
    again = services.callback_ingest(
        provider="jazzcash", body=body, signature=sign_callback("jazzcash", body)
    )
    assert first.pk == again.pk and first.counts["failed"] == 1
    payment = Payment.objects.get(batch=batch)
    assert payment.status == "failed" and payment.reason_code == "AC01"
    assert PaymentAccount.objects.get(pk=payment.account_id).verification == "not_found"


def test_an_account_the_provider_could_not_check_is_checked_again(
    enrolled_payee: Callable[..., Person], settings: Any
) -> None:
    person = enrolled_payee()
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 1.0  # the bank is down
    account = _account(person, 11)
    assert account.verification == "unavailable" and account.status == "active"
    assert services.payment_accounts_recheck() == 0
    settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = 0.0
    assert services.payment_accounts_recheck() == 1
    account.refresh_from_db()
    assert account.verification == "verified"


def test_a_file_sent_twice_is_paid_once_and_a_report_survives_a_crash(
    sent_cycle: dict[str, Any], officers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender that died after the upload sends again: the bank ignores the repeated
    message id. A collector that died before applying a report reads it again."""
    batch = PaymentBatch.objects.get(pk=sent_cycle["payment"].batch_id)
    PaymentBatch.objects.filter(pk=batch.pk).update(status="ready")  # the commit was lost
    services.batch_send(batch=PaymentBatch.objects.get(pk=batch.pk), actor=officers[0])
    assert len(bank_rail().receive()) == 1  # one report: the bank paid the file once

    def crash(**_kwargs: Any) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(services, "status_report_ingest", crash)
    with pytest.raises(RuntimeError):
        services.reports_collect()
    monkeypatch.undo()
    assert services.reports_collect() == 1
    assert Payment.objects.get(pk=sent_cycle["payment"].pk).status == "paid"
    assert services.reports_collect() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 3])
def test_batches_hold_at_most_the_batch_size_and_every_payment_once(
    officers: tuple[Any, Any],
    approver: Any,
    settings: Any,
    threads: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many payments per channel and provider: consecutive batches of at most
    RAHDARI_PAYMENT_BATCH_SIZE, lowest ids first, each payment in exactly one, with one
    event and one ledger entry each whose commitment is the payee's — also when the
    cycle's chunks and batches are done by several threads (PostgreSQL)."""
    from tests.payments.test_exactly_once import province_create

    settings.RAHDARI_PAYMENT_BATCH_SIZE = 7
    settings.RAHDARI_PAYMENT_THREADS = threads
    monkeypatch.setattr(services, "CHUNK", 9)  # several chunks for the threads
    workers: set[str] = set()
    for name in ("_compute_chunk", "_instruct"):
        done = getattr(services, name)

        def noted(*args: Any, _done: Any = done) -> Any:
            workers.add(threading.current_thread().name)
            return _done(*args)

        monkeypatch.setattr(services, name, noted)
    plans = province_create(count=60, officers=officers)
    cycle = cycle_batched(officers, approver, label="2026-Q9")
    payable = Payment.objects.filter(cycle=cycle).exclude(status="held")
    assert payable.count() == sum(1 for p in plans.values() if not p.hold) > 14
    assert not payable.exclude(status="instructed").exists()
    batches = list(PaymentBatch.objects.filter(cycle=cycle).order_by("number"))
    assert [b.number for b in batches] == list(range(1, len(batches) + 1))
    groups: dict[tuple[str, str], list[int]] = {}
    for batch in batches:
        members = list(batch.payments.order_by("id").values_list("id", "amount", "attempts"))
        assert 1 <= len(members) <= 7 and batch.count == len(members)
        assert batch.total == sum(amount for _id, amount, _a in members)
        assert {attempts for *_, attempts in members} == {1}
        groups.setdefault((batch.channel, batch.provider), []).extend(m[0] for m in members)
    for ids in groups.values():  # lowest ids first: the batches cut the group in order
        assert ids == sorted(ids)
    assert sum(b.count for b in batches) == payable.count()
    assert sum(len(ids) for ids in groups.values()) == len({i for v in groups.values() for i in v})
    events = PaymentEvent.objects.filter(payment__cycle=cycle, status="instructed")
    assert events.count() == payable.count()
    ledger_integrate()
    for event in events.select_related("payment__person")[:10]:
        entry = entries.decode_entry(bytes(LogEntry.objects.get(leaf_hash=event.leaf_hash).body))
        number = event.payment.person.rahdari_number
        assert entry["payment"] == event.payment.key
        assert entry["beneficiary"] == entries.commitment(number, entry_salt(event.entry_id))
    assert Payment.objects.filter(cycle=cycle).count() == len(plans)
    threaded = threads > 1 and connection.vendor == "postgresql"
    assert any(w.startswith("rahdari-job") for w in workers) == threaded, workers


@pytest.mark.django_db
def test_a_payment_row_is_written_into_five_indexes_only() -> None:
    """A cycle writes a million payments and changes each (never a HOT update), so every
    index on the table costs a million entries twice: the table has only those some
    query reads — no second index for LIKE on the key (what unique=True adds on
    PostgreSQL), none on the beneficiary or the account."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Payment._meta.db_table)
    indexes = {
        name
        for name, c in constraints.items()
        if (c["index"] or c["unique"]) and not c["primary_key"]
    }
    assert indexes == {  # and the primary key
        "payment_key",
        "payment_cycle_status",
        "payment_person",
        "payment_batch",
    }


@pytest.mark.django_db
def test_the_batch_job_brings_the_planners_statistics_up_to_date_first(
    officers: tuple[Any, Any], approver: Any
) -> None:
    """The compute job has just written the cycle's payments; the batch job ANALYZEs the
    table before it looks them up by id, so the planner does not work from statistics
    gathered before they existed (on PostgreSQL pg_class then counts every row)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's planner gathers no statistics")
    from tests.payments.test_exactly_once import province_create

    province_create(count=25, officers=officers)
    cycle_batched(officers, approver, label="2026-Q8")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'payments_payment'::regclass")
        (tuples,) = cursor.fetchone()
    assert tuples == Payment.objects.count() >= 25


@pytest.mark.django_db(transaction=True)
def test_a_batch_number_another_job_took_meanwhile_gives_the_next_free_one(
    officers: tuple[Any, Any], approver: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numbers are given out when the batch job starts; if another job of the cycle
    commits a batch with one of them first, the batch takes the next free number (the
    unique number refuses the first try, which is rolled back whole)."""
    if connection.vendor != "postgresql":
        pytest.skip("a second job commits while the first waits: PostgreSQL")
    from tests.payments.test_exactly_once import province_create

    settings.RAHDARI_PAYMENT_BATCH_SIZE = 10
    settings.RAHDARI_PAYMENT_THREADS = 1
    province_create(count=25, officers=officers)
    instruct, taken = services._instruct, []

    def other_job_first(cycle: Any, channel: str, provider: str, ids: Any, number: int) -> Any:
        if not taken:  # another job commits batch `number` on its own connection

            def commit_other() -> None:
                PaymentBatch.objects.create(
                    cycle=cycle,
                    number=number,
                    channel=channel,
                    provider=provider,
                    status=PaymentBatch.Status.READY,
                    message_id=f"OTHER-{number}",
                )
                connection.close()

            other = threading.Thread(target=commit_other)
            other.start()
            other.join()
            taken.append(number)
        return instruct(cycle, channel, provider, ids, number)

    monkeypatch.setattr(services, "_instruct", other_job_first)
    cycle = cycle_batched(officers, approver, label="2026-Q8")
    payable = Payment.objects.filter(cycle=cycle).exclude(status="held")
    assert not payable.exclude(status="instructed").exists()
    other = PaymentBatch.objects.get(cycle=cycle, message_id=f"OTHER-{taken[0]}")
    assert other.count == 0 and not other.payments.exists()
    ours = PaymentBatch.objects.filter(cycle=cycle).exclude(pk=other.pk)
    assert sum(b.count for b in ours) == payable.count()
    assert taken[0] not in set(ours.values_list("number", flat=True))
