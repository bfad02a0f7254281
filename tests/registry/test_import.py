"""Importing `rahdari seed` files: a good folder, bad rows listed (nothing saved), a
re-run that adds nothing, and a crash half way that resumes without duplicates."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from rahdari.core.jobs import job_create, job_run
from rahdari.core.keyring import blind_index, keyring
from rahdari.core.models import AuditEntry, Job
from rahdari.core.synthetic import generate_batches, write_csv
from rahdari.registry import imports, selectors, services, survey
from rahdari.registry.models import Household, HouseholdMember, SurveyResponse
from tests.identity.conftest import enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_csv(generate_batches(households=40, seed=11), tmp_path)
    return tmp_path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _index_present() -> bool:
    with connection.cursor() as cursor:
        names = connection.introspection.get_constraints(cursor, HouseholdMember._meta.db_table)
    return imports.DEFERRED_INDEX in names


def test_good_folder(folder: Path, registered: Any, make_staff: Any, settings: Any) -> None:
    from rahdari.accounts.roles import Role

    households, persons = _rows(folder / "households.csv"), _rows(folder / "persons.csv")
    # One member is already enrolled: the import links him.
    adult = next(p for p in persons if p["id_document"] == "cnic" and p["sex"] == "M")
    settings.RAHDARI_NID_LATENCY_MS = 0
    data = registered(national_id=adult["national_id"], sex="M")
    person = enrol(data, make_staff(Role.ENROLMENT_OFFICER, ["Swat"])).person

    job = imports.registry_import(directory=folder)
    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {
        "households": 40,
        "members": len(persons),
        "skipped_existing": 0,
        "linked_persons": 1,
    }
    assert Household.objects.count() == 40 and HouseholdMember.objects.count() == len(persons)
    linked = HouseholdMember.objects.get(person=person)
    assert linked.national_id_index == blind_index("cnic", adult["national_id"])
    assert _index_present()

    first = Household.objects.get(number=households[0]["household_id"])
    assert first.district.name == households[0]["district"]
    assert (
        first.village == households[0]["village"]
        and first.village_ur == households[0]["village_ur"]
    )
    response = first.responses.get()
    assert (response.version, response.source, str(response.collected_on)) == (
        1,
        "survey",
        "2025-07-01",
    )
    assert response.round.code == "NSER-2025"
    expected, problems = survey.parse_answers(households[0])
    assert problems == [] and services.unpack_answers(response) == expected

    disabled = {p["household_id"] for p in persons if p["has_disability"] == "1"}
    flagged = {h["household_id"] for h in households if h["has_disabled_member"] == "1"}
    assert disabled == flagged
    table = selectors.household_table()
    assert len(table["household_id"]) == 40
    assert int(table["members_with_disability"].sum()) == len(disabled)
    entries = AuditEntry.objects.filter(action="registry.households_imported")
    assert sum(e.changes["households"] for e in entries) == 40


def test_bad_rows_are_all_listed_and_nothing_is_saved(folder: Path) -> None:
    households, persons = _rows(folder / "households.csv"), _rows(folder / "persons.csv")
    households[1]["district"] = "Atlantis"
    households[2]["roof_material"] = "thatch"
    households[3]["rooms"] = "many"
    persons[0]["sex"] = "Q"
    persons[1]["national_id"] = persons[2]["national_id"]
    persons[4]["date_of_birth"] = "1990-13-45"
    _write(folder / "households.csv", households)
    _write(folder / "persons.csv", persons)
    job = job_create(
        kind=imports.JOB_KIND, params={"directory": str(folder)}, actor=None, enqueue=False
    )
    with pytest.raises(Exception) as caught:
        job_run(job_id=str(job.pk))
    error = caught.value
    assert getattr(error, "code", "") == "invalid_csv"
    fields = error.fields  # type: ignore[attr-defined]
    assert fields["households.csv row 3"] == ["district: unknown"]
    assert fields["households.csv row 4"] == [
        "roof_material: expected one of rcc, t_iron_girder, iron_sheet, wood_mud"
    ]
    assert fields["households.csv row 5"] == ["rooms: expected a whole number"]
    assert fields["persons.csv row 2"] == ["sex: M, F or X"]
    assert fields["persons.csv row 4"] == ["national_id: the same number as persons.csv row 3"]
    assert fields["persons.csv row 6"] == ["date_of_birth: not a date (YYYY-MM-DD)"]
    assert not Household.objects.exists() and not SurveyResponse.objects.exists()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED


def test_members_out_of_place_are_reported_precisely(folder: Path) -> None:
    persons = _rows(folder / "persons.csv")
    household_of_last = persons[-1]["household_id"]
    _write(folder / "persons.csv", [persons[-1], *persons[:-1]])
    with pytest.raises(Exception) as caught:
        imports.registry_validate(folder)
    fields = caught.value.fields  # type: ignore[attr-defined]
    # The misplaced row, and the household it is missing from: nothing else.
    assert set(fields) == {"persons.csv row 2", "households.csv row 41"}
    assert household_of_last in fields["persons.csv row 2"][0]
    assert "persons.csv lists" in fields["households.csv row 41"][0]


def test_rerun_adds_nothing(folder: Path) -> None:
    imports.registry_import(directory=folder)
    again = imports.registry_import(directory=folder)
    assert again.result["households"] == 0 and again.result["skipped_existing"] == 40
    assert Household.objects.count() == 40
    assert SurveyResponse.objects.count() == 40


def test_crash_half_way_resumes_without_duplicates(folder: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "CHUNK_HOUSEHOLDS", 15)
    real_write = imports._ChunkWriter.write
    calls = {"n": 0}

    def dies_on_the_second_chunk(self: Any, chunk: Any, outcome: Any) -> None:
        calls["n"] += 1
        real_write(self, chunk, outcome)
        if calls["n"] == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(imports._ChunkWriter, "write", dies_on_the_second_chunk)
    job = job_create(
        kind=imports.JOB_KIND, params={"directory": str(folder)}, actor=None, enqueue=False
    )
    with pytest.raises(RuntimeError):
        job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.done == 15
    assert job.checkpoint["households"] == 15 and job.checkpoint["deferred_index"] is True
    assert Household.objects.count() == 15  # the second chunk rolled back
    assert not _index_present()

    monkeypatch.setattr(imports._ChunkWriter, "write", real_write)
    job = job_run(job_id=str(job.pk))
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert job.result["households"] == 40 and job.result["skipped_existing"] == 0
    assert Household.objects.count() == 40
    assert SurveyResponse.objects.filter(is_current=True).count() == 40
    assert HouseholdMember.objects.values("household", "member_no").distinct().count() == (
        HouseholdMember.objects.count()
    )
    assert _index_present()


def test_a_changed_file_is_not_resumed(folder: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "CHUNK_HOUSEHOLDS", 15)
    monkeypatch.setattr(
        imports._ChunkWriter, "write", lambda *a: (_ for _ in ()).throw(RuntimeError("killed"))
    )
    job = job_create(
        kind=imports.JOB_KIND, params={"directory": str(folder)}, actor=None, enqueue=False
    )
    with pytest.raises(RuntimeError):
        job_run(job_id=str(job.pk))
    with (folder / "households.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    with pytest.raises(Exception) as caught:
        job_run(job_id=str(job.pk))
    assert getattr(caught.value, "code", "") == "files_changed"


def test_fast_paths_agree_with_the_reference_ones(folder: Path) -> None:
    index = imports.compact_cnic_index(keyring().index_key)
    for number in ("1730112345671", "2110100000012", "1520200010031"):
        assert index(number) == blind_index("cnic", number)
    reader = imports._Reader(folder)
    packers: list[Any] = []
    for _line, cells, members in reader.rows():
        packers = packers or imports._packers(reader)
        row = imports._row_for_write(reader, packers, cells, members)
        texts = {name: cells[i] for name, i in reader.answer_columns}
        answers, problems = survey.parse_answers(texts)
        assert not problems
        assert json.loads(row.packed) == survey.pack(answers)
        assert row.packed == json.dumps(survey.pack(answers), separators=(",", ":"))
