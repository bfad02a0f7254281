"""Reads of the registry: the staff lists, one household's members and history, and the
column tables that targeting computes on (a million households at a time).

The column tables are set-based: one SQL statement gives every household with its
current answers (still encrypted) and the counts derived from its members (one GROUP
BY); answers are decrypted in one tight loop and turned into NumPy columns in one go.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from rahdari.accounts.models import User
from rahdari.core.keyring import keyring
from rahdari.core.models import AuditEntry, District
from rahdari.core.sql import among
from rahdari.identity.models import Person
from rahdari.identity.selectors import persons_visible_to
from rahdari.registry import survey
from rahdari.registry.models import Household, HouseholdMember, SurveyResponse

Table = dict[str, npt.NDArray[Any]]
ANSWERS_CONTEXT = "registry.surveyresponse.answers"
FETCH_ROWS = 20_000
EVER_MARRIED = ("married", "widowed", "divorced")


# --------------------------------------------------------------------------- staff pages


def households_visible_to(user: User) -> QuerySet[Household]:
    """An officer sees the households of their districts; administrators all."""
    households = Household.objects.select_related("district")
    if user.all_districts:
        return households
    return households.filter(district__in=user.districts.all())


def normalise_household_number(text: str) -> str:
    """ "HH0000012345", "hh 12345" and "12345" all name household HH0000012345."""
    compact = "".join(text.split()).upper()
    digits = compact[2:] if compact.startswith("HH") else compact
    if digits.isdigit() and len(digits) <= 10:
        return "HH" + digits.zfill(10)
    return compact


def household_search(
    *, user: User, query: str = "", district: District | None = None
) -> QuerySet[Household]:
    households = households_visible_to(user)
    if district is not None:
        households = households.filter(district=district)
    if query.strip():
        households = households.filter(number=normalise_household_number(query))
    return households.order_by("number")


@dataclass(frozen=True)
class MemberRow:
    member: HouseholdMember
    person: Person | None  # None: not enrolled yet, or outside the officer's districts


def household_members(*, household: Household, user: User) -> list[MemberRow]:
    """Members in order, with their names from identity where the officer may see them."""
    members = list(household.members.order_by("-active", "member_no"))
    linked = [m.person_id for m in members if m.person_id]
    persons = {p.pk: p for p in persons_visible_to(user).filter(pk__in=linked)} if linked else {}
    return [MemberRow(m, persons.get(m.person_id) if m.person_id else None) for m in members]


def current_response(household: Household) -> SurveyResponse | None:
    """The household's current answers (still to be unpacked), or None."""
    return household.responses.filter(is_current=True).select_related("round").first()


def response_history(household: Household) -> QuerySet[SurveyResponse]:
    return household.responses.select_related("round", "recorded_by").order_by("-version")


def reads_of_household(household: Household) -> QuerySet[AuditEntry]:
    """Who opened this household's answers, with purpose."""
    return AuditEntry.objects.filter(
        subject_type=Household._meta.label_lower,
        subject_id=str(household.pk),
        action="registry.household.viewed",
    ).order_by("-seq")


def household_of_person(person: Person) -> Household | None:
    member = (
        HouseholdMember.objects.select_related("household__district")
        .filter(person=person, active=True)
        .first()
    )
    return member.household if member else None


# --------------------------------------------------------------------------- column tables


def _scope_sql(
    alias: str, district: District | int | None, households: Any
) -> tuple[str, list[Any]]:
    """WHERE conditions (and their parameters) for the households asked for."""
    where = [f"{alias}.status = %s"]
    params: list[Any] = [Household.Status.ACTIVE.value]
    if district is not None:
        where.append(f"{alias}.district_id = %s")
        params.append(district.pk if isinstance(district, District) else int(district))
    if households is not None:
        if isinstance(households, QuerySet):
            sub, sub_params = households.values("pk").query.sql_with_params()
            where.append(f"{alias}.id IN ({sub})")
            params.extend(sub_params)
        else:
            ids = [h.pk if isinstance(h, Household) else uuid.UUID(str(h)) for h in households]
            condition, param = among(f"{alias}.id", ids)
            where.append(condition)
            params.append(param)
    return " AND ".join(where), params


