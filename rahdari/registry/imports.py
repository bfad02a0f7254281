"""Households from `rahdari seed` files (households.csv + persons.csv, the columns of
docs/synthetic-data.md) into the registry, as a resumable job.

Two passes. The first reads both files and checks every row (survey answers,
district, members, national IDs unique in the file and not active in another
household); if any row is bad, the job stops with every problem listed by file and
row number, and nothing is saved. The second writes households, members and their
NSER-2025 survey response in chunks: each chunk's rows, one audit entry and the
job's checkpoint commit together, so a crash resumes after the last chunk and a
re-run skips households whose number exists — nothing is imported twice.

persons.csv lists each household's members together, in the order of
households.csv (as `rahdari seed` writes it): both files are read side by side,
so a million households need no more memory than one chunk.
"""

from __future__ import annotations

import csv
import hmac
import re
import secrets
import time
import uuid
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rahdari.core.audit import audit_record
from rahdari.core.errors import ApplicationError
from rahdari.core.fields import EncryptedTextField
from rahdari.core.jobs import JobContext, job_create, job_kind, job_run
from rahdari.core.keyring import keyring
from rahdari.core.models import District, Job
from rahdari.core.synthetic import REFERENCE_DATE
from rahdari.core.validators import clean_cnic
from rahdari.identity.models import Person, Sex
from rahdari.registry import survey
from rahdari.registry.models import (
    Household,
    HouseholdMember,
    MaritalStatus,
    Relationship,
    SurveyResponse,
)
from rahdari.registry.services import LIVE_PERSON, survey_round_ensure

JOB_KIND = "registry.import_households"
ROUND_CODE = "NSER-2025"
ROUND_NAME = "National socio-economic registry survey 2025"
COLLECTED_ON = date.fromisoformat(str(REFERENCE_DATE))
CHUNK_HOUSEHOLDS = 5_000
LOOKUP_BATCH = 5_000
SQLITE_CACHE_KIB = 512 * 1024
SHOWN_PROBLEMS = 50

HOUSEHOLD_REQUIRED = ("household_id", "district", "area", *survey.SURVEY_NAMES)
PERSON_REQUIRED = (
    "household_id",
    "member_no",
    "relationship",
    "sex",
    "date_of_birth",
    "marital_status",
    "national_id",
)
# A valid CNIC/CRC already in its compact form (stdnum.pk.cnic's rules: province 1-7,
# last digit 1-9): the fast path; anything else goes through clean_cnic.
_COMPACT_CNIC = re.compile(r"[1-7]\d{11}[1-9]")
_RELATIONSHIPS = frozenset(Relationship.values)
_SEXES = frozenset(Sex.values)
_MARITAL = frozenset(MaritalStatus.values)
_AREAS = frozenset(survey.AREAS)


@dataclass
class _Problems:
    """Problems by "file row N", counted in full, the first few hundred kept."""

    found: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0

    def add(self, where: str, message: str) -> None:
        if where not in self.found:
            self.rows += 1
            if len(self.found) >= 500:
                return
            self.found[where] = []
        self.found[where].append(message)


@dataclass
class _Member:
    line: int
    member_no: int
    relationship: str
    sex: str
    birth_year: int
    marital_status: str
    national_id: str
    has_disability: bool


@dataclass
class _Household:
    line: int
    number: str
    district: str
    tehsil: str
    union_council: str
    village: str
    village_ur: str
    area: str
    answers: dict[str, survey.Value]
    members: list[_Member]


