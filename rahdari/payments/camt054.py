"""Returns of credited payments: ISO 20022 camt.054.001.08 (BankToCustomerDebitCredit-
Notification) as banks send them to the paying account's holder.

A payment the bank credited (ACSC in its pain.002) can still come back — the account
was closed or frozen after the credit, or the bank found the name wrong later. The bank
then books the money back onto the program's account and notifies it: one ``Ntry`` per
return (credit, bank transaction code PMNT/ICDT/RRTN), whose transaction details carry
the original ``EndToEndId`` (our payment key), the amount and the return reason
(``RtrInf/Rsn/Cd``, e.g. AC04 closed account).

Pure module (no Django): ``write_camt054`` for the reference bank, ``parse_camt054``
for what banks send. The parser refuses anything it cannot read exactly (with the
reason and the line), and everything XML parsers are attacked with (DTDs, entities,
huge trees, other encodings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Final

from lxml import etree

from rahdari.payments.iso20022 import Iso20022Error

CAMT054_NS: Final = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
MAX_BYTES: Final = 20 * 1024 * 1024
_ID: Final = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]{1,35}")
_REASON: Final = re.compile(r"[A-Z0-9]{4}")
_AMOUNT: Final = re.compile(r"\d{1,15}(\.\d{1,2})?")


class Camt054Error(Iso20022Error):
    """A return notification that cannot be accepted; the message says why and where."""


@dataclass(frozen=True)
class Return:
    """One returned payment: its key, the rupees booked back and the bank's reason."""

    end_to_end_id: str
    amount: int
    reason_code: str


@dataclass(frozen=True)
class ReturnNotice:
    message_id: str
    created_at: str
    account: str  # the program's account (IBAN) the money came back to
    returns: tuple[Return, ...]


def _q(name: str) -> str:
    return f"{{{CAMT054_NS}}}{name}"


