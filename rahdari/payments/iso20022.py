"""ISO 20022 bank files: pain.001.001.09 credit transfers out, pain.002.001.10 status back.

Pure module (lxml, schwifty; no Django). Writers stream with ``lxml.etree.xmlfile``: one
transaction at a time goes from the caller's iterable (a generator over a database
cursor) to the output, so a file of a million transfers never sits in memory. In
pain.001 the transactions themselves (the hot loop) are written as the very bytes lxml
writes for them, from a template, a page of 512 at a time (1-1.5 µs of CPU each instead
of 20 µs for lxml's per-element calls).

pain.001.001.09 (CustomerCreditTransferInitiationV09): one file = one GrpHdr + one PmtInf.

- GrpHdr: MsgId ← ``message_id``; CreDtTm ← ``created_at`` (aware, to the second, with
  its offset); NbOfTxs/CtrlSum ← ``count``/``control_sum``; InitgPty/Nm ← ``initiating_party``.
- PmtInf: PmtInfId ← ``payment_info_id``; PmtMtd TRF; NbOfTxs/CtrlSum again (the one PmtInf
  holds every transaction); PmtTpInf/CtgyPurp/Cd ← ``category_purpose`` (SSBE, social
  security benefit, tells the debtor bank how to process the whole batch);
  ReqdExctnDt/Dt ← ``execution_date``; Dbtr/Nm, DbtrAcct/Id/IBAN (+ Ccy), and
  DbtrAgt/FinInstnId/BICFI ← ``debtor`` (Othr/Id NOTPROVIDED without a BIC, as EPC does).
  ChrgBr is left out: this schema allows only SLEV and the charges are set by the bank
  contract.
- CdtTrfTxInf per :class:`CreditTransfer`: PmtId/InstrId ← ``instruction_id`` (optional,
  key + attempt), PmtId/EndToEndId ← ``end_to_end_id``, the idempotency key the bank
  echoes in pain.002 as OrgnlEndToEndId; Amt/InstdAmt[@Ccy] ← ``amount`` in whole rupees,
  written "13500.00"; CdtrAgt/FinInstnId/BICFI ← ``creditor.bic`` when known; Cdtr/Nm and
  CdtrAcct/Id/IBAN ← ``creditor``; Purp/Cd ← ``purpose`` (SSBE); RmtInf/Ustrd ←
  ``remittance``.

NbOfTxs and CtrlSum precede the transactions, so the caller declares them; the writer
counts and sums while streaming and raises :class:`Pain001Error` when they differ (or on
any error mid-stream), and then drops whatever was still buffered, so the partial output
is not even well-formed XML: discard it. Every value is checked before it is written
(identifiers: 1-35 characters of ``A-Z a-z 0-9 / - ? : ( ) . , ' +`` and space, no
surrounding space; names ≤ 140 and remittance ≤ 140 characters, any script, no control
characters; IBAN by schwifty; amounts > 0 and ≤ 16 integer digits). Messages quote
identifiers but never a name or a full IBAN (personal data ends up in logs).

pain.002.001.10 (CustomerPaymentStatusReportV10) is read from GrpHdr (MsgId, CreDtTm),
OrgnlGrpInfAndSts (OrgnlMsgId, OrgnlMsgNmId, GrpSts, StsRsnInf), and each
OrgnlPmtInfAndSts (OrgnlPmtInfId, PmtInfSts, StsRsnInf) with its TxInfAndSts
(OrgnlEndToEndId, TxSts, StsRsnInf/Rsn/Cd or Prtry, StsRsnInf/AddtlInf, AccptncDtTm). A
transaction without TxSts takes the status (and reason) of its PmtInf, else its group.
Date-times without an offset are read in Pakistan time (UTC+05:00, no daylight saving).

Statuses we act on: ACSC/ACCC mean paid (``PAID_STATUSES``); RJCT/CANC mean not paid,
the reason says why (``FAILED_STATUSES``); every other known code (RCVD, ACTC, ACCP,
ACSP, ACWC, PDNG, ...) is still under way. An unknown status code rejects the report.
Reason codes are 4 characters of the ISO external list, kept as sent; the ones we expect
are in ``REASON_CODES``: AC01/AC03/AC04/AC06/BE01 mean the beneficiary's account must be
corrected before a retry (``ACCOUNT_REASON_CODES``), MD07 that the beneficiary died, AM02,
AM04, AM05, DU01, FF01, MS02, MS03, NARR and the rest go to a person.

The parser refuses a DOCTYPE or entity declaration outright, reads UTF-8 only, never
resolves entities or touches the network (``resolve_entities=False, no_network=True,
load_dtd=False, huge_tree=False``), caps the size, and raises only :class:`Pain002Error`
for anything it cannot accept. It walks the report with ``iterparse`` and frees each
transaction once read.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, BinaryIO, Final

from lxml import etree
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from schwifty.registry import get_iban_spec

PAIN001_NS: Final = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
PAIN002_NS: Final = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
PAIN001_NAME: Final = "pain.001.001.09"

PAKISTAN_TIME: Final = timezone(timedelta(hours=5), "PKT")
MAX_REPORT_BYTES: Final = 50 * 1024 * 1024
# ActiveOrHistoricCurrencyAndAmount and DecimalNumber: 18 digits, 2 of them decimals.
MAX_AMOUNT: Final = 10**16 - 1
MAX_COUNT: Final = 10**15 - 1  # Max15NumericText

TRANSACTION_STATUSES: Final[dict[str, str]] = {
    "RCVD": "received",
    "ACTC": "accepted after technical validation",
    "ACCP": "accepted after customer profile check",
    "ACFC": "accepted, funds checked",
    "ACWC": "accepted with change",
    "ACWP": "accepted without posting",
    "ACSP": "accepted, settlement in process",
    "ACPD": "accepted, clearing processed",
    "ACIS": "accepted and cheque issued",
    "ACSC": "settled: the debtor account is debited",
    "ACCC": "settled: the creditor account is credited",
    "CPUC": "cash picked up by the creditor",
    "PATC": "partially accepted, technically correct",
    "PRES": "presented",
    "PDNG": "pending",
    "BLCK": "blocked",
    "CANC": "cancelled",
    "RJCT": "rejected",
}
GROUP_STATUSES: Final[dict[str, str]] = {
    **TRANSACTION_STATUSES,
    "PART": "partially accepted",
}
PAID_STATUSES: Final = frozenset({"ACSC", "ACCC"})
FAILED_STATUSES: Final = frozenset({"RJCT", "CANC"})

REASON_CODES: Final[dict[str, str]] = {
    "AC01": "incorrect account number",
    "AC03": "invalid creditor account number",
    "AC04": "closed account",
    "AC06": "blocked account",
    "AG01": "transaction forbidden on this account",
    "AM02": "amount not allowed",
    "AM04": "insufficient funds",
    "AM05": "duplicate payment",
    "BE01": "inconsistent with end customer (name does not match the account)",
    "DU01": "duplicate message id",
    "FF01": "invalid file format",
    "MD07": "end customer deceased",
    "MS02": "not specified, customer generated",
    "MS03": "not specified, agent generated",
    "NARR": "see the additional information",
    "RC01": "bank identifier incorrect",
    "RR04": "regulatory reason",
}
ACCOUNT_REASON_CODES: Final = frozenset({"AC01", "AC03", "AC04", "AC06", "BE01"})


class Iso20022Error(ValueError):
    """A bank file that cannot be written or read."""


class Pain001Error(Iso20022Error):
    """The credit-transfer file cannot be completed; its partial output must be discarded."""


class Pain002Error(Iso20022Error):
    """A status report that cannot be accepted; nothing of it may be applied."""


# --- Field checks ------------------------------------------------------------------------

_ID_RE: Final = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]{1,35}")
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
_CODE_RE: Final = re.compile(r"[A-Z]{4}")
_REASON_RE: Final = re.compile(r"[A-Z0-9]{4}")
_BIC_RE: Final = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_IBAN_RE: Final = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")
# Control characters, lone surrogates and the two non-characters XML 1.0 forbids.
_BAD_TEXT_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not _ID_RE.fullmatch(value):
        raise ValueError(
            f"{what} {value[:40]!r} must be 1-35 characters from A-Z a-z 0-9 / - ? : ( ) . , ' "
            f"+ and space ({len(value)} given)"
        )
    if value != value.strip(" "):
        raise ValueError(f"{what} {value!r} must not start or end with a space")
    return value


def _check_text(value: object, what: str, max_length: int | None) -> str:
    """Free text (names, remittance, reasons): any script, no control characters."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{what} is {len(value)} characters, over the limit of {max_length}")
    bad = _BAD_TEXT_RE.search(value)
    if bad:
        raise ValueError(
            f"{what} contains the control character U+{ord(bad.group()):04X} "
            f"at position {bad.start()}"
        )
    return value


