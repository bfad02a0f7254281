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

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F
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
        self._returns_later(bank, message_id, transfers, statuses, ready_at + self.delay)
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

    def _returns_later(
        self,
        bank: str,
        message_id: str,
        transfers: list[tuple[str, int, str, str]],
        statuses: list[Any],
        ready_at: float,
    ) -> None:
        """Some credited accounts are closed soon after (``RAHDARI_REFERENCE_BANK_RETURN_RATE``
        of them, chosen by the payment's key): the bank closes the account in its books
        and books the money back, announced by a camt.054 notification at ``ready_at``
        (after the status report)."""
        from rahdari.payments import camt054

        rate = float(settings.RAHDARI_REFERENCE_BANK_RETURN_RATE)
        if rate <= 0:
            return
        credited = {s.original_end_to_end_id for s in statuses if s.status == "ACSC"}
        chosen = [
            (key, amount, iban)
            for key, amount, iban, _name in transfers
            if key in credited
            and int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") < rate * 2**32
        ]
        if not chosen:
            return
        for _key, _amount, iban in chosen:
            ReferenceAccount.objects.filter(
                channel="bank", provider=bank, number_index=account_index("bank", bank, iban)
            ).update(state=ReferenceAccount.State.CLOSED)
        # After the status report (a later millisecond, so it sorts after it).
        name = f"{int(ready_at * 1000) + 1:015d}-{bank}-RTN{message_id[3:]}.xml"
        notice = self.root / "outbox" / name
        partial = notice.with_suffix(".partial")
        with partial.open("wb") as out:
            camt054.write_camt054(
                out,
                message_id=f"RTN{message_id[3:]}"[:35],
                created_at=timezone.now(),
                account_iban=settings.RAHDARI_PAYMENT_DEBTOR_IBAN,
                returns=[camt054.Return(key, amount, "AC04") for key, amount, _iban in chosen],
            )
        partial.replace(notice)

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

    def cash_out(
        self, *, provider: str, payee: tuple[str, str], amount: int, reference: str
    ) -> bool:
        """An agent of the operator hands ``amount`` in cash out of the wallet: True when
        the wallet held it (now debited), False when it did not. Raises
        ProviderUnavailable. ``reference`` (the cash-out's id) is the duplicate check."""
        ...

    def recall(
        self, *, provider: str, reference_id: str, payee: tuple[str, str], amount: int
    ) -> bool:
        """Take back a disbursement nobody collected (``payee``: channel and number):
        True when the money was still there and is back on the program's account, False
        when it was taken out already. Raises ProviderUnavailable. A recall carries the
        reference for the provider's duplicate check."""
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
                if channel in ("card", "wallet"):  # the money lands on the card or wallet
                    ReferenceAccount.objects.filter(pk=row.pk).update(
                        balance=F("balance") + int(item.get("amount", 0))
                    )
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
            ready, _rest = path.name.split("-", 1)
            if int(ready) > now_ms:
                continue
            body = path.read_bytes()
            # A provider's code may hold a "-" (bok-card): read it from the header it wrote.
            provider = str(json.loads(body)["header"]["sender_id"])
            due.append((path.name, provider, body, sign_callback(provider, body)))
        return due

    def acknowledge(self, name: str) -> None:
        (self.root / name).replace(self.root.parent / "callbacks-delivered" / name)

    def cash_out(
        self, *, provider: str, payee: tuple[str, str], amount: int, reference: str
    ) -> bool:
        """From its books, in the caller's transaction (so a cash-out rolled back puts
        the money back): the wallet is debited if it holds ``amount``."""
        channel, number = payee
        if settings.RAHDARI_PAYMENT_PROVIDER_LATENCY:
            time.sleep(settings.RAHDARI_PAYMENT_PROVIDER_LATENCY)
        taken = ReferenceAccount.objects.filter(
            channel=channel,
            provider=provider,
            number_index=account_index(channel, provider, number),
            balance__gte=amount,
        ).update(balance=F("balance") - amount)
        return bool(taken)

    def recall(
        self, *, provider: str, reference_id: str, payee: tuple[str, str], amount: int
    ) -> bool:
        """From its books: the money is still there if the wallet or card holds at least
        ``amount`` (agents' cash-outs and card withdrawals take it off). Its books are in
        the platform's database, so the recall commits or rolls back with the caller's
        change of the payment: a payment is never recalled twice."""
        channel, number = payee
        if settings.RAHDARI_PAYMENT_PROVIDER_LATENCY:
            time.sleep(settings.RAHDARI_PAYMENT_PROVIDER_LATENCY)
        taken = ReferenceAccount.objects.filter(
            channel=channel,
            provider=provider,
            number_index=account_index(channel, provider, number),
            balance__gte=amount,
        ).update(balance=F("balance") - amount)
        return bool(taken)


