"""ISO 20022 bank files: pain.001 validity against the XSD, streaming, input checks, and a
pain.002 reader that accepts what banks send and refuses everything else with Pain002Error."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from schwifty import IBAN

from rahdari.payments.iso20022 import (
    PAIN001_NS,
    PAKISTAN_TIME,
    CreditTransfer,
    Pain001Error,
    Pain002Error,
    Party,
    StatusReport,
    TransactionStatus,
    parse_pain002,
    write_pain001,
    write_pain002,
)

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "iso20022"
XSD = TESTDATA / "pain.001.001.09.xsd"
needs_xsd = pytest.mark.skipif(not XSD.is_file(), reason=f"pain.001.001.09 XSD not found at {XSD}")

NS = {"p": PAIN001_NS}
CREATED = datetime(2025, 3, 1, 9, 30, tzinfo=PAKISTAN_TIME)
URDU_NAME = "شازیہ بی بی زوجہ محمد اکرم"
PASHTO_NAME = "ګل مکۍ"
ID_CHARACTERS = "Az09/-?:().,'+ "


def iban(n: int, bank: str = "HABB") -> str:
    return str(IBAN.generate("PK", bank_code=bank, account_code=f"{n:016d}").compact)


DEBTOR = Party(name="Social Protection Authority KP", iban=iban(1, "KHYB"), bic="KHYBPKKA")


def transfer(n: int, **changes: Any) -> CreditTransfer:
    values: dict[str, Any] = {
        "end_to_end_id": f"RDP2025Q1{n:08d}",
        "amount": 13_500,
        "creditor": Party(name=URDU_NAME, iban=iban(n)),
        "remittance": "Kafaalat 2025 Q1",
    }
    return CreditTransfer(**(values | changes))


def write(
    transfers: list[CreditTransfer], *, count: int | None = None, control_sum: int | None = None
) -> tuple[bytes, Any]:
    out = io.BytesIO()
    summary = write_pain001(
        out,
        message_id="RDP0123456789ABCDEF0123-0001",
        created_at=CREATED,
        initiating_party="Social Protection Authority KP",
        debtor=DEBTOR,
        payment_info_id="RDP0123456789ABCDEF0123-0001",
        execution_date=date(2025, 3, 3),
        transfers=iter(transfers),
        count=len(transfers) if count is None else count,
        control_sum=sum(t.amount for t in transfers) if control_sum is None else control_sum,
    )
    return out.getvalue(), summary


@pytest.fixture(scope="module")
def schema() -> Any:
    return xmlschema.XMLSchema(str(XSD))


# --- pain.001 ------------------------------------------------------------------------------


@needs_xsd
def test_a_written_file_validates_against_the_xsd(schema: Any) -> None:
    longest_urdu = (URDU_NAME + " ") * 10
    transfers = [
        transfer(1),
        transfer(2, creditor=Party(name=longest_urdu[:140], iban=iban(2, "MEZN"))),
        transfer(3, creditor=Party(name=PASHTO_NAME, iban=iban(3), bic="HABBPKKAXXX")),
        transfer(4, end_to_end_id=(ID_CHARACTERS * 3)[:34] + "X", instruction_id="A" * 35),
        transfer(5, remittance="کفالت " * 23 + "ab", amount=9_999_999_999_900_000),
        transfer(6, remittance=None, creditor=Party(name="Ayesha <&> 'Khan\"", iban=iban(6))),
    ]
    assert len(transfers[1].creditor.name) == 140 and len(transfers[4].remittance or "") == 140
    data, summary = write(transfers)

    schema.validate(io.BytesIO(data))
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns=')
    root = etree.fromstring(data)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header.findtext("p:CreDtTm", namespaces=NS) == "2025-03-01T09:30:00+05:00"
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "6"
    control_sum = f"{sum(t.amount for t in transfers)}.00"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == control_sum
    assert root.findtext(".//p:PmtInf/p:CtrlSum", namespaces=NS) == control_sum
    rows = root.findall(".//p:CdtTrfTxInf", NS)
    assert [r.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for r in rows] == [
        t.end_to_end_id for t in transfers
    ]
    assert [r.findtext("p:Cdtr/p:Nm", namespaces=NS) for r in rows] == [
        t.creditor.name for t in transfers
    ]
    assert rows[0].findtext("p:Amt/p:InstdAmt", namespaces=NS) == "13500.00"
    assert rows[0].find("p:Amt/p:InstdAmt", NS).get("Ccy") == "PKR"
    assert rows[4].findtext("p:Amt/p:InstdAmt", namespaces=NS) == "9999999999900000.00"
    assert summary.count == 6 and summary.control_sum == sum(t.amount for t in transfers)
    assert summary.sha256 == hashlib.sha256(data).hexdigest() and summary.size == len(data)


@needs_xsd
def test_the_purpose_code_goes_where_the_xsd_allows_it(schema: Any) -> None:
    assert schema.types["ExternalPurpose1Code"].is_valid("SSBE")
    assert schema.types["ExternalCategoryPurpose1Code"].is_valid("SSBE")
    root = etree.fromstring(write([transfer(1), transfer(2, purpose="GOVT")])[0])
    assert root.findtext(".//p:PmtInf/p:PmtTpInf/p:CtgyPurp/p:Cd", namespaces=NS) == "SSBE"
    assert [e.text for e in root.iterfind(".//p:CdtTrfTxInf/p:Purp/p:Cd", NS)] == ["SSBE", "GOVT"]


def test_the_end_to_end_id_is_the_key_the_bank_answers_with() -> None:
    transfers = [transfer(n) for n in range(1, 5)]
    data, _ = write(transfers)
    # The bank reads our file and answers per EndToEndId; we find our payments by it.
    root = etree.fromstring(data)
    answered = [e.text for e in root.iterfind(".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId", NS)]
    report = io.BytesIO()
    write_pain002(
        report,
        message_id="BANK-STS-1",
        created_at=CREATED,
        original_message_id=root.findtext(".//p:GrpHdr/p:MsgId", namespaces=NS),
        original_payment_info_id=root.findtext(".//p:PmtInfId", namespaces=NS),
        statuses=(TransactionStatus(original_end_to_end_id=e2e, status="ACSC") for e2e in answered),
    )
    by_key = {t.end_to_end_id: t for t in transfers}
    parsed = parse_pain002(report.getvalue())
    assert [by_key[s.original_end_to_end_id] for s in parsed.transactions] == transfers


@pytest.mark.parametrize(
    ("count", "control_sum", "message"),
    [
        (4, 40_500, r"declared NbOfTxs=4 and CtrlSum=40500\.00, but the transfers numbered 3 "),
        (3, 40_501, r"CtrlSum=40501\.00, but the transfers numbered 3 and summed to 40500\.00"),
        (2, 27_000, r"more transfers than the declared NbOfTxs=2"),
    ],
)
def test_totals_that_differ_from_the_declared_ones_raise(
    count: int, control_sum: int, message: str
) -> None:
    out = io.BytesIO()
    with pytest.raises(Pain001Error, match=message):
        write_pain001(
            out,
            message_id="M1",
            created_at=CREATED,
            initiating_party="SPA",
            debtor=DEBTOR,
            payment_info_id="P1",
            execution_date=date(2025, 3, 3),
            transfers=(transfer(n) for n in range(3)),
            count=count,
            control_sum=control_sum,
        )
    # What reached the output is not even well-formed, so no one can send it by mistake.
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(out.getvalue())


def test_an_error_in_the_caller_s_stream_leaves_no_well_formed_file() -> None:
    def transfers() -> Iterator[CreditTransfer]:
        yield transfer(1)
        yield transfer(2, amount=0)  # a row that fails its checks halfway through the cursor

    out = io.BytesIO()
    with pytest.raises(ValueError, match="amount of RDP2025Q100000002 must be more than 0"):
        write_pain001(
            out,
            message_id="M1",
            created_at=CREATED,
            initiating_party="SPA",
            debtor=DEBTOR,
            payment_info_id="P1",
            execution_date=date(2025, 3, 3),
            transfers=transfers(),
            count=2,
            control_sum=27_000,
        )
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(out.getvalue())


def test_an_extra_transfer_stops_the_stream_at_once() -> None:
    consumed = 0

    def transfers() -> Iterator[CreditTransfer]:
        nonlocal consumed
        for n in range(1_000):
            consumed += 1
            yield transfer(n)

    with pytest.raises(Pain001Error, match="more transfers than the declared NbOfTxs=5"):
        write_pain001(
            io.BytesIO(),
            message_id="M1",
            created_at=CREATED,
            initiating_party="SPA",
            debtor=DEBTOR,
            payment_info_id="P1",
            execution_date=date(2025, 3, 3),
            transfers=transfers(),
            count=5,
            control_sum=5 * 13_500,
        )
    assert consumed == 6


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"amount": 0}, ValueError, "must be more than 0"),
        ({"amount": -13_500}, ValueError, "must be more than 0"),
        ({"amount": 10**16}, ValueError, "more than 16 digits"),
        ({"amount": 13_500.0}, TypeError, "must be an int number of rupees"),
        ({"amount": True}, TypeError, "must be an int number of rupees"),
        ({"end_to_end_id": "A" * 36}, ValueError, r"1-35 characters .* \(36 given\)"),
        ({"end_to_end_id": ""}, ValueError, "1-35 characters"),
        ({"end_to_end_id": "RDP_2025"}, ValueError, "1-35 characters"),
        ({"end_to_end_id": "RDP2025é"}, ValueError, "1-35 characters"),
        ({"end_to_end_id": "RDP\n2025"}, ValueError, "1-35 characters"),
        ({"end_to_end_id": " RDP2025"}, ValueError, "must not start or end with a space"),
        ({"instruction_id": "X" * 36}, ValueError, "instruction id"),
        ({"remittance": "ک" * 141}, ValueError, "141 characters, over the limit of 140"),
        ({"remittance": "   "}, ValueError, "must not be empty"),
        ({"remittance": "a\x07b"}, ValueError, "control character U\\+0007 at position 1"),
        ({"currency": "pkr"}, ValueError, "currency 'pkr' is not a valid code"),
        ({"purpose": "SS"}, ValueError, "purpose code 'SS' is not a valid code"),
        ({"creditor": "PK36SCBL0000001123456702"}, TypeError, "must be a Party"),
    ],
)
def test_invalid_transfers_are_refused(changes: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        transfer(1, **changes)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"name": "ب" * 141}, ValueError, "party name is 141 characters"),
        ({"name": ""}, ValueError, "party name must not be empty"),
        ({"name": "Ayesha\x00"}, ValueError, "control character U\\+0000"),
        ({"iban": "PK00HABB0000001234567890"}, ValueError, "IBAN PK00…7890 is invalid"),
        ({"iban": "DE00"}, ValueError, "IBAN"),
        ({"bic": "HABB PK"}, ValueError, "BIC"),
    ],
)
def test_invalid_parties_are_refused(changes: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        Party(**({"name": URDU_NAME, "iban": iban(7)} | changes))
    assert "1234567890" not in str(raised.value)  # a full account number never reaches a log


def test_a_party_keeps_the_compact_iban_and_treats_an_empty_bic_as_none() -> None:
    number = iban(8)
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4)).lower()
    party = Party(name=URDU_NAME, iban=spaced, bic="")
    assert party.iban == number and party.bic is None
    assert Party(name="x", iban=number, bic="habbpkka").bic == "HABBPKKA"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"created_at": datetime(2025, 3, 1, 9, 30)}, ValueError, "must be timezone-aware"),  # noqa: DTZ001
        ({"execution_date": datetime(2025, 3, 3, tzinfo=UTC)}, TypeError, "must be a date"),
        ({"message_id": "M" * 36}, ValueError, "message id"),
        ({"payment_info_id": "P#1"}, ValueError, "payment information id"),
        ({"initiating_party": ""}, ValueError, "initiating party name"),
        ({"count": 0}, ValueError, "count must be between 1"),
        ({"control_sum": 0}, ValueError, "control sum must be more than 0"),
        ({"category_purpose": "ssbe"}, ValueError, "category purpose code"),
        ({"debtor": "SPA"}, TypeError, "debtor must be a Party"),
    ],
)
def test_invalid_headers_are_refused_before_anything_is_written(
    changes: dict[str, Any], error: type, message: str
) -> None:
    out = io.BytesIO()
    arguments: dict[str, Any] = {
        "message_id": "M1",
        "created_at": CREATED,
        "initiating_party": "SPA",
        "debtor": DEBTOR,
        "payment_info_id": "P1",
        "execution_date": date(2025, 3, 3),
        "transfers": iter([transfer(1)]),
        "count": 1,
        "control_sum": 13_500,
    }
    with pytest.raises(error, match=message):
        write_pain001(out, **(arguments | changes))
    assert out.getvalue() == b""


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (transfer(2, currency="USD"), "is in USD, the file in PKR"),
        ({"end_to_end_id": "X"}, "transfer #2 is a dict, not a CreditTransfer"),
    ],
)
def test_a_foreign_item_in_the_stream_raises(item: Any, message: str) -> None:
    with pytest.raises(Pain001Error, match=message):
        write([transfer(1), item], count=2, control_sum=27_000)


class _Discard:
    """An output that keeps nothing, so the measurement sees only the writer's memory."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def _many(parties: list[Party], n: int) -> Iterator[CreditTransfer]:
    for i in range(n):
        yield CreditTransfer(
            end_to_end_id=f"RDP2025Q1{i:08d}",
            amount=10_000 + i % 7_000,
            creditor=parties[i % len(parties)],
            remittance="Kafaalat 2025 Q1",
        )


