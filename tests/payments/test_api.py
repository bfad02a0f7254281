"""Payments API: status, body and the uniform error shape of every endpoint — accounts
(the citizen's own, an officer's for a person of her districts, the code), cycles
(prepare, preview, four eyes, the authenticator code with the refusal in the caller's
language), batches and the bank file, a citizen's own payments with receipt links —
and the list endpoints' query counts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice
from lxml import etree

from rahdari.accounts.roles import Role
from rahdari.core.jobs import job_run
from rahdari.core.models import AuditEntry
from rahdari.identity.models import Person
from rahdari.payments import services
from rahdari.payments.models import Payment, PaymentAccount, PaymentCycle
from rahdari.programs.models import Program, TargetingRun
from tests.payments.conftest import bank_book, iban_for, last_action_code, totp_now

TOTP_MESSAGE = (
    "Enter the current code from your authenticator app. A code works once only: if you "
    "just used it to log in, wait for the next one."
)

pytestmark = pytest.mark.django_db
API = "/api/v1/payments"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    return dict(body["error"])


def _post(client: Client, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(url, body, content_type="application/json", **headers)


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


def _fresh_codes(user: Any) -> None:
    TOTPDevice.objects.filter(user=user).update(
        throttling_failure_count=0, throttling_failure_timestamp=None, last_t=-1
    )


def _citizen_of(person: Person, make_citizen: Callable[..., Any]) -> Client:
    citizen = make_citizen(phone=str(person.mobile))
    Person.objects.filter(pk=person.pk).update(account=citizen)
    return _login(citizen)


def _verified(person: Person, n: int) -> None:
    iban = iban_for(n)
    bank_book(iban, str(person.full_name))
    account = services.payment_account_request(
        person=person, channel="bank", number=iban, provider="", actor=None
    )
    services.payment_account_confirm(account=account, code=last_action_code(person), actor=None)


@pytest.fixture
def ready(
    enrolled_payee: Callable[..., Person], approved_run: Callable[[], TargetingRun]
) -> dict[str, Person]:
    """Two payees of an approved cash-transfer run: one with a verified account."""
    paid = enrolled_payee()
    _verified(paid, 1)
    unbanked = enrolled_payee(district="Mardan")
    approved_run()
    return {"paid": paid, "unbanked": unbanked}


def _prepared(client: Client, label: str = "2026-Q4") -> dict[str, Any]:
    started = _post(client, f"{API}/cycles", {"program": "cash-transfer", "label": label})
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["status"] == "computing" and body["summary"] is None
    job_run(job_id=str(PaymentCycle.objects.get(pk=body["id"]).job_id))
    return dict(client.get(f"{API}/cycles/{body['id']}").json())


# --------------------------------------------------------------------------- accounts


def test_a_citizen_asks_for_and_confirms_her_own_account(
    enrolled_payee: Callable[..., Person], make_citizen: Any
) -> None:
    person = enrolled_payee()
    client = _citizen_of(person, make_citizen)
    _error(client.get(f"{API}/accounts/me"), 404, "no_account")
    bad = _error(
        _post(client, f"{API}/accounts", {"channel": "bank", "number": "PK00"}),
        400,
        "invalid_account",
    )
    assert "number" in bad["fields"]
    no_wallet = _post(client, f"{API}/accounts", {"channel": "wallet", "number": "03001234567"})
    assert "provider" in _error(no_wallet, 400, "invalid_account")["fields"]
    _error(_post(client, f"{API}/accounts", {"number": "x"}), 422, "invalid")

    iban = iban_for(3)
    bank_book(iban, str(person.full_name))
    asked = _post(client, f"{API}/accounts", {"channel": "bank", "number": iban})
    assert asked.status_code == 201, asked.content
    account = asked.json()
    assert account["status"] == "awaiting_code" and account["provider_name"] == "HBL"
    assert account["display"].endswith(iban[-4:]) and iban not in account["display"]
    assert account["rahdari_number"] == person.rahdari_number
    confirm = f"{API}/accounts/{account['id']}/confirm"
    _error(_post(client, confirm, {"code": "000000"}), 400, "invalid_code")
    done = _post(client, confirm, {"code": last_action_code(person)})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "active" and done.json()["verification"] == "verified"
    with translation.override("en"):
        assert "in your name" in done.json()["verification_text"]
    mine = client.get(f"{API}/accounts/me").json()
    assert mine["id"] == account["id"] and mine["verification"] == "verified"
    _error(_post(client, confirm, {"code": "123456"}), 409, "not_awaiting_code")


def test_an_officer_records_an_account_for_a_person_of_her_districts(
    enrolled_payee: Callable[..., Person], make_staff: Any, make_citizen: Any
) -> None:
    person = enrolled_payee()
    officer = _login(make_staff(Role.ENROLMENT_OFFICER, ["Swat"]))
    body = {"channel": "wallet", "number": "0300 1234567", "provider": "jazzcash"}
    _error(_post(officer, f"{API}/accounts", body), 400, "rahdari_number_required")
    _error(
        _post(officer, f"{API}/accounts", body | {"rahdari_number": "123456789012"}),
        404,
        "no_person",
    )
    asked = _post(officer, f"{API}/accounts", body | {"rahdari_number": person.rahdari_number})
    assert asked.status_code == 201, asked.content
    account = asked.json()
    assert account["channel"] == "wallet" and account["provider_name"] == "JazzCash"
    # Another district's officer, a program officer, a stranger: no.
    elsewhere = _login(make_staff(Role.ENROLMENT_OFFICER, ["Kohat"]))
    _error(
        _post(elsewhere, f"{API}/accounts", body | {"rahdari_number": person.rahdari_number}),
        404,
        "no_person",
    )
    confirm = f"{API}/accounts/{account['id']}/confirm"
    _error(_post(elsewhere, confirm, {"code": "123456"}), 404, "no_account")
    program_officer = _login(make_staff(Role.PROGRAM_OFFICER, ["Swat"]))
    _error(_post(program_officer, f"{API}/accounts", body), 403, "forbidden")
    stranger = _citizen_of(enrolled_payee(), make_citizen)
    _error(_post(stranger, confirm, {"code": "123456"}), 404, "no_account")
    _error(
        Client().post(f"{API}/accounts", {}, content_type="application/json"),
        401,
        "unauthenticated",
    )

    done = _post(officer, confirm, {"code": last_action_code(person)})
    assert done.status_code == 200
    # No wallet in the operator's books: the account is hers but not verified.
    assert done.json()["status"] == "active" and done.json()["verification"] == "not_found"
    assert PaymentAccount.objects.get(pk=account["id"]).requested_by is not None


# --------------------------------------------------------------------------- cycles


def test_cycles_prepare_preview_and_refusals(
    ready: dict[str, Person], officers: Any, make_citizen: Any, make_staff: Any
) -> None:
    _error(Client().get(f"{API}/cycles"), 401, "unauthenticated")
    _error(_login(make_citizen()).get(f"{API}/cycles"), 403, "forbidden")
    _error(
        _login(make_staff(Role.ENROLMENT_OFFICER, ["Swat"])).get(f"{API}/cycles"), 403, "forbidden"
    )
    maker = _login(officers[0])
    bad = _post(maker, f"{API}/cycles", {"program": "cash-transfer", "label": "Q4 2026!"})
    assert "label" in _error(bad, 400, "invalid_label")["fields"]
    _error(
        _post(maker, f"{API}/cycles", {"program": "nope", "label": "2026-Q4"}), 404, "no_program"
    )
    _error(
        _post(maker, f"{API}/cycles", {"program": "school-top-up", "label": "2026-Q4"}),
        409,
        "no_approved_run",
    )
    _error(_post(maker, f"{API}/cycles", {"label": "2026-Q4"}), 422, "invalid")
    cycle = _prepared(maker)
    assert cycle["status"] == "prepared" and cycle["progress"]["percent"] == 100
    assert cycle["payable_count"] == 1 and cycle["payable_total"] == 13_500
    summary = cycle["summary"]
    assert summary["control"] == {"count": 1, "amount": 13_500}
    assert summary["holds"]["no_account"] == {"count": 1, "amount": 13_500}
    assert summary["by_district"]["Swat"]["by_channel"]["bank"] == {"count": 1, "amount": 13_500}
    _error(
        _post(maker, f"{API}/cycles", {"program": "cash-transfer", "label": "2027-Q1"}),
        409,
        "cycle_open",
    )
    listed = maker.get(f"{API}/cycles").json()
    assert [c["label"] for c in listed] == ["2026-Q4"] and listed[0]["program"] == "cash-transfer"
    _error(maker.get(f"{API}/cycles/{officers[0].pk}"), 404, "no_cycle")


def test_approval_four_eyes_and_the_authenticator_code(
    ready: dict[str, Person], officers: Any, approver: Any, make_staff: Any
) -> None:
    cycle = _prepared(_login(officers[0]))
    url = f"{API}/cycles/{cycle['id']}/decision"
    # A program officer is refused by the service, which audits the attempt.
    _error(_post(_login(officers[1]), url, {"approve": True}), 403, "permission_denied")
    client = _login(approver)
    no_code = _error(_post(client, url + "?lang=ur", {"approve": True}), 403, "totp_required")
    with translation.override("ur"):
        expected = translation.gettext(TOTP_MESSAGE)
    assert no_code["message"] == expected and "totp" in no_code["fields"]
    wrong = _error(
        _post(client, url + "?lang=ps", {"approve": True, "totp": "000000"}), 403, "totp_required"
    )
    with translation.override("ps"):
        assert wrong["message"] == translation.gettext(TOTP_MESSAGE)
    _error(_post(client, url, {"totp": "123456"}), 422, "invalid")
    assert AuditEntry.objects.filter(action="payments.cycle_decision_refused").count() == 3
    _fresh_codes(approver)
    approved = _post(
        client, url + "?lang=en", {"approve": True, "totp": totp_now(approver), "note": "ok"}
    )
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert body["status"] == "approved" and body["approved_by"] == approver.username
    assert body["decision_note"] == "ok"
    _error(_post(client, url, {"approve": True, "totp": "123456"}), 409, "not_prepared")


def test_the_preparer_may_not_approve(ready: dict[str, Person], make_staff: Any) -> None:
    both = make_staff(Role.PAYMENT_APPROVER)
    both.groups.add(Group.objects.get(name=Role.PROGRAM_OFFICER.value))
    TOTPDevice.objects.create(user=both, name="phone", confirmed=True)
    client = _login(both)
    cycle = _prepared(client)
    refused = _post(
        client, f"{API}/cycles/{cycle['id']}/decision", {"approve": True, "totp": totp_now(both)}
    )
    _error(refused, 403, "four_eyes")


def test_batches_and_the_bank_file(
    ready: dict[str, Person],
    officers: Any,
    approver: Any,
    make_citizen: Any,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.RAHDARI_PAYMENT_FILES_DIR = tmp_path
    maker = _login(officers[0])
    cycle = _prepared(maker)
    _error(_post(maker, f"{API}/cycles/{cycle['id']}/batches", {}), 409, "not_approved")
    _fresh_codes(approver)
    _post(
        _login(approver),
        f"{API}/cycles/{cycle['id']}/decision",
        {"approve": True, "totp": totp_now(approver)},
    )
    _error(_post(_login(approver), f"{API}/cycles/{cycle['id']}/batches", {}), 403, "forbidden")
    started = _post(maker, f"{API}/cycles/{cycle['id']}/batches", {})
    assert started.status_code == 202 and started.json()["kind"] == "payments.build_batches"
    job_run(job_id=started.json()["id"])
    detail = maker.get(f"{API}/cycles/{cycle['id']}").json()
    assert detail["status"] == "disbursing" and detail["batch_job"]["status"] == "succeeded"
    [batch] = maker.get(f"{API}/cycles/{cycle['id']}/batches").json()
    assert (batch["number"], batch["channel"], batch["provider_name"]) == (1, "bank", "HBL")
    assert (batch["count"], batch["total"]) == (1, 13_500) and batch["file_sha256"] == ""
    _error(_login(make_citizen()).get(batch["file_url"]), 403, "forbidden")
    response = maker.get(batch["file_url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    payment = Payment.objects.get(batch_id=batch["id"])
    assert etree.fromstring(data).xpath("//p:EndToEndId/text()", namespaces=NS) == [payment.key]
    again = maker.get(f"{API}/cycles/{cycle['id']}/batches").json()[0]
    assert again["file_name"] == f"{again['message_id']}.xml" and len(again["file_sha256"]) == 64
    assert AuditEntry.objects.filter(action="payments.file_downloaded").count() == 1
    _error(maker.get(f"{API}/batches/{officers[0].pk}/file"), 404, "no_batch")
    # The OpenAPI document names the file's media type.
    schema = Client().get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/payments/batches/{batch_id}/file"]["get"]
    assert "application/xml" in operation["responses"]["200"]["content"]


def test_list_endpoints_query_counts(
    ready: dict[str, Person],
    officers: Any,
    approver: Any,
    make_citizen: Any,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    maker = _login(officers[0])
    cycle = PaymentCycle.objects.get(pk=_prepared(maker)["id"])
    maker.get(f"{API}/cycles")
    with django_assert_max_num_queries(10) as few:
        maker.get(f"{API}/cycles")
    for n in range(4):
        PaymentCycle.objects.create(
            program=Program.objects.get(code="school-top-up"),
            run=cycle.run,
            label=f"2025-Q{n + 1}",
            status="rejected",
            prepared_by=officers[1],
            approved_by=None,
        )
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(maker.get(f"{API}/cycles").json()) == 5

    _fresh_codes(approver)
    cycle = services.cycle_decide(
        cycle=cycle, approve=True, actor=approver, totp=totp_now(approver)
    )
    job_run(job_id=str(services.batches_build(cycle=cycle, actor=officers[0]).pk))
    citizen = _citizen_of(ready["paid"], make_citizen)
    _error(maker.get(f"{API}/me/payments"), 403, "forbidden")
    [mine] = citizen.get(f"{API}/me/payments").json()
    payment = Payment.objects.get(person=ready["paid"])
    assert mine["key"] == payment.key and mine["status"] == "instructed"
    assert mine["amount"] == 13_500 and mine["cycle"] == "2026-Q4"
    assert mine["program_name"] == "Unconditional Cash Transfer"
    assert mine["receipt_url"].startswith("/payments/me/receipts/")
    assert mine["receipt_pdf_url"].endswith("/receipt.pdf")
    with django_assert_max_num_queries(10) as few:
        citizen.get(f"{API}/me/payments")
    for n in range(3):
        Payment.objects.create(
            key=f"EXTRA{n:027d}",
            cycle=cycle,
            beneficiary_id=payment.beneficiary_id,
            component=f"top-up-{n}",
            person=ready["paid"],
            district_id=payment.district_id,
            amount=2_000,
            status="held",
            hold="no_account",
        )
    with django_assert_num_queries(len(few.captured_queries)):
        rows = citizen.get(f"{API}/me/payments").json()
    assert len(rows) == 4 and [r["receipt_url"] for r in rows].count(None) == 3


def test_provider_callbacks_over_http(wallet_cycle: dict[str, Any], client: Client) -> None:
    from rahdari.payments.models import Payment
    from rahdari.payments.providers import sign_callback

    batch = wallet_cycle["batch"]
    payment = Payment.objects.get(batch=batch)
    body = json.dumps(
        {
            "header": {"message_id": "CB-1", "action": "on-disburse"},
            "message": {
                "transaction_id": batch.message_id,
                "on_disburse": [
                    {
                        "reference_id": payment.key,
                        "timestamp": "2026-12-04T10:00:00Z",
                        "status": "SUCC",
                    }
                ],
            },
        }
    ).encode()
    url = f"{API}/callbacks/jazzcash"
    forged = client.post(url, body, content_type="application/json", HTTP_X_RAHDARI_SIGNATURE="00")
    _error(forged, 401, "bad_signature")
    ok = client.post(
        url,
        body,
        content_type="application/json",
        HTTP_X_RAHDARI_SIGNATURE=sign_callback("jazzcash", body),
    )
    assert ok.status_code == 200, ok.content
    assert (
        ok.json()["message"]["ack_status"] == "ACK" and ok.json()["message"]["counts"]["paid"] == 1
    )
    garbage = b"not json"
    _error(
        client.post(
            url,
            garbage,
            content_type="application/json",
            HTTP_X_RAHDARI_SIGNATURE=sign_callback("jazzcash", garbage),
        ),
        422,
        "malformed_callback",
    )