class _Reader:
    """Both files side by side: each household row with its member rows."""

    household_columns: dict[str, int]
    person_columns: dict[str, int]
    answer_columns: list[tuple[str, int]]

    def __init__(self, directory: Path) -> None:
        self.households_path = directory / "households.csv"
        self.persons_path = directory / "persons.csv"
        for path in (self.households_path, self.persons_path):
            if not path.is_file():
                raise ApplicationError(
                    _("%(file)s is missing in %(dir)s.") % {"file": path.name, "dir": directory},
                    code="bad_path",
                )

    def fingerprint(self) -> list[int]:
        """Size and modification time of both files: a resumed import checks they did
        not change since it began."""
        stats = [self.households_path.stat(), self.persons_path.stat()]
        return [value for s in stats for value in (s.st_size, s.st_mtime_ns)]

    def rows(
        self, problems: _Problems | None = None
    ) -> Iterator[tuple[int, list[str], list[tuple[int, list[str]]]]]:
        """(line, household cells, [(line, person cells)]) in file order. Persons that do
        not follow their household's turn are reported (or raise without a collector)."""
        with (
            self.households_path.open(encoding="utf-8-sig", newline="") as households_file,
            self.persons_path.open(encoding="utf-8-sig", newline="") as persons_file,
        ):
            households = csv.reader(households_file)
            persons = csv.reader(persons_file)
            self.household_columns = self._header(households, HOUSEHOLD_REQUIRED, "households.csv")
            self.person_columns = self._header(persons, PERSON_REQUIRED, "persons.csv")
            self.answer_columns = [(n, self.household_columns[n]) for n in survey.SURVEY_NAMES]
            person_key = self.person_columns["household_id"]
            household_key = self.household_columns["household_id"]

            def number_of(cells: list[str] | None, key: int) -> str | None:
                if cells is None:
                    return None
                return cells[key] if len(cells) > key else ""

            numbered = enumerate(persons, start=2)
            pending = next(numbered, None)
            rows = enumerate(households, start=2)
            current = next(rows, None)
            while current is not None:
                following = next(rows, None)
                line, cells = current
                number = number_of(cells, household_key)
                next_number = number_of(following[1] if following else None, household_key)
                members = []
                while pending is not None:
                    owner = number_of(pending[1], person_key)
                    if owner == number:
                        members.append(pending)
                    elif owner == next_number:
                        break  # this household's members are done
                    else:
                        message = _(
                            "household %(number)s: its members are not listed together in "
                            "the order of households.csv, or it is not in households.csv"
                        ) % {"number": owner}
                        if problems is None:
                            raise ApplicationError(message, code="invalid_csv")
                        problems.add(f"persons.csv row {pending[0]}", message)
                    pending = next(numbered, None)
                yield line, cells, members
                current = following

    @staticmethod
    def _header(reader: Any, required: tuple[str, ...], name: str) -> dict[str, int]:
        header = next(reader, None) or []
        columns = {column.strip(): i for i, column in enumerate(header)}
        missing = [c for c in required if c not in columns]
        if missing:
            raise ApplicationError(
                _("%(file)s lacks the columns: %(cols)s")
                % {"file": name, "cols": ", ".join(missing)},
                code="invalid_csv",
                fields={name: missing},
            )
        return columns


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    i = columns.get(name)
    return cells[i].strip() if i is not None and i < len(cells) else ""


