"""Banks, wallet operators and card issuers behind narrow interfaces, with reference
implementations that behave like them.

``AccountDirectory.lookup`` answers "is this account open, and in whose name?" — the
name check that "one woman, one bank account" needs (a bank's title fetch, a wallet
operator's KYC name, a card issuer's cardholder). ``directory()`` returns the
configured implementation (``RAHDARI_PAYMENT_DIRECTORY``). The reference one answers
from ``ReferenceAccount`` (the providers' books, loaded from the synthetic population
by ``reference_accounts_load``), with the providers' latency and the occasional
outage. Production adapters (the banks' IBAN title-fetch through 1LINK, the wallet
operators' KYC APIs, the card issuer's API) are described in docs/payments.md.
"""

from __future__ import annotations

import hmac
import json
import random
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from rahdari.core.keyring import blind_index
from rahdari.payments.models import ReferenceAccount


class LookupOutcome(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    BLOCKED = "blocked"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Lookup:
    outcome: LookupOutcome
    holder_name: str = ""


class ProviderUnavailable(Exception):
    """The provider did not answer in time; ask again later."""


class AccountDirectory(Protocol):
    def lookup(self, *, channel: str, provider: str, number: str) -> Lookup:
        """Raises ProviderUnavailable when the provider cannot be reached."""
        ...


def account_index(channel: str, provider: str, number: str) -> str:
    """The blind index of an account number (what shared-account checks compare)."""
    return blind_index(f"payment-{channel}", f"{provider}:{number}")


class ReferenceDirectory:
    """Answers from the reference books with a provider's latency (about 80 ms, up to
    a few hundred) and outages (``RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE``)."""

    def __init__(self, *, latency: float | None = None, failure_rate: float | None = None) -> None:
        self.latency = settings.RAHDARI_PAYMENT_PROVIDER_LATENCY if latency is None else latency
        self.failure_rate = (
            settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE if failure_rate is None else failure_rate
        )
        self._random = random.Random()  # noqa: S311 (simulated network, not security)

    def lookup(self, *, channel: str, provider: str, number: str) -> Lookup:
        if self.latency:
            time.sleep(self.latency * (0.5 + self._random.random()))
        if self.failure_rate and self._random.random() < self.failure_rate:
            raise ProviderUnavailable(provider)
        row = ReferenceAccount.objects.filter(
            channel=channel,
            provider=provider,
            number_index=account_index(channel, provider, number),
        ).first()
        if row is None:
            return Lookup(LookupOutcome.NOT_FOUND)
        return Lookup(LookupOutcome(row.state), row.holder_name)


@cache
def _directory_class(path: str) -> type[AccountDirectory]:
    cls: type[AccountDirectory] = import_string(path)
    return cls


def directory() -> AccountDirectory:
    return _directory_class(settings.RAHDARI_PAYMENT_DIRECTORY)()


# --- Banks: instruction files out, status reports back ----------------------------------


class BankRail(Protocol):
    """How instruction files reach the banks and status reports come back. In production
    an SFTP exchange with each bank (or 1LINK's bulk-payment gateway).

    ``send`` uploads a pain.001 file and must be idempotent by the file's MsgId: a
    process that died after the upload but before recording it sends the file again,
    and the bank's duplicate-file check (which every bank runs) must make that a no-op —
    an adapter treats the bank's "duplicate" answer as delivered. ``receive`` lists the
    reports not yet acknowledged; ``acknowledge`` is called only after a report was
    applied (or refused and recorded), so a crash in between reads it again."""

    def send(self, *, bank: str, path: Path) -> None: ...

    def receive(self) -> list[tuple[str, bytes]]: ...

    def acknowledge(self, name: str) -> None: ...


class ReferenceBankRail:
    """A bank that reads our pain.001 files and answers each with a pain.002 report after
    ``RAHDARI_REFERENCE_BANK_DELAY_SECONDS``, from its books (``ReferenceAccount``): an
    unknown account is refused AC01, a closed one AC04, a blocked one AC06, an account in
    another name BE01, an amount above the account's daily limit AM02; the rest is
    credited (ACSC). Its folders are under ``RAHDARI_REFERENCE_BANK_DIR``."""

    def __init__(self) -> None:
        self.root = Path(settings.RAHDARI_REFERENCE_BANK_DIR)
        self.delay = float(settings.RAHDARI_REFERENCE_BANK_DELAY_SECONDS)

    def send(self, *, bank: str, path: Path) -> None:
        from rahdari.payments import iso20022, rules

        outbox = self.root / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        message_id, payment_info_id, transfers = _read_pain001(path)
        if any(self.root.glob(f"*/*-{bank}-{message_id}.xml")):
            return  # a file seen before: banks refuse a duplicate message id
        statuses = []
        for end_to_end_id, amount, iban, name in transfers:
            row = ReferenceAccount.objects.filter(
                channel="bank", provider=bank, number_index=account_index("bank", bank, iban)
            ).first()
            if row is None:
                status, reason = "RJCT", "AC01"
            elif row.state == ReferenceAccount.State.CLOSED:
                status, reason = "RJCT", "AC04"
            elif row.state == ReferenceAccount.State.BLOCKED:
                status, reason = "RJCT", "AC06"
            elif not rules.names_match(name, row.holder_name):
                status, reason = "RJCT", "BE01"
            elif amount > row.daily_limit:
                status, reason = "RJCT", "AM02"
            else:
                status, reason = "ACSC", None
            statuses.append(
                iso20022.TransactionStatus(
                    original_end_to_end_id=end_to_end_id,
                    status=status,
                    reason_code=reason,
                    original_payment_info_id=payment_info_id,
                    accepted_at=timezone.now() if status == "ACSC" else None,
                )
            )
        ready_at = time.time() + self.delay
        report = outbox / f"{int(ready_at * 1000):015d}-{bank}-{message_id}.xml"
        partial = report.with_suffix(".partial")
        with partial.open("wb") as out:
            iso20022.write_pain002(
                out,
                message_id=f"STS{message_id[3:]}"[:35],
                created_at=timezone.now(),
                original_message_id=message_id,
                original_payment_info_id=payment_info_id,
                statuses=statuses,
            )
        partial.replace(report)

    def receive(self) -> list[tuple[str, bytes]]:
        outbox, delivered = self.root / "outbox", self.root / "delivered"
        if not outbox.is_dir():
            return []
        delivered.mkdir(parents=True, exist_ok=True)
        now_ms = int(time.time() * 1000)
        reports = []
        for path in sorted(outbox.glob("*.xml")):
            if int(path.name.split("-", 1)[0]) > now_ms:
                continue  # the bank has not answered yet
            reports.append((path.name, path.read_bytes()))
        return reports

    def acknowledge(self, name: str) -> None:
        (self.root / "outbox" / name).replace(self.root / "delivered" / name)


def _read_pain001(path: Path) -> tuple[str, str, list[tuple[str, int, str, str]]]:
    """What the reference bank needs from one of our files (our own, trusted XML)."""
    from lxml import etree

    from rahdari.payments.iso20022 import PAIN001_NS

    ns = {"p": PAIN001_NS}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(path), parser).getroot()
    message_id = root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=ns) or ""
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", namespaces=ns)
    if info is None:
        return message_id, "", []
    transfers = [
        (
            tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns) or "",
            int(float(tx.findtext("p:Amt/p:InstdAmt", namespaces=ns) or 0)),
            tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=ns) or "",
            tx.findtext("p:Cdtr/p:Nm", namespaces=ns) or "",
        )
        for tx in info.iterfind("p:CdtTrfTxInf", namespaces=ns)
    ]
    return message_id, info.findtext("p:PmtInfId", namespaces=ns) or "", transfers