def _check_code(value: object, what: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a valid code ({pattern.pattern})")
    return value


def _mask(iban: str) -> str:
    return f"{iban[:4]}…{iban[-4:]}" if len(iban) > 8 else "…"


# Letters as ISO 7064 reads them (A = 10 … Z = 35), for the check digits.
_IBAN_DIGITS: Final = str.maketrans({chr(ord("A") + i): str(10 + i) for i in range(26)})
_COMPACT_IBAN_RE: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")


def _fits_compact_iban(value: str) -> bool:
    """What schwifty's ``IBAN(value)`` checks — the country's length and BBAN structure
    (from schwifty's registry) and the ISO 7064 mod 97-10 check digits — for an IBAN
    already in compact form, without building the object: a bank file checks every
    account again, 685,000 at a time, and schwifty's object costs 8–12 µs each. False
    sends the caller to schwifty, whose error says what is wrong."""
    if not _COMPACT_IBAN_RE.fullmatch(value):
        return False
    try:
        spec = get_iban_spec(value[:2])
    except SchwiftyException:
        return False
    if len(value) != spec.iban_length or not spec.regex.match(value[4:]):
        return False
    remainder = int((value[4:] + value[:2]).translate(_IBAN_DIGITS)) * 100 % 97
    return f"{98 - remainder:02d}" == value[2:4]


def _check_iban(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"IBAN must be a str, not {type(value).__name__}")
    if _fits_compact_iban(value):
        return value
    try:
        compact = str(IBAN(value))
    except SchwiftyException as exc:
        raise ValueError(f"IBAN {_mask(value)} is invalid: {exc}") from None
    if not _IBAN_RE.fullmatch(compact):  # pragma: no cover - schwifty's form always fits
        raise ValueError(f"IBAN {_mask(compact)} does not fit IBAN2007Identifier")
    return compact


def _check_bic(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"BIC must be a str, not {type(value).__name__}")
    try:
        compact = str(BIC(value))
    except SchwiftyException as exc:
        raise ValueError(f"BIC {value!r} is invalid: {exc}") from None
    if not _BIC_RE.fullmatch(compact):
        raise ValueError(f"BIC {compact!r} does not fit BICFIDec2014Identifier")
    return compact


def _check_amount(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int number of rupees, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{what} must be more than 0, got {value}")
    if value > MAX_AMOUNT:
        raise ValueError(f"{what} {value} has more than 16 digits")
    return value


def _check_aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"{what} must be timezone-aware, got the naive {value.isoformat()}")
    if offset.total_seconds() % 60:
        raise ValueError(f"{what} has a UTC offset with seconds, which xs:dateTime cannot carry")
    return value


def _amount_text(rupees: int) -> str:
    return f"{rupees}.00"


# --- Data ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """An account holder: ``Party(name="شازیہ بی بی", iban="PK36SCBL0000001123456702")``.

    The IBAN is checked (schwifty) and kept in its compact form; an empty BIC means none.
    """

    name: str
    iban: str
    bic: str | None = None

    def __post_init__(self) -> None:
        _check_text(self.name, "party name", 140)
        object.__setattr__(self, "iban", _check_iban(self.iban))
        bic = self.bic or None
        object.__setattr__(self, "bic", None if bic is None else _check_bic(bic))


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditTransfer:
    """One payment to one beneficiary; ``end_to_end_id`` is its idempotency key."""

    end_to_end_id: str
    amount: int
    creditor: Party
    remittance: str | None = None
    currency: str = "PKR"
    purpose: str = "SSBE"
    instruction_id: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.end_to_end_id, "end-to-end id")
        _check_amount(self.amount, f"amount of {self.end_to_end_id}")
        if not isinstance(self.creditor, Party):
            raise TypeError(f"creditor of {self.end_to_end_id} must be a Party")
        if self.remittance is not None:
            _check_text(self.remittance, f"remittance of {self.end_to_end_id}", 140)
        _check_code(self.currency, "currency", _CURRENCY_RE)
        _check_code(self.purpose, "purpose code", _CODE_RE)
        if self.instruction_id is not None:
            _check_id(self.instruction_id, "instruction id")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pain001Summary:
    """What was written: the totals (equal to the declared ones) and the file's digest."""

    message_id: str
    count: int
    control_sum: int
    sha256: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStatus:
    """The bank's word on one transfer, e.g. RJCT with reason AC04 (closed account)."""

    original_end_to_end_id: str
    status: str
    reason_code: str | None = None
    additional_info: str | None = None
    original_payment_info_id: str | None = None
    accepted_at: datetime | None = None
    proprietary_reason: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.original_end_to_end_id, "original end-to-end id")
        if self.status not in TRANSACTION_STATUSES:
            raise ValueError(f"transaction status {self.status!r} is not a known ISO 20022 code")
        if self.reason_code is not None:
            _check_code(self.reason_code, "reason code", _REASON_RE)
        if self.additional_info is not None:
            _check_text(self.additional_info, "additional information", None)
        if self.original_payment_info_id is not None:
            _check_id(self.original_payment_info_id, "original payment information id")
        if self.accepted_at is not None:
            _check_aware(self.accepted_at, "acceptance time")
        if self.proprietary_reason is not None:
            _check_text(self.proprietary_reason, "proprietary reason", 35)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentInfoStatus:
    """A status the bank gave a whole PmtInf (None when it reported transactions only)."""

    original_payment_info_id: str
    status: str | None
    reason_code: str | None = None
    additional_info: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """A parsed pain.002: the group's status, each PmtInf's, and each transaction's."""

    message_id: str
    created_at: datetime
    original_message_id: str
    original_message_name_id: str
    group_status: str | None
    group_reason_code: str | None
    group_additional_info: str | None
    payment_infos: tuple[PaymentInfoStatus, ...]
    transactions: tuple[TransactionStatus, ...]


