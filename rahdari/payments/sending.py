"""Sending a cycle's ready batches to the banks and providers, as a resumable job.

Each batch is sent in its own transaction (``services.batch_send``: the bank file or the
G2P Connect disburse request, then the batch marked sent). A crash between the
provider's acknowledgement and the commit leaves the batch ready; the resumed job sends
it again under the same message id, which banks and G2P Connect providers refuse to pay
twice — so every batch reaches its provider, and is paid, once. A provider that refuses
a batch or cannot be reached leaves it ready and the job goes on with the others; it
says which in its result, and the officer sends again later.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from rahdari.accounts.models import User
from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError, Conflict
from rahdari.core.jobs import JobContext, job_create, job_kind
from rahdari.core.models import Job
from rahdari.payments.models import PaymentBatch, PaymentCycle
from rahdari.payments.providers import ProviderUnavailable
from rahdari.payments.services import _require, batch_send

SEND_JOB = "payments.send_batches"


def batches_send_start(*, cycle: PaymentCycle, actor: User | None) -> Job:
    """Start the job that sends every ready batch of an approved cycle. Audited."""
    _require(actor, "payments.prepare_cycles")
    if cycle.status not in (PaymentCycle.Status.APPROVED, PaymentCycle.Status.DISBURSING):
        raise Conflict(_("Only an approved cycle is paid."), code="not_approved")
    ready = cycle.batches.filter(status=PaymentBatch.Status.READY).count()
    if not ready:
        raise Conflict(_("No batch is waiting to be sent."), code="nothing_to_send")
    job = job_create(kind=SEND_JOB, params={"cycle": str(cycle.pk)}, actor=actor)
    audit_record(
        actor=actor, action="payments.sending_started", subject=cycle, changes={"batches": ready}
    )
    return job


@job_kind(SEND_JOB)
def batches_send_job(ctx: JobContext) -> dict[str, Any]:
    cycle = PaymentCycle.objects.get(pk=ctx.job.params["cycle"])
    ready = list(
        cycle.batches.filter(status=PaymentBatch.Status.READY)
        .order_by("number")
        .values_list("pk", flat=True)
    )
    ctx.set_total(ctx.job.done + len(ready))
    sent, refused = 0, []
    for batch_id in ready:
        batch = PaymentBatch.objects.get(pk=batch_id)
        try:
            batch_send(batch=batch, actor=ctx.job.created_by)
        except (ApplicationError, ProviderUnavailable) as exc:
            code = getattr(exc, "code", "provider_unavailable")
            refused.append({"batch": batch.number, "reason": str(code)})
        else:
            sent += 1
        ctx.advance(1, {"sent": sent, "refused": refused})
    return {"sent": sent, "refused": refused}
