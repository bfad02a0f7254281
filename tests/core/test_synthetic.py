"""The synthetic registry generator: determinism, valid identifiers, realistic answers.

Plain functions on the pure module: no database and no Django settings needed.
"""

from __future__ import annotations

import csv
import filecmp
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from schwifty import IBAN
from stdnum.pk import cnic

from rahdari.core import synthetic
from rahdari.core.synthetic import (
    BANKS,
    COOKING_FUELS,
    HOUSEHOLD_COLUMNS,
    MARITAL_STATUSES,
    MOBILE_OPERATORS,
    PERSON_COLUMNS,
    PMT_PROXY_CUTOFF,
    REFERENCE_DATE,
    RELATIONSHIPS,
    ROOF_MATERIALS,
    TOILET_TYPES,
    WALL_MATERIALS,
    WATER_SOURCES,
    District,
    SyntheticBatch,
    generate_batches,
    iban_check_digits,
    load_districts,
    pmt_proxy_score,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "rahdari" / "core" / "data"
ALLOWED_PREFIXES = {p for _, prefixes in MOBILE_OPERATORS.values() for p in prefixes}
URDU_LETTERS = re.compile(r"^[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF ]+$")
LATIN_NAME = re.compile(r"^[A-Z][A-Za-z'-]*( [A-Za-z][A-Za-z'-]*)*$")

Table = dict[str, np.ndarray[Any, Any]]


def collect(batches: Iterable[SyntheticBatch]) -> tuple[Table, Table]:
    parts = list(batches)
    if not parts:
        return {k: np.array([]) for k in HOUSEHOLD_COLUMNS}, {
            k: np.array([]) for k in PERSON_COLUMNS
        }
    households = {k: np.concatenate([b.households[k] for b in parts]) for k in HOUSEHOLD_COLUMNS}
    persons = {k: np.concatenate([b.persons[k] for b in parts]) for k in PERSON_COLUMNS}
    return households, persons


@pytest.fixture(scope="module")
def registry() -> tuple[Table, Table]:
    return collect(generate_batches(households=5_000, seed=2025, batch_size=1_500))


@pytest.fixture(scope="module")
def districts() -> dict[str, District]:
    return {d.name: d for d in load_districts()}


def ages(persons: Table) -> np.ndarray[Any, Any]:
    """Completed years at REFERENCE_DATE, computed independently from each date of birth."""
    dob = persons["date_of_birth"].astype("datetime64[D]")

    def parts(d: Any) -> tuple[Any, Any, Any]:
        year = d.astype("datetime64[Y]")
        month = d.astype("datetime64[M]")
        return (
            year.astype(int) + 1970,
            (month - year.astype("datetime64[M]")).astype(int),
            (d - month.astype("datetime64[D]")).astype(int),
        )

    year, month, day = parts(dob)
    ref_year, ref_month, ref_day = parts(REFERENCE_DATE)
    before_birthday = (month > ref_month) | ((month == ref_month) & (day > ref_day))
    completed: np.ndarray[Any, Any] = ref_year - year - before_birthday
    return completed


def assert_valid(households: Table, persons: Table, districts: dict[str, District]) -> None:
    """The invariants every generated registry keeps, whatever its size and seed."""
    n, m = len(households["household_id"]), len(persons["person_id"])
    if n == 0:
        assert m == 0
        return
    assert int(households["household_size"].sum()) == m
    assert len(set(households["household_id"].tolist())) == n
    assert len(set(persons["person_id"].tolist())) == m
    assert set(persons["household_id"].tolist()) <= set(households["household_id"].tolist())

    prefix_of = {name: d.cnic_prefix for name, d in districts.items()}
    district_of = dict(
        zip(households["household_id"].tolist(), households["district"].tolist(), strict=True)
    )
    age = ages(persons)
    for pid, hid, sex, doc, number, a in zip(
        persons["person_id"].tolist(),
        persons["household_id"].tolist(),
        persons["sex"].tolist(),
        persons["id_document"].tolist(),
        persons["national_id"].tolist(),
        age.tolist(),
        strict=True,
    ):
        assert cnic.is_valid(number), (pid, number)
        assert re.fullmatch(r"\d{13}", number)
        assert number[:2] == prefix_of[district_of[hid]], (pid, number)
        assert cnic.get_gender(number) == sex, (pid, number, sex)
        assert doc == ("cnic" if a >= 18 else "crc"), (pid, doc, a)
    assert len(set(persons["national_id"].tolist())) == m

    mobiles = [x for x in persons["mobile"].tolist() if x]
    assert len(set(mobiles)) == len(mobiles)
    for number in mobiles:
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_valid_number(parsed), number
        assert phonenumbers.number_type(parsed) == PhoneNumberType.MOBILE, number
        assert phonenumbers.format_number(parsed, PhoneNumberFormat.E164) == number
        assert int(number[3:6]) in ALLOWED_PREFIXES, number

    ibans = [x for x in persons["iban"].tolist() if x]
    assert len(set(ibans)) == len(ibans)
    for text in ibans:
        iban = IBAN(text)  # raises on a wrong length, structure or check digits
        assert iban.country_code == "PK"
        assert iban.bank_code in BANKS
        assert re.fullmatch(r"PK\d{2}[A-Z]{4}\d{16}", text)

    minors = age < 18
    assert not np.any((persons["mobile"] != "") & minors)
    assert not np.any((persons["iban"] != "") & minors)
    assert np.all(persons["marital_status"][minors] == "never_married")
    assert np.all((age >= 0) & (age <= 95))


def test_same_seed_gives_same_bytes_and_batch_size_does_not_matter(tmp_path: Path) -> None:
    first = write_csv(generate_batches(households=700, seed=11), tmp_path / "a")
    again = write_csv(generate_batches(households=700, seed=11, batch_size=97), tmp_path / "b")
    for name in ("households.csv", "persons.csv"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False)
    assert (first.households, first.persons) == (again.households, again.persons)
    assert first.bytes_written == again.bytes_written > 0


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    write_csv(generate_batches(households=300, seed=1), tmp_path / "a")
    write_csv(generate_batches(households=300, seed=2), tmp_path / "b")
    for name in ("households.csv", "persons.csv"):
        a = (tmp_path / "a" / name).read_bytes()
        b = (tmp_path / "b" / name).read_bytes()
        assert hashlib.sha256(a).digest() != hashlib.sha256(b).digest()
    _, one = collect(generate_batches(households=300, seed=1))
    _, two = collect(generate_batches(households=300, seed=2))
    assert not set(one["national_id"].tolist()) & set(two["national_id"].tolist())


def test_full_blocks_do_not_depend_on_the_total() -> None:
    # The first BLOCK_SIZE households are the same in any larger run.
    small = next(generate_batches(households=synthetic.BLOCK_SIZE, seed=3, batch_size=100))
    large = next(generate_batches(households=synthetic.BLOCK_SIZE + 10, seed=3, batch_size=100))
    for column in HOUSEHOLD_COLUMNS:
        assert np.array_equal(small.households[column], large.households[column]), column
    for column in PERSON_COLUMNS:
        assert np.array_equal(small.persons[column], large.persons[column]), column


def test_every_identifier_is_valid(
    registry: tuple[Table, Table], districts: dict[str, District]
) -> None:
    assert_valid(*registry, districts)


def test_children_get_a_crc_and_adults_a_cnic(registry: tuple[Table, Table]) -> None:
    _, persons = registry
    age = ages(persons)
    assert set(persons["id_document"].tolist()) == {"cnic", "crc"}
    assert np.all((persons["id_document"] == "crc") == (age < 18))
    # Children make up a large part of the population, as in Pakistan.
    assert 0.38 < float(np.mean(age < 18)) < 0.55


def test_last_cnic_digit_follows_sex_as_stdnum_reads_it(registry: tuple[Table, Table]) -> None:
    _, persons = registry
    last = np.array([int(x[-1]) for x in persons["national_id"].tolist()])
    male = persons["sex"] == "M"
    assert np.all(last[male] % 2 == 1)
    assert np.all((last[~male] % 2 == 0) & (last[~male] != 0))
    # Every allowed digit is used, not just one per sex.
    assert set(last[male].tolist()) == {1, 3, 5, 7, 9}
    assert set(last[~male].tolist()) == {2, 4, 6, 8}


def test_household_size_is_about_six_point_three(registry: tuple[Table, Table]) -> None:
    households, _ = registry
    size = households["household_size"]
    assert abs(float(size.mean()) - 6.3) <= 0.3
    assert size.min() >= 1 and size.max() <= 15
    # A realistic spread, not everyone at the mean.
    assert 0.005 < float(np.mean(size == 1)) < 0.06
    assert float(np.mean(size >= 10)) > 0.08


def test_mobiles_and_accounts_are_held_by_the_right_shares(
    registry: tuple[Table, Table],
) -> None:
    _, persons = registry
    adult = persons["id_document"] == "cnic"
    men, women = adult & (persons["sex"] == "M"), adult & (persons["sex"] == "F")
    has_mobile, has_iban = persons["mobile"] != "", persons["iban"] != ""
    assert 0.75 < float(has_mobile[adult].mean()) < 0.85
    assert float(has_mobile[men].mean()) > float(has_mobile[women].mean())
    assert 0.30 < float(has_iban[adult].mean()) < 0.40
    assert float(has_iban[men].mean()) > float(has_iban[women].mean())


def test_names_are_present_in_both_scripts(registry: tuple[Table, Table]) -> None:
    _, persons = registry
    for latin, urdu in (
        ("given_name", "given_name_ur"),
        ("family_name", "family_name_ur"),
        ("father_or_husband_name", "father_or_husband_name_ur"),
    ):
        for text in persons[latin].tolist():
            assert LATIN_NAME.fullmatch(text), (latin, text)
        for text in persons[urdu].tolist():
            assert URDU_LETTERS.fullmatch(text), (urdu, text)


def test_households_hang_together(registry: tuple[Table, Table]) -> None:
    households, persons = registry
    rel, sex, marital = persons["relationship"], persons["sex"], persons["marital_status"]
    heads = rel == "head"
    assert int(heads.sum()) == len(households["household_id"])
    assert np.all(persons["member_no"][heads] == 1)
    assert np.array_equal(persons["household_id"][heads], households["household_id"])
    assert np.array_equal(sex[heads] == "F", households["female_head"])
    widow = (sex[heads] == "F") & (marital[heads] == "widowed")
    assert np.array_equal(widow, households["head_is_widow"])
    assert 0.85 < float(np.mean(sex[heads] == "M")) < 0.95
    assert set(rel.tolist()) == set(RELATIONSHIPS)
    assert set(marital.tolist()) == set(MARITAL_STATUSES)
    # Spouses are of the other sex and married; sons are men, daughters women.
    spouse = rel == "spouse"
    head_sex = dict(zip(persons["household_id"][heads].tolist(), sex[heads].tolist(), strict=True))
    for hid, s in zip(persons["household_id"][spouse].tolist(), sex[spouse].tolist(), strict=True):
        assert s != head_sex[hid]
    assert np.all(marital[spouse] == "married")
    assert np.all(sex[rel == "son"] == "M") and np.all(sex[rel == "daughter"] == "F")
    assert np.all(sex[rel == "daughter_in_law"] == "F")
    # A wife names her husband, the head; children name their father.
    full = {
        hid: f"{g} {f}"
        for hid, g, f in zip(
            persons["household_id"][heads].tolist(),
            persons["given_name"][heads].tolist(),
            persons["family_name"][heads].tolist(),
            strict=True,
        )
    }
    male_head = {h for h, s in head_sex.items() if s == "M"}
    for hid, r, name in zip(
        persons["household_id"].tolist(),
        rel.tolist(),
        persons["father_or_husband_name"].tolist(),
        strict=True,
    ):
        if hid in male_head and r == "spouse":
            assert name == full[hid]
    # No two members of a household share a given name (the head's father may
    # share his grandson's: boys are often named after their grandfather).
    seen: set[tuple[str, str]] = set()
    for hid, r, name in zip(
        persons["household_id"].tolist(), rel.tolist(), persons["given_name"].tolist(), strict=True
    ):
        if r not in {"father", "other"} and not (r == "spouse" and hid not in male_head):
            assert (hid, name) not in seen, (hid, name)
            seen.add((hid, name))
    # Derived counts agree with the member rows.
    age = ages(persons)
    index = {h: i for i, h in enumerate(households["household_id"].tolist())}
    row = np.array([index[h] for h in persons["household_id"].tolist()])
    n = len(index)
    assert np.array_equal(
        np.bincount(row, weights=(age >= 5) & (age <= 16), minlength=n).astype(int),
        households["children_5_16"],
    )
    assert np.array_equal(
        np.bincount(row, weights=(age < 15) | (age >= 65), minlength=n).astype(int),
        households["dependants"],
    )


def test_survey_answers_are_within_their_ranges(registry: tuple[Table, Table]) -> None:
    households, _ = registry
    h = households
    size = h["household_size"]
    assert np.all((h["dependants"] >= 0) & (h["dependants"] <= size))
    assert np.all((h["head_education_years"] >= 0) & (h["head_education_years"] <= 16))
    assert np.all((h["children_5_16"] >= 0) & (h["children_5_16"] <= size))
    assert np.all((h["children_in_school"] >= 0) & (h["children_in_school"] <= h["children_5_16"]))
    assert np.all((h["rooms"] >= 1) & (h["rooms"] <= 12))
    assert np.all((h["land_acres"] == 0) | ((h["land_acres"] >= 0.1) & (h["land_acres"] <= 200)))
    assert np.all((h["cattle"] >= 0) & (h["cattle"] <= 30))
    assert np.all((h["goats_sheep"] >= 0) & (h["goats_sheep"] <= 80))
    assert np.all((h["electricity_bill_pkr"] >= 0) & (h["electricity_bill_pkr"] <= 150_000))
    assert np.all(h["phone_bill_pkr"] >= 0)
    for column, allowed in (
        ("roof_material", ROOF_MATERIALS),
        ("wall_material", WALL_MATERIALS),
        ("toilet_type", TOILET_TYPES),
        ("water_source", WATER_SOURCES),
        ("cooking_fuel", COOKING_FUELS),
        ("area", ("urban", "rural")),
    ):
        assert set(h[column].tolist()) <= set(allowed), column
    for column in HOUSEHOLD_COLUMNS:
        if column.startswith("has_") or column in {
            "head_is_widow",
            "female_head",
            "government_employee_member",
            "member_travelled_abroad",
        }:
            assert h[column].dtype == np.bool_, column
    assert re.fullmatch(r"UC-\d+", h["union_council"][0])
    # KP is about 85% rural.
    assert 0.10 < float(np.mean(h["area"] == "urban")) < 0.22
    # Richer signals go together: car owners have more schooling and bigger bills.
    car = h["has_car"]
    assert h["head_education_years"][car].mean() > h["head_education_years"][~car].mean()
    assert h["electricity_bill_pkr"][car].mean() > h["electricity_bill_pkr"][~car].mean()


def test_about_a_quarter_score_under_the_proxy_cutoff(registry: tuple[Table, Table]) -> None:
    households, _ = registry
    score = pmt_proxy_score(households)
    assert np.all((score >= 0) & (score <= 100))
    assert 0.21 < float(np.mean(score <= PMT_PROXY_CUTOFF)) < 0.32
    # Poor households are poor in several ways at once.
    poor = score <= PMT_PROXY_CUTOFF
    assert households["has_fridge"][poor].mean() < households["has_fridge"][~poor].mean()
    assert households["head_education_years"][poor].mean() < 4


def test_districts_are_spread_by_population(registry: tuple[Table, Table]) -> None:
    households, _ = registry
    names, counts = np.unique(households["district"].astype(str), return_counts=True)
    share = dict(zip(names.tolist(), (counts / counts.sum()).tolist(), strict=True))
    assert share["Peshawar"] > share["Mardan"] > share["Torghar"]
    assert len(names) >= 35


def test_csv_header_columns_are_exactly_as_documented(tmp_path: Path) -> None:
    summary = write_csv(generate_batches(households=50, seed=4), tmp_path)
    docs = (ROOT / "docs" / "synthetic-data.md").read_text(encoding="utf-8")
    for filename, columns in (
        ("households.csv", HOUSEHOLD_COLUMNS),
        ("persons.csv", PERSON_COLUMNS),
    ):
        with (tmp_path / filename).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == columns
        assert all(len(r) == len(columns) for r in rows[1:])
        section = docs.split(f"### `{filename}`", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
        documented = tuple(re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.M))
        assert documented == columns, filename
    assert summary.households == 50
    assert summary.bytes_written == sum(
        (tmp_path / f).stat().st_size for f in ("households.csv", "persons.csv")
    )
    assert not list(tmp_path.glob(".*partial"))


def test_csv_values_are_formatted_for_loading(tmp_path: Path) -> None:
    write_csv(generate_batches(households=200, seed=9), tmp_path)
    with (tmp_path / "households.csv").open(encoding="utf-8", newline="") as handle:
        households = list(csv.DictReader(handle))
    with (tmp_path / "persons.csv").open(encoding="utf-8", newline="") as handle:
        persons = list(csv.DictReader(handle))
    assert households[0]["household_id"] == "HH0000000001"
    assert persons[0]["person_id"] == "P000000000101"
    for row in households:
        assert row["has_tv"] in {"0", "1"}
        assert re.fullmatch(r"\d+\.\d{2}", row["land_acres"])
    for row in persons:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date_of_birth"])
        assert row["mobile"] == "" or row["mobile"].startswith("+923")
    assert (tmp_path / "persons.csv").read_bytes()[:3] != b"\xef\xbb\xbf"


def test_iban_check_digits_match_schwifty() -> None:
    accounts = np.array([0, 1234567890123456, 9999999999999999, 4205], dtype=np.int64)
    codes = ["HABB", "KHYB", "MEZN", "ALFH"]
    check = iban_check_digits(codes, accounts)
    for code, account, digits in zip(codes, accounts.tolist(), check.tolist(), strict=True):
        text = f"PK{digits:02d}{code}{account:016d}"
        assert str(IBAN(text).checksum_digits) == f"{digits:02d}"


def test_districts_load_with_their_tehsils() -> None:
    districts = load_districts()
    assert len(districts) == 37
    names = {d.name for d in districts}
    assert {"Peshawar", "Swat", "Abbottabad", "North Waziristan"} <= names
    for d in districts:
        assert 2 <= len(d.tehsils) <= 4, d.name
        assert re.fullmatch(r"[12][1-7]", d.cnic_prefix)
        assert URDU_LETTERS.fullmatch(d.name_ur)
        for t in d.tehsils:
            assert URDU_LETTERS.fullmatch(t.name_ur), t
    assert next(d for d in districts if d.name == "Khyber").merged_area
    assert not next(d for d in districts if d.name == "Mardan").merged_area


def test_packaged_district_list_is_the_shared_one() -> None:
    shared = synthetic.SHARED_DISTRICTS_CSV
    if not shared.exists():
        pytest.skip("no shared/ checkout next to the repository")
    assert (DATA / "kp_districts.csv").read_bytes() == shared.read_bytes()


def test_district_file_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "districts.csv"
    path.write_text(
        "district,district_ur,division,merged_area,cnic_prefix\n"
        "Mardan,مردان,Mardan,no,16\n"
        "Newtown,نیو ٹاؤن,Mardan,no,16\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(synthetic.DISTRICTS_CSV_ENV, str(path))
    districts = load_districts()
    assert [d.name for d in districts] == ["Mardan", "Newtown"]
    assert districts[1].tehsils[0].name == "Newtown"  # unknown district: one tehsil, itself
    households, persons = collect(generate_batches(households=80, seed=1, districts=districts))
    assert set(households["district"].tolist()) <= {"Mardan", "Newtown"}
    assert_valid(households, persons, {d.name: d for d in districts})


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        next(generate_batches(households=-1, seed=1))
    with pytest.raises(ValueError):
        next(generate_batches(households=1, seed=-1))
    with pytest.raises(ValueError):
        next(generate_batches(households=1, seed=1, batch_size=0))
    assert list(generate_batches(households=0, seed=1)) == []


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("filename", "minimum"),
    [("names_male.csv", 120), ("names_female.csv", 120), ("names_family.csv", 60)],
)
def test_name_lists_are_large_clean_and_bilingual(filename: str, minimum: int) -> None:
    rows = read_rows(DATA / filename)
    assert len(rows) >= minimum
    latin = [r["name"] for r in rows]
    urdu = [r["name_ur"] for r in rows]
    assert len(set(latin)) == len(latin), "duplicate Latin name"
    assert len(set(urdu)) == len(urdu), "duplicate Urdu spelling"
    for name, name_ur in zip(latin, urdu, strict=True):
        assert LATIN_NAME.fullmatch(name), name
        assert URDU_LETTERS.fullmatch(name_ur), name_ur
        assert unicodedata.is_normalized("NFC", name_ur), name_ur
    if "tradition" in rows[0]:
        assert {r["tradition"] for r in rows} == {"pashtun", "punjabi", "urdu"}


def test_family_names_include_the_big_tribes() -> None:
    names = {r["name"] for r in read_rows(DATA / "names_family.csv")}
    assert {"Khan", "Yousafzai", "Afridi", "Khattak", "Durrani", "Shinwari", "Bangash"} <= names
    assert {"Mohmand", "Orakzai", "Awan", "Qureshi", "Abbasi", "Swati", "Tanoli"} <= names


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households=st.integers(min_value=0, max_value=60), seed=st.integers(0, 2**63 - 1))
def test_any_small_registry_is_valid(households: int, seed: int) -> None:
    districts = {d.name: d for d in load_districts()}
    h, p = collect(generate_batches(households=households, seed=seed, batch_size=17))
    assert len(h["household_id"]) == households
    if households:
        assert h["household_id"][0] == "HH0000000001"
        assert h["household_id"][-1] == f"HH{households:010d}"
    assert_valid(h, p, districts)