# --- Streaming output ------------------------------------------------------------------------


class _Sink:
    """Passes lxml's output on, hashing and counting it; once poisoned it drops the rest,
    so the end tags lxml writes while unwinding from an error never reach the file."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0
        self.poisoned = False

    def write(self, data: bytes) -> None:
        if self.poisoned:
            return
        self._hash.update(data)
        self.size += len(data)
        self._out.write(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@contextmanager
def _poison_on_error(sink: _Sink) -> Iterator[None]:
    try:
        yield
    except BaseException:
        sink.poisoned = True
        raise


def _leaf(xf: Any, tag: str, text: str) -> None:
    with xf.element(tag):
        xf.write(text)


class _Names(dict[str, str]):
    """Clark names (``{namespace}local``) of one message's elements, made on first use."""

    def __init__(self, namespace: str) -> None:
        super().__init__()
        self.namespace = namespace

    def __missing__(self, local: str) -> str:
        self[local] = name = f"{{{self.namespace}}}{local}"
        return name


# The declaration as banks' samples and validators spell it (lxml would use ' and utf-8).
_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_P1: Final = _Names(PAIN001_NS)
_P2: Final = _Names(PAIN002_NS)


def _write_agent(xf: Any, tag: str, bic: str | None) -> None:
    with xf.element(_P1[tag]), xf.element(_P1["FinInstnId"]):
        if bic is None:
            with xf.element(_P1["Othr"]):
                _leaf(xf, _P1["Id"], "NOTPROVIDED")
        else:
            _leaf(xf, _P1["BICFI"], bic)


