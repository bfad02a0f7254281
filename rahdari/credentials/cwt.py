"""The QR credential format: MOSIP Claim 169 in a CBOR Web Token, signed with Ed25519.

Pipeline (docs/credential.md is the specification an outside verifier follows):

    claims (CBOR map, integer keys) → COSE_Sign1 (EdDSA, kid in the protected header)
    → zlib → base45 (RFC 9285) → QR in alphanumeric mode

and back again. Revocation uses the IETF Token Status List: each credential carries
``{65535: {"status_list": {"idx": n, "uri": "…/status/<list>"}}}`` and the issuer
publishes a signed list of 2-bit entries.

Pure module (no Django): bytes and plain values in and out, so the verifier runs
offline from a cached key set and status lists, and so it is fast — the Ed25519
check (libsodium through PyNaCl) is the only expensive step.
"""

from __future__ import annotations

import base64
import re
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cbor2
import numpy as np
from nacl import bindings as sodium
from nacl.exceptions import BadSignatureError, CryptoError

# --- Claim 169 keys (identity-data map) -------------------------------------------------

CLAIM_169 = 169
ID, VERSION, LANGUAGE, FULL_NAME = 1, 2, 3, 4
DATE_OF_BIRTH, GENDER, ADDRESS, NATIONALITY, GUARDIAN = 8, 9, 10, 13, 15
PHOTO, PHOTO_FORMAT, SECONDARY_FULL_NAME, SECONDARY_LANGUAGE = 16, 17, 19, 20
LOCATION_CODE, COUNTRY_OF_ISSUANCE = 21, 23

CLAIM_NAMES: dict[int, str] = {
    ID: "id",
    VERSION: "version",
    LANGUAGE: "language",
    FULL_NAME: "full_name",
    5: "first_name",
    6: "middle_name",
    7: "last_name",
    DATE_OF_BIRTH: "date_of_birth",
    GENDER: "gender",
    ADDRESS: "address",
    11: "email",
    12: "phone",
    NATIONALITY: "nationality",
    14: "marital_status",
    GUARDIAN: "guardian",
    PHOTO: "photo",
    PHOTO_FORMAT: "photo_format",
    18: "best_quality_fingers",
    SECONDARY_FULL_NAME: "secondary_full_name",
    SECONDARY_LANGUAGE: "secondary_language",
    LOCATION_CODE: "location_code",
    22: "legal_status",
    COUNTRY_OF_ISSUANCE: "country_of_issuance",
}
GENDERS = {1: "male", 2: "female", 3: "other"}
PHOTO_FORMATS = {1: "jpeg", 2: "jpeg2000", 3: "avif", 4: "webp"}
PHOTO_MEDIA_TYPES = {1: "image/jpeg", 2: "image/jp2", 3: "image/avif", 4: "image/webp"}

# --- CWT and COSE labels ----------------------------------------------------------------

ISS, SUB, EXP, NBF, IAT = 1, 2, 4, 5, 6
STATUS = 65535  # Token Status List: status claim of a referenced token
STATUS_LIST = 65533  # … the list inside a status list token
TTL = 65534
COSE_SIGN1_TAG = 18
HDR_ALG, HDR_KID, HDR_TYP = 1, 4, 16
ALG_EDDSA = -8
STATUS_LIST_TYP = "application/statuslist+cwt"

# The versions of the Rahdari profile this code issues and accepts (claim 169 key 2).
PROFILE_VERSION = "1"
SUPPORTED_VERSIONS = frozenset({PROFILE_VERSION})

# Status values (2 bits per credential).
STATUS_VALID, STATUS_INVALID, STATUS_SUSPENDED = 0, 1, 2
STATUS_BITS = 2

MAX_TEXT_CHARS = 8_000  # larger than any QR can hold (version 40-L alphanumeric: 4,296)
MAX_INFLATED_BYTES = 64 * 1024  # a zlib bomb stops here

# --- Reasons a verification gives (stable codes; the UI translates them) ---------------

VALID = "valid"
MALFORMED = "malformed"
WRONG_PREFIX = "wrong_prefix"
UNSUPPORTED_VERSION = "unsupported_version"
UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
REVOKED = "revoked"
SUSPENDED = "suspended"
REASONS = (
    VALID,
    MALFORMED,
    WRONG_PREFIX,
    UNSUPPORTED_VERSION,
    UNSUPPORTED_ALGORITHM,
    UNKNOWN_KEY,
    BAD_SIGNATURE,
    EXPIRED,
    NOT_YET_VALID,
    REVOKED,
    SUSPENDED,
)