@cache
def _rail_class(path: str) -> type[BankRail]:
    cls: type[BankRail] = import_string(path)
    return cls


def bank_rail() -> BankRail:
    return _rail_class(settings.RAHDARI_BANK_RAIL)()


# --- Wallet operators and card issuers: G2P Connect disburse / on-disburse ---------------

# G2P Connect status reason codes the reference provider sends, and the ISO 20022 reason
# each is recorded as (so bank and wallet failures read the same downstream).
G2P_REASONS = {
    "rjct.payee_fa.invalid": "AC01",
    "rjct.account.closed": "AC04",
    "rjct.account.blocked": "AC06",
    "rjct.payee_name.mismatch": "BE01",
    "rjct.amount.limit_exceeded": "AM02",
}


class DisbursementProvider(Protocol):
    """A wallet operator or card issuer that takes a G2P Connect ``disburse`` request
    and answers each disbursement later with an ``on-disburse`` callback to
    ``/api/v1/payments/callbacks/<provider>``, signed with HMAC-SHA256 of the body under
    the provider's shared secret (header ``X-Rahdari-Signature``)."""

    def disburse(self, *, provider: str, request: dict[str, Any]) -> dict[str, Any]:
        """Idempotent by ``message.transaction_id``: a repeated request is acknowledged
        and not paid again (G2P Connect providers deduplicate on it)."""
        ...


def callback_secret(provider: str) -> bytes:
    """The shared secret a provider signs its callbacks with (derived per provider from
    the key ring in this installation; in production each provider's secret is set in
    ``RAHDARI_PROVIDER_SECRETS``)."""
    configured = settings.RAHDARI_PROVIDER_SECRETS.get(provider)
    if configured:
        return str(configured).encode()
    from rahdari.core.keyring import keyring

    return hmac.new(
        keyring().index_key, b"provider-callback\x00" + provider.encode(), "sha256"
    ).digest()


