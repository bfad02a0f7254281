"""The national ID authority behind one narrow interface, and its reference implementation.

Enrolment asks the authority two things: does this person's name, date of birth
and sex match the register (`verify`), and what does the register hold for a
number (`fetch`). `connector()` returns the configured implementation
(`RAHDARI_NID_CONNECTOR`). The reference one, `ReferenceConnector`, answers from
`NationalIdRecord` (the reference copy of the register, filled by
`reference_import` and `reference_load_synthetic`) with the same rules, latency
and failure modes as the authority's verification service. The production
adapter (HTTPS with mutual TLS) is described in docs/national-id.md.

Nothing here logs or audits personal data: log lines carry the outcome, the
names of mismatched fields and the request reference only.
"""

from __future__ import annotations

import csv
import itertools
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Final, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError
from rahdari.core.keyring import blind_index
from rahdari.core.synthetic import generate_batches
from rahdari.core.validators import clean_cnic
from rahdari.identity.matching import name_similarity
from rahdari.identity.models import NationalIdRecord, Sex
from rahdari.identity.rules import sex_from_national_id

logger = logging.getLogger(__name__)

DEFAULT_CONNECTOR: Final = "rahdari.identity.national_id.ReferenceConnector"

NAME_MATCH_THRESHOLD: Final = 0.90
"""A name matches when `name_similarity` scores it at least this (0..1). The same name
written another way scores 0.93 or more (Muhammad/Mohammad, Yousaf/Yusuf, one typo,
word order); a name with a word missing or changed scores 0.89 or less ("Muhammad
Yousaf" or "Muhammad Younas Khan" against "Muhammad Yousaf Khan"), and is reported
as a mismatch so the name is written as the register has it (docs/national-id.md)."""

CSV_COLUMNS: Final = (
    "national_id",
    "full_name",
    "full_name_ur",
    "guardian_name",
    "date_of_birth",
    "sex",
    "district",
    "deceased",
)
REQUIRED_VALUES: Final = frozenset({"national_id", "full_name", "date_of_birth", "sex"})
MAX_REPORTED_ROW_ERRORS: Final = 50
MAX_NAME_LENGTH: Final = 200
MAX_DISTRICT_LENGTH: Final = 80
_CHUNK: Final = 2000
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE: Final = frozenset({"1", "true", "yes", "y", "t"})
_FALSE: Final = frozenset({"", "0", "false", "no", "n", "f"})
_UPDATED_FIELDS: Final = [
    "national_id",
    "full_name",
    "full_name_ur",
    "guardian_name",
    "date_of_birth",
    "sex",
    "district",
    "deceased",
]
_AUDIT_SUBJECT: Final = ("identity.nationalidrecord", "register")


# --------------------------------------------------------------------------- interface


class VerificationOutcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class VerificationResult:
    """The authority's answer. `mismatched_fields` names the fields that did not match
    ("full_name", "date_of_birth", "sex"); `reference` is the request id to quote."""

    outcome: VerificationOutcome
    mismatched_fields: tuple[str, ...] = ()
    name_score: float = 0.0
    deceased: bool = False
    reference: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON for an enrolment's `verification` column (no personal data)."""
        return {
            "outcome": self.outcome.value,
            "mismatched_fields": list(self.mismatched_fields),
            "name_score": round(self.name_score, 4),
            "deceased": self.deceased,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class Demographics:
    """What the register holds for one national ID number."""

    national_id: str
    full_name: str
    full_name_ur: str
    guardian_name: str
    date_of_birth: date
    sex: str
    district: str
    deceased: bool


class NationalIdUnavailable(Exception):
    """The authority did not answer: timeout, 5xx, maintenance window. Try again later."""


class NationalIdConnector(Protocol):
    """What enrolment needs from the national ID authority (docs/national-id.md)."""

    def verify(
        self,
        *,
        national_id: str,
        full_name: str,
        full_name_ur: str,
        date_of_birth: date,
        sex: str,
    ) -> VerificationResult:
        """Compare the given details with the register. Never raises for an unreachable
        authority: returns outcome UNAVAILABLE, so the caller queues the enrolment."""
        ...

    def fetch(self, *, national_id: str) -> Demographics | None:
        """The register's demographics for a number, None if it has none.
        Raises NationalIdUnavailable when the authority does not answer."""
        ...


def connector() -> NationalIdConnector:
    """The configured connector: an instance of the class `RAHDARI_NID_CONNECTOR` names,
    one per process (so the reference connector's flaky counter spans calls)."""
    return _connector_instance(str(getattr(settings, "RAHDARI_NID_CONNECTOR", DEFAULT_CONNECTOR)))


@cache
def _connector_instance(path: str) -> NationalIdConnector:
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"RAHDARI_NID_CONNECTOR: cannot import {path!r}") from exc
    instance: NationalIdConnector = cls()
    return instance


