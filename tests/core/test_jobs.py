"""Jobs: progress, checkpoints, resuming stale jobs, and the progress page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from rahdari.accounts.roles import Role
from rahdari.core.jobs import JobContext, job_create, job_kind, job_run, jobs_resume_stale
from rahdari.core.models import Job

RUNS: list[int] = []


@job_kind("test.count")
def _count(ctx: JobContext) -> dict[str, Any]:
    start = ctx.job.checkpoint.get("next", 0)
    ctx.set_total(ctx.job.params["n"])
    for i in range(start, ctx.job.params["n"]):
        with transaction.atomic():
            if ctx.job.params.get("fail_at") == i and ctx.job.attempts == 1:
                raise RuntimeError("boom")
            RUNS.append(i)
            ctx.advance(1, {"next": i + 1})
    return {"counted": ctx.job.params["n"]}


@pytest.mark.django_db
def test_job_reports_progress_and_result() -> None:
    RUNS.clear()
    seen: list[int] = []
    job = job_create(kind="test.count", params={"n": 5}, actor=None, enqueue=False)
    job = job_run(job_id=str(job.pk), on_progress=lambda j: seen.append(j.done))
    assert job.status == Job.Status.SUCCEEDED and job.result == {"counted": 5}
    assert job.percent == 100
    assert seen[-1] == 5 and seen == sorted(seen)


@pytest.mark.django_db
def test_failed_job_resumes_from_checkpoint_without_duplicates() -> None:
    RUNS.clear()
    job = job_create(kind="test.count", params={"n": 6, "fail_at": 3}, actor=None, enqueue=False)
    with pytest.raises(RuntimeError):
        job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.checkpoint == {"next": 3}
    job = job_run(job_id=str(job.pk))
    assert job.status == Job.Status.SUCCEEDED
    assert RUNS == [0, 1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_stale_running_job_is_requeued(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    job = job_create(kind="test.count", params={"n": 1}, actor=None, enqueue=False)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    resumed = jobs_resume_stale()
    assert [j.pk for j in resumed] == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


@pytest.mark.django_db
def test_unknown_job_kind_is_refused() -> None:
    from rahdari.core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        job_create(kind="nope", params={}, actor=None)


@pytest.mark.django_db
def test_progress_page_polls_while_running_and_partial_for_htmx(staff_client: Any) -> None:
    client = staff_client(Role.ADMINISTRATOR)
    job = job_create(kind="test.count", params={"n": 3}, actor=client.user, enqueue=False)
    page = client.get(reverse("core:job_detail", args=[job.pk]))
    assert page.status_code == 200
    assert b'hx-trigger="every 1s"' in page.content and b"<html" in page.content
    partial = client.get(reverse("core:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b'<progress id="job-bar"' in partial.content
    job_run(job_id=str(job.pk))
    done = client.get(reverse("core:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert b"hx-trigger" not in done.content and b'data-job-status="succeeded"' in done.content


@pytest.mark.django_db
def test_someone_elses_job_is_not_visible(staff_client: Any) -> None:
    owner = staff_client(Role.PROGRAM_OFFICER, ["Swat"])
    other = staff_client(Role.GRIEVANCE_OFFICER, ["Swat"])
    job = job_create(kind="test.count", params={"n": 1}, actor=owner.user, enqueue=False)
    assert owner.get(reverse("core:job_detail", args=[job.pk])).status_code == 200
    assert other.get(reverse("core:job_detail", args=[job.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_worker_runs_an_enqueued_job_through_the_task_queue() -> None:
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    RUNS.clear()
    job = job_create(kind="test.count", params={"n": 4}, actor=None)  # enqueued on commit
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", "-v", "0")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.done == 4
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