def _parse(
    reader: _Reader,
    line: int,
    cells: list[str],
    members: list[tuple[int, list[str]]],
    problems: _Problems | None,
) -> _Household:
    """One household and its members, typed; problems are collected when asked for."""
    hc, pc = reader.household_columns, reader.person_columns
    where = f"households.csv row {line}"
    if len(cells) < len(hc):
        if problems is not None:
            problems.add(
                where, _("expected %(n)d cells, found %(m)d") % {"n": len(hc), "m": len(cells)}
            )
        cells = cells + [""] * (len(hc) - len(cells))
    answers, answer_problems = survey.parse_answers(
        {name: cells[i] for name, i in reader.answer_columns}
    )
    household = _Household(
        line=line,
        number=cells[hc["household_id"]].strip(),
        district=cells[hc["district"]].strip(),
        tehsil=_cell(cells, hc, "tehsil"),
        union_council=_cell(cells, hc, "union_council"),
        village=_cell(cells, hc, "village"),
        village_ur=_cell(cells, hc, "village_ur"),
        area=cells[hc["area"]].strip(),
        answers=answers,
        members=[],
    )
    if problems is not None:
        if not household.number or len(household.number) > 16:
            problems.add(where, _("household_id: 1 to 16 characters"))
        if household.area not in _AREAS:
            problems.add(where, _("area: urban or rural"))
        for name in ("tehsil", "union_council"):
            if len(getattr(household, name)) > 80:
                problems.add(where, _("%(name)s: at most 80 characters") % {"name": name})
        unreadable = {p.variable for p in answer_problems}
        all_problems = answer_problems + [
            p for p in survey.validate_answers(answers) if p.variable not in unreadable
        ]
        for problem in all_problems:
            problems.add(where, f"{problem.variable}: {problem.detail}")
    i_no, i_born, i_nid, i_rel, i_sex, i_marital = (
        pc[name]
        for name in (
            "member_no",
            "date_of_birth",
            "national_id",
            "relationship",
            "sex",
            "marital_status",
        )
    )
    i_disabled = pc.get("has_disability")
    width = len(pc)
    this_year = timezone.localdate().year
    append = household.members.append
    for person_line, person in members:
        errors: list[str] = []
        if len(person) < width:
            errors.append(_("expected %(n)d cells, found %(m)d") % {"n": width, "m": len(person)})
            person = person + [""] * (width - len(person))
        try:
            member_no = int(person[i_no])
            if member_no < 1:
                raise ValueError
        except ValueError:
            errors.append(_("member_no: a whole number from 1"))
            member_no = 0
        try:
            birth_year = date.fromisoformat(person[i_born].strip()).year
            if not this_year - 120 <= birth_year <= this_year:
                errors.append(_("date_of_birth: not a possible date of birth"))
        except ValueError:
            errors.append(_("date_of_birth: not a date (YYYY-MM-DD)"))
            birth_year = 0
        national_id = person[i_nid]
        if not _COMPACT_CNIC.fullmatch(national_id):
            try:
                national_id = clean_cnic(national_id)
            except ValidationError:
                errors.append(_("national_id: not a valid CNIC/CRC number"))
        disabled_text = person[i_disabled].strip() if i_disabled is not None else "0"
        relationship = person[i_rel].strip()
        sex = person[i_sex].strip().upper()
        marital = person[i_marital].strip()
        if problems is not None:
            if relationship not in _RELATIONSHIPS:
                errors.append(_("relationship: unknown"))
            if sex not in _SEXES:
                errors.append(_("sex: M, F or X"))
            if marital not in _MARITAL:
                errors.append(_("marital_status: unknown"))
            if disabled_text not in ("0", "1", ""):
                errors.append(_("has_disability: 0 or 1"))
            for error in errors:
                problems.add(f"persons.csv row {person_line}", error)
        append(
            _Member(
                line=person_line,
                member_no=member_no,
                relationship=relationship,
                sex=sex,
                birth_year=birth_year,
                marital_status=marital,
                national_id=national_id,
                has_disability=disabled_text == "1",
            )
        )
    if problems is not None:
        _check_members(household, where, problems)
    return household


def _check_members(household: _Household, where: str, problems: _Problems) -> None:
    members = household.members
    if not members:
        problems.add(
            where,
            _(
                "no members in persons.csv (each household's members are listed together, "
                "in the order of households.csv)"
            ),
        )
        return
    size = household.answers.get("household_size")
    if isinstance(size, int) and size != len(members):
        problems.add(
            where,
            _("household_size is %(size)d but persons.csv lists %(n)d members")
            % {"size": size, "n": len(members)},
        )
    heads = sum(1 for m in members if m.relationship == Relationship.HEAD)
    if heads != 1:
        problems.add(where, _("exactly one member is the head (found %(n)d)") % {"n": heads})
    numbers = [m.member_no for m in members]
    if len(set(numbers)) != len(numbers):
        problems.add(where, _("two members have the same member_no"))


class _WriteRow(NamedTuple):
    """A household of a validated file, ready to write: answers already packed."""

    number: str
    district: str
    tehsil: str
    union_council: str
    village: str
    village_ur: str
    area: str
    packed: str
    # (member_no, relationship, sex, birth_year, marital_status, national_id, disability)
    members: list[tuple[int, str, str, int, str, str, bool]]


def _packers(reader: _Reader) -> list[tuple[int, Callable[[str], str]]]:
    """Per survey column: its cell and the text of its packed value (survey.pack's
    codes), for cells the validation pass accepted."""
    packers: list[tuple[int, Callable[[str], str]]] = []
    for spec in survey.SURVEY_VARIABLES:
        column = reader.household_columns[spec.name]
        if spec.kind == "category":
            packers.append((column, _category_packer(spec.categories)))
        elif spec.kind == "bool":
            packers.append((column, _pack_bool))
        elif spec.integer:
            packers.append((column, _pack_int))
        else:
            packers.append((column, _pack_decimal))
    return packers


_BOOL_SPEC = survey.VariableSpec("flag", "bool")


def _category_packer(categories: tuple[str, ...]) -> Callable[[str], str]:
    codes = {name: str(code) for code, name in enumerate(categories)}
    return lambda text: codes[text.strip()]