@cache
def _provider_class(path: str) -> type[DisbursementProvider]:
    cls: type[DisbursementProvider] = import_string(path)
    return cls


def disbursement_provider() -> DisbursementProvider:
    return _provider_class(settings.RAHDARI_DISBURSEMENT_PROVIDER)()


# --- Card issuers: the prepaid card's lifecycle ----------------------------------------

REFERENCE_CARD_ISSUER = "rahdari.payments.providers.ReferenceCardIssuer"


class CardRefused(Exception):
    """The issuer said no. ``reason`` is stable: ``unknown_card``, ``closed`` (replaced
    or closed), ``blocked``, ``not_blocked`` (only a blocked card is replaced),
    ``insufficient_balance``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedCard:
    """A card as its issuer describes it to us: the token that payments are addressed to,
    the last four digits of the card number (the number itself never leaves the issuer),
    and the rupees on it (for a replacement: the rupees moved onto it)."""

    token: str
    last4: str
    balance: int = 0


class CardIssuer(Protocol):
    """A prepaid-card issuer's card-management API (a bank's card-management system, e.g.
    the Bank of Khyber's, through its REST gateway). Each call may raise
    ProviderUnavailable (nothing happened; ask again later) or CardRefused.

    Repeating a call whose answer was lost changes nothing more: blocking a blocked card
    or activating an active one succeeds, and replacing a card already replaced answers
    with the same replacement. ``withdraw`` sends the cash-out's id as ``reference`` for
    the issuer's duplicate check. ``issue`` cannot be repeated safely: a card whose
    answer was lost stays unused, with nothing on it."""

    def issue(self, *, provider: str, name: str, district: str) -> IssuedCard:
        """A new card in the cardholder's name, delivered in ``district``."""
        ...

    def activate(self, *, provider: str, token: str) -> None: ...

    def block(self, *, provider: str, token: str, reason: str) -> None:
        """Stop the card for good (lost, stolen, damaged); its money stays with the issuer."""
        ...

    def replace(self, *, provider: str, token: str) -> IssuedCard:
        """A new card for a blocked one, with the whole balance moved onto it; the old card
        is closed."""
        ...

    def balance(self, *, provider: str, token: str) -> int: ...

    def withdraw(self, *, provider: str, token: str, amount: int, reference: str) -> int:
        """Cash handed over at an agent is taken off the card; returns the new balance."""
        ...