def _id_sql(column: str) -> str:
    """A UUID column as text: canonical on PostgreSQL; SQLite stores 32 hex digits."""
    return f"CAST({column} AS text)" if connection.vendor == "postgresql" else column


def _canonical(raw: str) -> str:
    if len(raw) == 32:
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return raw


def _code_sql(column: str, codes: tuple[str, ...]) -> str:
    whens = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(codes))
    return f"CASE {column} {whens} ELSE -1 END"


def _members_sql(scope: str | None) -> str:
    """The active members, of the households in ``scope`` (None: of every household).

    Unscoped, SQLite reads the table straight through (NOT INDEXED) and groups in a
    temporary b-tree: walking it in (household, member_no) index order costs a row
    lookup per member, 3x slower at a million households. Scoped (a district), the
    index finds the few households' members directly."""
    table = HouseholdMember._meta.db_table
    if scope is None:
        source = f"{table} m NOT INDEXED" if connection.vendor == "sqlite" else f"{table} m"
        return f"{source} WHERE m.active"
    households = Household._meta.db_table
    return f"{table} m WHERE m.active AND m.household_id IN (SELECT h2.id FROM {households} h2 WHERE {scope})"  # noqa: S608, E501


def _derived_sql(member_scope: str | None) -> str:
    """One GROUP BY over the active members: the DERIVED counts per household, only for
    households where a count is not zero (the others get 0 from the LEFT JOIN)."""
    married = ", ".join(f"'{m}'" for m in EVER_MARRIED)
    woman = f"m.sex = 'F' AND m.birth_year <= %s AND m.marital_status IN ({married})"
    return f"""
        SELECT m.household_id,
               SUM(CASE WHEN {woman} THEN 1 ELSE 0 END) AS ever_married_women,
               SUM(CASE WHEN m.has_disability THEN 1 ELSE 0 END) AS members_with_disability
        FROM {_members_sql(member_scope)} AND (({woman}) OR m.has_disability)
        GROUP BY m.household_id
    """  # noqa: S608 — table names and codes come from the models, values are parameters


def household_table(
    *,
    district: District | int | None = None,
    households: Iterable[Any] | None = None,
    as_of: datetime | None = None,
) -> Table:
    """Columns for every active household with a current answer set (in household-number
    order): ``household_id`` (UUID text), ``number``, ``district_id``, ``area`` (code of
    survey.AREAS), every survey variable (categories int16 codes, booleans bool, whole
    numbers int64, decimals float64) and the DERIVED counts from the active members
    (women are counted from the year they turn 18: only the year of birth is kept).

    ``households``: a queryset or ids restricting the table (e.g. one program's).
    ``as_of``: the answers as they stood at that moment (the version current then, of
    the households registered by then) — what a targeting run reads, so a run that
    resumes after a crash sees the same registry. Members are counted as they are now.
    """
    household_t = Household._meta.db_table
    response_t = SurveyResponse._meta.db_table
    scope, params = _scope_sql("h", district, households)
    scoped = district is not None or households is not None
    member_scope, member_params = _scope_sql("h2", district, households)
    adult_born_by = timezone.localdate().year - 18
    current, registered, moment = "r.is_current", "", []
    if as_of is not None:
        current = "r.created_at <= %s AND (r.superseded_at IS NULL OR r.superseded_at > %s)"
        registered, moment = " AND h.created_at <= %s", [as_of, as_of]
    sql = f"""
        SELECT {_id_sql("h.id")}, h.number, h.district_id,
               {_code_sql("h.area", survey.AREAS)}, r.answers,
               COALESCE(d.ever_married_women, 0), COALESCE(d.members_with_disability, 0)
        FROM {household_t} h
        JOIN {response_t} r ON r.household_id = h.id AND {current}
        LEFT JOIN ({_derived_sql(member_scope if scoped else None)}) d
            ON d.household_id = h.id
        WHERE {scope}{registered}
        ORDER BY h.number
    """  # noqa: S608 — table names and codes come from the models, values are parameters
    decrypt_many = keyring().decrypt_many
    loads = json.loads
    parts: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        # In the order they appear: the SELECT's count, the members' scope, the filter.
        derived_params = [adult_born_by, *(member_params if scoped else []), adult_born_by]
        cursor.execute(sql, [*moment, *derived_params, *params, *([as_of] if registered else [])])
        while rows := cursor.fetchmany(FETCH_ROWS):
            ids, numbers, districts, areas, answers, women, disabled = zip(*rows, strict=True)
            # One JSON document per chunk: the C scanner without a call per household.
            plain = ",".join(decrypt_many(answers, ANSWERS_CONTEXT))
            packed = loads(f"[{plain}]")
            parts.append((ids, numbers, districts, areas, packed, women, disabled))
    return _columns(parts)


