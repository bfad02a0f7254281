"""What the public log holds, and how anyone checks it: pure functions, no Django.

- **Entries** are canonical JSON (keys sorted, no spaces, UTF-8, integers only — no
  floats, so every encoder writes the same bytes): an envelope ``v``, ``id``, ``kind``,
  ``at`` plus the fields of that kind, and nothing else. A field that is not in the
  kind's schema is refused, so personal data cannot slip in by accident.
- A beneficiary appears only as a **commitment**: HMAC-SHA256 keyed with a random
  per-entry salt over the Rahdari number. The salt is kept private and printed on the
  beneficiary's receipt; without it, the commitment reveals nothing and links nothing.
- **Signed tree heads** sign RFC 6962's TreeHeadSignature structure (§3.5: version 0,
  signature type 1, timestamp in ms, tree size, root hash) with Ed25519.
- **Receipts** pack an entry, its salt, its inclusion proof and the tree head into a
  short text for a QR code (dot-separated fields, binary ones base64url).
- **Totals** per program, cycle and district are derived from entries alone, so an
  outside verifier recomputes exactly what the transparency page shows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from rahdari.ledger import merkle

ENTRY_VERSION = 1
SALT_SIZE = 32
MAX_ENTRY_BYTES = 4096

_Kind = dict[str, type | tuple[type, ...]]
_TOTALS_ROW: _Kind = {"district": str, "count": int, "amount": int}

# Each kind's fields beyond the envelope; every field is required. Amounts are whole
# rupees (PKR); "district" is a district's name as in the reference list.
KINDS: dict[str, _Kind] = {
    # A program's enrolment approved: who will be paid each period, per district.
    "programs.enrolment_approved": {
        "program": str,
        "run": str,
        "period": str,
        "totals": list,
    },
    # A payment cycle approved by its checker: the entitlements per district.
    "payments.cycle_approved": {
        "program": str,
        "cycle": str,
        "totals": list,
    },
    # One payment's life: instructed to a provider, then paid, failed, returned,
    # unclaimed (recalled: nobody collected it) or reversed. "payment" is the payment's
    # public reference; "beneficiary" a commitment.
    **{
        f"payments.{status}": {
            "program": str,
            "cycle": str,
            "district": str,
            "payment": str,
            "channel": str,
            "amount": int,
            "beneficiary": str,
        }
        for status in ("instructed", "paid", "failed", "returned", "unclaimed", "reversed")
    },
}
# Every field an entry of each kind has, the common ones included.
_FIELDS: dict[str, frozenset[str]] = {
    kind: frozenset({"v", "id", "kind", "at", *schema}) for kind, schema in KINDS.items()
}

_MAX_INT = 2**53  # beyond it JavaScript (the browser's verifier) reads integers inexactly
_ID = re.compile(r"^[0-9a-f]{32}$")
_NATURAL = re.compile(r"^(0|[1-9][0-9]{0,15})$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_LOCAL_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_COMMITMENT = re.compile(r"^[0-9a-f]{64}$")


class EntryError(ValueError):
    """An entry that the log refuses (unknown kind, missing or extra field, bad type)."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8; refuses floats (no two encoders agree on them)."""
    _check_value(value, "entry")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) >= _MAX_INT:
            raise EntryError(f"{where}: integer out of range")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EntryError(f"{where}: keys must be strings")
            _check_value(item, f"{where}.{key}")
        return
    raise EntryError(f"{where}: {type(value).__name__} is not allowed in an entry")


def check_entry(entry: Mapping[str, Any]) -> None:
    """Raise EntryError unless ``entry`` is a complete, well-typed entry of a known kind."""
    kind = entry.get("kind")
    if kind not in KINDS:
        raise EntryError(f"unknown kind {kind!r}")
    schema = KINDS[kind]
    expected = _FIELDS[kind]
    if entry.keys() != expected:
        if missing := sorted(expected - entry.keys()):
            raise EntryError(f"{kind}: missing {', '.join(missing)}")
        extra = sorted(entry.keys() - expected)
        raise EntryError(f"{kind}: fields not in the schema: {', '.join(extra)}")
    if type(entry["v"]) is not int or entry["v"] != ENTRY_VERSION:
        raise EntryError(f"unsupported version {entry['v']!r}")
    if not (isinstance(entry["id"], str) and _ID.match(entry["id"])):
        raise EntryError("id must be 32 lower-case hex digits")
    if not (isinstance(entry["at"], str) and _AT.match(entry["at"])):
        raise EntryError("at must be a UTC time like 2026-11-23T09:30:00Z")
    for name, kind_type in schema.items():
        value = entry[name]
        if not isinstance(value, kind_type) or isinstance(value, bool):
            raise EntryError(f"{kind}: {name} has the wrong type")
        if kind_type is int and abs(value) >= _MAX_INT:
            raise EntryError(f"{kind}: {name} is out of range")
    if "amount" in schema and entry["amount"] <= 0:
        raise EntryError(f"{kind}: amount must be positive")
    if "beneficiary" in schema and not _COMMITMENT.match(entry["beneficiary"]):
        raise EntryError(f"{kind}: beneficiary must be a 64-hex-digit commitment")
    if "totals" in schema:
        _check_totals(kind, entry["totals"])


