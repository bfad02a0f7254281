"""Persons from a CSV file (the columns `rahdari seed --export-csv` writes), and the
all-pairs duplicate report over the registry or over a file.

An import is a resumable job: each row goes through the same enrolment service as a
person at the counter (verified, checked for duplicates, numbered), the job's
checkpoint is the last row done, and a re-run after a crash continues from there.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from rahdari.core.errors import ApplicationError
from rahdari.core.jobs import JobContext, job_kind
from rahdari.core.models import District
from rahdari.core.validators import clean_cnic, clean_mobile
from rahdari.identity import matching, services
from rahdari.identity.models import Enrolment, Person, PersonStatus

REQUIRED = ("national_id", "given_name", "family_name", "sex", "date_of_birth")
IMPORT_PURPOSE = "Imported from a registry file under the platform's enrolment rules: {source}"


def _households_beside(path: Path) -> dict[str, dict[str, str]]:
    """district/tehsil/village per household, from households.csv in the same folder."""
    beside = path.with_name("households.csv")
    if not beside.exists():
        return {}
    with beside.open(encoding="utf-8-sig", newline="") as handle:
        return {r["household_id"]: r for r in csv.DictReader(handle)}


def read_persons(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of persons.csv with their district filled from households.csv when needed."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ApplicationError(
            _("Cannot read the file: %(reason)s") % {"reason": exc.strerror}, code="bad_path"
        ) from exc
    households = _households_beside(path)
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if "district" not in (reader.fieldnames or []) and not households:
            missing.append("district (or a households.csv beside the file)")
        if missing:
            raise ApplicationError(
                _("Missing columns: %(cols)s") % {"cols": ", ".join(missing)},
                code="invalid_csv",
                fields={"columns": missing},
            )
        for number, row in enumerate(reader, start=2):
            household = households.get(row.get("household_id", ""), {})
            for key in ("district", "tehsil", "village", "union_council"):
                row.setdefault(key, household.get(key, ""))
                if not row[key]:
                    row[key] = household.get(key, "")
            yield number, row


def _row_data(row: dict[str, str], districts: dict[str, District]) -> services.PersonData:
    errors: list[str] = []
    try:
        national_id = clean_cnic(row["national_id"])
    except ValidationError:
        errors.append("national_id: not a valid CNIC/CRC")
        national_id = row["national_id"]
    mobile = (row.get("mobile") or "").strip()
    if mobile:
        try:
            mobile = clean_mobile(mobile)
        except ValidationError:
            errors.append("mobile: not a Pakistani mobile number")
    try:
        born = date.fromisoformat(row["date_of_birth"].strip())
    except ValueError:
        errors.append("date_of_birth: not a date (YYYY-MM-DD)")
        born = date(1900, 1, 1)
    district = districts.get(row.get("district", "").strip())
    if district is None:
        errors.append("district: unknown")
    sex = row["sex"].strip().upper()
    if sex not in ("M", "F", "X"):
        errors.append("sex: use M, F or X")
    if errors:
        raise ApplicationError("; ".join(errors), code="invalid_row")
    full = f"{row['given_name'].strip()} {row['family_name'].strip()}".strip()
    full_ur = (
        f"{row.get('given_name_ur', '').strip()} {row.get('family_name_ur', '').strip()}".strip()
    )
    document = (row.get("id_document") or "").strip() or "cnic"
    assert district is not None
    return services.PersonData(
        national_id=national_id,
        id_document=document,
        full_name=full,
        full_name_ur=full_ur,
        guardian_name=(row.get("father_or_husband_name") or "").strip(),
        guardian_name_ur=(row.get("father_or_husband_name_ur") or "").strip(),
        date_of_birth=born,
        sex=sex,
        mobile=mobile,
        district=district,
        tehsil=row.get("tehsil", ""),
        union_council=row.get("union_council", ""),
        village=row.get("village", ""),
    )


def persons_validate(path: Path) -> int:
    """Check every row before anything is saved; raise one error listing bad rows."""
    districts = {d.name: d for d in District.objects.all()}
    problems: dict[str, list[str]] = {}
    rows = 0
    for number, row in read_persons(path):
        rows += 1
        try:
            services.clean_person_data(_row_data(row, districts))
        except ApplicationError as error:
            detail = [f"{k}: {', '.join(v)}" for k, v in error.fields.items()] or [
                str(error.message)
            ]
            problems[f"row {number}"] = detail
    if problems:
        shown = dict(list(problems.items())[:50])
        raise ApplicationError(
            _("%(bad)d of %(rows)d rows have errors; nothing was imported.")
            % {"bad": len(problems), "rows": rows},
            code="invalid_csv",
            fields=shown,
        )
    return rows


@job_kind("identity.import_persons")
def persons_import(ctx: JobContext) -> dict[str, Any]:
    """Enrol every row of a validated file; resumes after the last row done."""
    path = Path(ctx.job.params["path"])
    start_after = int(ctx.job.checkpoint.get("row", 1))
    if start_after <= 1:
        ctx.set_total(persons_validate(path))
    districts = {d.name: d for d in District.objects.all()}
    outcome: dict[str, int] = dict(ctx.job.checkpoint.get("outcome", {}))  # resumed runs add up
    purpose = IMPORT_PURPOSE.format(source=path.name)
    for number, row in read_persons(path):
        if number <= start_after:
            continue
        data = _row_data(row, districts)
        try:
            enrolment = services.person_enrol(
                data=data,
                channel=Enrolment.Channel.IMPORT,
                consent_purpose=purpose,
                consent_language="en",
                actor=None,
            )
            status = enrolment.status
        except ApplicationError as error:
            status = error.code  # e.g. already_enrolled: reported, not fatal
        outcome[status] = outcome.get(status, 0) + 1
        with transaction.atomic():
            ctx.advance(1, {"row": number, "outcome": outcome})
    return outcome


def _record_from_row(number: int, row: dict[str, str]) -> matching.PersonRecord:
    try:
        born: date | None = date.fromisoformat(row["date_of_birth"].strip())
    except ValueError:
        born = None
    return matching.PersonRecord(
        id=row.get("person_id") or f"row {number}",
        full_name=f"{row['given_name']} {row['family_name']}".strip(),
        full_name_ur=f"{row.get('given_name_ur', '')} {row.get('family_name_ur', '')}".strip(),
        guardian_name=row.get("father_or_husband_name", ""),
        guardian_name_ur=row.get("father_or_husband_name_ur", ""),
        date_of_birth=born,
        birth_year=born.year if born else None,
        sex=row["sex"].strip().upper(),
        district=row.get("district", ""),
        mobile=row.get("mobile", ""),
    )


def dedup_records(*, csv_path: Path | None) -> list[matching.PersonRecord]:
    if csv_path is not None:
        return [_record_from_row(n, row) for n, row in read_persons(csv_path)]
    live = Person.objects.filter(
        status__in=(PersonStatus.ACTIVE, PersonStatus.SUSPENDED)
    ).select_related("district")
    return [services.person_record(p) for p in live.iterator(chunk_size=5000)]


def dedup_report(*, csv_path: Path | None, threshold: float | None = None) -> list[dict[str, Any]]:
    """Every suspected pair with its score and components, best first."""
    records = dedup_records(csv_path=csv_path)
    pairs = matching.find_duplicates(
        records, threshold if threshold is not None else matching.REVIEW_THRESHOLD
    )
    if csv_path is None:  # show Rahdari numbers, not internal ids
        numbers = dict(
            Person.objects.filter(pk__in={p.a for p in pairs} | {p.b for p in pairs}).values_list(
                "pk", "rahdari_number"
            )
        )
        label = {str(k): v or str(k) for k, v in numbers.items()}
    else:
        label = {}
    return sorted(
        (
            {
                "a": label.get(p.a, p.a),
                "b": label.get(p.b, p.b),
                "score": round(p.score, 4),
                "components": {k: round(v, 3) for k, v in p.components.items()},
            }
            for p in pairs
        ),
        key=lambda d: -d["score"],
    )