def _columns(parts: list[tuple[Any, ...]]) -> Table:
    def joined(i: int) -> list[Any]:
        return [value for part in parts for value in part[i]]

    width = len(survey.SURVEY_VARIABLES)
    packed = joined(4)
    values = np.array(packed, dtype=np.float64) if packed else np.zeros((0, width))
    table: Table = {
        "household_id": np.array([_canonical(str(i)) for i in joined(0)], dtype=object),
        "number": np.array(joined(1), dtype=object),
        "district_id": np.array(joined(2), dtype=np.int64),
        "area": np.array(joined(3), dtype=np.int16),
    }
    for i, spec in enumerate(survey.SURVEY_VARIABLES):
        column = values[:, i]
        if spec.kind == "category":
            table[spec.name] = column.astype(np.int16)
        elif spec.kind == "bool":
            table[spec.name] = column != 0
        elif spec.integer:
            table[spec.name] = column.astype(np.int64)
        else:
            table[spec.name] = column.copy()
    table["ever_married_women"] = np.array(joined(5), dtype=np.int64)
    table["members_with_disability"] = np.array(joined(6), dtype=np.int64)
    return table


def person_table(
    *,
    district: District | int | None = None,
    households: Iterable[Any] | None = None,
    table: Table | None = None,
) -> Table:
    """One row per active member of the households in ``table`` (the household_table of
    the same scope, built if not given), in household then member order:
    ``household_row`` (index into the household columns:
    ``table[name][persons["household_row"]]``), ``member_id``, ``person_id`` (UUID text,
    "" when not enrolled), and the PERSON_VARIABLES (``age`` this year from the year of
    birth; categories as int16 codes of survey.SEXES, MARITAL_STATUSES, RELATIONSHIPS)."""
    if table is None:
        table = household_table(district=district, households=households)
    scoped = district is not None or households is not None
    scope, params = _scope_sql("h2", district, households)
    sql = f"""
        SELECT {_id_sql("m.household_id")}, m.member_no, m.id, {_id_sql("m.person_id")},
               m.birth_year, {_code_sql("m.sex", survey.SEXES)},
               {_code_sql("m.marital_status", survey.MARITAL_STATUSES)},
               {_code_sql("m.relationship", survey.RELATIONSHIPS)},
               CASE WHEN m.has_disability THEN 1 ELSE 0 END
        FROM {_members_sql(scope if scoped else None)}
    """  # noqa: S608 — table names and codes come from the models, values are parameters
    raw_ids = table["household_id"].tolist()
    if connection.vendor != "postgresql":
        raw_ids = [i.replace("-", "") for i in raw_ids]
    row_of = {raw: row for row, raw in enumerate(raw_ids)}
    rows_parts: list[npt.NDArray[np.int64]] = []
    number_parts: list[npt.NDArray[np.int64]] = []
    person_parts: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params if scoped else [])
        while rows := cursor.fetchmany(FETCH_ROWS * 5):
            hids, *numbers = zip(*rows, strict=True)
            person_parts.append(numbers.pop(2))
            rows_parts.append(np.fromiter(map(row_of.get, hids, repeat(-1)), np.int64, len(hids)))
            number_parts.append(np.array(numbers, dtype=np.int64).T)
    if rows_parts:
        household_row = np.concatenate(rows_parts)
        values = np.concatenate(number_parts)
        person_ids = np.array([p for part in person_parts for p in part], dtype=object)
    else:
        household_row = np.zeros(0, dtype=np.int64)
        values = np.zeros((0, 7), dtype=np.int64)
        person_ids = np.zeros(0, dtype=object)
    # Households changed since the table was read are left out; the rest in table order.
    keep = household_row >= 0
    order = np.lexsort((values[keep, 0], household_row[keep]))
    household_row, values = household_row[keep][order], values[keep][order]
    person_ids = person_ids[keep][order]
    this_year = timezone.localdate().year
    return {
        "household_row": household_row,
        "member_id": values[:, 1].copy(),
        "person_id": np.array([_canonical(str(p)) if p else "" for p in person_ids], dtype=object),
        "age": np.clip(this_year - values[:, 2], 0, None).astype(np.int16),
        "sex": values[:, 3].astype(np.int16),
        "marital_status": values[:, 4].astype(np.int16),
        "relationship": values[:, 5].astype(np.int16),
        "has_disability": values[:, 6] != 0,
    }


