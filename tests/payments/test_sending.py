"""Sending a cycle's ready batches as a resumable job: each batch reaches its provider
once — also when the job dies between the provider's acknowledgement and the commit —
a refusing provider leaves its batch ready and the others go; the page's button and the
API start it."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from rahdari.core.errors import Conflict
from rahdari.core.jobs import job_run
from rahdari.payments import sending, services
from rahdari.payments.models import Payment, PaymentBatch, ProviderMessage
from rahdari.payments.providers import bank_rail
from tests.payments.test_views import _html, _login

pytestmark = pytest.mark.django_db


def test_the_job_sends_every_ready_batch_once(
    built_cycle: dict[str, Any], officers: tuple[Any, Any]
) -> None:
    job = sending.batches_send_start(cycle=built_cycle["cycle"], actor=officers[0])
    done = job_run(job_id=str(job.pk))
    assert done.result == {"sent": 1, "refused": []}
    batch = PaymentBatch.objects.get(cycle=built_cycle["cycle"])
    assert batch.status == "sent" and batch.sent_at is not None
    assert services.reports_collect() == 1
    assert Payment.objects.get(pk=built_cycle["payment"].pk).status == "paid"
    with pytest.raises(Conflict) as nothing:
        sending.batches_send_start(cycle=built_cycle["cycle"], actor=officers[0])
    assert nothing.value.code == "nothing_to_send"


def test_a_job_that_dies_after_the_bank_took_the_file_is_resumed_without_a_second_payment(
    built_cycle: dict[str, Any], officers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.audit_record

    def crash(**kwargs: Any) -> Any:
        if kwargs.get("action") == "payments.batch_sent":
            raise RuntimeError("the worker was killed")
        return real(**kwargs)

    monkeypatch.setattr(services, "audit_record", crash)
    job = sending.batches_send_start(cycle=built_cycle["cycle"], actor=officers[0])
    with pytest.raises(RuntimeError):
        job_run(job_id=str(job.pk))
    batch = PaymentBatch.objects.get(cycle=built_cycle["cycle"])
    assert batch.status == "ready"  # rolled back: the bank has the file, we do not know it
    assert len(bank_rail().receive()) == 1
    monkeypatch.setattr(services, "audit_record", real)
    resumed = job_run(job_id=str(job.pk))
    assert resumed.status == "succeeded" and resumed.result["sent"] == 1
    assert len(bank_rail().receive()) == 1  # the bank refused the same message id again
    assert services.reports_collect() == 1
    assert ProviderMessage.objects.count() == 1
    assert Payment.objects.get(pk=built_cycle["payment"].pk).status == "paid"


def test_a_refusing_provider_leaves_its_batch_ready(
    wallet_cycle: dict[str, Any], officers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = wallet_cycle["batch"]
    PaymentBatch.objects.filter(pk=batch.pk).update(status="ready", sent_at=None)

    class Refusing:
        def disburse(self, **kwargs: Any) -> dict[str, Any]:
            return {"message": {"ack_status": "NACK", "error": {"code": "err.service.unavailable"}}}

    monkeypatch.setattr(services, "disbursement_provider", Refusing)
    job = sending.batches_send_start(cycle=wallet_cycle["cycle"], actor=officers[0])
    done = job_run(job_id=str(job.pk))
    assert done.result == {
        "sent": 0,
        "refused": [{"batch": batch.number, "reason": "provider_refused"}],
    }
    assert PaymentBatch.objects.get(pk=batch.pk).status == "ready"


def test_the_page_and_the_api_start_the_sending(
    built_cycle: dict[str, Any], officers: tuple[Any, Any], approver: Any
) -> None:
    cycle = built_cycle["cycle"]
    page = _html(_login(officers[0]).get(reverse("payments:cycle", args=[cycle.pk])))
    assert "data-send" in page
    assert "data-send" not in _html(
        _login(approver).get(reverse("payments:cycle", args=[cycle.pk]))
    )
    refused = _login(approver).post(reverse("payments:batches_send", args=[cycle.pk]))
    assert refused.status_code == 403
    api = _login(officers[0]).post(f"/api/v1/payments/cycles/{cycle.pk}/send")
    assert api.status_code == 202, api.content
    job_run(job_id=api.json()["id"])
    again = _login(officers[0]).post(f"/api/v1/payments/cycles/{cycle.pk}/send")
    assert again.status_code == 409 and again.json()["error"]["code"] == "nothing_to_send"
    button = _login(officers[0]).post(
        reverse("payments:batches_send", args=[cycle.pk]), follow=True
    )
    assert "No batch is waiting to be sent." in _html(button)