def sign_callback(provider: str, body: bytes) -> str:
    return hmac.new(callback_secret(provider), body, "sha256").hexdigest()


class ReferenceDisbursementProvider:
    """Accepts a disburse request (ACK), decides each disbursement from its books like
    the reference bank, and queues the signed on-disburse callback, delivered after
    ``RAHDARI_REFERENCE_BANK_DELAY_SECONDS`` by ``due_callbacks``."""

    def __init__(self) -> None:
        self.root = Path(settings.RAHDARI_REFERENCE_BANK_DIR) / "callbacks"
        self.delay = float(settings.RAHDARI_REFERENCE_BANK_DELAY_SECONDS)

    def disburse(self, *, provider: str, request: dict[str, Any]) -> dict[str, Any]:
        from rahdari.payments import rules

        header, message = request.get("header", {}), request.get("message", {})
        items = message.get("disburse") or []
        if header.get("action") != "disburse" or not items:
            return {"message": {"ack_status": "NACK", "error": {"code": "err.request.bad"}}}
        answers = []
        now = timezone.now().isoformat()
        if any(self.root.parent.glob(f"callbacks*/*-{provider}-{header.get('message_id')}.json")):
            return {"message": {"ack_status": "ACK", "timestamp": now}}  # seen before
        for item in items:
            scheme, _, rest = str(item.get("payee_fa", "")).partition(":")
            number = rest.rsplit("@", 1)[0]
            channel = "wallet" if scheme == "mobile" else "card"
            row = ReferenceAccount.objects.filter(
                channel=channel,
                provider=provider,
                number_index=account_index(channel, provider, number),
            ).first()
            if row is None:
                status, reason = "RJCT", "rjct.payee_fa.invalid"
            elif row.state == ReferenceAccount.State.CLOSED:
                status, reason = "RJCT", "rjct.account.closed"
            elif row.state == ReferenceAccount.State.BLOCKED:
                status, reason = "RJCT", "rjct.account.blocked"
            elif not rules.names_match(str(item.get("payee_name", "")), row.holder_name):
                status, reason = "RJCT", "rjct.payee_name.mismatch"
            elif int(item.get("amount", 0)) > row.daily_limit:
                status, reason = "RJCT", "rjct.amount.limit_exceeded"
            else:
                status, reason = "SUCC", ""
            answer = {"reference_id": item.get("reference_id"), "timestamp": now, "status": status}
            if reason:
                answer["status_reason_code"] = reason
            answers.append(answer)
        callback = {
            "header": {
                "version": "1.0.0",
                "message_id": f"CB-{header.get('message_id', '')}"[:64],
                "message_ts": now,
                "action": "on-disburse",
                "status": "succ",
                "total_count": len(answers),
                "completed_count": len(answers),
                "sender_id": provider,
                "receiver_id": header.get("sender_id", ""),
            },
            "message": {"transaction_id": message.get("transaction_id"), "on_disburse": answers},
        }
        body = json.dumps(callback, separators=(",", ":")).encode()
        self.root.mkdir(parents=True, exist_ok=True)
        ready = int((time.time() + self.delay) * 1000)
        name = self.root / f"{ready:015d}-{provider}-{header.get('message_id', 'x')}.json"
        name.write_bytes(body)
        return {
            "message": {
                "ack_status": "ACK",
                "timestamp": now,
                "correlation_id": message.get("transaction_id"),
            }
        }

    def due_callbacks(self) -> list[tuple[str, str, bytes, str]]:
        """(file, provider, body, signature) of the callbacks due now and not yet
        acknowledged (``acknowledge(file)`` once applied)."""
        if not self.root.is_dir():
            return []
        sent = self.root.parent / "callbacks-delivered"
        sent.mkdir(parents=True, exist_ok=True)
        now_ms = int(time.time() * 1000)
        due = []
        for path in sorted(self.root.glob("*.json")):
            ready, provider, _rest = path.name.split("-", 2)
            if int(ready) > now_ms:
                continue
            body = path.read_bytes()
            due.append((path.name, provider, body, sign_callback(provider, body)))
        return due

    def acknowledge(self, name: str) -> None:
        (self.root / name).replace(self.root.parent / "callbacks-delivered" / name)


@cache
def _provider_class(path: str) -> type[DisbursementProvider]:
    cls: type[DisbursementProvider] = import_string(path)
    return cls


def disbursement_provider() -> DisbursementProvider:
    return _provider_class(settings.RAHDARI_DISBURSEMENT_PROVIDER)()