def _write_account(xf: Any, tag: str, iban: str, currency: str | None = None) -> None:
    with xf.element(_P1[tag]):
        with xf.element(_P1["Id"]):
            _leaf(xf, _P1["IBAN"], iban)
        if currency is not None:
            _leaf(xf, _P1["Ccy"], currency)


def _escape(text: str) -> str:
    """Character data as libxml2 writes it: & < > escaped (control characters, which it
    would write as references, are refused by the checks before)."""
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _transfer_xml(transfer: CreditTransfer, remittance: dict[str, str]) -> str:
    """One CdtTrfTxInf, byte for byte what lxml writes for it (the hot loop of a
    million-row file; lxml's per-element calls cost about ten times more). Identifiers,
    IBAN, BIC and codes are checked to need no escaping; names and remittance are escaped.
    """
    creditor = transfer.creditor
    instruction = (
        "" if transfer.instruction_id is None else f"<InstrId>{transfer.instruction_id}</InstrId>"
    )
    agent = (
        ""
        if creditor.bic is None
        else f"<CdtrAgt><FinInstnId><BICFI>{creditor.bic}</BICFI></FinInstnId></CdtrAgt>"
    )
    info = ""
    if transfer.remittance is not None:
        info = remittance.get(transfer.remittance) or remittance.setdefault(
            transfer.remittance, f"<RmtInf><Ustrd>{_escape(transfer.remittance)}</Ustrd></RmtInf>"
        )
    return (
        f"<CdtTrfTxInf><PmtId>{instruction}<EndToEndId>{transfer.end_to_end_id}</EndToEndId>"
        f'</PmtId><Amt><InstdAmt Ccy="{transfer.currency}">{transfer.amount}.00</InstdAmt>'
        f"</Amt>{agent}<Cdtr><Nm>{_escape(creditor.name)}</Nm></Cdtr><CdtrAcct><Id><IBAN>"
        f"{creditor.iban}</IBAN></Id></CdtrAcct><Purp><Cd>{transfer.purpose}</Cd></Purp>"
        f"{info}</CdtTrfTxInf>\n"  # one transaction a line: validators report line numbers
    )


_PAGE: Final = 512  # transactions per write


def _write_transfers(
    sink: _Sink, transfers: Iterable[CreditTransfer], count: int, currency: str
) -> tuple[int, int]:
    """Write each transfer as it comes (a page of them per write); the number written and
    their sum. The caller has flushed lxml's buffer, so these bytes follow its output."""
    written = 0
    total = 0
    page: list[str] = []
    remittance: dict[str, str] = {}
    for transfer in transfers:
        written += 1
        if not isinstance(transfer, CreditTransfer):
            raise Pain001Error(
                f"transfer #{written} is a {type(transfer).__name__}, not a CreditTransfer"
            )
        if transfer.currency != currency:
            raise Pain001Error(
                f"transfer {transfer.end_to_end_id} is in {transfer.currency}, the file in {currency}"
            )
        if written > count:  # fail at once, not after the rest of a million rows
            raise Pain001Error(
                f"more transfers than the declared NbOfTxs={count}; discard the partial file"
            )
        total += transfer.amount
        page.append(_transfer_xml(transfer, remittance))
        if len(page) == _PAGE:
            sink.write("".join(page).encode("utf-8"))
            page.clear()
    if page:
        sink.write("".join(page).encode("utf-8"))
    return written, total