def _contact_rank(sex: str, marital_status: str, relationship: str) -> int:
    if sex == "F" and marital_status in EVER_MARRIED:
        return 0
    return 1 if relationship == "head" else 2


def household_payees(household_ids: Iterable[Any]) -> dict[Any, Any]:
    """For each household, the enrolled adult that programs pay (the first of
    ``household_contacts``): household id → person id, for households that have one.
    One query per 50,000 households, their ids in one parameter, for payment cycles of
    millions."""
    adult_born_by = timezone.localdate().year - 18
    ids = [h if isinstance(h, uuid.UUID) else uuid.UUID(str(h)) for h in household_ids]
    payees: dict[Any, tuple[int, int, Any]] = {}
    native = connection.features.has_native_uuid_field
    for start in range(0, len(ids), 50_000):
        condition, param = among("household_id", ids[start : start + 50_000])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT household_id, member_no, person_id, sex, marital_status, relationship "  # noqa: S608
                f"FROM {HouseholdMember._meta.db_table} WHERE {condition} AND active "
                "AND person_id IS NOT NULL AND birth_year <= %s",
                [param, adult_born_by],
            )
            rows = cursor.fetchall()
        for household, member_no, person, sex, marital, relationship in rows:
            if not native:
                household, person = uuid.UUID(household), uuid.UUID(person)
            rank = (_contact_rank(sex, marital, relationship), member_no, person)
            if household not in payees or rank < payees[household]:
                payees[household] = rank
    return {household: rank[2] for household, rank in payees.items()}


def household_contacts(household_id: Any) -> list[Person]:
    """The household's enrolled adults in the order messages go to them: ever-married
    women first (the programs pay them), then the head, then the other adults."""
    adult_born_by = timezone.localdate().year - 18
    members = (
        HouseholdMember.objects.filter(
            household_id=household_id,
            active=True,
            person__isnull=False,
            birth_year__lte=adult_born_by,
        )
        .select_related("person__account")
        .order_by("member_no")
    )

    def rank(member: HouseholdMember) -> int:
        return _contact_rank(member.sex, member.marital_status, member.relationship)

    return [m.person for m in sorted(members, key=rank) if m.person is not None]
