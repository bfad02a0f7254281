"""Payment rules as plain functions: idempotency keys, account numbers, masks, state
tables. No database.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Final

import phonenumbers
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

KEY_LENGTH: Final = 32

# Wallet operators and prepaid-card issuers the province contracts; a bank is known by
# the four-letter code inside its IBAN.
WALLET_PROVIDERS: Final = {"jazzcash": "JazzCash", "easypaisa": "Easypaisa", "upaisa": "UPaisa"}
CARD_PROVIDERS: Final = {"bok-card": "Bank of Khyber prepaid card", "bop-card": "BOP prepaid card"}
BANKS: Final = {
    "HABB": "HBL",
    "KHYB": "Bank of Khyber",
    "ALFH": "Bank Alfalah",
    "MEZN": "Meezan Bank",
    "UNIL": "UBL",
    "NBPA": "National Bank of Pakistan",
    "BPUN": "Bank of Punjab",
    "MUCB": "MCB Bank",
    "ABPA": "Allied Bank",
    "ASCM": "Askari Bank",
    "SCBL": "Standard Chartered",
    "FAYS": "Faysal Bank",
    "BAHL": "Bank AL Habib",
    "JSBL": "JS Bank",
    "SONE": "Soneri Bank",
}

PAYMENT_STATUSES: Final = (
    "held",
    "pending",
    "instructed",
    "paid",
    "failed",
    "returned",
    "unclaimed",
    "reversed",
)
# What may follow what; a failed or returned payment goes back to "pending" and into
# the next batch (a new attempt under the same key).
ALLOWED_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "held": frozenset({"pending"}),
    "pending": frozenset({"instructed", "held"}),
    "instructed": frozenset({"paid", "failed"}),
    "paid": frozenset({"returned", "reversed", "unclaimed"}),
    "failed": frozenset({"pending"}),
    "returned": frozenset({"pending", "reversed"}),
    "unclaimed": frozenset({"pending", "reversed"}),
    "reversed": frozenset(),
}
CYCLE_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "computing": frozenset({"prepared"}),
    "prepared": frozenset({"approved", "rejected"}),
    "approved": frozenset({"disbursing"}),
    "disbursing": frozenset({"closed"}),
    "closed": frozenset(),
    "rejected": frozenset(),
}
MAX_ATTEMPTS: Final = 3  # a payment that failed three times waits for an officer


def can_move(current: str, new: str) -> bool:
    return new in ALLOWED_TRANSITIONS.get(current, frozenset())


def payment_key(cycle_id: object, beneficiary_id: object, component: str) -> str:
    """The idempotency key: 32 base32 characters of SHA-256 over (cycle, beneficiary,
    component). The same entitlement always gets the same key, so a second insert or a
    second bank instruction for it is refused; it fits ISO 20022's 35-character
    EndToEndId with room for the attempt number in InstrId."""
    digest = hashlib.sha256(f"{cycle_id}|{beneficiary_id}|{component}".encode()).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def instruction_id(key: str, attempt: int) -> str:
    """ISO 20022 InstrId: the key and the attempt, e.g. "…/2" for the first retry."""
    return f"{key}/{attempt}"


class AccountError(ValueError):
    """A payment account number that cannot be used; ``message`` is translated."""

    def __init__(self, message: object, *, field: str = "number") -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass(frozen=True)
class AccountNumber:
    """A checked account: the canonical number to store, the provider, the masked form."""

    channel: str
    number: str
    provider: str
    display: str


def check_account(channel: str, number: str, provider: str = "") -> AccountNumber:
    """Validate and normalise a bank IBAN, a wallet's mobile number or a card token."""
    text = (number or "").strip()
    if channel == "bank":
        return _bank(text)
    if channel == "wallet":
        return _wallet(text, provider)
    if channel == "card":
        return _card(text, provider)
    raise AccountError(
        _("Choose a bank account, a mobile wallet or a prepaid card."), field="channel"
    )


def _bank(text: str) -> AccountNumber:
    try:
        iban = IBAN(text)
    except SchwiftyException as exc:
        if "checksum" in str(exc).lower():
            raise AccountError(
                _("This IBAN's check digits are wrong: please copy it again from the bank.")
            ) from exc
        raise AccountError(_("This is not an IBAN. A Pakistani IBAN starts with PK.")) from exc
    if iban.country_code != "PK":
        raise AccountError(_("Payments go to Pakistani bank accounts only (IBAN starting PK)."))
    compact = iban.compact
    bank = str(iban.bank_code)
    return AccountNumber("bank", compact, bank, f"{compact[:4]} {bank} •••• {compact[-4:]}")


def _wallet(text: str, provider: str) -> AccountNumber:
    if provider not in WALLET_PROVIDERS:
        raise AccountError(_("Choose the wallet: JazzCash, Easypaisa or UPaisa."), field="provider")
    try:
        parsed = phonenumbers.parse(text, "PK")
    except phonenumbers.NumberParseException as exc:
        raise AccountError(_("This is not a mobile number.")) from exc
    if not (
        phonenumbers.is_valid_number(parsed)
        and parsed.country_code == 92
        and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    ):
        raise AccountError(_("Enter a Pakistani mobile number, like 0300 1234567."))
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return AccountNumber("wallet", e164, provider, f"{e164[:6]} ••• {e164[-4:]}")


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(text: str, provider: str) -> AccountNumber:
    if provider not in CARD_PROVIDERS:
        raise AccountError(_("Choose the card's issuer."), field="provider")
    digits = re.sub(r"[\s-]", "", text)
    if digits.isdigit() and 13 <= len(digits) <= 19 and _luhn_valid(digits):
        # Never keep a card number: the issuer gives a token for the card.
        raise AccountError(
            _("Do not enter the card number. Enter the card's token from the issuer's letter.")
        )
    if not _TOKEN.match(text):
        raise AccountError(_("A card token is 16 to 64 letters, digits, - or _."))
    return AccountNumber("card", text, provider, f"{provider} •••• {text[-4:]}")


def provider_name(channel: str, provider: str) -> str:
    table = {"bank": BANKS, "wallet": WALLET_PROVIDERS, "card": CARD_PROVIDERS}.get(channel, {})
    return table.get(provider, provider)


def names_match(expected: str, held: str) -> bool:
    """Is the account in the beneficiary's own name? Case, spacing and punctuation do
    not count; every word of the shorter name must appear in the longer one (banks
    often drop or add a father's or husband's name)."""

    def words(name: str) -> list[str]:
        return [w for w in re.split(r"[^\w]+", name.casefold()) if w]

    a, b = words(expected), words(held)
    if not a or not b:
        return False
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < 2 and short != long:
        return False  # "Bibi" alone says nothing about whose account it is
    return all(word in long for word in short)