def write_pain001(
    out: BinaryIO,
    *,
    message_id: str,
    created_at: datetime,
    initiating_party: str,
    debtor: Party,
    payment_info_id: str,
    execution_date: date,
    transfers: Iterable[CreditTransfer],
    count: int,
    control_sum: int,
    currency: str = "PKR",
    category_purpose: str = "SSBE",
) -> Pain001Summary:
    """Stream a pain.001.001.09 file of ``transfers`` (all in ``currency``) to ``out``.

    Raises ValueError/TypeError before writing anything when a header value is invalid;
    :class:`Pain001Error` when an item is not a CreditTransfer in ``currency`` or the
    transfers do not number ``count`` and sum to ``control_sum``. After that, or after any
    error raised by ``transfers`` itself, the partial output must be discarded.
    """
    _check_id(message_id, "message id")
    _check_aware(created_at, "creation time")
    _check_text(initiating_party, "initiating party name", 140)
    if not isinstance(debtor, Party):
        raise TypeError("debtor must be a Party")
    _check_id(payment_info_id, "payment information id")
    if isinstance(execution_date, datetime) or not isinstance(execution_date, date):
        raise TypeError(f"execution date must be a date, not {type(execution_date).__name__}")
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"count must be an int, not {type(count).__name__}")
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}, got {count}")
    _check_amount(control_sum, "control sum")
    _check_code(currency, "currency", _CURRENCY_RE)
    _check_code(category_purpose, "category purpose code", _CODE_RE)

    p = _P1
    sink = _Sink(out)
    sink.write(_DECLARATION)
    with (
        etree.xmlfile(sink, encoding="utf-8") as xf,
        xf.element(p["Document"], nsmap={None: PAIN001_NS}),
    ):
        xf.write("\n")
        with xf.element(p["CstmrCdtTrfInitn"]):
            with xf.element(p["GrpHdr"]):
                _leaf(xf, p["MsgId"], message_id)
                _leaf(xf, p["CreDtTm"], created_at.isoformat(timespec="seconds"))
                _leaf(xf, p["NbOfTxs"], str(count))
                _leaf(xf, p["CtrlSum"], _amount_text(control_sum))
                with xf.element(p["InitgPty"]):
                    _leaf(xf, p["Nm"], initiating_party)
            xf.write("\n")
            with xf.element(p["PmtInf"]), _poison_on_error(sink):
                _leaf(xf, p["PmtInfId"], payment_info_id)
                _leaf(xf, p["PmtMtd"], "TRF")
                _leaf(xf, p["NbOfTxs"], str(count))
                _leaf(xf, p["CtrlSum"], _amount_text(control_sum))
                with xf.element(p["PmtTpInf"]), xf.element(p["CtgyPurp"]):
                    _leaf(xf, p["Cd"], category_purpose)
                with xf.element(p["ReqdExctnDt"]):
                    _leaf(xf, p["Dt"], execution_date.isoformat())
                with xf.element(p["Dbtr"]):
                    _leaf(xf, p["Nm"], debtor.name)
                _write_account(xf, "DbtrAcct", debtor.iban, currency)
                _write_agent(xf, "DbtrAgt", debtor.bic)
                xf.write("\n")
                xf.flush()
                written, total = _write_transfers(sink, transfers, count, currency)
                if written != count or total != control_sum:
                    raise Pain001Error(
                        f"declared NbOfTxs={count} and CtrlSum={_amount_text(control_sum)}, "
                        f"but the transfers numbered {written} and summed to "
                        f"{_amount_text(total)}; discard the partial file"
                    )
    sink.write(b"\n")
    return Pain001Summary(
        message_id=message_id,
        count=written,
        control_sum=total,
        sha256=sink.hexdigest(),
        size=sink.size,
    )


def _write_reason(xf: Any, code: str | None, proprietary: str | None, info: str | None) -> None:
    if code is None and proprietary is None and info is None:
        return
    p = _P2
    with xf.element(p["StsRsnInf"]):
        if code is not None or proprietary is not None:
            with xf.element(p["Rsn"]):
                if code is not None:
                    _leaf(xf, p["Cd"], code)
                else:
                    _leaf(xf, p["Prtry"], str(proprietary))
        if info is not None:
            _leaf(xf, p["AddtlInf"], info)


def write_pain002(
    out: BinaryIO,
    *,
    message_id: str,
    created_at: datetime,
    original_message_id: str,
    original_payment_info_id: str,
    statuses: Iterable[TransactionStatus],
    original_message_name_id: str = PAIN001_NAME,
    group_status: str | None = None,
    group_reason_code: str | None = None,
) -> None:
    """Stream a pain.002.001.10 report on one pain.001 PmtInf (as a bank sends it).

    A status's ``original_payment_info_id`` must be None or ``original_payment_info_id``;
    its ``additional_info`` is one AddtlInf (≤ 105 characters); a status with both a
    reason code and a proprietary reason writes the code (Rsn is a choice). The ids
    written are remembered, to refuse a duplicate as the reader would.
    """
    _check_id(message_id, "message id")
    _check_aware(created_at, "creation time")
    _check_id(original_message_id, "original message id")
    _check_id(original_payment_info_id, "original payment information id")
    _check_text(original_message_name_id, "original message name id", 35)
    if group_status is not None and group_status not in GROUP_STATUSES:
        raise ValueError(f"group status {group_status!r} is not a known ISO 20022 code")
    if group_reason_code is not None:
        _check_code(group_reason_code, "group reason code", _REASON_RE)

    p = _P2
    sink = _Sink(out)
    seen: set[str] = set()
    sink.write(_DECLARATION)
    with (
        etree.xmlfile(sink, encoding="utf-8") as xf,
        xf.element(p["Document"], nsmap={None: PAIN002_NS}),
    ):
        xf.write("\n")
        with xf.element(p["CstmrPmtStsRpt"]):
            with xf.element(p["GrpHdr"]):
                _leaf(xf, p["MsgId"], message_id)
                _leaf(xf, p["CreDtTm"], created_at.isoformat())
            xf.write("\n")
            with xf.element(p["OrgnlGrpInfAndSts"]):
                _leaf(xf, p["OrgnlMsgId"], original_message_id)
                _leaf(xf, p["OrgnlMsgNmId"], original_message_name_id)
                if group_status is not None:
                    _leaf(xf, p["GrpSts"], group_status)
                _write_reason(xf, group_reason_code, None, None)
            xf.write("\n")
            with xf.element(p["OrgnlPmtInfAndSts"]), _poison_on_error(sink):
                _leaf(xf, p["OrgnlPmtInfId"], original_payment_info_id)
                xf.write("\n")
                for number, status in enumerate(statuses, start=1):
                    _write_status(xf, number, status, original_payment_info_id, seen)
    sink.write(b"\n")


