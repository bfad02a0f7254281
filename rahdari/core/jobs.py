"""Long operations as resumable jobs with progress.

A job kind is a function registered with `@job_kind("app.name")`. It works in
chunks; for each chunk it opens a transaction, does the work and calls
`ctx.advance(n, checkpoint)` inside that same transaction, so the checkpoint and
the work commit together. If the worker dies, `jobs_resume_stale()` (run by
`rahdari worker` at start and every minute) re-enqueues the job and the handler
continues from `job.checkpoint` — nothing is done twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError
from rahdari.core.models import Job

logger = logging.getLogger(__name__)

ProgressHook = Callable[[Job], None]
MAX_ATTEMPTS = 3
"""A failed job is retried until it has run this many times; then it stays failed."""


@dataclass
class JobContext:
    job: Job
    on_progress: ProgressHook | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def set_total(self, total: int) -> None:
        Job.objects.filter(pk=self.job.pk).update(total=total, heartbeat_at=timezone.now())
        self.job.total = total
        self._notify()

    def advance(self, done: int, checkpoint: dict[str, Any], message: str = "") -> None:
        """Record progress; call inside the transaction that did the chunk's work."""
        self.job.done = min(self.job.done + done, self.job.total or self.job.done + done)
        self.job.checkpoint = checkpoint
        if message:
            self.job.message = message[:300]
        Job.objects.filter(pk=self.job.pk).update(
            done=self.job.done,
            checkpoint=checkpoint,
            message=self.job.message,
            heartbeat_at=timezone.now(),
        )
        self._notify()

    def _notify(self) -> None:
        if self.on_progress:
            self.on_progress(self.job)


JobHandler = Callable[[JobContext], dict[str, Any]]
_KINDS: dict[str, JobHandler] = {}


def job_kind(name: str) -> Callable[[JobHandler], JobHandler]:
    def register(handler: JobHandler) -> JobHandler:
        _KINDS[name] = handler
        return handler

    return register


def job_kinds() -> list[str]:
    return sorted(_KINDS)


def job_create(*, kind: str, params: dict[str, Any], actor: Any, enqueue: bool = True) -> Job:
    """Create a job; with enqueue, a worker picks it up once the transaction commits."""
    if kind not in _KINDS:
        raise ApplicationError(f"unknown job kind {kind!r}", code="unknown_job_kind")
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            params=params,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(actor=actor, action="core.job_created", subject=job, changes={"kind": kind})
        if enqueue:
            transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: Job) -> None:
    from rahdari.core.tasks import run_job

    run_job.enqueue(str(job.pk))


def job_run(*, job_id: str, on_progress: ProgressHook | None = None) -> Job:
    """Run (or resume) a job in this process. Safe to call again after a crash."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status == Job.Status.SUCCEEDED:
            return job
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "updated_at"])
    ctx = JobContext(job=job, on_progress=on_progress)
    try:
        result = _KINDS[job.kind](ctx)
    except Exception as exc:
        if isinstance(exc, ApplicationError):  # a rule said no: no traceback needed
            logger.warning("job %s (%s) stopped: %s", job.pk, job.kind, exc.code)
        else:
            logger.exception("job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:300],
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        raise
    with transaction.atomic():
        job.refresh_from_db()
        job.status = Job.Status.SUCCEEDED
        job.result = result
        job.done = job.total
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "result", "done", "finished_at", "updated_at"])
        audit_record(
            actor=None, action="core.job_succeeded", subject=job, changes={"kind": job.kind}
        )
    if on_progress:
        on_progress(job)
    return job


_PERIODIC: dict[str, Callable[[], object]] = {}


def register_periodic(name: str, hook: Callable[[], object]) -> None:
    """A check the worker runs every minute (e.g. retry enrolments waiting for an authority)."""
    _PERIODIC[name] = hook


def run_periodic() -> dict[str, str]:
    """Run every registered hook; one failing hook does not stop the others."""
    outcome: dict[str, str] = {}
    for name, hook in _PERIODIC.items():
        try:
            hook()
            outcome[name] = "ok"
        except Exception as exc:
            logger.exception("periodic hook %s failed", name)
            outcome[name] = type(exc).__name__
    return outcome


def jobs_resume_stale() -> list[Job]:
    """Re-enqueue jobs whose worker stopped sending heartbeats (crashed or killed)."""
    cutoff = timezone.now() - settings.RAHDARI_JOB_STALE_AFTER
    stale = list(Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff))
    stale += list(Job.objects.filter(status=Job.Status.FAILED, attempts__lt=MAX_ATTEMPTS))
    for job in stale:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, heartbeat_at=timezone.now())
        _enqueue(job)
    return stale