def _control_sum(n: int) -> int:
    return sum(10_000 + i % 7_000 for i in range(n))


def _traced_peak(n: int) -> int:
    parties = [Party(name=f"{URDU_NAME} {i}", iban=iban(i)) for i in range(1_000)]
    out = _Discard()
    tracemalloc.start()
    try:
        summary = write_pain001(
            out,  # type: ignore[arg-type]
            message_id="M1",
            created_at=CREATED,
            initiating_party="SPA",
            debtor=DEBTOR,
            payment_info_id="P1",
            execution_date=date(2025, 3, 3),
            transfers=_many(parties, n),
            count=n,
            control_sum=_control_sum(n),
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.count == n and summary.size == out.size > n * 300
    return peak


def test_the_writer_keeps_no_python_objects_per_transfer() -> None:
    """Ten times the transfers, the same peak: nothing accumulates per row. (tracemalloc
    slows lxml tenfold, so the 200,000-row run is measured by RSS in the next test.)"""
    small, large = _traced_peak(2_000), _traced_peak(20_000)
    assert large < 20 * 1024 * 1024, f"peak {large / 2**20:.1f} MiB"
    assert large - small < 1024 * 1024, f"peak grew from {small} to {large} bytes"


_RSS_PROBE = """
import json, resource
from datetime import date
from rahdari.payments.iso20022 import Party, write_pain001
from tests.payments.test_iso20022 import CREATED, DEBTOR, URDU_NAME, _control_sum, _Discard, _many, iban

def run(n):
    parties, out = [Party(name=URDU_NAME, iban=iban(i)) for i in range(100)], _Discard()
    write_pain001(out, message_id="M1", created_at=CREATED, initiating_party="SPA",
        debtor=DEBTOR, payment_info_id="P1", execution_date=date(2025, 3, 3),
        transfers=_many(parties, n), count=n, control_sum=_control_sum(n))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, out.size

(before, _), (after, size) = run(1_000), run(200_000)
print(json.dumps({"before_kib": before, "after_kib": after, "size": size}))
"""


def test_writing_200_000_transfers_streams_in_little_memory() -> None:
    """The process's peak RSS sees libxml2's memory too, which tracemalloc cannot: a 69 MB
    file written from a generator leaves it where a 1,000-row file did (a DOM of it would
    need several hundred MB)."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE], cwd=root, capture_output=True, text=True, check=True
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    growth_mib = (measured["after_kib"] - measured["before_kib"]) / 1024
    assert measured["size"] > 60 * 1024 * 1024
    assert growth_mib < 20, f"peak RSS grew {growth_mib:.0f} MiB"


# --- pain.002 ------------------------------------------------------------------------------

ACCEPTED_AT = datetime(2025, 3, 3, 11, 0, 5, 250_000, tzinfo=PAKISTAN_TIME)
STATUSES = [
    TransactionStatus(original_end_to_end_id="RDP2025Q100000001", status="ACSC"),
    TransactionStatus(
        original_end_to_end_id="RDP2025Q100000002", status="ACCC", accepted_at=ACCEPTED_AT
    ),
    TransactionStatus(
        original_end_to_end_id="RDP2025Q100000003",
        status="RJCT",
        reason_code="AC04",
        additional_info="اکاؤنٹ بند ہے",
    ),
    TransactionStatus(
        original_end_to_end_id="RDP2025Q100000004", status="RJCT", reason_code="BE01"
    ),
    TransactionStatus(
        original_end_to_end_id="RDP2025Q100000005", status="RJCT", proprietary_reason="KYC-EXP"
    ),
    TransactionStatus(original_end_to_end_id="RDP2025Q100000006", status="PDNG"),
]


def report_bytes(statuses: list[TransactionStatus], **changes: Any) -> bytes:
    out = io.BytesIO()
    arguments: dict[str, Any] = {
        "message_id": "HBL-STS-20250303-1",
        "created_at": datetime(2025, 3, 3, 18, 0, tzinfo=UTC),
        "original_message_id": "RDP0123456789ABCDEF0123-0001",
        "original_payment_info_id": "RDP0123456789ABCDEF0123-0001",
        "statuses": iter(statuses),
    }
    write_pain002(out, **(arguments | changes))
    return out.getvalue()


def test_a_written_report_reads_back_the_same() -> None:
    report = parse_pain002(report_bytes(STATUSES, group_status="PART"))
    assert report.message_id == "HBL-STS-20250303-1"
    assert report.created_at == datetime(2025, 3, 3, 18, 0, tzinfo=UTC)
    assert report.original_message_id == "RDP0123456789ABCDEF0123-0001"
    assert report.original_message_name_id == "pain.001.001.09"
    assert report.group_status == "PART"
    assert [p.original_payment_info_id for p in report.payment_infos] == [
        "RDP0123456789ABCDEF0123-0001"
    ]
    assert list(report.transactions) == [
        TransactionStatus(
            **{
                **{f: getattr(s, f) for f in s.__dataclass_fields__},
                "original_payment_info_id": "RDP0123456789ABCDEF0123-0001",
            }
        )
        for s in STATUSES
    ]


def test_a_whole_file_rejection_reads_as_the_group_status() -> None:
    report = parse_pain002(report_bytes([], group_status="RJCT", group_reason_code="FF01"))
    assert (report.group_status, report.group_reason_code, report.transactions) == (
        "RJCT",
        "FF01",
        (),
    )


_statuses = st.lists(
    st.builds(
        TransactionStatus,
        original_end_to_end_id=st.from_regex(
            r"[A-Za-z0-9/\-?:().,'+]([A-Za-z0-9/\-?:().,'+ ]{0,33}[A-Za-z0-9])?", fullmatch=True
        ),
        status=st.sampled_from(["ACSC", "ACCC", "ACSP", "ACCP", "ACWC", "PDNG", "RJCT"]),
        reason_code=st.none() | st.sampled_from(["AC01", "AC04", "AC06", "AM02", "BE01", "MS03"]),
        additional_info=st.none()
        | st.text(
            st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn", "Zl", "Zp", "Zs")),
            min_size=1,
            max_size=105,
        ),
        accepted_at=st.none()
        | st.datetimes(
            timezones=st.sampled_from(
                [UTC, PAKISTAN_TIME, timezone(timedelta(hours=-3, minutes=-30))]
            )
        ),
    ),
    max_size=20,
    unique_by=lambda s: s.original_end_to_end_id,
)


@settings(max_examples=60, deadline=None)
@given(statuses=_statuses)
def test_any_written_report_round_trips(statuses: list[TransactionStatus]) -> None:
    report = parse_pain002(report_bytes(statuses))
    assert [
        (s.original_end_to_end_id, s.status, s.reason_code, s.additional_info, s.accepted_at)
        for s in report.transactions
    ] == [
        (s.original_end_to_end_id, s.status, s.reason_code, s.additional_info, s.accepted_at)
        for s in statuses
    ]


BANK_REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<!-- status report as a bank's host-to-host channel sends it -->
<doc:Document xmlns:doc="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <doc:CstmrPmtStsRpt>
    <doc:GrpHdr>
      <doc:MsgId>HBL/PSR/20250303/0042</doc:MsgId>
      <doc:CreDtTm>2025-03-03T17:45:12.1234567</doc:CreDtTm>
      <doc:InitgPty><doc:Id><doc:OrgId><doc:AnyBIC>HABBPKKA</doc:AnyBIC></doc:OrgId></doc:Id></doc:InitgPty>
    </doc:GrpHdr>
    <doc:OrgnlGrpInfAndSts>
      <doc:OrgnlMsgId>RDP0123456789ABCDEF0123-0001</doc:OrgnlMsgId>
      <doc:OrgnlMsgNmId>pain.001.001.09</doc:OrgnlMsgNmId>
      <doc:OrgnlNbOfTxs>4</doc:OrgnlNbOfTxs>
      <doc:GrpSts>ACCP</doc:GrpSts>
      <doc:NbOfTxsPerSts><doc:DtldNbOfTxs>4</doc:DtldNbOfTxs><doc:DtldSts>ACCP</doc:DtldSts></doc:NbOfTxsPerSts>
    </doc:OrgnlGrpInfAndSts>
    <doc:OrgnlPmtInfAndSts>
      <doc:OrgnlPmtInfId>RDP0123456789ABCDEF0123-0001</doc:OrgnlPmtInfId>
      <doc:PmtInfSts>RJCT</doc:PmtInfSts>
      <doc:StsRsnInf><doc:Rsn><doc:Cd>AM04</doc:Cd></doc:Rsn></doc:StsRsnInf>
      <doc:TxInfAndSts>
        <doc:StsId>S1</doc:StsId>
        <doc:OrgnlInstrId>RDP2025Q100000001/1</doc:OrgnlInstrId>
        <doc:OrgnlEndToEndId>RDP2025Q100000001</doc:OrgnlEndToEndId>
        <doc:TxSts>RJCT</doc:TxSts>
        <doc:StsRsnInf>
          <doc:Orgtr><doc:Nm>HBL</doc:Nm></doc:Orgtr>
          <doc:Rsn><doc:Cd>AC01</doc:Cd></doc:Rsn>
          <doc:AddtlInf>Account number
             does not exist</doc:AddtlInf>
          <doc:AddtlInf>at the beneficiary bank</doc:AddtlInf>
        </doc:StsRsnInf>
        <doc:StsRsnInf><doc:Rsn><doc:Cd>BE01</doc:Cd></doc:Rsn></doc:StsRsnInf>
        <doc:OrgnlTxRef><doc:Amt><doc:InstdAmt Ccy="PKR">13500.00</doc:InstdAmt></doc:Amt></doc:OrgnlTxRef>
      </doc:TxInfAndSts>
      <doc:TxInfAndSts>
        <doc:OrgnlEndToEndId> RDP2025Q100000002 </doc:OrgnlEndToEndId>
      </doc:TxInfAndSts>
    </doc:OrgnlPmtInfAndSts>
    <doc:OrgnlPmtInfAndSts>
      <doc:OrgnlPmtInfId>RDP0123456789ABCDEF0123-0002</doc:OrgnlPmtInfId>
      <doc:TxInfAndSts>
        <doc:OrgnlEndToEndId>RDP2025Q100000003</doc:OrgnlEndToEndId>
        <doc:AccptncDtTm>2025-03-03T10:00:00Z</doc:AccptncDtTm>
      </doc:TxInfAndSts>
      <doc:TxInfAndSts>
        <doc:OrgnlEndToEndId>RDP2025Q100000004</doc:OrgnlEndToEndId>
        <doc:TxSts>ACSC</doc:TxSts>
        <doc:AccptncDtTm>2025-03-03T10:00:00-03:30</doc:AccptncDtTm>
      </doc:TxInfAndSts>
    </doc:OrgnlPmtInfAndSts>
  </doc:CstmrPmtStsRpt>
</doc:Document>
"""


def test_a_bank_report_with_prefixes_comments_and_extra_elements_reads() -> None:
    report = parse_pain002(BANK_REPORT.encode())
    assert report.message_id == "HBL/PSR/20250303/0042"
    # No offset: Pakistan time; seven decimals are cut to microseconds.
    assert report.created_at == datetime(2025, 3, 3, 17, 45, 12, 123456, tzinfo=PAKISTAN_TIME)
    assert report.group_status == "ACCP"
    assert [
        (p.original_payment_info_id, p.status, p.reason_code) for p in report.payment_infos
    ] == [
        ("RDP0123456789ABCDEF0123-0001", "RJCT", "AM04"),
        ("RDP0123456789ABCDEF0123-0002", None, None),
    ]
    first, second, third, fourth = report.transactions
    assert (first.status, first.reason_code) == ("RJCT", "AC01")  # the first reason counts
    assert first.additional_info == "Account number does not exist at the beneficiary bank"
    # Without TxSts a transaction takes its PmtInf's status and reason, else the group's.
    assert (second.original_end_to_end_id, second.status, second.reason_code) == (
        "RDP2025Q100000002",
        "RJCT",
        "AM04",
    )
    assert (third.status, third.original_payment_info_id) == (
        "ACCP",
        "RDP0123456789ABCDEF0123-0002",
    )
    assert third.accepted_at == datetime(2025, 3, 3, 10, tzinfo=UTC)
    assert fourth.accepted_at == datetime(2025, 3, 3, 13, 30, tzinfo=UTC)


def _bank(old: str, new: str, count: int = 1) -> bytes:
    assert old in BANK_REPORT
    return BANK_REPORT.replace(old, new, count).encode()


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>&xxe;</MsgId><CreDtTm>2025-03-03T10:00:00Z</CreDtTm></GrpHdr>
</CstmrPmtStsRpt></Document>"""
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">&lol9;</Document>'
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b" \n\t", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3", "does not start with '<'"),
        (b"status: all paid", "does not start with '<'"),
        (b"<Document", "not well-formed XML"),
        (BANK_REPORT.encode()[:-40], "not well-formed XML"),
        (b"<a>\xff\xfe</a>", "not well-formed XML"),
        (XXE, "DOCTYPE or entity declaration"),
        (LAUGHS, "DOCTYPE or entity declaration"),
        (BANK_REPORT.encode("utf-16"), "NUL bytes"),
        (_bank('encoding="UTF-8"', 'encoding="ISO-8859-1"'), "only UTF-8"),
        (_bank("pain.002.001.10", "pain.002.001.03"), "'pain.002.001.03', not 'pain.002.001.10'"),
        (
            _bank(
                ' xmlns:doc="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"', ' xmlns:doc="urn:x"'
            ),
            "'urn:x'",
        ),
        (
            report_bytes(STATUSES)
            .replace(b"<Document", b"<Report")
            .replace(b"</Document", b"</Report"),
            "root element is Report",
        ),
        (
            _bank("<doc:GrpHdr>", "<doc:GrpHdrX>").replace(b"</doc:GrpHdr>", b"</doc:GrpHdrX>"),
            "must follow GrpHdr",
        ),
        (_bank("<doc:MsgId>HBL/PSR/20250303/0042</doc:MsgId>", ""), "GrpHdr .* has no MsgId"),
        (
            _bank(
                "<doc:MsgId>HBL/PSR/20250303/0042</doc:MsgId>",
                "<doc:MsgId>A</doc:MsgId><doc:MsgId>B</doc:MsgId>",
            ),
            "2 MsgId elements",
        ),
        (
            _bank(
                "<doc:MsgId>HBL/PSR/20250303/0042</doc:MsgId>",
                "<doc:MsgId>" + "A" * 36 + "</doc:MsgId>",
            ),
            "36 characters",
        ),
        (
            _bank(
                "<doc:MsgId>HBL/PSR/20250303/0042</doc:MsgId>",
                "<doc:MsgId><doc:Id>A</doc:Id></doc:MsgId>",
            ),
            "must hold text only",
        ),
        (_bank("2025-03-03T17:45:12.1234567", "yesterday"), "'yesterday' is not an ISO date-time"),
        (_bank("2025-03-03T17:45:12.1234567", "2025-13-03T17:45:12"), "not a valid date-time"),
        (
            _bank("<doc:OrgnlMsgId>RDP0123456789ABCDEF0123-0001</doc:OrgnlMsgId>", ""),
            "has no OrgnlMsgId",
        ),
        (_bank("<doc:OrgnlMsgNmId>pain.001.001.09</doc:OrgnlMsgNmId>", ""), "has no OrgnlMsgNmId"),
        (
            _bank("<doc:OrgnlPmtInfId>RDP0123456789ABCDEF0123-0002</doc:OrgnlPmtInfId>", ""),
            "has no OrgnlPmtInfId",
        ),
        (
            _bank("<doc:OrgnlEndToEndId>RDP2025Q100000003</doc:OrgnlEndToEndId>", ""),
            "has no OrgnlEndToEndId",
        ),
        (
            _bank(
                "<doc:OrgnlEndToEndId>RDP2025Q100000003</doc:OrgnlEndToEndId>",
                "<doc:OrgnlEndToEndId>RDP_3</doc:OrgnlEndToEndId>",
            ),
            "original end-to-end id 'RDP_3'",
        ),
        (
            _bank("<doc:TxSts>ACSC</doc:TxSts>", "<doc:TxSts>DONE</doc:TxSts>"),
            "'DONE' is not a known transaction status",
        ),
        (
            _bank("<doc:TxSts>ACSC</doc:TxSts>", "<doc:TxSts>PART</doc:TxSts>"),
            "'PART' is not a known transaction status",
        ),
        (
            _bank("<doc:GrpSts>ACCP</doc:GrpSts>", "<doc:GrpSts>OKAY</doc:GrpSts>"),
            "'OKAY' is not a known group status",
        ),
        (
            _bank("<doc:GrpSts>ACCP</doc:GrpSts>", ""),
            "has no TxSts, and the PmtInf or group status None",
        ),
        (
            _bank("RDP2025Q100000004", "RDP2025Q100000003"),
            "OrgnlEndToEndId 'RDP2025Q100000003' is reported twice",
        ),
        (
            _bank(" RDP2025Q100000002 ", "RDP2025Q100000001"),
            "OrgnlEndToEndId 'RDP2025Q100000001' is reported twice",
        ),
        (
            _bank("RDP0123456789ABCDEF0123-0002", "RDP0123456789ABCDEF0123-0001"),
            "OrgnlPmtInfId .* is reported twice",
        ),
        (
            _bank("<doc:Cd>AC01</doc:Cd>", "<doc:Cd>AC01</doc:Cd><doc:Prtry>X</doc:Prtry>"),
            "exactly one of Cd and Prtry",
        ),
        (_bank("<doc:Cd>AC01</doc:Cd>", "<doc:Cd>ac01</doc:Cd>"), "'ac01' is not a reason code"),
        (
            BANK_REPORT.replace("<doc:PmtInfSts>RJCT</doc:PmtInfSts>", "")
            .replace(
                "</doc:TxInfAndSts>\n    </doc:OrgnlPmtInfAndSts>",
                "</doc:TxInfAndSts><doc:PmtInfSts>RJCT</doc:PmtInfSts></doc:OrgnlPmtInfAndSts>",
                1,
            )
            .encode(),
            "PmtInfSts and StsRsnInf must precede TxInfAndSts",
        ),
        (
            _bank(
                "</doc:OrgnlGrpInfAndSts>",
                "<doc:TxInfAndSts><doc:OrgnlEndToEndId>X</doc:OrgnlEndToEndId></doc:TxInfAndSts></doc:OrgnlGrpInfAndSts>",
            ),
            "misplaced, outside OrgnlPmtInfAndSts",
        ),
        (
            _bank(
                "<doc:AccptncDtTm>2025-03-03T10:00:00Z",
                "<doc:AccptncDtTm>2025-03-03T10:00:00+25:00",
            ),
            "not a valid date-time",
        ),
    ],
)
def test_a_malformed_report_raises_pain002error(data: bytes, message: str) -> None:
    with pytest.raises(Pain002Error, match=message):
        parse_pain002(data)


def test_an_oversized_report_is_refused_before_parsing() -> None:
    data = report_bytes(STATUSES)
    with pytest.raises(Pain002Error, match=f"is {len(data)} bytes, over the limit of 100"):
        parse_pain002(data, max_bytes=100)
    padded = data + b" " * (50 * 1024 * 1024 + 1 - len(data))
    with pytest.raises(Pain002Error, match="over the limit of 52428800"):
        parse_pain002(padded)


def test_a_report_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        parse_pain002(BANK_REPORT)  # type: ignore[arg-type]


def test_the_writer_refuses_what_the_reader_would_refuse() -> None:
    with pytest.raises(ValueError, match="RDP2025Q100000001 is reported twice"):
        report_bytes(STATUSES[:1] * 2)
    with pytest.raises(ValueError, match="107 characters, over the limit of 105"):
        report_bytes(
            [
                TransactionStatus(
                    original_end_to_end_id="A", status="RJCT", additional_info="x" * 107
                )
            ]
        )
    with pytest.raises(ValueError, match="belongs to PmtInf 'OTHER'"):
        report_bytes(
            [
                TransactionStatus(
                    original_end_to_end_id="A", status="RJCT", original_payment_info_id="OTHER"
                )
            ]
        )
    with pytest.raises(ValueError, match="'DONE' is not a known"):
        TransactionStatus(original_end_to_end_id="A", status="DONE")
    with pytest.raises(ValueError, match="must be timezone-aware"):
        TransactionStatus(
            original_end_to_end_id="A",
            status="ACSC",
            accepted_at=datetime(2025, 1, 1),  # noqa: DTZ001
        )


def _parses_or_refuses(data: bytes) -> None:
    try:
        result = parse_pain002(data)
    except Pain002Error:
        return
    assert isinstance(result, StatusReport)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2_000))
def test_random_bytes_raise_only_pain002error(data: bytes) -> None:
    _parses_or_refuses(data)


VALID_REPORTS = [BANK_REPORT.encode(), report_bytes(STATUSES, group_status="PART")]


@st.composite
def mutated_reports(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID_REPORTS)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "splice"]))
        if action == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "delete":
            data[position : position + draw(st.integers(1, 80))] = b""
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=12))
        elif action == "duplicate":
            data[position:position] = data[position : position + draw(st.integers(1, 300))]
        elif action == "splice":
            token = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"</doc:TxSts>",
                        b"&",
                        b"&amp;",
                        b"<![CDATA[",
                        b"<!--",
                        b"\xe0",
                        b"<TxSts>RJCT</TxSts>",
                        b'<?xml version="1.0"?>',
                        b"<!DOCTYPE x>",
                        b"\x00",
                    ]
                )
            )
            data[position:position] = token
    return bytes(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_reports())
def test_mutated_reports_raise_only_pain002error(data: bytes) -> None:
    _parses_or_refuses(data)


@st.composite
def restructured_reports(draw: st.DrawFn) -> bytes:
    """Well-formed reports with elements removed, copied, moved or given other text, so
    the reader itself (not only the XML parser) meets every shape."""
    root = etree.fromstring(draw(st.sampled_from(VALID_REPORTS)))
    for _ in range(draw(st.integers(1, 4))):
        elements = list(root.iter(etree.Element))
        target = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(["remove", "copy", "move", "text"]))
        parent = target.getparent()
        if action == "remove" and parent is not None:
            parent.remove(target)
        elif action == "copy" and parent is not None:
            parent.insert(parent.index(target) + draw(st.integers(0, 1)), deepcopy(target))
        elif action == "move" and parent is not None:
            destination = draw(st.sampled_from(elements))
            if target not in destination.iterancestors() and destination is not target:
                destination.insert(draw(st.integers(0, len(destination))), target)
        elif action == "text" and len(target) == 0:
            target.text = draw(
                st.sampled_from(["RJCT", "PART", "ACSC", "AC01", "", " ", "x" * 36, "2025-02-30"])
                | st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8)
            )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=restructured_reports())
def test_restructured_reports_raise_only_pain002error(data: bytes) -> None:
    _parses_or_refuses(data)


def test_the_quick_iban_check_accepts_exactly_what_schwifty_accepts() -> None:
    """A bank file checks each IBAN again without building schwifty's object; it must
    pass what schwifty passes (in the same compact form) and send the rest to schwifty,
    whose error names the fault."""
    import random

    from schwifty.exceptions import SchwiftyException
    from schwifty.registry import get_iban_spec

    from rahdari.payments import iso20022

    rng = random.Random(20261123)
    valid = [str(IBAN.random(random=rng)) for _ in range(300)]
    valid += [iban(n, bank) for n in range(50) for bank in ("HABB", "MEZN", "UNIL")]
    candidates = list(valid)
    for value in valid[:200]:
        at = rng.randrange(len(value))
        swapped = rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        candidates += [
            value[:at] + swapped + value[at + 1 :],  # one character changed
            value[:2] + f"{(int(value[2:4]) + 1) % 100:02d}" + value[4:],  # check digits
            value + "0",  # one too long
            value[:-1],  # one too short
            value.lower(),
            " ".join(value[i : i + 4] for i in range(0, len(value), 4)),
            value[:2] + "00" + value[4:],
            value[:2] + "99" + value[4:],
        ]
    candidates += ["", "PK", "PK36", "XX36ABCD1234", "PK36SCBL00000011234567O2"]
    quick_yes = 0
    for value in candidates:
        try:
            schwifty_says = str(IBAN(value)) == value
        except SchwiftyException:
            schwifty_says = False
        assert iso20022._fits_compact_iban(value) is schwifty_says, value
        quick_yes += schwifty_says
    assert quick_yes >= len(valid)  # the quick path is taken for every valid compact IBAN
    assert get_iban_spec("PK").iban_length == 24