def _write_status(
    xf: Any, number: int, status: object, payment_info_id: str, seen: set[str]
) -> None:
    if not isinstance(status, TransactionStatus):
        raise TypeError(f"status #{number} is a {type(status).__name__}, not a TransactionStatus")
    e2e = status.original_end_to_end_id
    if status.original_payment_info_id not in (None, payment_info_id):
        raise ValueError(
            f"status of {e2e} belongs to PmtInf {status.original_payment_info_id!r}, "
            f"the report to {payment_info_id!r}"
        )
    if status.additional_info is not None:
        _check_text(status.additional_info, f"additional information of {e2e}", 105)
    if e2e in seen:
        raise ValueError(f"end-to-end id {e2e} is reported twice")
    seen.add(e2e)
    p = _P2
    with xf.element(p["TxInfAndSts"]):
        _leaf(xf, p["OrgnlEndToEndId"], e2e)
        _leaf(xf, p["TxSts"], status.status)
        _write_reason(xf, status.reason_code, status.proprietary_reason, status.additional_info)
        if status.accepted_at is not None:
            _leaf(xf, p["AccptncDtTm"], status.accepted_at.isoformat())
    xf.write("\n")


# --- Reading pain.002 ----------------------------------------------------------------------

_DECLARED_ENCODING_RE: Final = re.compile(
    rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?\sencoding\s*=\s*[\"']([^\"']*)[\"']"
)
_DATETIME_RE: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_WATCHED: Final = tuple(
    _P2[name] for name in ("GrpHdr", "OrgnlGrpInfAndSts", "OrgnlPmtInfAndSts", "TxInfAndSts")
)
_PAYMENT_INFO_HEADER: Final = frozenset(
    _P2[name] for name in ("OrgnlPmtInfId", "PmtInfSts", "StsRsnInf")
)
_PARENT: Final = {
    _P2["GrpHdr"]: _P2["CstmrPmtStsRpt"],
    _P2["OrgnlGrpInfAndSts"]: _P2["CstmrPmtStsRpt"],
    _P2["OrgnlPmtInfAndSts"]: _P2["CstmrPmtStsRpt"],
    _P2["TxInfAndSts"]: _P2["OrgnlPmtInfAndSts"],
}


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else "?"


def _where(element: Any) -> str:
    return f"{_local(element.tag)} (line {element.sourceline})"


def _children(parent: Any, name: str) -> list[Any]:
    return list(parent.iterchildren(_P2[name]))


def _optional(parent: Any, name: str) -> Any:
    found = _children(parent, name)
    if len(found) > 1:
        raise Pain002Error(f"{_where(parent)} has {len(found)} {name} elements, at most 1 allowed")
    return found[0] if found else None


def _required(parent: Any, name: str) -> Any:
    found = _optional(parent, name)
    if found is None:
        raise Pain002Error(f"{_where(parent)} has no {name}")
    return found


def _text(element: Any, *, free: bool = False) -> str:
    """An element's text without surrounding whitespace; ``free`` text (AddtlInf) also has
    its inner runs of whitespace (line breaks of a pretty-printed file) made single spaces."""
    if len(element):
        raise Pain002Error(f"{_where(element)} must hold text only")
    text = element.text if isinstance(element.text, str) else ""
    value = " ".join(text.split()) if free else text.strip()
    if not value:
        raise Pain002Error(f"{_where(element)} is empty")
    if _BAD_TEXT_RE.search(value):
        raise Pain002Error(f"{_where(element)} holds control characters")
    return value


def _max35(element: Any) -> str:
    value = _text(element)
    if len(value) > 35:
        raise Pain002Error(f"{_where(element)} is {len(value)} characters, at most 35 allowed")
    return value


def _status_code(element: Any, known: dict[str, str], kind: str) -> str:
    value = _text(element)
    if value not in known:
        raise Pain002Error(f"{_where(element)}: {value[:40]!r} is not a known {kind} status")
    return value


def _datetime(element: Any, naive_tz: tzinfo) -> datetime:
    value = _text(element)
    match = _DATETIME_RE.fullmatch(value)
    if match is None:
        raise Pain002Error(f"{_where(element)}: {value[:40]!r} is not an ISO date-time")
    fraction = (match[2] or "")[:7]
    offset = "+00:00" if match[3] == "Z" else (match[3] or "")
    try:
        parsed = datetime.fromisoformat(match[1] + fraction + offset)
    except ValueError as exc:
        raise Pain002Error(
            f"{_where(element)}: {value[:40]!r} is not a valid date-time: {exc}"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=naive_tz)


@dataclass(frozen=True, slots=True)
class _Reason:
    code: str | None = None
    proprietary: str | None = None
    info: str | None = None


def _reason(parent: Any) -> _Reason:
    """The first reason code of the StsRsnInf list and all its additional texts."""
    code: str | None = None
    proprietary: str | None = None
    texts: list[str] = []
    for info in _children(parent, "StsRsnInf"):
        reason = _optional(info, "Rsn")
        if reason is not None:
            cd = _optional(reason, "Cd")
            prtry = _optional(reason, "Prtry")
            if (cd is None) == (prtry is None):
                raise Pain002Error(f"{_where(reason)} must hold exactly one of Cd and Prtry")
            if cd is not None:
                value = _text(cd)
                if not _REASON_RE.fullmatch(value):
                    raise Pain002Error(f"{_where(cd)}: {value[:40]!r} is not a reason code")
                code = code or value
            else:
                proprietary = proprietary or _max35(prtry)
        texts.extend(_text(text, free=True) for text in _children(info, "AddtlInf"))
    return _Reason(code, proprietary, " ".join(texts) or None)


@dataclass(frozen=True, slots=True)
class _Level:
    """A status given above the transactions: to the group or to one PmtInf."""

    id: str
    status: str | None
    reason: _Reason


@dataclass(slots=True)
class _OpenPaymentInfo:
    element: Any
    level: _Level


class _ReportReader:
    """State while walking a report: GrpHdr, OrgnlGrpInfAndSts, then PmtInf by PmtInf."""

    def __init__(self, naive_tz: tzinfo) -> None:
        self.naive_tz = naive_tz
        self.root_checked = False
        self.message_id: str | None = None
        self.created_at: datetime | None = None
        self.group: _Level | None = None
        self.message_name_id = ""
        self.payment_infos: list[PaymentInfoStatus] = []
        self.current: _OpenPaymentInfo | None = None
        self.transactions: list[TransactionStatus] = []
        self.end_to_end_ids: set[str] = set()

    def element(self, element: Any) -> None:
        if not self.root_checked:
            _check_root(element.getroottree().getroot())
            self.root_checked = True
        parent = element.getparent()
        expected = _PARENT[element.tag]
        if parent is None or parent.tag != expected:
            raise Pain002Error(f"{_where(element)} is misplaced, outside {_local(expected)}")
        if element.tag == _P2["TxInfAndSts"]:
            self.transaction(element, parent)
            return
        grand = parent.getparent()
        if grand is None or grand.tag != _P2["Document"] or grand.getparent() is not None:
            raise Pain002Error(f"{_where(parent)} must be the child of the Document root")
        if element.tag == _P2["GrpHdr"]:
            self.header(element)
        elif element.tag == _P2["OrgnlGrpInfAndSts"]:
            self.original_group(element)
        else:
            self.payment_info_end(element)

    def header(self, element: Any) -> None:
        if self.message_id is not None:
            raise Pain002Error(f"{_where(element)}: the report has more than one GrpHdr")
        if self.group is not None or self.payment_infos or self.current is not None:
            raise Pain002Error(f"{_where(element)} must come first")
        self.message_id = _max35(_required(element, "MsgId"))
        self.created_at = _datetime(_required(element, "CreDtTm"), self.naive_tz)

    def original_group(self, element: Any) -> None:
        if self.message_id is None:
            raise Pain002Error(f"{_where(element)} must follow GrpHdr")
        if self.group is not None:
            raise Pain002Error(f"{_where(element)}: the report has more than one")
        if self.payment_infos or self.current is not None:
            raise Pain002Error(f"{_where(element)} must precede OrgnlPmtInfAndSts")
        self.group = _level(element, "OrgnlMsgId", "GrpSts")
        self.message_name_id = _max35(_required(element, "OrgnlMsgNmId"))

    def payment_info(self, element: Any) -> _Level:
        if self.group is None:
            raise Pain002Error(f"{_where(element)} must follow GrpHdr and OrgnlGrpInfAndSts")
        return _level(element, "OrgnlPmtInfId", "PmtInfSts")

    def payment_info_end(self, element: Any) -> None:
        level = self.payment_info(element)
        # The parser reads ahead, so the transactions may have seen later siblings: make
        # sure there were none of these, or the result would depend on where chunks end.
        seen_transaction = False
        for child in element.iterchildren():
            if child.tag == _P2["TxInfAndSts"]:
                seen_transaction = True
            elif seen_transaction and child.tag in _PAYMENT_INFO_HEADER:
                raise Pain002Error(
                    f"{_where(child)}: OrgnlPmtInfId, PmtInfSts and StsRsnInf must precede "
                    "TxInfAndSts"
                )
        if any(done.original_payment_info_id == level.id for done in self.payment_infos):
            raise Pain002Error(f"{_where(element)}: OrgnlPmtInfId {level.id!r} is reported twice")
        self.payment_infos.append(
            PaymentInfoStatus(
                original_payment_info_id=level.id,
                status=level.status,
                reason_code=level.reason.code,
                additional_info=level.reason.info,
            )
        )
        self.current = None
        element.clear()

    def transaction(self, element: Any, parent: Any) -> None:
        if self.current is None or self.current.element is not parent:
            self.current = _OpenPaymentInfo(parent, self.payment_info(parent))
        payment_info = self.current.level
        assert self.group is not None  # payment_info() checked it
        reason = _reason(element)
        status_element = _optional(element, "TxSts")
        if status_element is not None:
            status = _status_code(status_element, TRANSACTION_STATUSES, "transaction")
        else:  # the transaction takes its PmtInf's status, or else its group's
            level = payment_info if payment_info.status is not None else self.group
            if level.status not in TRANSACTION_STATUSES:
                raise Pain002Error(
                    f"{_where(element)} has no TxSts, and the PmtInf or group status "
                    f"{level.status!r} does not give one"
                )
            status = level.status
            reason = reason if reason != _Reason() else level.reason
        e2e = _max35(_required(element, "OrgnlEndToEndId"))
        if e2e in self.end_to_end_ids:
            raise Pain002Error(f"{_where(element)}: OrgnlEndToEndId {e2e!r} is reported twice")
        self.end_to_end_ids.add(e2e)
        accepted = _optional(element, "AccptncDtTm")
        accepted_at = None if accepted is None else _datetime(accepted, self.naive_tz)
        try:
            transaction = TransactionStatus(
                original_end_to_end_id=e2e,
                status=status,
                reason_code=reason.code,
                additional_info=reason.info,
                original_payment_info_id=payment_info.id,
                accepted_at=accepted_at,
                proprietary_reason=reason.proprietary,
            )
        except ValueError as exc:
            raise Pain002Error(f"{_where(element)}: {exc}") from None
        self.transactions.append(transaction)
        # Free what was read: this transaction's content and the transactions before it.
        element.clear(keep_tail=False)
        previous = element.getprevious()
        while previous is not None and previous.tag == _P2["TxInfAndSts"]:
            parent.remove(previous)
            previous = element.getprevious()

    def report(self) -> StatusReport:
        if self.message_id is None or self.created_at is None:
            raise Pain002Error("the report has no GrpHdr")
        if self.group is None:
            raise Pain002Error("the report has no OrgnlGrpInfAndSts")
        return StatusReport(
            message_id=self.message_id,
            created_at=self.created_at,
            original_message_id=self.group.id,
            original_message_name_id=self.message_name_id,
            group_status=self.group.status,
            group_reason_code=self.group.reason.code,
            group_additional_info=self.group.reason.info,
            payment_infos=tuple(self.payment_infos),
            transactions=tuple(self.transactions),
        )


def _level(element: Any, id_name: str, status_name: str) -> _Level:
    status_element = _optional(element, status_name)
    return _Level(
        id=_max35(_required(element, id_name)),
        status=None
        if status_element is None
        else _status_code(status_element, GROUP_STATUSES, "group"),
        reason=_reason(element),
    )


def _check_envelope(data: bytes, max_bytes: int) -> None:
    """Refuse, before parsing, what no bank report needs and what attacks XML parsers."""
    if len(data) > max_bytes:
        raise Pain002Error(f"the report is {len(data)} bytes, over the limit of {max_bytes}")
    if not data or data.isspace():
        raise Pain002Error("the report is empty")
    if b"\x00" in data:
        raise Pain002Error("the report holds NUL bytes: it is not UTF-8 XML")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Pain002Error("the report has a DOCTYPE or entity declaration, which is refused")
    declared = _DECLARED_ENCODING_RE.match(data)
    if declared and declared[1].lower().replace(b"-", b"").replace(b"_", b"") != b"utf8":
        raise Pain002Error(f"the report is declared {declared[1][:20]!r}; only UTF-8 is read")
    if not data[:4096].removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"<"):
        raise Pain002Error("the report does not start with '<': it is not UTF-8 XML")