def _check_totals(kind: str, totals: list[Any]) -> None:
    seen: set[str] = set()
    for i, row in enumerate(totals):
        if not isinstance(row, dict) or row.keys() != _TOTALS_ROW.keys():
            raise EntryError(f"{kind}: totals[{i}] must have district, count and amount")
        for name, kind_type in _TOTALS_ROW.items():
            if not isinstance(row[name], kind_type) or isinstance(row[name], bool):
                raise EntryError(f"{kind}: totals[{i}].{name} has the wrong type")
        if not (0 <= row["count"] < _MAX_INT and 0 <= row["amount"] < _MAX_INT):
            raise EntryError(f"{kind}: totals[{i}] cannot be negative")
        if row["district"] in seen:
            raise EntryError(f"{kind}: totals lists {row['district']} twice")
        seen.add(row["district"])


def encode_entry(entry: Mapping[str, Any]) -> bytes:
    check_entry(entry)  # every value's type is checked: no need for canonical_json's walk
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_ENTRY_BYTES:
        raise EntryError(f"an entry is at most {MAX_ENTRY_BYTES} bytes")
    return body


def decode_entry(body: bytes | str) -> dict[str, Any]:
    """Parse and check an entry; raise EntryError if it is not canonical or not valid."""
    raw = body.encode() if isinstance(body, str) else body
    try:
        entry = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EntryError("an entry must be JSON") from exc
    if not isinstance(entry, dict):
        raise EntryError("an entry must be a JSON object")
    check_entry(entry)
    if canonical_json(entry) != raw:
        raise EntryError("an entry must be in canonical form")
    return entry


def normalise_number(number: str) -> str:
    """A Rahdari number as people type it (groups of four, dashes, Urdu or Arabic-Indic
    digits) in the form the log commits to: ASCII digits only."""
    return "".join(number.translate(_LOCAL_DIGITS).split()).replace("-", "")


def commitment(subject: str, salt: bytes) -> str:
    """HMAC-SHA256(salt, subject) in hex: the beneficiary's place in a public entry."""
    if len(salt) != SALT_SIZE:
        raise ValueError(f"a salt is {SALT_SIZE} bytes")
    return hmac.digest(salt, subject.encode(), "sha256").hex()


# --- Signed tree heads -------------------------------------------------------------


def tree_head_message(tree_size: int, timestamp_ms: int, root_hash: bytes) -> bytes:
    """RFC 6962 §3.5 TreeHeadSignature: version v1 (0), signature type tree_hash (1),
    uint64 timestamp (ms since the epoch), uint64 tree_size, the 32-byte root."""
    if len(root_hash) != merkle.HASH_SIZE:
        raise ValueError("a root hash is 32 bytes")
    return struct.pack(">BBQQ", 0, 1, timestamp_ms, tree_size) + root_hash