def _pack_bool(text: str) -> str:
    return "1" if survey.parse_text(_BOOL_SPEC, text) else "0"


def _pack_int(text: str) -> str:
    return str(int(text))


def _pack_decimal(text: str) -> str:
    return repr(float(text))  # as json.dumps writes a float


def _row_for_write(
    reader: _Reader,
    packers: list[tuple[int, Callable[[str], str]]],
    cells: list[str],
    members: list[tuple[int, list[str]]],
) -> _WriteRow:
    hc, pc = reader.household_columns, reader.person_columns
    i_no, i_born, i_nid, i_rel, i_sex, i_marital = (
        pc["member_no"],
        pc["date_of_birth"],
        pc["national_id"],
        pc["relationship"],
        pc["sex"],
        pc["marital_status"],
    )
    i_disabled = pc.get("has_disability")
    rows = []
    for _line, person in members:
        national_id = person[i_nid]
        if not _COMPACT_CNIC.fullmatch(national_id):
            national_id = clean_cnic(national_id)
        rows.append(
            (
                int(person[i_no]),
                person[i_rel].strip(),
                person[i_sex].strip().upper(),
                date.fromisoformat(person[i_born].strip()).year,
                person[i_marital].strip(),
                national_id,
                i_disabled is not None and person[i_disabled].strip() == "1",
            )
        )
    return _WriteRow(
        number=cells[hc["household_id"]].strip(),
        district=cells[hc["district"]].strip(),
        tehsil=_cell(cells, hc, "tehsil"),
        union_council=_cell(cells, hc, "union_council"),
        village=_cell(cells, hc, "village"),
        village_ur=_cell(cells, hc, "village_ur"),
        area=cells[hc["area"]].strip(),
        packed="[" + ",".join(pack(cells[i]) for i, pack in packers) + "]",
        members=rows,
    )


@dataclass(frozen=True)
class ValidationSummary:
    households: int
    new_households: int
    persons: int


def registry_validate(directory: Path) -> ValidationSummary:
    """Check every row of both files against the rules and the database; raise one
    ApplicationError listing the bad rows (file and row number). Saves nothing."""
    reader = _Reader(directory)
    problems = _Problems()
    districts = dict(District.objects.values_list("name", "pk"))
    existing = _existing_numbers()
    check_members = HouseholdMember.objects.filter(active=True).exists()
    cnic_index = compact_cnic_index(keyring().index_key)
    seen: set[str] = set()
    ids, lines = array("q"), array("q")
    pending_index: list[tuple[str, int]] = []
    households = persons = new = 0
    for line, cells, members in reader.rows(problems):
        household = _parse(reader, line, cells, members, problems)
        households += 1
        persons += len(household.members)
        where = f"households.csv row {line}"
        if household.number in seen:
            problems.add(where, _("household_id: appears twice in the file"))
        seen.add(household.number)
        if household.district not in districts:
            problems.add(where, _("district: unknown"))
        if household.number in existing:
            continue  # imported before: skipped, its members were checked then
        new += 1
        for member in household.members:
            if member.national_id.isdigit():
                ids.append(int(member.national_id))
                lines.append(member.line)
                if check_members:
                    pending_index.append((cnic_index(member.national_id), member.line))
        if len(pending_index) >= LOOKUP_BATCH:
            _check_active_elsewhere(pending_index, problems)
            pending_index = []
    if pending_index:
        _check_active_elsewhere(pending_index, problems)
    _check_unique_ids(ids, lines, problems)
    if problems.found:
        shown = dict(sorted(problems.found.items(), key=_row_order)[:SHOWN_PROBLEMS])
        raise ApplicationError(
            _("%(bad)d rows have errors; nothing was imported.") % {"bad": problems.rows},
            code="invalid_csv",
            fields=shown,
        )
    return ValidationSummary(households=households, new_households=new, persons=persons)


def _row_order(item: tuple[str, list[str]]) -> tuple[str, int]:
    name, _sep, number = item[0].rpartition(" row ")
    return name, int(number)


def _existing_numbers() -> set[str]:
    if not Household.objects.exists():
        return set()
    return set(Household.objects.values_list("number", flat=True).iterator(chunk_size=50_000))


def _check_active_elsewhere(pending: list[tuple[str, int]], problems: _Problems) -> None:
    line_of = dict(pending)
    taken = HouseholdMember.objects.filter(
        active=True, national_id_index__in=list(line_of)
    ).values_list("national_id_index", flat=True)
    for index in taken:
        problems.add(
            f"persons.csv row {line_of[index]}",
            _("national_id: already an active member of a household in the registry"),
        )