def connector_reset() -> None:
    """Forget the per-process connector instances (tests that change the setting)."""
    _connector_instance.cache_clear()


# --------------------------------------------------------------------------- reference


def _new_reference() -> str:
    return f"ref-{uuid.uuid4().hex}"


class ReferenceConnector:
    """Answers from `NationalIdRecord` the way the authority's verification service does.

    Rules: the record is found by the blind index of the 13 digits; the name matches
    when `name_similarity` (Latin and Urdu script, transliteration-tolerant) is at
    least NAME_MATCH_THRESHOLD; date of birth and sex must be equal; the deceased
    flag is passed through (a deceased person can still match).

    Settings, read on every call so a test or an operator can change them:
    `RAHDARI_NID_LATENCY_MS` (sleep per call, ± `RAHDARI_NID_LATENCY_JITTER`, a
    fraction, default 0.3), `RAHDARI_NID_MODE` (`available`, `unavailable`, `flaky`)
    and `RAHDARI_NID_FLAKY_RATE` (in flaky mode, the share of calls that fail:
    evenly spaced by a per-instance call counter, so a run is reproducible).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = itertools.count(1)
        # Jitter only shapes timing, never a decision.
        self._random = random.Random()  # noqa: S311

    # ---- the two questions

    def verify(
        self,
        *,
        national_id: str,
        full_name: str,
        full_name_ur: str,
        date_of_birth: date,
        sex: str,
    ) -> VerificationResult:
        reference = _new_reference()
        try:
            record = self._call(national_id)
        except NationalIdUnavailable:
            result = VerificationResult(VerificationOutcome.UNAVAILABLE, reference=reference)
        else:
            result = self._compare(
                record,
                reference=reference,
                full_name=full_name,
                full_name_ur=full_name_ur,
                date_of_birth=date_of_birth,
                sex=sex,
            )
        logger.info(
            "national-id verify reference=%s outcome=%s mismatched=%s",
            reference,
            result.outcome.value,
            ",".join(result.mismatched_fields) or "-",
        )
        return result

    def fetch(self, *, national_id: str) -> Demographics | None:
        reference = _new_reference()
        try:
            record = self._call(national_id)
        except NationalIdUnavailable:
            logger.warning("national-id fetch reference=%s outcome=unavailable", reference)
            raise
        logger.info(
            "national-id fetch reference=%s outcome=%s",
            reference,
            "found" if record else "not_found",
        )
        if record is None:
            return None
        return Demographics(
            national_id=record.national_id,
            full_name=record.full_name,
            full_name_ur=record.full_name_ur,
            guardian_name=record.guardian_name,
            date_of_birth=date.fromisoformat(record.date_of_birth),
            sex=record.sex,
            district=record.district,
            deceased=record.deceased,
        )

    # ---- behaviour of the service

    def _call(self, national_id: str) -> NationalIdRecord | None:
        """One round trip: the wait, then either an outage or the register's row."""
        self._wait()
        if not self._answers():
            raise NationalIdUnavailable("the national ID service did not answer")
        try:
            digits = clean_cnic(national_id)
        except ValidationError:
            return None  # a malformed number is in no register
        return NationalIdRecord.objects.filter(
            national_id_index=blind_index("cnic", digits)
        ).first()

    def _wait(self) -> None:
        latency_ms = float(getattr(settings, "RAHDARI_NID_LATENCY_MS", 0))
        if latency_ms <= 0:
            return
        jitter = min(max(float(getattr(settings, "RAHDARI_NID_LATENCY_JITTER", 0.3)), 0.0), 1.0)
        with self._lock:
            factor = 1.0 + self._random.uniform(-jitter, jitter)
        time.sleep(latency_ms * factor / 1000)

    def _answers(self) -> bool:
        mode = str(getattr(settings, "RAHDARI_NID_MODE", "available")).strip().lower()
        if mode == "available":
            return True
        if mode == "unavailable":
            return False
        if mode == "flaky":
            rate = Fraction(str(getattr(settings, "RAHDARI_NID_FLAKY_RATE", 0.1)))
            rate = min(max(rate, Fraction(0)), Fraction(1))
            with self._lock:
                call = next(self._calls)
            # Call n fails when the running count of failures due (n * rate) steps up:
            # with rate 1/4, calls 4, 8, 12, ... fail; exact fractions, no float drift.
            return int(call * rate) == int((call - 1) * rate)
        raise ImproperlyConfigured(
            f"RAHDARI_NID_MODE must be available, unavailable or flaky, not {mode!r}"
        )

    @staticmethod
    def _compare(
        record: NationalIdRecord | None,
        *,
        reference: str,
        full_name: str,
        full_name_ur: str,
        date_of_birth: date,
        sex: str,
    ) -> VerificationResult:
        if record is None:
            return VerificationResult(VerificationOutcome.NOT_FOUND, reference=reference)
        score = name_similarity(full_name, full_name_ur, record.full_name, record.full_name_ur)
        mismatched: list[str] = []
        if score < NAME_MATCH_THRESHOLD:
            mismatched.append("full_name")
        if record.date_of_birth != date_of_birth.isoformat():
            mismatched.append("date_of_birth")
        if record.sex != str(sex).strip().upper():
            mismatched.append("sex")
        return VerificationResult(
            VerificationOutcome.MISMATCH if mismatched else VerificationOutcome.MATCH,
            mismatched_fields=tuple(mismatched),
            name_score=score,
            deceased=record.deceased,
            reference=reference,
        )


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int

    @property
    def rows(self) -> int:
        return self.created + self.updated


