"""The national-ID connector's reference implementation and the reference-register import."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from rahdari.core.errors import ApplicationError
from rahdari.core.models import AuditEntry
from rahdari.identity.models import NationalIdRecord
from rahdari.identity.national_id import (
    CSV_COLUMNS,
    NAME_MATCH_THRESHOLD,
    Demographics,
    NationalIdUnavailable,
    ReferenceConnector,
    VerificationOutcome,
    VerificationResult,
    connector,
    connector_reset,
    reference_import,
    reference_load_synthetic,
)

HEADER = ",".join(CSV_COLUMNS)
YOUSAF = "17301-1234567-1"  # odd last digit: a man
GUL_BIBI = "17301-1234568-2"  # even last digit: a woman
UNKNOWN = "16101-1234567-3"
REGISTER = "\n".join(
    [
        HEADER,
        f"{YOUSAF},Muhammad Yousaf Khan,محمد یوسف خان,Gul Khan,1986-03-14,M,Peshawar,false",
        f"{GUL_BIBI},Gul Bibi,گل بی بی,Sher Khan,1951-01-05,F,Swat,true",
    ]
)


def write_csv(tmp_path: Path, text: str, name: str = "register.csv") -> Path:
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    return path


@pytest.fixture
def register(tmp_path: Path, db: Any) -> None:
    reference_import(path=write_csv(tmp_path, REGISTER), actor=None)


def verify(conn: ReferenceConnector | None = None, **overrides: Any) -> VerificationResult:
    details: dict[str, Any] = {
        "national_id": YOUSAF,
        "full_name": "Muhammad Yousaf Khan",
        "full_name_ur": "محمد یوسف خان",
        "date_of_birth": date(1986, 3, 14),
        "sex": "M",
    }
    details.update(overrides)
    return (conn or ReferenceConnector()).verify(**details)


# --------------------------------------------------------------------------- verify / fetch


@pytest.mark.django_db
def test_verify_matches_the_register(register: None) -> None:
    result = verify()
    assert result.outcome == VerificationOutcome.MATCH
    assert result.mismatched_fields == ()
    assert result.name_score >= NAME_MATCH_THRESHOLD
    assert result.deceased is False
    assert result.reference.startswith("ref-")
    assert verify().reference != result.reference  # one request id per call
    assert result.as_dict()["outcome"] == "match"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"full_name": "Imran Ali Shah", "full_name_ur": "عمران علی شاہ"}, ("full_name",)),
        ({"date_of_birth": date(1986, 3, 15)}, ("date_of_birth",)),
        ({"sex": "F"}, ("sex",)),
        (
            {
                "full_name": "Imran Ali Shah",
                "full_name_ur": "",
                "date_of_birth": date(1968, 3, 14),
                "sex": "X",
            },
            ("full_name", "date_of_birth", "sex"),
        ),
    ],
)
def test_verify_reports_each_mismatched_field(
    register: None, overrides: dict[str, Any], fields: tuple[str, ...]
) -> None:
    result = verify(**overrides)
    assert result.outcome == VerificationOutcome.MISMATCH
    assert result.mismatched_fields == fields


@pytest.mark.django_db
def test_transliteration_variant_still_matches(register: None) -> None:
    result = verify(full_name="Mohammad Yusuf Khan", full_name_ur="")
    assert result.outcome == VerificationOutcome.MATCH, result


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Muhammad Yaseen Khan", "Muhammad Yousaf"])
def test_another_or_shortened_name_is_a_mismatch(register: None, name: str) -> None:
    result = verify(full_name=name, full_name_ur="")
    assert result.mismatched_fields == ("full_name",)
    assert result.name_score < NAME_MATCH_THRESHOLD


@pytest.mark.django_db
def test_urdu_only_name_matches(register: None) -> None:
    result = verify(full_name="", full_name_ur="محمد یوسف خان")
    assert result.outcome == VerificationOutcome.MATCH, result


@pytest.mark.django_db
def test_number_formats_and_sex_case_are_tolerated(register: None) -> None:
    assert verify(national_id="1730112345671", sex="m").outcome == VerificationOutcome.MATCH


@pytest.mark.django_db
@pytest.mark.parametrize("number", [UNKNOWN, "12345", ""])
def test_unknown_or_malformed_number_is_not_found(register: None, number: str) -> None:
    result = verify(national_id=number)
    assert result.outcome == VerificationOutcome.NOT_FOUND
    assert result.mismatched_fields == ()
    assert ReferenceConnector().fetch(national_id=number) is None


@pytest.mark.django_db
def test_deceased_flag_is_passed_through(register: None) -> None:
    result = verify(
        national_id=GUL_BIBI,
        full_name="Gul Bibi",
        full_name_ur="گل بی بی",
        date_of_birth=date(1951, 1, 5),
        sex="F",
    )
    assert result.outcome == VerificationOutcome.MATCH
    assert result.deceased is True
    assert verify().deceased is False


@pytest.mark.django_db
def test_fetch_returns_the_demographics(register: None) -> None:
    assert ReferenceConnector().fetch(national_id=YOUSAF) == Demographics(
        national_id="1730112345671",
        full_name="Muhammad Yousaf Khan",
        full_name_ur="محمد یوسف خان",
        guardian_name="Gul Khan",
        date_of_birth=date(1986, 3, 14),
        sex="M",
        district="Peshawar",
        deceased=False,
    )


@pytest.mark.django_db
def test_unavailable_mode(register: None, settings: Any) -> None:
    settings.RAHDARI_NID_MODE = "unavailable"
    result = verify()
    assert result.outcome == VerificationOutcome.UNAVAILABLE
    assert result.mismatched_fields == ()
    assert result.reference
    with pytest.raises(NationalIdUnavailable):
        ReferenceConnector().fetch(national_id=YOUSAF)
    settings.RAHDARI_NID_MODE = "available"
    assert verify().outcome == VerificationOutcome.MATCH  # it comes back: nothing lost


@pytest.mark.django_db
def test_flaky_mode_fails_a_deterministic_share(register: None, settings: Any) -> None:
    settings.RAHDARI_NID_MODE = "flaky"
    settings.RAHDARI_NID_FLAKY_RATE = 0.25

    def run() -> list[str]:
        conn = ReferenceConnector()
        return [verify(conn).outcome.value for _ in range(12)]

    expected = (["match"] * 3 + ["unavailable"]) * 3
    assert run() == expected
    assert run() == expected  # a fresh connector repeats the same pattern

    conn = ReferenceConnector()
    for _ in range(3):
        assert conn.fetch(national_id=YOUSAF) is not None
    with pytest.raises(NationalIdUnavailable):  # fetch counts as a call too
        conn.fetch(national_id=YOUSAF)


@pytest.mark.django_db
def test_flaky_rate_matches_over_many_calls(register: None, settings: Any) -> None:
    settings.RAHDARI_NID_MODE = "flaky"
    settings.RAHDARI_NID_FLAKY_RATE = 0.1
    conn = ReferenceConnector()
    outcomes = [verify(conn).outcome for _ in range(50)]
    assert outcomes.count(VerificationOutcome.UNAVAILABLE) == 5


@pytest.mark.django_db
def test_unknown_mode_is_a_configuration_error(register: None, settings: Any) -> None:
    settings.RAHDARI_NID_MODE = "sometimes"
    with pytest.raises(ImproperlyConfigured):
        verify()


@pytest.mark.django_db
def test_latency_setting_is_honoured(register: None, settings: Any) -> None:
    settings.RAHDARI_NID_LATENCY_MS = 120
    settings.RAHDARI_NID_LATENCY_JITTER = 0
    started = time.monotonic()
    verify()
    assert time.monotonic() - started >= 0.120

    settings.RAHDARI_NID_LATENCY_JITTER = 0.3  # the default: 120 ms ± 30 %
    started = time.monotonic()
    ReferenceConnector().fetch(national_id=YOUSAF)
    assert time.monotonic() - started >= 0.120 * 0.7


@pytest.mark.django_db
def test_latency_also_precedes_an_outage(register: None, settings: Any) -> None:
    settings.RAHDARI_NID_LATENCY_MS = 60
    settings.RAHDARI_NID_LATENCY_JITTER = 0
    settings.RAHDARI_NID_MODE = "unavailable"
    started = time.monotonic()
    assert verify().outcome == VerificationOutcome.UNAVAILABLE
    assert time.monotonic() - started >= 0.060


class StubConnector:
    """Stands in for a production adapter configured by dotted path."""

    def verify(self, **details: Any) -> VerificationResult:
        return VerificationResult(VerificationOutcome.UNAVAILABLE, reference="stub")

    def fetch(self, *, national_id: str) -> Demographics | None:
        return None


def test_connector_follows_the_setting(settings: Any) -> None:
    connector_reset()
    try:
        assert isinstance(connector(), ReferenceConnector)
        assert connector() is connector()  # one per process: the flaky counter spans calls
        settings.RAHDARI_NID_CONNECTOR = f"{__name__}.StubConnector"
        assert isinstance(connector(), StubConnector)
        settings.RAHDARI_NID_CONNECTOR = "rahdari.identity.nowhere.Connector"
        with pytest.raises(ImproperlyConfigured):
            connector()
    finally:
        connector_reset()


def test_no_personal_data_in_logs(
    register: None, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    with caplog.at_level("DEBUG", logger="rahdari.identity.national_id"):
        verify(full_name="Imran Ali Shah", full_name_ur="")
        ReferenceConnector().fetch(national_id=YOUSAF)
        settings.RAHDARI_NID_MODE = "unavailable"
        verify()
    assert "mismatched=full_name" in caplog.text
    for secret in ("1730112345671", "1234567", "Yousaf", "Imran", "یوسف"):
        assert secret not in caplog.text


# --------------------------------------------------------------------------- import


def _raw_rows() -> list[tuple[Any, ...]]:
    table = connection.ops.quote_name(NationalIdRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT national_id, full_name, full_name_ur, date_of_birth FROM {table}")  # noqa: S608
        return list(cursor.fetchall())


@pytest.mark.django_db
def test_import_happy_path_encrypts_at_rest(tmp_path: Path) -> None:
    summary = reference_import(path=write_csv(tmp_path, REGISTER), actor=None)
    assert (summary.created, summary.updated, summary.rows) == (2, 0, 2)

    record = NationalIdRecord.objects.get(sex="M")
    assert record.national_id == "1730112345671"  # stored as 13 digits
    assert record.full_name_ur == "محمد یوسف خان"
    assert record.deceased is False
    assert NationalIdRecord.objects.get(sex="F").deceased is True

    raw = repr(_raw_rows())
    for plaintext in ("1730112345671", "17301-1234567-1", "Yousaf", "یوسف", "1986-03-14"):
        assert plaintext not in raw
    assert all(value.startswith("v1.") for row in _raw_rows() for value in row)

    entry = AuditEntry.objects.get(action="identity.reference_imported")
    assert entry.changes == {"rows": 2, "created": 2, "updated": 0}
    assert entry.subject_type == "identity.nationalidrecord"


@pytest.mark.django_db
def test_import_accepts_bom_spaces_and_optional_blanks(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = (
        " National_ID , full_name,full_name_ur,guardian_name,date_of_birth,sex,district,deceased\n"
        f"{YOUSAF},  Muhammad   Yousaf Khan ,,,1986-03-14,m,,\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert reference_import(path=path, actor=None).created == 1
    record = NationalIdRecord.objects.get()
    assert (record.full_name, record.full_name_ur, record.sex) == ("Muhammad Yousaf Khan", "", "M")
    assert (record.guardian_name, record.district, record.deceased) == ("", "", False)


@pytest.mark.django_db
def test_import_with_missing_columns_saves_nothing(tmp_path: Path) -> None:
    text = "national_id,full_name,date_of_birth\n" + f"{YOUSAF},Muhammad Yousaf Khan,1986-03-14"
    with pytest.raises(ApplicationError) as caught:
        reference_import(path=write_csv(tmp_path, text), actor=None)
    assert caught.value.code == "invalid_csv"
    assert caught.value.fields == {
        "columns": [
            "missing: full_name_ur",
            "missing: guardian_name",
            "missing: sex",
            "missing: district",
            "missing: deceased",
        ]
    }
    assert "full_name_ur" in str(caught.value.message)
    assert not NationalIdRecord.objects.exists()
    assert not AuditEntry.objects.filter(action="identity.reference_imported").exists()


@pytest.mark.django_db
def test_import_with_bad_rows_reports_each_row_and_saves_nothing(tmp_path: Path) -> None:
    tomorrow = (timezone.localdate() + timedelta(days=2)).isoformat()
    text = "\n".join(
        [
            HEADER,
            f"{YOUSAF},Muhammad Yousaf Khan,,,1986-03-14,M,Peshawar,false",  # row 2: good
            "17301-123-1,Bad Number,,,1986-03-14,M,,",  # row 3
            f"{UNKNOWN},Future Born,,,{tomorrow},M,,",  # row 4
            f"{UNKNOWN[:-1]}5,Odd Sex,,,1990-01-01,Q,,",  # row 5
            "17301-7654321-3,Slash Date,,,14/03/1986,M,,",  # row 6
            "17301-7654321-5,No Such Day,,,1986-02-30,M,,",  # row 7
            "17301-7654321-6,Contradicts Digit,,,1986-02-03,M,,",  # row 8
            f"{YOUSAF},Same Number Again,,,1986-03-14,M,,",  # row 9
            "17301-7654321-7,,,,,M,,maybe",  # row 10
            "17301-7654321-9,Too Many,,,1986-02-03,M,,,extra",  # row 11
        ]
    )
    with pytest.raises(ApplicationError) as caught:
        reference_import(path=write_csv(tmp_path, text), actor=None)
    error = caught.value
    assert error.code == "invalid_csv"
    assert set(error.fields) == {f"row {n}" for n in range(3, 12)}
    assert error.fields["row 3"][0].startswith("national_id: ")
    assert error.fields["row 4"] == ["date_of_birth: the date is in the future"]
    assert error.fields["row 5"] == ["sex: must be M, F or X"]
    assert error.fields["row 6"] == ["date_of_birth: write the date as YYYY-MM-DD, e.g. 1986-03-14"]
    assert error.fields["row 7"] == ["date_of_birth: there is no such date"]
    assert error.fields["row 8"][0].startswith("sex: contradicts the national ID number")
    assert error.fields["row 9"] == ["national_id: the same number is on row 2"]
    assert set(error.fields["row 10"]) == {
        "full_name: this value is required",
        "date_of_birth: this value is required",
        "deceased: write true or false (or leave it empty)",
    }
    assert error.fields["row 11"] == ["the row has more values than the header has columns"]
    assert "9 of 10 rows have errors" in str(error.message)
    assert "nothing was imported" in str(error.message)
    # no personal data echoed back
    assert "7654321" not in repr(error.fields)
    assert not NationalIdRecord.objects.exists()  # not even the good row 2
    assert not AuditEntry.objects.filter(action="identity.reference_imported").exists()


@pytest.mark.django_db
def test_import_lists_the_first_fifty_bad_rows(tmp_path: Path) -> None:
    rows = [f"17301{n:07d}1,Person {n},,,not-a-date,M,," for n in range(120)]
    with pytest.raises(ApplicationError) as caught:
        reference_import(path=write_csv(tmp_path, "\n".join([HEADER, *rows])), actor=None)
    assert len(caught.value.fields) == 50
    assert "row 2" in caught.value.fields
    assert "row 51" in caught.value.fields
    assert "120 of 120 rows have errors" in str(caught.value.message)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "code"),
    [
        (HEADER.encode(), "invalid_csv"),  # header only
        (b"", "invalid_csv"),  # empty
        ("national_id,full_name\n".encode("utf-16"), "invalid_csv"),  # not UTF-8
    ],
)
def test_import_rejects_empty_or_undecodable_files(
    tmp_path: Path, content: bytes, code: str
) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    with pytest.raises(ApplicationError) as caught:
        reference_import(path=path, actor=None)
    assert caught.value.code == code
    assert not NationalIdRecord.objects.exists()


@pytest.mark.django_db
def test_import_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ApplicationError) as caught:
        reference_import(path=tmp_path / "absent.csv", actor=None)
    assert caught.value.code == "bad_path"


@pytest.mark.django_db
def test_reimport_updates_instead_of_duplicating(
    tmp_path: Path, make_staff: Callable[..., Any]
) -> None:
    from rahdari.accounts.roles import Role

    officer = make_staff(Role.ADMINISTRATOR)
    reference_import(path=write_csv(tmp_path, REGISTER), actor=officer)
    changed = "\n".join(
        [
            HEADER,
            # the same number written without dashes, now recorded as deceased
            "1730112345671,Muhammad Yousaf Khan,محمد یوسف خان,Gul Khan,1986-03-14,M,Mardan,1",
            "17301-1234569-3,Bakht Zada,بخت زادہ,Noor Zada,2001-12-31,M,Dir Upper,0",
        ]
    )
    summary = reference_import(path=write_csv(tmp_path, changed, "changed.csv"), actor=officer)
    assert (summary.created, summary.updated) == (1, 1)
    assert NationalIdRecord.objects.count() == 3
    again = ReferenceConnector().fetch(national_id=YOUSAF)
    assert again is not None
    assert (again.district, again.deceased) == ("Mardan", True)
    entries = AuditEntry.objects.filter(action="identity.reference_imported").order_by("seq")
    assert [e.changes["created"] for e in entries] == [2, 1]
    assert entries.last().actor == officer  # type: ignore[union-attr]


# --------------------------------------------------------------------------- synthetic


@pytest.mark.django_db
def test_load_synthetic_fills_the_register_idempotently() -> None:
    from rahdari.core.synthetic import generate_batches

    batch = next(generate_batches(households=25, seed=7))
    persons = batch.persons
    written = reference_load_synthetic(households=25, seed=7)
    assert written == batch.person_count == NationalIdRecord.objects.count()
    assert reference_load_synthetic(households=25, seed=7) == written  # upsert, no duplicates
    assert NationalIdRecord.objects.count() == written

    head = ReferenceConnector().fetch(national_id=str(persons["national_id"][0]))
    assert head is not None
    assert head.full_name == f"{persons['given_name'][0]} {persons['family_name'][0]}"
    assert head.full_name_ur == f"{persons['given_name_ur'][0]} {persons['family_name_ur'][0]}"
    assert head.guardian_name == persons["father_or_husband_name"][0]
    assert head.date_of_birth.isoformat() == str(persons["date_of_birth"][0])
    assert head.district == batch.households["district"][0]

    result = ReferenceConnector().verify(
        national_id=head.national_id,
        full_name=head.full_name,
        full_name_ur="",
        date_of_birth=head.date_of_birth,
        sex=head.sex,
    )
    assert result.outcome == VerificationOutcome.MATCH
    entry = AuditEntry.objects.filter(action="identity.reference_loaded_synthetic").first()
    assert entry is not None
    assert entry.changes["households"] == 25