def _check_unique_ids(ids: array[int], lines: array[int], problems: _Problems) -> None:
    values = np.frombuffer(ids, dtype=np.int64)
    if values.size < 2:
        return
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    repeated = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    rows = np.frombuffer(lines, dtype=np.int64)[order]
    for i in repeated.tolist():
        problems.add(
            f"persons.csv row {int(rows[i])}",
            _("national_id: the same number as persons.csv row %(row)d")
            % {"row": int(rows[i - 1])},
        )


# --------------------------------------------------------------------------- writing


class _Writer:
    """Inserts rows set-based: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"

    def insert(
        self, model: type[models.Model], names: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        meta = model._meta
        columns = ", ".join(connection.ops.quote_name(_column(meta.get_field(n))) for n in names)
        table = connection.ops.quote_name(meta.db_table)
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(names))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def _context(model: type[models.Model], name: str) -> str:
    """The associated data an EncryptedTextField seals its values with."""
    field = model._meta.get_field(name)
    assert isinstance(field, EncryptedTextField)
    return field.context()


def _column(field: Any) -> str:
    assert isinstance(field, models.Field) and field.column
    return str(field.column)


HOUSEHOLD_FIELDS = [
    "id",
    "created_at",
    "updated_at",
    "number",
    "district",
    "tehsil",
    "union_council",
    "village",
    "village_ur",
    "area",
    "status",
]
MEMBER_FIELDS = [
    "created_at",
    "updated_at",
    "household",
    "person",
    "national_id_index",
    "member_no",
    "relationship",
    "sex",
    "birth_year",
    "marital_status",
    "has_disability",
    "active",
]
RESPONSE_FIELDS = [
    "household",
    "round",
    "version",
    "is_current",
    "collected_on",
    "source",
    "layout_version",
    "answers",
    "provenance",
    "reason",
    "created_at",
]


@dataclass
class _Outcome:
    households: int = 0
    members: int = 0
    skipped_existing: int = 0
    linked_persons: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "households": self.households,
            "members": self.members,
            "skipped_existing": self.skipped_existing,
            "linked_persons": self.linked_persons,
        }


def compact_cnic_index(index_key: bytes) -> Callable[[str], str]:
    """`blind_index("cnic", n)` for a number already in its compact 13-digit form, where
    normalising changes nothing: one HMAC call instead of a character-by-character pass
    (3 µs to 1 µs a member; tests/registry checks both give the same index)."""
    prefix = b"cnic\x00"

    def index(national_id: str) -> str:
        return hmac.digest(index_key, prefix + national_id.encode("ascii"), "sha256").hex()

    return index


def _time_ordered_ids() -> Iterator[uuid.UUID]:
    """UUID version 7 (RFC 9562): milliseconds since 1970, then a counter and random bits.
    Ids that grow with time are appended to the end of every index that holds them
    (households, members, responses) instead of landing at random places."""
    last_ms, counter = 0, 0
    while True:
        ms = time.time_ns() // 1_000_000
        if ms <= last_ms:
            ms, counter = last_ms, counter + 1
        else:
            counter = secrets.randbits(8)
        last_ms = ms
        if counter >= 1 << 12:  # 4,096 ids in one millisecond: borrow the next one
            last_ms, counter = ms + 1, 0
            ms = last_ms
        value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | secrets.randbits(62)
        yield uuid.UUID(int=value)


class _ChunkWriter:
    def __init__(self, round_id: int) -> None:
        self.writer = _Writer()
        self.ids = _time_ordered_ids()
        self.round_id = round_id
        self.districts = dict(District.objects.values_list("name", "pk"))
        self.link_persons = Person.objects.filter(status__in=LIVE_PERSON).exists()
        ring = keyring()
        self.encrypt = ring.encrypt
        self.cnic_index = compact_cnic_index(ring.index_key)
        self.village_context = _context(Household, "village")
        self.village_ur_context = _context(Household, "village_ur")
        self.answers_context = _context(SurveyResponse, "answers")
        pk = Household._meta.pk
        assert pk is not None
        self.pk_prep = pk.get_db_prep_value
        self.collected_on = SurveyResponse._meta.get_field("collected_on").get_db_prep_value(
            COLLECTED_ON, connection
        )
        self.provenance = SurveyResponse._meta.get_field("provenance").get_db_prep_value(
            {}, connection
        )

    def write(self, chunk: list[_WriteRow], outcome: _Outcome) -> None:
        now = Household._meta.get_field("created_at").get_db_prep_value(timezone.now(), connection)
        household_rows, member_rows, response_rows = [], [], []
        index = self.cnic_index
        indexes = [[index(m[5]) for m in h.members] for h in chunk]
        persons = self._persons({i for group in indexes for i in group})
        encrypt = self.encrypt
        for household, member_indexes in zip(chunk, indexes, strict=True):
            hid = self.pk_prep(next(self.ids), connection)
            household_rows.append(
                (
                    hid,
                    now,
                    now,
                    household.number,
                    self.districts[household.district],
                    household.tehsil,
                    household.union_council,
                    encrypt(household.village, self.village_context) if household.village else "",
                    encrypt(household.village_ur, self.village_ur_context)
                    if household.village_ur
                    else "",
                    household.area,
                    Household.Status.ACTIVE.value,
                )
            )
            for member, nid_index in zip(household.members, member_indexes, strict=True):
                person = persons.get(nid_index)
                outcome.linked_persons += person is not None
                number, relationship, sex, born, marital, _nid, disabled = member
                member_rows.append(
                    (
                        now,
                        now,
                        hid,
                        person,
                        nid_index,
                        number,
                        relationship,
                        sex,
                        born,
                        marital,
                        disabled,
                        True,
                    )
                )
            response_rows.append(
                (
                    hid,
                    self.round_id,
                    1,
                    True,
                    self.collected_on,
                    SurveyResponse.Source.SURVEY.value,
                    survey.LAYOUT_VERSION,
                    encrypt(household.packed, self.answers_context),
                    self.provenance,
                    "",
                    now,
                )
            )
        self.writer.insert(Household, HOUSEHOLD_FIELDS, household_rows)
        member_rows.sort(key=itemgetter(4))  # the national-ID index fills in key order
        self.writer.insert(HouseholdMember, MEMBER_FIELDS, member_rows)
        self.writer.insert(SurveyResponse, RESPONSE_FIELDS, response_rows)
        outcome.households += len(household_rows)
        outcome.members += len(member_rows)

    def _persons(self, indexes: set[str]) -> dict[str, Any]:
        """Enrolled persons by blind index, as the member's person column value."""
        if not self.link_persons or not indexes:
            return {}
        found: dict[str, Any] = {}
        wanted = list(indexes)
        pk = Person._meta.pk
        assert pk is not None
        for start in range(0, len(wanted), LOOKUP_BATCH):
            for index, person_id in Person.objects.filter(
                national_id_index__in=wanted[start : start + LOOKUP_BATCH],
                status__in=LIVE_PERSON,
            ).values_list("national_id_index", "pk"):
                found[index] = pk.get_db_prep_value(person_id, connection)
        return found


