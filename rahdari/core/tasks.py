"""Background tasks (Django's Tasks API; the database backend shares one queue)."""

from __future__ import annotations

from django_tasks import task

from rahdari.core import jobs


@task()
def run_job(job_id: str) -> None:
    jobs.job_run(job_id=job_id)
