"""Demographic matching: names in both scripts, dates of birth, scores and blocking.

Pure functions, no database.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rahdari.identity.matching import (
    REVIEW_THRESHOLD,
    PersonRecord,
    candidates_for,
    find_duplicates,
    name_frequencies,
    name_key,
    name_similarity,
    normalise_latin,
    normalise_urdu,
    phonetic_skeleton,
    score,
)


def person(**overrides: object) -> PersonRecord:
    fields: dict[str, object] = {
        "id": "P1",
        "full_name": "Muhammad Aslam Khan",
        "full_name_ur": "محمد اسلم خان",
        "guardian_name": "Gul Zaman Khan",
        "guardian_name_ur": "گل زمان خان",
        "date_of_birth": date(1984, 3, 11),
        "birth_year": 1984,
        "sex": "M",
        "district": "Mardan",
        "mobile": "+923001234567",
    }
    fields.update(overrides)
    return PersonRecord(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Mst.  Gul   Bibi", "gul bibi"),
        ("Mr. Sher ALI", "sher ali"),
        ("Haji Gul Khan", "gul khan"),
        ("Mohd. Aslam", "muhammad aslam"),
        ("Gul Bi Bi", "gul bibi"),
        ("Bibi Hawa", "bibi hawa"),  # Bibi is part of women's names: kept
        ("Iqbal Begum", "iqbal begum"),
        ("Syed Ali Shah", "syed ali shah"),  # lineage names are kept
        ("Rahmat Ullah", "rahmatullah"),
        ("Sa'ad  Khan-Yousafzai", "saad khan yousafzai"),
        ("Zoë Ḥusain", "zoe husain"),
        ("Ali Khan s/o Gul Khan", "ali khan"),
        ("", ""),
    ],
)
def test_normalise_latin(raw: str, normal: str) -> None:
    assert normalise_latin(raw) == normal


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("مسمات گل بي بي", "گل بیبی"),
        ("ثناء", "ثنا"),
        ("حبیب اللہ", "حبیباللہ"),
        ("غلام مصطفیٰ", "غلام مصطفی"),
        ("محمّد  اسلم", "محمد اسلم"),
        ("كريم", "کریم"),
    ],
)
def test_normalise_urdu(raw: str, normal: str) -> None:
    assert normalise_urdu(raw) == normal


@pytest.mark.parametrize(
    ("spellings", "skeleton"),
    [
        (("Muhammad", "Mohammad", "Mohammed", "Muhammed", "محمد"), "mhmd"),
        (("Khan", "Khaan", "خان"), "xn"),
        (("Yousafzai", "Yusufzai", "یوسفزئی"), "ysfz"),
        (("Gul", "Gull", "گل"), "gl"),
        (("Bibi", "Bi Bi", "بی بی"), "b"),
        (("Ayesha", "Aisha", "عائشہ"), "aS"),
        (("Shah", "شاہ"), "S"),
        (("Fatima", "Fatimah", "فاطمہ"), "ftm"),
        (("Rahmatullah", "Rahmat Ullah", "رحمت اللہ"), "rhmtl"),
        (("Ghulam", "غلام"), "glm"),
        (("Umar", "Omar", "عمر"), "amr"),
    ],
)
def test_phonetic_skeleton_joins_scripts_and_spellings(
    spellings: tuple[str, ...], skeleton: str
) -> None:
    assert {phonetic_skeleton(s) for s in spellings} == {skeleton}


def test_name_key_skips_a_leading_muhammad_and_ignores_script() -> None:
    keys = {
        name_key("Muhammad Aslam Khan", ""),
        name_key("Mohammad Aslam", ""),
        name_key("M. Aslam Khan", ""),
        name_key("Aslam Khan", ""),
        name_key("", "محمد اسلم خان"),
    }
    assert keys == {"aslm"}
    assert name_key("Muhammad", "") == "mhmd"
    assert name_key("", "") == ""


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        # transliteration variants, either script
        (("Muhammad Aslam", ""), ("Mohammad Aslam", ""), 0.9, 0.99),
        (("Muhammad Aslam", ""), ("Muhammed Aslam", ""), 0.9, 0.99),
        (("Muhammad Aslam", ""), ("", "محمد اسلم"), 0.9, 0.99),
        (("Sher Khan", ""), ("", "شیر خان"), 0.9, 0.99),
        (("Zarmina Yousafzai", ""), ("Zarmina Yusufzai", ""), 0.9, 0.99),
        (("", "زرمینہ یوسفزئی"), ("Zarmina Yusufzai", ""), 0.9, 0.99),
        (("Gul Bibi", ""), ("Gul Bi Bi", ""), 1.0, 1.0),
        (("", "گل بی بی"), ("", "گل بیبی"), 1.0, 1.0),
        (("Gul Khan", ""), ("Gull Khan", ""), 0.9, 0.99),
        (("Abdul Ghafoor", ""), ("", "عبدالغفور"), 0.9, 0.99),
        # one script agrees exactly: the other's variant does not matter
        (("Muhammad Aslam", "محمد اسلم"), ("Mohammad Aslam", "محمد اسلم"), 1.0, 1.0),
        # word order: high, below identical
        (("Ali Muhammad", ""), ("Muhammad Ali", ""), 0.9, 0.99),
        # a missing word
        (("Muhammad Aslam", ""), ("Muhammad Aslam Khan", ""), 0.8, 0.95),
        (("Aslam Khan", ""), ("Muhammad Aslam Khan", ""), 0.8, 0.95),
        # one typo
        (("Muhammad Aslam Khan", ""), ("Muhammad Aslan Khan", ""), 0.9, 0.99),
        # different people
        (("Gul Zaman", ""), ("Sher Ali", ""), 0.0, 0.5),
        (("Fatima Bibi", ""), ("Zainab Bibi", ""), 0.0, 0.75),
        (("", "فاطمہ"), ("", "زینب"), 0.0, 0.5),
        (("Gul Zaman Khan", ""), ("Gul Nawaz Khan", ""), 0.5, 0.85),
    ],
)
def test_name_similarity(a: tuple[str, str], b: tuple[str, str], low: float, high: float) -> None:
    similarity = name_similarity(a[0], a[1], b[0], b[1])
    assert low <= similarity <= high, similarity
    assert similarity == name_similarity(b[0], b[1], a[0], a[1])


def test_identical_names_score_one_and_empty_names_zero() -> None:
    assert name_similarity("Gul Bibi", "گل بی بی", "Gul Bibi", "گل بی بی") == 1.0
    assert name_similarity("Mst. Gul Bibi", "", "gul  bibi", "") == 1.0
    assert name_similarity("", "", "", "") == 0.0
    assert name_similarity("Gul Bibi", "", "", "") == 0.0


# --------------------------------------------------------------------------- scores


def test_identical_records_score_one() -> None:
    a = person()
    result = score(a, replace(a, id="P2"))
    assert result.total == 1.0
    assert result.components["dob_exact"] == 1.0


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"date_of_birth": date(1984, 11, 3)}, "dob_swapped_day_month"),
        ({"date_of_birth": None}, "dob_year_only"),
        ({"date_of_birth": date(1985, 3, 11), "birth_year": 1985}, "dob_off_by_one_year"),
        ({"guardian_name": "", "guardian_name_ur": ""}, "guardian_missing"),
        ({"full_name": "Mohammad Aslam Khan", "full_name_ur": ""}, "dob_exact"),
        ({"full_name": "Muhammad Aslm Khan", "full_name_ur": ""}, "dob_exact"),
        ({"full_name": "Aslam Khan Muhammad", "full_name_ur": ""}, "dob_exact"),
        ({"full_name": "", "full_name_ur": "محمد اسلم خان"}, "dob_exact"),
        ({"full_name_ur": "محمد اسلم"}, "dob_exact"),  # Urdu lacks a word, Latin agrees
        ({"guardian_name": "Gul Zaman Khaan", "guardian_name_ur": ""}, "dob_exact"),
        ({"sex": "X"}, "dob_exact"),
        ({"mobile": "+923339876543"}, "dob_exact"),
        ({"mobile": ""}, "dob_exact"),
    ],
)
def test_one_corruption_still_reaches_review(change: dict[str, object], flag: str) -> None:
    a = person()
    b = replace(a, id="P2", **change)  # type: ignore[arg-type]
    result = score(a, b)
    assert result.total >= REVIEW_THRESHOLD, result
    unchanged_evidence = change in (
        {"mobile": ""},  # a field one side lacks is not evidence either way
        {"sex": "X"},
        {"full_name_ur": "محمد اسلم"},  # the Latin name agrees exactly
        {"full_name": "", "full_name_ur": "محمد اسلم خان"},  # the Urdu name agrees exactly
    )
    assert result.total < 1.0 or unchanged_evidence
    assert result.components[flag] == 1.0


def test_two_different_men_with_a_common_name_do_not_reach_review() -> None:
    a = person(full_name="Muhammad Khan", full_name_ur="محمد خان")
    b = person(
        id="P2",
        full_name="Muhammad Khan",
        full_name_ur="محمد خان",
        guardian_name="Sher Ali Khan",
        guardian_name_ur="شیر علی خان",
        date_of_birth=date(1990, 7, 19),
        birth_year=1990,
        mobile="+923451112223",
    )
    assert score(a, b).total < REVIEW_THRESHOLD
    # Born the same year, still different fathers and dates.
    c = replace(b, id="P3", date_of_birth=date(1984, 9, 27))
    assert score(a, c).total < REVIEW_THRESHOLD
    assert score(a, c).components["dob_same_year"] == 1.0


def test_sex_conflict_and_another_district_count_against() -> None:
    a = person()
    assert score(a, replace(a, id="P2", sex="F")).components["sex_conflict"] == 1.0
    assert score(a, replace(a, id="P2", sex="F")).total < 1.0
    moved = score(a, replace(a, id="P2", district="Peshawar"))
    assert moved.components["district"] == 0.0
    assert moved.total < 1.0


def test_sparse_record_does_not_reach_review_on_a_name_alone() -> None:
    a = person()
    sparse = PersonRecord("P2", "Muhammad Aslam Khan", "", "", "", None, None, "M", "Mardan", "")
    assert score(a, sparse).total < REVIEW_THRESHOLD


def test_candidates_for_returns_best_first_and_skips_itself() -> None:
    new = person(id="NEW")
    exact = replace(new, id="A")
    swapped = replace(new, id="B", date_of_birth=date(1984, 11, 3))
    stranger = person(
        id="C",
        full_name="Zarmina Bibi",
        full_name_ur="زرمینہ بی بی",
        sex="F",
        date_of_birth=date(2001, 1, 5),
        birth_year=2001,
    )
    found = candidates_for(new, [stranger, swapped, new, exact])
    assert [r.id for r, _ in found] == ["A", "B"]
    assert found[0][1].total >= found[1][1].total
    assert candidates_for(new, []) == []


# --------------------------------------------------------------------------- find_duplicates


def test_find_duplicates_finds_variants_across_passes() -> None:
    base = person()
    records = [
        base,
        # a typo in the first letter and another district: found through the phone
        replace(base, id="P2", full_name="Nuhammad Aslam Khan", district="Peshawar"),
        # a typo in the first name's consonants: found through the Urdu name key
        replace(base, id="P3", full_name="Muhammad Asram Khan", mobile=""),
        person(
            id="P4",
            full_name="Zarmina Bibi",
            full_name_ur="زرمینہ بی بی",
            sex="F",
            guardian_name="Sher Ali",
            guardian_name_ur="",
            date_of_birth=date(2001, 1, 5),
            birth_year=2001,
            mobile="",
        ),
    ]
    seen: list[tuple[int, int]] = []
    pairs = find_duplicates(records, progress=lambda done, total: seen.append((done, total)))
    assert {(p.a, p.b) for p in pairs} >= {("P1", "P2"), ("P1", "P3")}
    assert all("P4" not in (p.a, p.b) for p in pairs)
    assert seen and seen[-1][0] == seen[-1][1]
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
    assert find_duplicates([]) == [] and find_duplicates([base]) == []


# --------------------------------------------------------------------------- properties

GIVEN = ["Muhammad Aslam", "Mohammad Aslam", "Gul Bibi", "Gul Bi Bi", "Sher Ali", "Zarmina"]
GIVEN_UR = {"Muhammad Aslam": "محمد اسلم", "Gul Bibi": "گل بی بی", "Sher Ali": "شیر علی"}
FAMILY = ["Khan", "Yousafzai", "Yusufzai", ""]
GUARDIANS = ["", "Gul Zaman Khan", "Gul Zaman Khaan", "Sher Khan"]


@st.composite
def records(draw: st.DrawFn, ident: str = "R") -> PersonRecord:
    given_name = draw(st.sampled_from(GIVEN))
    family = draw(st.sampled_from(FAMILY))
    full_name = f"{given_name} {family}".strip()
    urdu = draw(st.sampled_from(["", GIVEN_UR.get(given_name, "")]))
    year = draw(st.sampled_from([1980, 1981, 1990, None]))
    dob: date | None = None
    if year is not None and draw(st.booleans()):
        dob = date(year, draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    return PersonRecord(
        id=ident,
        full_name=full_name,
        full_name_ur=urdu,
        guardian_name=draw(st.sampled_from(GUARDIANS)),
        guardian_name_ur="",
        date_of_birth=dob,
        birth_year=year,
        sex=draw(st.sampled_from(["M", "F", "X"])),
        district=draw(st.sampled_from(["Mardan", "Swat", ""])),
        mobile=draw(st.sampled_from(["", "+923001234567", "+923451234567"])),
    )


@given(records("A"), records("B"))
@settings(max_examples=200, deadline=None)
def test_score_is_symmetric_and_bounded(a: PersonRecord, b: PersonRecord) -> None:
    ab, ba = score(a, b), score(b, a)
    assert ab.total == ba.total
    assert ab.components == ba.components
    assert 0.0 <= ab.total <= 1.0


@given(records("A"))
@settings(max_examples=100, deadline=None)
def test_identical_records_always_score_one(a: PersonRecord) -> None:
    assert score(a, replace(a, id="B")).total == 1.0


def _blocked_surely(a: PersonRecord, b: PersonRecord) -> bool:
    """Pairs that the first blocking pass or the phone pass always compares."""
    same_mobile = bool(a.mobile) and a.mobile == b.mobile
    year_a = a.date_of_birth.year if a.date_of_birth else a.birth_year
    year_b = b.date_of_birth.year if b.date_of_birth else b.birth_year
    key = name_key(a.full_name, "")
    first_pass = (
        bool(a.district)
        and a.district == b.district
        and year_a is not None
        and year_a == year_b
        and bool(key)
        and key == name_key(b.full_name, "")
    )
    return same_mobile or first_pass


@given(st.lists(records(), min_size=0, max_size=12))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_find_duplicates_agrees_with_brute_force(drawn: list[PersonRecord]) -> None:
    rows = [replace(r, id=f"R{k:02d}") for k, r in enumerate(drawn)]
    threshold = 0.7
    found = {(p.a, p.b): p for p in find_duplicates(rows, threshold)}
    assert all(a != b for a, b in found)
    brute = {}
    frequencies = name_frequencies(rows)
    for x, y in itertools.combinations(rows, 2):
        s = score(x, y, frequencies=frequencies)
        if s.total >= threshold:
            brute[(x.id, y.id)] = (s, _blocked_surely(x, y))
    # Everything found is right, with the same score and breakdown as score().
    for key, pair in found.items():
        assert key in brute
        assert pair.score == pytest.approx(brute[key][0].total, abs=1e-12)
        assert pair.components == brute[key][0].components
    # Everything the blocking guarantees to compare is found.
    for key, (_, surely) in brute.items():
        if surely:
            assert key in found