@contextmanager
def _large_sqlite_cache() -> Iterator[None]:
    """The members' national-ID index takes inserts at random places; SQLite's default
    2 MB page cache makes each of them a disk read once the index outgrows it."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


@job_kind(JOB_KIND)
def households_import(ctx: JobContext) -> dict[str, Any]:
    """Validate both files (first run), then write them chunk by chunk (resumable)."""
    reader = _Reader(Path(ctx.job.params["directory"]))
    checkpoint = ctx.job.checkpoint
    if not checkpoint:
        summary = registry_validate(reader.households_path.parent)
        ctx.set_total(summary.households)
        checkpoint = {"households": 0, "fingerprint": reader.fingerprint(), "outcome": {}}
    elif checkpoint.get("fingerprint") != reader.fingerprint():
        raise ApplicationError(
            _("The files changed since this import began; start a new import."),
            code="files_changed",
        )
    round_id = survey_round_ensure(code=ROUND_CODE, name=ROUND_NAME, started_on=COLLECTED_ON).pk
    with _large_sqlite_cache():
        return _write_all(ctx, reader, checkpoint, round_id)


def _write_all(
    ctx: JobContext, reader: _Reader, checkpoint: dict[str, Any], round_id: int
) -> dict[str, Any]:
    done = int(checkpoint["households"])
    outcome = _Outcome(**checkpoint.get("outcome", {}))
    existing = _existing_numbers()
    writer = _ChunkWriter(round_id)
    if "deferred_index" not in checkpoint:
        _defer_national_id_index(ctx, checkpoint)
    packers: list[tuple[int, Callable[[str], str]]] = []
    chunk: list[_WriteRow] = []
    seen = 0
    position = 0
    for _line, cells, members in reader.rows():
        position += 1
        if position <= done:
            continue  # written by an earlier run of this job
        if not packers:
            packers = _packers(reader)
        seen += 1
        household = _row_for_write(reader, packers, cells, members)
        if household.number in existing:
            outcome.skipped_existing += 1
        else:
            chunk.append(household)
        if seen == CHUNK_HOUSEHOLDS:
            _commit(ctx, writer, chunk, outcome, position, checkpoint, seen)
            chunk, seen = [], 0
    if seen:
        _commit(ctx, writer, chunk, outcome, position, checkpoint, seen)
    if checkpoint["deferred_index"]:
        _restore_national_id_index(ctx, checkpoint)
    return outcome.as_dict()


# The one index whose keys arrive in random order (HMACs): a load into an empty registry
# builds it once at the end, sorted, as pg_restore does, instead of inserting into it
# row by row (at a million households that is most of the time on SQLite).
DEFERRED_INDEX = "national_id_active_in_one_household"


def _deferred_constraint() -> models.UniqueConstraint:
    found = next(c for c in HouseholdMember._meta.constraints if c.name == DEFERRED_INDEX)
    assert isinstance(found, models.UniqueConstraint)
    return found


def _defer_national_id_index(ctx: JobContext, checkpoint: dict[str, Any]) -> None:
    """With no member yet, drop the index; the drop and the checkpoint that says so
    commit together, so a resumed job always rebuilds it."""
    with transaction.atomic():
        defer = not HouseholdMember.objects.exists()
        if defer:
            editor = connection.schema_editor()
            sql = _deferred_constraint().remove_sql(HouseholdMember, editor)
            with connection.cursor() as cursor:
                cursor.execute(str(sql))
        checkpoint["deferred_index"] = defer
        ctx.advance(0, checkpoint)


def _restore_national_id_index(ctx: JobContext, checkpoint: dict[str, Any]) -> None:
    """Build the index over everything loaded; a national ID listed twice (only possible
    if someone added members while the load ran) fails here, loudly."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            present = DEFERRED_INDEX in connection.introspection.get_constraints(
                cursor, HouseholdMember._meta.db_table
            )
        if not present:
            editor = connection.schema_editor()
            sql = _deferred_constraint().create_sql(HouseholdMember, editor)
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    if connection.vendor == "postgresql":
                        # Foreign keys are checked at commit; PostgreSQL builds no index
                        # over rows whose checks are still pending in this transaction.
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute(str(sql))
            except IntegrityError as exc:
                raise ApplicationError(
                    _(
                        "A national ID is an active member of two households; the import "
                        "cannot finish until one of them leaves."
                    ),
                    code="national_id_conflict",
                ) from exc
        checkpoint["deferred_index"] = False
        ctx.advance(0, checkpoint)


def _commit(
    ctx: JobContext,
    writer: _ChunkWriter,
    chunk: list[_WriteRow],
    outcome: _Outcome,
    position: int,
    checkpoint: dict[str, Any],
    advanced: int,
) -> None:
    with transaction.atomic():
        before = _Outcome(**outcome.as_dict())
        try:
            writer.write(chunk, outcome)
            if chunk:
                audit_record(
                    actor=None,
                    action="registry.households_imported",
                    subject=ctx.job,
                    changes={
                        "households": outcome.households - before.households,
                        "members": outcome.members - before.members,
                        "first": chunk[0].number,
                        "last": chunk[-1].number,
                    },
                )
            checkpoint.update(households=position, outcome=outcome.as_dict())
            ctx.advance(advanced, checkpoint)
        except BaseException:
            outcome.__dict__.update(before.__dict__)  # the chunk rolled back
            raise


def registry_import(*, directory: Path, actor: Any = None) -> Job:
    """Import the households of a `rahdari seed` folder in this process (a job, so a
    crash is resumed with `job_run`); returns the finished job."""
    job = job_create(
        kind=JOB_KIND, params={"directory": str(directory.resolve())}, actor=actor, enqueue=False
    )
    return job_run(job_id=str(job.pk))
