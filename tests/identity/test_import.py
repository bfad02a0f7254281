"""A persons import that crashes half way resumes from its checkpoint without duplicates."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rahdari.core.jobs import job_create, job_run
from rahdari.core.models import Job
from rahdari.identity import imports, services
from rahdari.identity.models import Person

pytestmark = pytest.mark.django_db


def test_crash_half_way_resumes_without_duplicates(
    registered: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    names = [
        "Gulalai Afridi",
        "Zarmina Khattak",
        "Palwasha Yousafzai",
        "Nasreen Bangash",
        "Wagma Shinwari",
    ]
    people = [
        registered(full_name=name, date_of_birth=date(1970 + 4 * i, 1 + i, 3 + i))
        for i, name in enumerate(names)
    ]
    path = tmp_path / "persons.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "national_id",
                "given_name",
                "family_name",
                "sex",
                "date_of_birth",
                "district",
                "mobile",
                "id_document",
            ]
        )
        for p in people:
            given, family = p.full_name.rsplit(" ", 1)
            writer.writerow(
                [
                    p.national_id,
                    given,
                    family,
                    p.sex,
                    p.date_of_birth.isoformat(),
                    p.district.name,
                    p.mobile,
                    "cnic",
                ]
            )

    real_enrol = services.person_enrol
    calls = {"n": 0}

    def dies_on_the_third_row(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real_enrol(**kwargs)

    monkeypatch.setattr(imports.services, "person_enrol", dies_on_the_third_row)
    job = job_create(
        kind="identity.import_persons", params={"path": str(path)}, actor=None, enqueue=False
    )
    with pytest.raises(RuntimeError):
        job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.done == 2 and job.checkpoint["row"] == 3

    monkeypatch.setattr(imports.services, "person_enrol", real_enrol)
    job = job_run(job_id=str(job.pk))
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert job.result == {"approved": 5}
    assert Person.objects.count() == 5
    assert len(set(Person.objects.values_list("national_id_index", flat=True))) == 5
