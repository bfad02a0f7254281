"""Core API: health, the audit log (auditors), job progress."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.core import selectors
from rahdari.core.audit import audit_verify
from rahdari.core.errors import Forbidden, NotFound
from rahdari.core.inbound import inbound_sms_receive

router = Router(tags=["core"])


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, list[str]]


class ErrorOut(Schema):
    error: ErrorDetail


def client_errors(*statuses: int) -> dict[int, Any]:
    """The 4xx answers an endpoint declares, all with the uniform error shape."""
    return dict.fromkeys(statuses, ErrorOut)


class HealthCheck(Schema):
    ok: bool
    detail: str


class HealthOut(Schema):
    ok: bool
    database: HealthCheck
    migrations: HealthCheck
    worker: HealthCheck


@router.get(
    "/health",
    response={200: HealthOut, 503: HealthOut},
    auth=None,
    summary="Database, migrations and background worker",
)
def health(request: HttpRequest) -> Status[dict[str, Any]]:
    checks: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True, "detail": connection.vendor}
    except Exception as exc:  # the point of a health check is to report, not to crash
        checks["database"] = {"ok": False, "detail": type(exc).__name__}
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = {"ok": not pending, "detail": f"{len(pending)} pending"}
    except Exception as exc:
        checks["migrations"] = {"ok": False, "detail": type(exc).__name__}
    checks["worker"] = _worker_check()
    ok = all(c["ok"] for c in checks.values())
    return Status(200 if ok else 503, {"ok": ok, **checks})


def _worker_check() -> dict[str, Any]:
    """A worker is healthy when no task has waited in the queue for more than 2 minutes."""
    try:
        from django_tasks_db.models import DBTaskResult

        waiting = DBTaskResult.objects.filter(status="READY")
        oldest = waiting.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    except Exception as exc:
        return {"ok": False, "detail": type(exc).__name__}
    if oldest is None:
        return {"ok": True, "detail": "queue empty"}
    age = (timezone.now() - oldest).total_seconds()
    return {"ok": age < 120, "detail": f"{waiting.count()} waiting, oldest {int(age)} s"}


class AuditEntryOut(Schema):
    seq: int
    at: datetime
    actor_label: str
    action: str
    subject_type: str
    subject_id: str
    changes: dict[str, Any]
    chain_pos: int | None = Field(
        None, description="Place in the hash chain; empty for a moment after the commit"
    )
    prev_hash: str | None
    entry_hash: str | None


class AuditFilter(Schema):
    action: str = ""
    actor: str = ""
    subject_type: str = ""
    subject_id: str = ""
    since: date | None = None
    until: date | None = None


class ChainReportOut(Schema):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str


def _auditor(request: HttpRequest) -> None:
    if not request.user.has_perm("core.view_audit_log"):
        raise Forbidden("You may not read the audit log.")


@router.get(
    "/audit/entries",
    response={200: list[AuditEntryOut], 401: ErrorOut, 403: ErrorOut},
    auth=django_auth,
    summary="Audit entries, newest first (auditors)",
)
@paginate(LimitOffsetPagination)
def audit_entries(request: HttpRequest, filters: Query[AuditFilter]) -> Any:
    _auditor(request)
    return selectors.audit_entries(**filters.dict())


@router.post(
    "/audit/verify",
    response={200: ChainReportOut, 401: ErrorOut, 403: ErrorOut},
    auth=django_auth,
    summary="Re-check the whole audit hash chain",
)
def audit_chain_verify(request: HttpRequest) -> dict[str, Any]:
    _auditor(request)
    report = audit_verify()
    return {
        "ok": report.ok,
        "checked": report.checked,
        "first_bad_seq": report.first_bad_seq,
        "problem": report.problem,
    }


class JobOut(Schema):
    id: UUID
    kind: str
    status: str
    total: int
    done: int
    percent: int
    message: str
    result: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None


@router.get(
    "/jobs/{job_id}",
    response={200: JobOut, 401: ErrorOut, 404: ErrorOut},
    auth=django_auth,
    summary="Progress of a long job",
)
def job_get(request: HttpRequest, job_id: UUID) -> Any:
    job = selectors.jobs_for(request.user).filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job


class InboundAckOut(Schema):
    id: str = Field(description="The gateway's message id, as sent")
    outcome: str = Field(description="handled, not_understood or refused")
    handler: str = Field(description="The handler that acted on it, e.g. payments.cash_out")


@router.post(
    "/sms/inbound/{gateway}",
    response={200: InboundAckOut, **client_errors(401, 422)},
    auth=None,
    summary="An SMS a person sent to the platform's number (from the SMS gateway)",
    description=(
        "The SMS gateway posts each received message as JSON: `id` (the gateway's message "
        "id, 1–64 characters), `from` (the sender's mobile number), `text` (at most 480 "
        "characters) and optionally `received_at` (ISO 8601 with offset), signed with "
        "HMAC-SHA256 of the exact body bytes under the gateway's shared secret, in hex, in "
        "the `X-Rahdari-Signature` header. The message is kept once (encrypted) and "
        "handled by the first app that recognises it (e.g. YES or an amount confirms a "
        "cash-out); anything else gets a help reply. Errors: 401 `bad_signature`, 422 "
        "`malformed_sms`; refusals are audited and change nothing. The same `id` twice "
        "is acknowledged with the first outcome."
    ),
)
def sms_inbound(request: HttpRequest, gateway: str) -> dict[str, Any]:
    message = inbound_sms_receive(
        gateway=gateway[:24],
        body=request.body,
        signature=request.headers.get("X-Rahdari-Signature", ""),
    )
    return {"id": message.gateway_id, "outcome": message.outcome, "handler": message.handler}