def write_camt054(
    out: IO[bytes],
    *,
    message_id: str,
    created_at: datetime,
    account_iban: str,
    returns: list[Return],
) -> None:
    """A notification of ``returns`` booked back onto ``account_iban`` (the reference
    bank's side)."""
    if not _ID.fullmatch(message_id):
        raise Camt054Error(f"message id {message_id!r} is not an ISO 20022 Max35Text id")
    stamp = created_at.isoformat(timespec="seconds")
    root = etree.Element(_q("Document"), nsmap={None: CAMT054_NS})
    body = etree.SubElement(root, _q("BkToCstmrDbtCdtNtfctn"))
    header = etree.SubElement(body, _q("GrpHdr"))
    etree.SubElement(header, _q("MsgId")).text = message_id
    etree.SubElement(header, _q("CreDtTm")).text = stamp
    notice = etree.SubElement(body, _q("Ntfctn"))
    etree.SubElement(notice, _q("Id")).text = message_id
    etree.SubElement(notice, _q("CreDtTm")).text = stamp
    account = etree.SubElement(etree.SubElement(notice, _q("Acct")), _q("Id"))
    etree.SubElement(account, _q("IBAN")).text = account_iban
    for item in returns:
        if item.amount <= 0 or not _REASON.fullmatch(item.reason_code):
            raise Camt054Error(f"return {item.end_to_end_id!r} has a bad amount or reason")
        amount = f"{item.amount}.00"
        entry = etree.SubElement(notice, _q("Ntry"))
        etree.SubElement(entry, _q("Amt"), Ccy="PKR").text = amount
        etree.SubElement(entry, _q("CdtDbtInd")).text = "CRDT"
        etree.SubElement(etree.SubElement(entry, _q("Sts")), _q("Cd")).text = "BOOK"
        domain = etree.SubElement(etree.SubElement(entry, _q("BkTxCd")), _q("Domn"))
        etree.SubElement(domain, _q("Cd")).text = "PMNT"
        family = etree.SubElement(domain, _q("Fmly"))
        etree.SubElement(family, _q("Cd")).text = "ICDT"
        etree.SubElement(family, _q("SubFmlyCd")).text = "RRTN"
        details = etree.SubElement(etree.SubElement(entry, _q("NtryDtls")), _q("TxDtls"))
        refs = etree.SubElement(details, _q("Refs"))
        etree.SubElement(refs, _q("EndToEndId")).text = item.end_to_end_id
        etree.SubElement(details, _q("Amt"), Ccy="PKR").text = amount
        reason = etree.SubElement(etree.SubElement(details, _q("RtrInf")), _q("Rsn"))
        etree.SubElement(reason, _q("Cd")).text = item.reason_code
    out.write(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


# --------------------------------------------------------------------------- reading


def _where(element: Any) -> str:
    return f"{etree.QName(element).localname} (line {element.sourceline})"


def _one(parent: Any, path: str) -> Any:
    found = parent.findall(path, {"c": CAMT054_NS})
    if len(found) != 1:
        name = path.rsplit(":", 1)[-1]
        raise Camt054Error(f"{_where(parent)} must have exactly one {name}, not {len(found)}")
    return found[0]


def _text(parent: Any, path: str, pattern: re.Pattern[str] | None = None) -> str:
    element = _one(parent, path)
    value = (element.text or "").strip()
    if len(element) or not value or (pattern is not None and not pattern.fullmatch(value)):
        raise Camt054Error(f"{_where(element)}: {value[:40]!r} is not allowed here")
    return value


def _rupees(parent: Any, path: str) -> int:
    element = _one(parent, path)
    text = (element.text or "").strip()
    if element.get("Ccy") != "PKR" or not _AMOUNT.fullmatch(text):
        raise Camt054Error(f"{_where(element)}: {text[:20]!r} is not an amount in PKR")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already refused it
        raise Camt054Error(f"{_where(element)} is not a number") from None
    if value != value.to_integral_value() or value <= 0:
        raise Camt054Error(f"{_where(element)}: payments are whole rupees above zero")
    return int(value)


def parse_camt054(data: bytes, *, max_bytes: int = MAX_BYTES) -> ReturnNotice:
    """The returns in a camt.054.001.08 notification; Camt054Error for anything else."""
    if len(data) > max_bytes:
        raise Camt054Error(f"the notification is {len(data)} bytes, over {max_bytes}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Camt054Error("the notification has a DOCTYPE or entity declaration")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise Camt054Error(f"the notification is not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.encoding.upper() != "UTF-8":
        raise Camt054Error("only UTF-8 notifications are read")
    if root.tag != _q("Document"):
        raise Camt054Error(f"the root is {root.tag[:80]!r}, not a camt.054.001.08 Document")
    body = _one(root, "c:BkToCstmrDbtCdtNtfctn")
    message_id = _text(body, "c:GrpHdr/c:MsgId", _ID)
    created = _text(body, "c:GrpHdr/c:CreDtTm")
    notices = body.findall("c:Ntfctn", {"c": CAMT054_NS})
    if len(notices) != 1:
        raise Camt054Error(f"{_where(body)} must hold one Ntfctn, not {len(notices)}")
    notice = notices[0]
    account = _text(notice, "c:Acct/c:Id/c:IBAN")
    returns = []
    for entry in notice.findall("c:Ntry", {"c": CAMT054_NS}):
        if _text(entry, "c:CdtDbtInd") != "CRDT":
            continue  # a debit is not a return of ours
        family = _one(entry, "c:BkTxCd/c:Domn/c:Fmly")
        if _text(family, "c:SubFmlyCd") != "RRTN":
            continue  # another credit (a top-up of the program's account)
        if _text(entry, "c:Sts/c:Cd") != "BOOK":
            continue  # pending: it counts once booked
        details = _one(entry, "c:NtryDtls/c:TxDtls")
        returned = Return(
            end_to_end_id=_text(details, "c:Refs/c:EndToEndId", _ID),
            amount=_rupees(details, "c:Amt"),
            reason_code=_text(details, "c:RtrInf/c:Rsn/c:Cd", _REASON),
        )
        if returned.amount != _rupees(entry, "c:Amt"):
            raise Camt054Error(f"{_where(entry)}: the entry and its details differ in amount")
        returns.append(returned)
    return ReturnNotice(message_id, created, account, tuple(returns))