class FormatError(ValueError):
    """The input is not a credential of this format; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# --- base45 (RFC 9285), vectorised ------------------------------------------------------
# The pure-Python `base45` package spends ~40 µs on a 300-character QR, half an
# Ed25519 check; NumPy does the same work in a few µs.

ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_DECODE = bytearray(b"\xff" * 256)
for _value, _char in enumerate(ALPHABET):
    _DECODE[_char] = _value
_DECODE_TABLE = bytes(_DECODE)
_ENCODE = np.frombuffer(ALPHABET, dtype=np.uint8)
_WEIGHTS = np.array([1, 45, 2025], dtype=np.uint32)


def b45encode(data: bytes) -> str:
    full, rem = divmod(len(data), 2)
    out = bytearray()
    if full:
        pairs = np.frombuffer(data, dtype=">u2", count=full).astype(np.uint32)
        digits = np.empty((full, 3), dtype=np.uint32)
        digits[:, 0] = pairs % 45
        digits[:, 1] = (pairs // 45) % 45
        digits[:, 2] = pairs // 2025
        out += _ENCODE[digits.ravel()].tobytes()
    if rem:
        last = data[-1]
        out += bytes((ALPHABET[last % 45], ALPHABET[last // 45]))
    return out.decode("ascii")


def b45decode(text: str) -> bytes:
    try:
        values = text.encode("ascii").translate(_DECODE_TABLE)
    except UnicodeEncodeError:
        raise FormatError(MALFORMED, "not base45: non-ASCII characters") from None
    if b"\xff" in values:
        raise FormatError(MALFORMED, "not base45: character outside the alphabet")
    full, rem = divmod(len(values), 3)
    if rem == 1:
        raise FormatError(MALFORMED, "not base45: length leaves a single character")
    result = b""
    if full:
        triples = np.frombuffer(values, dtype=np.uint8, count=full * 3).reshape(full, 3) @ _WEIGHTS
        if triples.max() > 0xFFFF:
            raise FormatError(MALFORMED, "not base45: triple above 65535")
        result = triples.astype(">u2").tobytes()
    if rem:
        last = values[-2] + values[-1] * 45
        if last > 0xFF:
            raise FormatError(MALFORMED, "not base45: final pair above 255")
        result += bytes((last,))
    return result


# --- encoding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """An issuer key: 32-byte Ed25519 seed and its key id (bytes, in the protected header)."""

    kid: bytes
    seed: bytes

    @cached_property
    def _keypair(self) -> tuple[bytes, bytes]:
        return sodium.crypto_sign_seed_keypair(self.seed)

    @property
    def public_key(self) -> bytes:
        return self._keypair[0]

    @property
    def secret_key(self) -> bytes:
        return self._keypair[1]


def new_seed() -> bytes:
    return sodium.randombytes(32)


def public_key_of(seed: bytes) -> bytes:
    return sodium.crypto_sign_seed_keypair(seed)[0]


def _bstr_head(length: int) -> bytes:
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    return b"\x5a" + length.to_bytes(4, "big")


_SIG1_CONTEXT = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    """Sig_structure = ["Signature1", protected, external_aad = h'', payload] (RFC 9052 4.4).

    Written out rather than through cbor2.dumps because every verification builds
    it; a test checks it against cbor2 for every length class.
    """
    return b"".join(
        (
            _SIG1_CONTEXT,
            _bstr_head(len(protected)),
            protected,
            b"\x40",
            _bstr_head(len(payload)),
            payload,
        )
    )


def sign1(payload: bytes, *, kid: bytes, secret_key: bytes, typ: str | None = None) -> bytes:
    """A tagged COSE_Sign1 over ``payload`` with EdDSA and ``kid`` in the protected header."""
    header: dict[int, Any] = {HDR_ALG: ALG_EDDSA, HDR_KID: kid}
    if typ:
        header[HDR_TYP] = typ
    protected = cbor2.dumps(header)
    signed = sodium.crypto_sign(_sig_structure(protected, payload), secret_key)
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signed[:64]]))


def credential_claims(
    *,
    identity: Mapping[int, Any],
    issuer: str,
    issued_at: int,
    expires_at: int,
    status_uri: str,
    status_index: int,
    not_before: int | None = None,
) -> dict[int, Any]:
    """The CWT claims set of a credential: standard claims, claim 169 and the status claim."""
    claims: dict[int, Any] = {ISS: issuer, EXP: expires_at, IAT: issued_at}
    if not_before is not None and not_before != issued_at:
        claims[NBF] = not_before  # absent means "from iat": six bytes saved in every QR
    return claims | {
        CLAIM_169: {k: v for k, v in identity.items() if v not in (None, "", b"")},
        STATUS: {"status_list": {"idx": status_index, "uri": status_uri}},
    }


def encode(claims: Mapping[int, Any], key: SigningKey, *, secret_key: bytes | None = None) -> str:
    """Sign, compress and base45-encode a claims set: the text that goes into the QR."""
    cose = sign1(cbor2.dumps(claims), kid=key.kid, secret_key=secret_key or key.secret_key)
    return b45encode(zlib.compress(cose, 9))


# --- decoding ---------------------------------------------------------------------------

# Other QR formats announce themselves: "HC1:" (EU certificates), "shc:/", "https://",
# "mosip:". Short upper-case tags or lower-case schemes; damaged base45 of our own QR
# (which starts "NCF…" and may hold a colon anywhere) is not mistaken for one.
_PREFIX = re.compile(r"^\s*([A-Z][A-Z0-9]{1,3}:|[a-z][a-z0-9+.\-]{0,15}:)")


@dataclass(slots=True)
class Sign1:
    protected: bytes
    header: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def kid(self) -> bytes | None:
        kid = self.header.get(HDR_KID, self.unprotected.get(HDR_KID))
        return kid if isinstance(kid, bytes) else None

    @property
    def alg(self) -> Any:
        return self.header.get(HDR_ALG)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise FormatError(MALFORMED, f"not zlib: {exc}") from None
    if inflater.unconsumed_tail:
        raise FormatError(MALFORMED, "inflates to more than 64 KiB")
    if not inflater.eof or inflater.unused_data:
        raise FormatError(MALFORMED, "zlib stream is cut short or followed by data")
    return out


def _loads(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise FormatError(MALFORMED, f"{what} is not CBOR: {exc}") from None
    except Exception as exc:  # cbor2 raises odd types on hostile input; never let one out
        raise FormatError(MALFORMED, f"{what} is not CBOR: {type(exc).__name__}") from None


# CBOR maps decode to dict, or to cbor2's frozendict where a map must be hashable;
# checking the two concrete types is several times cheaper than the Mapping ABC.
_MAPS = (dict, cbor2.frozendict)
# Every credential signed by one key has the same protected header: parse it once.
_HEADERS: dict[bytes, Mapping[Any, Any]] = {}


def _protected_header(protected: bytes) -> Mapping[Any, Any]:
    header = _HEADERS.get(protected)
    if header is None:
        header = _loads(protected, "the protected header") if protected else {}
        if not isinstance(header, _MAPS):
            raise FormatError(MALFORMED, "the protected header is not a map")
        if len(_HEADERS) > 256:  # hostile input must not grow the cache without end
            _HEADERS.clear()
        _HEADERS[protected] = header
    return header


def parse_sign1(data: bytes) -> Sign1:
    obj = _loads(data, "the credential")
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise FormatError(UNSUPPORTED_VERSION, f"COSE tag {obj.tag} is not COSE_Sign1 (18)")
        obj = obj.value
    if not (isinstance(obj, list | tuple) and len(obj) == 4):
        raise FormatError(MALFORMED, "not a COSE_Sign1 array of four")
    protected, unprotected, payload, signature = obj
    if not (
        type(protected) is bytes
        and isinstance(unprotected, _MAPS)
        and type(payload) is bytes
        and type(signature) is bytes
    ):
        raise FormatError(MALFORMED, "COSE_Sign1 members have the wrong types")
    return Sign1(protected, _protected_header(protected), unprotected, payload, signature)


def unwrap(text: str) -> Sign1:
    """QR text → COSE_Sign1, or FormatError(malformed | wrong_prefix | unsupported_version)."""
    if not isinstance(text, str):
        raise FormatError(MALFORMED, "not text")
    if len(text) > MAX_TEXT_CHARS:
        raise FormatError(MALFORMED, "longer than any QR code can hold")
    try:
        return parse_sign1(_inflate(b45decode(text)))
    except FormatError as exc:
        if exc.reason == MALFORMED and _PREFIX.match(text):
            prefix = _PREFIX.match(text).group(1)  # type: ignore[union-attr]
            raise FormatError(WRONG_PREFIX, f"a QR of another format ({prefix})") from None
        raise


def verify_signature(sign1_: Sign1, public_key: bytes) -> bool:
    # libsodium's crypto_sign_open takes signature || message: build both in one join.
    signed = b"".join(
        (
            sign1_.signature,
            _SIG1_CONTEXT,
            _bstr_head(len(sign1_.protected)),
            sign1_.protected,
            b"\x40",
            _bstr_head(len(sign1_.payload)),
            sign1_.payload,
        )
    )
    try:
        sodium.crypto_sign_open(signed, public_key)
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        return False
    return True


# --- key sets and status lists (what an offline verifier caches) ------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class PublicKey:
    kid: bytes
    key: bytes
    issuer: str
    not_before: int  # first second it may sign
    signing_until: int | None  # last second it signed (None: still signing)
    verify_until: int  # after this, nothing it signed is trusted


@dataclass
class KeySet:
    """Trusted issuer keys, from ``/.well-known/rahdari-keys.json`` or added by hand."""

    keys: dict[bytes, PublicKey] = field(default_factory=dict)
    fetched_at: int | None = None

    def add(self, key: PublicKey) -> None:
        self.keys[key.kid] = key

    def of_issuer(self, issuer: Any) -> list[PublicKey]:
        return [k for k in self.keys.values() if k.issuer == issuer]

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> KeySet:
        """Parse the published key set; raises ValueError if it is not one."""
        issuer = document.get("issuer")
        rows = document.get("keys")
        if not isinstance(issuer, str) or not isinstance(rows, list):
            raise ValueError("not a Rahdari key set: needs 'issuer' and 'keys'")
        keyset = cls(fetched_at=_int_or_none(document.get("generated_at")))
        for row in rows:
            if not isinstance(row, Mapping) or row.get("crv") != "Ed25519":
                continue
            key = unb64url(str(row["x"]))
            if len(key) != 32:
                raise ValueError("an Ed25519 public key has 32 bytes")
            keyset.add(
                PublicKey(
                    kid=bytes.fromhex(str(row["kid"])),
                    key=key,
                    issuer=issuer,
                    not_before=int(row["not_before"]),
                    signing_until=_int_or_none(row.get("signing_until")),
                    verify_until=int(row["verify_until"]),
                )
            )
        return keyset


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def pack_statuses(statuses: np.ndarray) -> bytes:
    """2-bit statuses (index 0 in the least significant bits of byte 0), zlib-compressed."""
    size = -(-len(statuses) // 4) * 4
    padded = np.zeros(size, dtype=np.uint8)
    padded[: len(statuses)] = statuses
    quads = padded.reshape(-1, 4)
    packed = quads[:, 0] | (quads[:, 1] << 2) | (quads[:, 2] << 4) | (quads[:, 3] << 6)
    return zlib.compress(packed.astype(np.uint8).tobytes(), 9)


@dataclass(frozen=True)
class StatusList:
    uri: str
    bits: int
    data: bytes  # the uncompressed byte array
    issued_at: int
    expires_at: int | None
    ttl: int | None

    def status(self, index: int) -> int | None:
        per_byte = 8 // self.bits
        byte = index // per_byte
        if index < 0 or byte >= len(self.data):
            return None
        return (self.data[byte] >> ((index % per_byte) * self.bits)) & ((1 << self.bits) - 1)

    @property
    def size(self) -> int:
        return len(self.data) * (8 // self.bits)


def status_list_token(
    *,
    uri: str,
    compressed: bytes,
    issued_at: int,
    ttl: int,
    expires_at: int,
    key: SigningKey,
    secret_key: bytes | None = None,
) -> bytes:
    """A signed status list token (CWT, typ application/statuslist+cwt)."""
    claims = {
        SUB: uri,
        IAT: issued_at,
        EXP: expires_at,
        TTL: ttl,
        STATUS_LIST: {"bits": STATUS_BITS, "lst": compressed},
    }
    return sign1(
        cbor2.dumps(claims),
        kid=key.kid,
        secret_key=secret_key or key.secret_key,
        typ=STATUS_LIST_TYP,
    )


def parse_status_list_token(token: bytes, keyset: KeySet) -> StatusList:
    """Check a status list token's signature with the key set; raises FormatError."""
    sign1_ = parse_sign1(token)
    if sign1_.header.get(HDR_TYP) != STATUS_LIST_TYP:
        raise FormatError(MALFORMED, "not a status list token")
    key = keyset.keys.get(sign1_.kid or b"")
    if key is None:
        raise FormatError(UNKNOWN_KEY, "status list signed by an unknown key")
    if not verify_signature(sign1_, key.key):
        raise FormatError(BAD_SIGNATURE, "status list signature does not verify")
    claims = _loads(sign1_.payload, "the status list")
    if not isinstance(claims, Mapping):
        raise FormatError(MALFORMED, "the status list claims are not a map")
    try:
        body = claims[STATUS_LIST]
        bits = int(body["bits"])
        if bits not in (1, 2, 4, 8):
            raise ValueError(bits)
        return StatusList(
            uri=str(claims[SUB]),
            bits=bits,
            data=_inflate_list(body["lst"]),
            issued_at=int(claims[IAT]),
            expires_at=_int_or_none(claims.get(EXP)),
            ttl=_int_or_none(claims.get(TTL)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(MALFORMED, f"status list claims are incomplete: {exc}") from None


def _inflate_list(data: Any) -> bytes:
    if not isinstance(data, bytes):
        raise TypeError("lst is not a byte string")
    try:
        return zlib.decompress(data)
    except zlib.error as exc:
        raise ValueError(f"lst is not zlib: {exc}") from None


# --- verification -----------------------------------------------------------------------


@dataclass
class Verification:
    """The outcome; ``claims`` are the readable claims of a credential whose signature held."""

    valid: bool
    reason: str
    detail: str = ""
    payload: Mapping[Any, Any] | None = field(default=None, repr=False)
    kid: str | None = None
    status_checked: bool = False
    status_list_age_seconds: int | None = None

    @property
    def claims(self) -> dict[str, Any]:
        return readable_claims(self.payload) if self.payload is not None else {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "detail": self.detail,
            "claims": self.claims,
            "kid": self.kid,
            "status_checked": self.status_checked,
            "status_list_age_seconds": self.status_list_age_seconds,
        }


def readable_claims(payload: Mapping[Any, Any]) -> dict[str, Any]:
    """Claim 169 and the CWT claims with names instead of numbers (photo as base64)."""
    identity = payload.get(CLAIM_169)
    out: dict[str, Any] = {}
    if isinstance(identity, Mapping):
        for number, value in identity.items():
            name = CLAIM_NAMES.get(number, str(number)) if isinstance(number, int) else None
            if name is None:
                continue
            out[name] = (
                base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
            )
        if isinstance(out.get("gender"), int):
            out["gender"] = GENDERS.get(out["gender"], str(out["gender"]))
        if isinstance(out.get("photo_format"), int):
            fmt = out["photo_format"]
            out["photo_media_type"] = PHOTO_MEDIA_TYPES.get(fmt, "application/octet-stream")
            out["photo_format"] = PHOTO_FORMATS.get(fmt, str(fmt))
    for label, name in ((ISS, "iss"), (IAT, "iat"), (NBF, "nbf"), (EXP, "exp")):
        if label in payload:
            out[name] = payload[label]
    status = _status_reference(payload)
    if status:
        out["status"] = {"idx": status[1], "uri": status[0]}
    return out


def _is_time(value: Any) -> bool:
    """Absent, or a NumericDate: an integer or a float (not a bool, not a tagged date)."""
    return value is None or (type(value) is int or type(value) is float)


def _status_reference(payload: Mapping[Any, Any]) -> tuple[str, int] | None:
    status = payload.get(STATUS)
    if not isinstance(status, _MAPS):
        return None
    ref = status.get("status_list")
    if not isinstance(ref, _MAPS):
        return None
    uri, idx = ref.get("uri"), ref.get("idx")
    if type(uri) is str and type(idx) is int:
        return uri, idx
    return None


class Verifier:
    """Offline verification from a key set and the status lists a verifier last fetched.

    ``clock_skew`` seconds of tolerance apply to nbf/exp (phone clocks drift). The
    status check uses whatever list the verifier holds and reports how old it is;
    with no list for a credential's URI the result is valid but ``status_checked``
    is false, and the caller decides what that means at its counter.
    """

    def __init__(
        self,
        keyset: KeySet,
        status_lists: Iterable[StatusList] = (),
        *,
        clock_skew: int = 300,
        accepted_versions: frozenset[str] = SUPPORTED_VERSIONS,
    ) -> None:
        self.keyset = keyset
        self.status_lists = {s.uri: s for s in status_lists}
        self.clock_skew = clock_skew
        self.accepted_versions = accepted_versions

    def add_status_list(self, status_list: StatusList) -> None:
        self.status_lists[status_list.uri] = status_list

    def verify(self, text: str, *, now: int | None = None) -> Verification:
        now = int(time.time()) if now is None else now
        try:
            return self._verify(text, now)
        except FormatError as exc:
            return Verification(False, exc.reason, exc.detail)

    def _verify(self, text: str, now: int) -> Verification:
        sign1_ = unwrap(text.strip() if isinstance(text, str) else text)
        if sign1_.alg != ALG_EDDSA:
            raise FormatError(UNSUPPORTED_ALGORITHM, f"algorithm {sign1_.alg!r} is not EdDSA")
        payload = _loads(sign1_.payload, "the payload")
        if not isinstance(payload, _MAPS) or not isinstance(
            identity := payload.get(CLAIM_169), _MAPS
        ):
            raise FormatError(MALFORMED, "the payload has no claim 169")
        key = self._key_for(sign1_, payload)
        result = Verification(True, VALID, payload=payload, kid=key.kid.hex())
        version = identity.get(VERSION)
        if version is not None and str(version) not in self.accepted_versions:
            return self._fail(result, UNSUPPORTED_VERSION, f"profile version {version!r}")
        issued_at, not_before, expires_at = payload.get(IAT), payload.get(NBF), payload.get(EXP)
        if not (_is_time(issued_at) and _is_time(not_before) and _is_time(expires_at)):
            return self._fail(result, MALFORMED, "iat, nbf and exp must be numbers (RFC 8392)")
        if not_before is None:
            not_before = issued_at
        if not_before is not None and now + self.clock_skew < not_before:
            return self._fail(result, NOT_YET_VALID, "valid from a later time")
        if expires_at is not None and now - self.clock_skew > expires_at:
            return self._fail(result, EXPIRED, "the validity period has ended")
        if key.verify_until < now or (
            issued_at is not None
            and (
                issued_at + self.clock_skew < key.not_before
                or (
                    key.signing_until is not None
                    and issued_at > key.signing_until + self.clock_skew
                )
            )
        ):
            return self._fail(result, UNKNOWN_KEY, "the key was not valid for this credential")
        reference = _status_reference(payload)
        if reference:
            status_list = self.status_lists.get(reference[0])
            if status_list is not None:
                result.status_checked = True
                result.status_list_age_seconds = max(0, now - status_list.issued_at)
                status = status_list.status(reference[1])
                if status == STATUS_INVALID:
                    return self._fail(result, REVOKED, "revoked by the issuer")
                if status == STATUS_SUSPENDED:
                    return self._fail(result, SUSPENDED, "suspended by the issuer")
                if status is None:
                    return self._fail(result, MALFORMED, "status index outside the list")
        return result

    def _key_for(self, sign1_: Sign1, payload: Mapping[Any, Any]) -> PublicKey:
        """The trusted key for this credential, its signature checked."""
        kid = sign1_.kid
        if kid is not None:
            key = self.keyset.keys.get(kid)
            if key is None:
                raise FormatError(UNKNOWN_KEY, f"no trusted key with id {kid.hex()}")
            if key.issuer != payload.get(ISS):
                raise FormatError(UNKNOWN_KEY, "the key does not belong to this issuer")
            if verify_signature(sign1_, key.key):
                return key
            raise FormatError(BAD_SIGNATURE, "the signature does not verify")
        # Claim 169 QR codes of other issuers may carry no key id: try the issuer's keys.
        candidates = self.keyset.of_issuer(payload.get(ISS))
        if not candidates:
            raise FormatError(UNKNOWN_KEY, "no trusted key of this issuer")
        for key in candidates:
            if verify_signature(sign1_, key.key):
                return key
        raise FormatError(BAD_SIGNATURE, "the signature does not verify")

    @staticmethod
    def _fail(result: Verification, reason: str, detail: str) -> Verification:
        result.valid, result.reason, result.detail = False, reason, detail
        return result