def key_id(public_key: bytes) -> str:
    """The first 8 bytes of SHA-256 of the raw Ed25519 public key, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    timestamp_ms: int
    root_hash: bytes
    signature: bytes
    key_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "timestamp": self.timestamp_ms,
            "sha256_root_hash": b64(self.root_hash),
            "tree_head_signature": b64(self.signature),
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TreeHead:
        """Raise ValueError if a field is missing or malformed (not if the signature is bad)."""
        try:
            head = cls(
                tree_size=int(data["tree_size"]),
                timestamp_ms=int(data["timestamp"]),
                root_hash=unb64(str(data["sha256_root_hash"])),
                signature=unb64(str(data["tree_head_signature"])),
                key_id=str(data["key_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a signed tree head: {exc}") from exc
        if head.tree_size < 0 or head.timestamp_ms < 0 or len(head.root_hash) != 32:
            raise ValueError("not a signed tree head: bad size, time or root")
        return head

    def verify(self, public_keys: Mapping[str, bytes]) -> bool:
        """True when a key of that id signed exactly this head."""
        key = public_keys.get(self.key_id)
        if key is None or len(key) != 32:
            return False
        try:
            message = tree_head_message(self.tree_size, self.timestamp_ms, self.root_hash)
            Ed25519PublicKey.from_public_bytes(key).verify(self.signature, message)
        except (InvalidSignature, ValueError, OverflowError, struct.error):
            return False
        return True


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


# --- Receipts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """Everything a beneficiary needs to show that one entry is in the public log."""

    entry: bytes
    salt: bytes | None
    index: int
    proof: list[bytes]
    tree_head: TreeHead
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        """Dot-separated fields, binary ones base64url without padding (one layer of
        encoding, so a QR code holds it at 10 million entries):
        ``1.entry.index.proof.tree_size.timestamp.root.signature.key_id[.salt]``."""
        fields = [
            "1",
            _b64url(self.entry),
            str(self.index),
            _b64url(b"".join(self.proof)),
            str(self.tree_head.tree_size),
            str(self.tree_head.timestamp_ms),
            _b64url(self.tree_head.root_hash),
            _b64url(self.tree_head.signature),
            self.tree_head.key_id,
        ]
        if self.salt is not None:
            fields.append(_b64url(self.salt))
        return ".".join(fields)

    @classmethod
    def decode(cls, text: str) -> Receipt:
        """Raise ValueError on anything that is not a well-formed receipt."""
        fields = text.strip().split(".") if isinstance(text, str) else []
        if len(fields) not in (9, 10) or fields[0] != "1":
            raise ValueError("not a ledger receipt")
        _v, entry, index, proof, size, timestamp, root, signature, key, *salt = fields
        if not all(_NATURAL.match(value) for value in (index, size, timestamp)):
            raise ValueError("not a ledger receipt: bad number")
        if not _KEY_ID.match(key):
            raise ValueError("not a ledger receipt: bad key id")
        try:
            entry_bytes = _unb64url(entry)
            entry_bytes.decode()
            proof_bytes = _unb64url(proof)
            root_hash, sig = _unb64url(root), _unb64url(signature)
            salt_bytes = _unb64url(salt[0]) if salt else None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError("not a ledger receipt") from exc
        if len(proof_bytes) % merkle.HASH_SIZE or len(root_hash) != merkle.HASH_SIZE:
            raise ValueError("not a ledger receipt: bad proof or root")
        if len(sig) != 64 or (salt_bytes is not None and len(salt_bytes) != SALT_SIZE):
            raise ValueError("not a ledger receipt: bad signature or salt")
        return cls(
            entry=entry_bytes,
            salt=salt_bytes,
            index=int(index),
            proof=[
                proof_bytes[i : i + merkle.HASH_SIZE]
                for i in range(0, len(proof_bytes), merkle.HASH_SIZE)
            ],
            tree_head=TreeHead(
                tree_size=int(size),
                timestamp_ms=int(timestamp),
                root_hash=root_hash,
                signature=sig,
                key_id=key,
            ),
        )

    def check(self, public_keys: Mapping[str, bytes], subject: str | None = None) -> list[str]:
        """The problems found (empty when the receipt holds): a signed head, the entry
        under its root, and — given the beneficiary's number — the commitment."""
        problems: list[str] = []
        try:
            entry = decode_entry(self.entry)
        except EntryError as exc:
            problems.append(f"entry: {exc}")
            entry = {}
        if not self.tree_head.verify(public_keys):
            problems.append("tree head: signature does not verify")
        if not merkle.verify_inclusion(
            merkle.leaf_hash(self.entry),
            self.index,
            self.tree_head.tree_size,
            self.proof,
            self.tree_head.root_hash,
        ):
            problems.append("inclusion: the entry is not under the tree head's root")
        if subject is not None:
            if self.salt is None or "beneficiary" not in entry:
                problems.append("commitment: this receipt names no beneficiary")
            elif not hmac.compare_digest(
                commitment(normalise_number(subject), self.salt), entry["beneficiary"]
            ):
                problems.append("commitment: the number does not match")
        return problems


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- Totals --------------------------------------------------------------------------

TotalsKey = tuple[str, str, str]  # program, cycle (or enrolment run), district


@dataclass
class DistrictTotals:
    """Counts and rupees per kind of event for one program, cycle and district."""

    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int, amount: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count
        self.amounts[kind] = self.amounts.get(kind, 0) + amount


def entry_totals(entry: Mapping[str, Any]) -> list[tuple[TotalsKey, str, int, int]]:
    """What one (checked) entry adds to the totals: (key, kind, count, amount) rows."""
    kind = str(entry["kind"])
    if "totals" in entry:
        cycle = str(entry.get("cycle") or entry.get("run"))
        return [
            ((entry["program"], cycle, row["district"]), kind, row["count"], row["amount"])
            for row in entry["totals"]
        ]
    return [((entry["program"], entry["cycle"], entry["district"]), kind, 1, entry["amount"])]


def totals(entries: Iterable[Mapping[str, Any]]) -> dict[TotalsKey, DistrictTotals]:
    result: dict[TotalsKey, DistrictTotals] = {}
    for entry in entries:
        for key, kind, count, amount in entry_totals(entry):
            result.setdefault(key, DistrictTotals()).add(kind, count, amount)
    return result