@dataclass
class _Upserter:
    """Writes records in chunks: insert, or update the row with the same blind index."""

    created: int = 0
    updated: int = 0
    _pending: list[NationalIdRecord] = field(default_factory=list)

    def add(self, record: NationalIdRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        chunk, self._pending = self._pending, []
        indexes = [r.national_id_index for r in chunk]
        existing = set(
            NationalIdRecord.objects.filter(national_id_index__in=indexes).values_list(
                "national_id_index", flat=True
            )
        )
        # One INSERT ... ON CONFLICT (national_id_index) DO UPDATE per chunk (SQLite and
        # PostgreSQL): faster than bulk_update's CASE expressions, same result.
        NationalIdRecord.objects.bulk_create(
            chunk,
            update_conflicts=True,
            unique_fields=["national_id_index"],
            update_fields=_UPDATED_FIELDS,
        )
        self.updated += len(existing)
        self.created += len(chunk) - len(existing)


def _record(
    *,
    national_id: str,
    full_name: str,
    full_name_ur: str,
    guardian_name: str,
    date_of_birth: str,
    sex: str,
    district: str,
    deceased: bool,
) -> NationalIdRecord:
    return NationalIdRecord(
        national_id_index=blind_index("cnic", national_id),
        national_id=national_id,
        full_name=full_name,
        full_name_ur=full_name_ur,
        guardian_name=guardian_name,
        date_of_birth=date_of_birth,
        sex=sex,
        district=district,
        deceased=deceased,
    )


def _text(value: str) -> str:
    """Trimmed, inner runs of spaces folded to one."""
    return " ".join(value.split())


def _parse_row(
    row: dict[str | None, Any], *, today: date
) -> tuple[dict[str, Any] | None, list[str]]:
    """Check one CSV row; returns the cleaned values or the row's problems."""
    errors: list[str] = []
    if row.get(None):
        errors.append(_("the row has more values than the header has columns"))
    if any(row.get(column) is None for column in CSV_COLUMNS):
        errors.append(_("the row has fewer values than the header has columns"))
    raw = {column: _text(row.get(column) or "") for column in CSV_COLUMNS}
    for column in sorted(REQUIRED_VALUES - {"national_id"}):
        if not raw[column]:
            errors.append(_("%(column)s: this value is required") % {"column": column})

    national_id = ""
    try:
        national_id = clean_cnic(raw["national_id"])
    except ValidationError as exc:
        errors.append(f"national_id: {exc.messages[0]}")

    for column in ("full_name", "full_name_ur", "guardian_name"):
        if len(raw[column]) > MAX_NAME_LENGTH:
            errors.append(
                _("%(column)s: at most %(limit)d characters")
                % {"column": column, "limit": MAX_NAME_LENGTH}
            )
    if len(raw["district"]) > MAX_DISTRICT_LENGTH:
        errors.append(
            _("%(column)s: at most %(limit)d characters")
            % {"column": "district", "limit": MAX_DISTRICT_LENGTH}
        )

    born = raw["date_of_birth"]
    if born:
        if not _ISO_DATE.fullmatch(born):
            errors.append(_("date_of_birth: write the date as YYYY-MM-DD, e.g. 1986-03-14"))
        else:
            try:
                if date.fromisoformat(born) > today:
                    errors.append(_("date_of_birth: the date is in the future"))
            except ValueError:
                errors.append(_("date_of_birth: there is no such date"))

    sex = raw["sex"].upper()
    if sex and sex not in Sex.values:
        errors.append(_("sex: must be M, F or X"))
    elif sex in (Sex.MALE, Sex.FEMALE) and national_id and sex_from_national_id(national_id) != sex:
        errors.append(
            _("sex: contradicts the national ID number (last digit odd for men, even for women)")
        )

    deceased_text = raw["deceased"].lower()
    if deceased_text not in _TRUE | _FALSE:
        errors.append(_("deceased: write true or false (or leave it empty)"))

    if errors:
        return None, errors
    return {
        "national_id": national_id,
        "full_name": raw["full_name"],
        "full_name_ur": raw["full_name_ur"],
        "guardian_name": raw["guardian_name"],
        "date_of_birth": born,
        "sex": sex,
        "district": raw["district"],
        "deceased": deceased_text in _TRUE,
    }, []


def _invalid_csv(message: str, fields: dict[str, list[str]] | None = None) -> ApplicationError:
    return ApplicationError(message, code="invalid_csv", fields=fields)


def reference_import(*, path: Path, actor: Any) -> ImportSummary:
    """Load the reference register from a CSV file (columns in docs/national-id.md).

    All rows or none: any bad row raises `invalid_csv` with per-row errors and saves
    nothing. Rows are upserted by the national ID's blind index; one audit entry
    records the counts (no personal data).
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ApplicationError(
            _("Cannot read the file: %(reason)s") % {"reason": exc.strerror or exc},
            code="bad_path",
        ) from exc
    with handle:
        try:
            summary = _import_file(handle, actor=actor)
        except UnicodeDecodeError as exc:
            raise _invalid_csv(_("The file is not UTF-8 text; save it as CSV UTF-8.")) from exc
        except csv.Error as exc:
            raise _invalid_csv(
                _("The file is not valid CSV: %(reason)s") % {"reason": exc}
            ) from exc
    logger.info(
        "national-id reference import created=%d updated=%d", summary.created, summary.updated
    )
    return summary


def _import_file(handle: Iterable[str], *, actor: Any) -> ImportSummary:
    reader = csv.DictReader(handle)
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise _invalid_csv(
            _("The file lacks the columns: %(columns)s. Nothing was imported.")
            % {"columns": ", ".join(missing)},
            {"columns": [_("missing: %(column)s") % {"column": c} for c in missing]},
        )
    reader.fieldnames = header
    today = timezone.localdate()
    upserter = _Upserter()
    row_errors: dict[str, list[str]] = {}
    bad_rows = 0
    seen: dict[str, int] = {}  # 13 digits -> row, to catch a number listed twice
    rows = 0
    with transaction.atomic():
        # Row 1 is the header, so row numbers are those a spreadsheet shows.
        for row_number, row in enumerate(reader, start=2):
            rows += 1
            values, errors = _parse_row(row, today=today)
            if values is not None:
                first = seen.setdefault(values["national_id"], row_number)
                if first != row_number:
                    errors = [_("national_id: the same number is on row %(row)d") % {"row": first}]
            if errors:
                bad_rows += 1
                if len(row_errors) < MAX_REPORTED_ROW_ERRORS:
                    row_errors[f"row {row_number}"] = errors
            elif not bad_rows and values is not None:
                # Once a row is bad nothing will be kept: go on checking, stop writing.
                upserter.add(_record(**values))
        if bad_rows:
            first_key = next(iter(row_errors))
            raise _invalid_csv(
                _(
                    "%(bad)d of %(rows)d rows have errors (the first %(shown)d are listed); "
                    "nothing was imported. First: %(row)s: %(error)s"
                )
                % {
                    "bad": bad_rows,
                    "rows": rows,
                    "shown": len(row_errors),
                    "row": first_key,
                    "error": "; ".join(row_errors[first_key]),
                },
                row_errors,
            )
        if not rows:
            raise _invalid_csv(_("The file has a header but no rows. Nothing was imported."))
        upserter.flush()
        audit_record(
            actor=actor,
            action="identity.reference_imported",
            subject=_AUDIT_SUBJECT,
            changes={"rows": rows, "created": upserter.created, "updated": upserter.updated},
        )
    return ImportSummary(created=upserter.created, updated=upserter.updated)


def _synthetic_records(households: int, seed: int) -> Iterator[NationalIdRecord]:
    for batch in generate_batches(households=households, seed=seed, batch_size=10_000):
        district_of = dict(
            zip(
                batch.households["household_id"].tolist(),
                batch.households["district"].tolist(),
                strict=True,
            )
        )
        people = batch.persons
        columns = zip(
            people["national_id"].tolist(),
            people["given_name"].tolist(),
            people["family_name"].tolist(),
            people["given_name_ur"].tolist(),
            people["family_name_ur"].tolist(),
            people["father_or_husband_name"].tolist(),
            people["date_of_birth"].astype(str).tolist(),
            people["sex"].tolist(),
            people["household_id"].tolist(),
            strict=True,
        )
        for national_id, given, family, given_ur, family_ur, guardian, born, sex, hh in columns:
            if not national_id:
                continue
            yield _record(
                national_id=national_id,
                full_name=_text(f"{given} {family}"),
                full_name_ur=_text(f"{given_ur} {family_ur}"),
                guardian_name=guardian,
                date_of_birth=born,
                sex=sex,
                district=district_of[hh],
                deceased=False,
            )


def reference_load_synthetic(*, households: int, seed: int) -> int:
    """Fill the reference register with every person of the synthetic registry
    (`generate_batches(households, seed)`), upserting, in one transaction; one audit
    entry. Returns the number of records written."""
    upserter = _Upserter()
    with transaction.atomic():
        for record in _synthetic_records(households, seed):
            upserter.add(record)
        upserter.flush()
        audit_record(
            actor=None,
            action="identity.reference_loaded_synthetic",
            subject=_AUDIT_SUBJECT,
            changes={
                "households": households,
                "seed": seed,
                "created": upserter.created,
                "updated": upserter.updated,
            },
        )
    logger.info(
        "national-id reference synthetic load created=%d updated=%d",
        upserter.created,
        upserter.updated,
    )
    return upserter.created + upserter.updated