_ISO_PREFIX: Final = "urn:iso:std:iso:20022:tech:xsd:"


def _check_root(root: Any) -> None:
    tag = root.tag
    if tag == _P2["Document"]:
        return
    namespace = tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag[:1] == "{" else ""
    if namespace != PAIN002_NS:
        found = namespace.removeprefix(_ISO_PREFIX) or "no namespace"
        raise Pain002Error(
            f"the report is in {found!r}, not {PAIN002_NS.removeprefix(_ISO_PREFIX)!r}"
        )
    raise Pain002Error(f"the root element is {_local(tag)}, not Document")


def parse_pain002(
    data: bytes, *, max_bytes: int = MAX_REPORT_BYTES, naive_tz: tzinfo = PAKISTAN_TIME
) -> StatusReport:
    """Read a pain.002.001.10 report; any report it cannot accept raises Pain002Error."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"the report must be bytes, not {type(data).__name__}")
    data = bytes(data)
    _check_envelope(data, max_bytes)
    reader = _ReportReader(naive_tz)
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag=_WATCHED,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )
    try:
        for _event, element in events:
            reader.element(element)
        root = events.root
    except etree.LxmlError as exc:
        raise Pain002Error(f"the report is not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # pragma: no cover - refused above
        raise Pain002Error("the report has a DOCTYPE, which is refused")
    if str(docinfo.encoding).upper() != "UTF-8":  # pragma: no cover - refused above
        raise Pain002Error(f"the report is in {docinfo.encoding}; only UTF-8 is read")
    _check_root(root)
    return reader.report()