class ReferenceCardIssuer:
    """A card issuer whose books are the ``ReferenceAccount`` rows of channel "card": the
    card's holder, state (open, blocked, closed), balance, last four digits, delivery
    district and activation. It answers with a provider's latency
    (``RAHDARI_PAYMENT_PROVIDER_LATENCY``) and outages
    (``RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE``), and refuses what a real issuer refuses:
    activating or paying out of a blocked or closed card, replacing a card that is not
    blocked, taking more than the balance. Loads come from the reference disbursement
    provider (``disburse``). Its books live in the platform's database, so its writes
    commit or roll back with the caller's transaction: no answer is ever lost."""

    def __init__(self, *, latency: float | None = None, failure_rate: float | None = None) -> None:
        self.latency = settings.RAHDARI_PAYMENT_PROVIDER_LATENCY if latency is None else latency
        self.failure_rate = (
            settings.RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE if failure_rate is None else failure_rate
        )
        self._random = random.Random()  # noqa: S311 (simulated network, not security)

    def _call(self, provider: str) -> None:
        if self.latency:
            time.sleep(self.latency * (0.5 + self._random.random()))
        if self.failure_rate and self._random.random() < self.failure_rate:
            raise ProviderUnavailable(provider)

    @staticmethod
    def _card(provider: str, token: str) -> ReferenceAccount:
        row = (
            ReferenceAccount.objects.select_for_update()
            .filter(
                channel="card",
                provider=provider,
                number_index=account_index("card", provider, token),
            )
            .first()
        )
        if row is None:
            raise CardRefused("unknown_card")
        return row

    @staticmethod
    def _replacement_of(provider: str, token: str) -> tuple[str, str]:
        """The replacement's token and last four digits, derived from the old card so that
        a repeated replacement finds the same card."""
        from rahdari.core.keyring import keyring

        digest = hmac.new(
            keyring().index_key,
            b"reference-card-replacement\x00" + f"{provider}\x00{token}".encode(),
            "sha256",
        ).digest()
        new_token = base64.urlsafe_b64encode(digest[:18]).decode("ascii")
        return new_token, f"{int.from_bytes(digest[18:22], 'big') % 10_000:04d}"

    def issue(self, *, provider: str, name: str, district: str) -> IssuedCard:
        self._call(provider)
        token = secrets.token_urlsafe(18)
        last4 = f"{secrets.randbelow(10_000):04d}"
        ReferenceAccount.objects.create(
            channel="card",
            provider=provider,
            number_index=account_index("card", provider, token),
            holder_name=name,
            district=district[:60],
            pan_last4=last4,
        )
        return IssuedCard(token, last4, 0)

    def activate(self, *, provider: str, token: str) -> None:
        self._call(provider)
        with transaction.atomic():
            row = self._card(provider, token)
            if row.state != ReferenceAccount.State.OPEN:
                raise CardRefused(str(row.state))
            if row.activated_at is None:
                row.activated_at = timezone.now()
                row.save(update_fields=["activated_at"])

    def block(self, *, provider: str, token: str, reason: str) -> None:
        self._call(provider)
        with transaction.atomic():
            row = self._card(provider, token)
            if row.state == ReferenceAccount.State.CLOSED:
                raise CardRefused("closed")
            if row.state == ReferenceAccount.State.OPEN:
                row.state = ReferenceAccount.State.BLOCKED
                row.save(update_fields=["state"])

    def replace(self, *, provider: str, token: str) -> IssuedCard:
        self._call(provider)
        new_token, last4 = self._replacement_of(provider, token)
        new_index = account_index("card", provider, new_token)
        with transaction.atomic():
            row = self._card(provider, token)
            if row.state == ReferenceAccount.State.OPEN:
                raise CardRefused("not_blocked")
            if row.state == ReferenceAccount.State.CLOSED:
                done = ReferenceAccount.objects.filter(
                    channel="card", provider=provider, number_index=new_index
                ).first()
                if done is None:
                    raise CardRefused("closed")
                return IssuedCard(new_token, done.pan_last4, done.balance)
            moved = row.balance
            ReferenceAccount.objects.create(
                channel="card",
                provider=provider,
                number_index=new_index,
                holder_name=row.holder_name,
                district=row.district,
                pan_last4=last4,
                balance=moved,
                daily_limit=row.daily_limit,
                activated_at=timezone.now(),  # handed over at the counter, in her hands
            )
            row.state = ReferenceAccount.State.CLOSED
            row.balance = 0
            row.save(update_fields=["state", "balance"])
        return IssuedCard(new_token, last4, moved)

    def balance(self, *, provider: str, token: str) -> int:
        self._call(provider)
        with transaction.atomic():
            return int(self._card(provider, token).balance)

    def withdraw(self, *, provider: str, token: str, amount: int, reference: str) -> int:
        self._call(provider)
        with transaction.atomic():
            row = self._card(provider, token)
            if row.state != ReferenceAccount.State.OPEN:
                raise CardRefused(str(row.state))
            if amount > row.balance:
                raise CardRefused("insufficient_balance")
            row.balance -= amount
            row.save(update_fields=["balance"])
            return int(row.balance)


@cache
def _issuer_class(path: str) -> type[CardIssuer]:
    cls: type[CardIssuer] = import_string(path)
    return cls


def card_issuer() -> CardIssuer:
    """The configured issuer adapter (``RAHDARI_CARD_ISSUER``; the reference one by default)."""
    return _issuer_class(getattr(settings, "RAHDARI_CARD_ISSUER", REFERENCE_CARD_ISSUER))()
