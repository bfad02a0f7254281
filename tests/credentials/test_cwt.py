"""The QR credential format (rahdari.credentials.cwt), without a database.

base45 against RFC 9285 and the `base45` package; the COSE Sig_structure against cbor2;
one test per verification reason; the Token Status List bit order and size; the key set
document; interoperability with the independent `claim169` package in both directions;
and a mutation fuzzer that may never make the verifier raise or accept a forgery.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import base45
import cbor2
import claim169
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl import bindings as sodium
from PIL import Image

from rahdari.credentials import cwt

ISSUER = "https://id.example.gov.pk"
OTHER_ISSUER = "https://id.elsewhere.example"
STATUS_URI = f"{ISSUER}/status/1"
NOW = 1_790_000_000  # a fixed clock: every verification passes now=
DAY = 86_400
SKEW = 300  # Verifier's default clock_skew


def seed_of(name: str) -> bytes:
    """A deterministic 32-byte Ed25519 seed, so failures reproduce."""
    return hashlib.sha256(name.encode()).digest()


def signing_key(name: str) -> cwt.SigningKey:
    return cwt.SigningKey(
        kid=hashlib.sha256(b"kid" + name.encode()).digest()[:8], seed=seed_of(name)
    )


def identity(overrides: dict[int, Any] | None = None) -> dict[int, Any]:
    claims: dict[int, Any] = {
        cwt.ID: "202412345678",
        cwt.VERSION: cwt.PROFILE_VERSION,
        cwt.LANGUAGE: "eng",
        cwt.FULL_NAME: "Gul Bibi Yousafzai",
        cwt.DATE_OF_BIRTH: "1980-01-15",
        cwt.GENDER: 2,
        cwt.ADDRESS: "Babuzai, Swat",
        cwt.NATIONALITY: "PAK",
        cwt.GUARDIAN: "Sher Khan Yousafzai",
        cwt.SECONDARY_FULL_NAME: "گل بی بی یوسفزئی",
        cwt.SECONDARY_LANGUAGE: "urd",
        cwt.LOCATION_CODE: "Swat",
        cwt.COUNTRY_OF_ISSUANCE: "PAK",
    }
    claims.update(overrides or {})
    return claims


def public_key(
    key: cwt.SigningKey,
    *,
    issuer: str = ISSUER,
    not_before: int = NOW - 365 * DAY,
    signing_until: int | None = None,
    verify_until: int = NOW + 20 * 365 * DAY,
) -> cwt.PublicKey:
    return cwt.PublicKey(
        kid=key.kid,
        key=key.public_key,
        issuer=issuer,
        not_before=not_before,
        signing_until=signing_until,
        verify_until=verify_until,
    )


def status_list(
    statuses: dict[int, int] | None = None,
    *,
    size: int = 16,
    uri: str = STATUS_URI,
    issued_at: int = NOW - 3600,
    key: cwt.SigningKey | None = None,
    keyset: cwt.KeySet | None = None,
) -> cwt.StatusList:
    """A status list as the verifier holds it: packed, signed and parsed back."""
    key = key or signing_key("issuer")
    bits = np.zeros(size, dtype=np.uint8)
    for index, value in (statuses or {}).items():
        bits[index] = value
    token = cwt.status_list_token(
        uri=uri,
        compressed=cwt.pack_statuses(bits),
        issued_at=issued_at,
        ttl=3600,
        expires_at=issued_at + DAY,
        key=key,
    )
    return cwt.parse_status_list_token(token, keyset or cwt.KeySet({key.kid: public_key(key)}))


@dataclass
class World:
    """An issuer key, a key set trusting it, a status list and a verifier over them."""

    key: cwt.SigningKey = field(default_factory=lambda: signing_key("issuer"))
    keyset: cwt.KeySet = field(default_factory=cwt.KeySet)
    verifier: cwt.Verifier = field(init=False)

    def __post_init__(self) -> None:
        if not self.keyset.keys:
            self.keyset.add(public_key(self.key))
        self.verifier = cwt.Verifier(self.keyset)

    def claims(
        self,
        *,
        ident: dict[int, Any] | None = None,
        issuer: str = ISSUER,
        issued_at: int = NOW - DAY,
        expires_at: int = NOW + 365 * DAY,
        not_before: int | None = None,
        status_uri: str = STATUS_URI,
        status_index: int = 3,
    ) -> dict[int, Any]:
        return cwt.credential_claims(
            identity=identity() if ident is None else ident,
            issuer=issuer,
            issued_at=issued_at,
            expires_at=expires_at,
            status_uri=status_uri,
            status_index=status_index,
            not_before=not_before,
        )

    def issue(self, *, key: cwt.SigningKey | None = None, **claims: Any) -> str:
        return cwt.encode(self.claims(**claims), key or self.key)

    def verify(self, text: str, now: int = NOW) -> cwt.Verification:
        return self.verifier.verify(text, now=now)


def cose_of(text: str) -> list[Any]:
    """[protected, unprotected, payload, signature] of a QR text."""
    tag = cbor2.loads(zlib.decompress(cwt.b45decode(text)))
    assert isinstance(tag, cbor2.CBORTag) and tag.tag == cwt.COSE_SIGN1_TAG
    return list(tag.value)


def text_of(obj: Any) -> str:
    return cwt.b45encode(zlib.compress(cbor2.dumps(obj), 9))


def sign1_text(
    payload: Any,
    key: cwt.SigningKey,
    *,
    header: dict[int, Any] | None = None,
    tag: int = cwt.COSE_SIGN1_TAG,
) -> str:
    """A correctly signed COSE message with any header, payload and tag."""
    protected = cbor2.dumps(
        {cwt.HDR_ALG: cwt.ALG_EDDSA, cwt.HDR_KID: key.kid} if header is None else header
    )
    body = payload if isinstance(payload, bytes) else cbor2.dumps(payload)
    signed = sodium.crypto_sign(cwt._sig_structure(protected, body), key.secret_key)[:64]
    return text_of(cbor2.CBORTag(tag, [protected, {}, body, signed]))


@pytest.fixture
def world() -> World:
    return World()


# --- base45 --------------------------------------------------------------------------------


@pytest.mark.parametrize("length", range(61))
def test_b45encode_matches_the_base45_package_for_every_short_length(length: int) -> None:
    rng = np.random.default_rng(length)
    for _ in range(5):
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        text = cwt.b45encode(data)
        assert text == base45.b45encode(data).decode("ascii")
        assert cwt.b45decode(text) == data


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\xff", b"\x00\x00", b"\xff\xff", b"\xff\xff\xff", b"\x00" * 61, b"\xff" * 60],
)
def test_b45_extremes(data: bytes) -> None:
    assert cwt.b45encode(data) == base45.b45encode(data).decode("ascii")
    assert cwt.b45decode(cwt.b45encode(data)) == data


@given(st.binary(max_size=3000))
@settings(max_examples=300, deadline=None)
def test_b45_agrees_with_the_base45_package(data: bytes) -> None:
    text = cwt.b45encode(data)
    assert text == base45.b45encode(data).decode("ascii")
    assert set(text) <= set(cwt.ALPHABET.decode())
    assert cwt.b45decode(text) == data


@given(st.text(alphabet=cwt.ALPHABET.decode(), max_size=40))
@settings(max_examples=500, deadline=None)
def test_b45decode_accepts_and_rejects_what_the_base45_package_does(text: str) -> None:
    try:
        expected: bytes | None = base45.b45decode(text)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(cwt.FormatError) as err:
            cwt.b45decode(text)
        assert err.value.reason == cwt.MALFORMED
    else:
        assert cwt.b45decode(text) == expected


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
        (b"", ""),
    ],
)
def test_b45_rfc9285_examples(data: bytes, text: str) -> None:
    assert cwt.b45encode(data) == text
    assert cwt.b45decode(text) == data


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("bb8", "lowercase"),
        ("BB8a", "lowercase"),
        ("BBé", "non-ASCII"),
        ("BB8ÿ", "non-ASCII"),
        ("BB8\x00", "character outside the alphabet"),
        ("BB8_", "character outside the alphabet"),
        ("B", "length % 3 == 1"),
        ("BB8B", "length % 3 == 1"),
        ("GGW", "triple 65536 > 65535"),
        ("BB8GGW", "triple above 65535 after a good one"),
        (":::", "triple 91124"),
        ("ZZ", "final pair 1610 > 255"),
        ("BB8ZZ", "final pair above 255 after a triple"),
    ],
)
def test_b45decode_rejects_invalid_text(text: str, why: str) -> None:
    with pytest.raises(cwt.FormatError) as err:
        cwt.b45decode(text)
    assert err.value.reason == cwt.MALFORMED, why
    assert isinstance(err.value, ValueError)


def test_b45decode_accepts_the_largest_triple_and_pair() -> None:
    assert cwt.b45decode("FGW") == b"\xff\xff"  # 15 + 15 * 45 + 32 * 2025 = 65535
    assert cwt.b45decode("U5") == b"\xff"  # 30 + 5 * 45 = 255


# --- COSE Sig_structure --------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 23, 24, 255, 256, 65535, 65536, 70_000])
@pytest.mark.parametrize(
    "protected",
    [
        b"",
        cbor2.dumps({cwt.HDR_ALG: cwt.ALG_EDDSA}),
        cbor2.dumps({cwt.HDR_ALG: cwt.ALG_EDDSA, cwt.HDR_KID: b"\x01" * 8}),
        b"\xa1" + b"\x01" * 30,  # 31 bytes: a one-byte length head
    ],
)
def test_sig_structure_matches_cbor2(length: int, protected: bytes) -> None:
    payload = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    assert len(payload) == length
    assert cwt._sig_structure(protected, payload) == cbor2.dumps(
        ["Signature1", protected, b"", payload]
    )


def test_sign1_is_a_standard_cose_sign1() -> None:
    key = signing_key("issuer")
    message = cbor2.loads(cwt.sign1(b"hello", kid=key.kid, secret_key=key.secret_key, typ="x/y"))
    assert message.tag == 18
    protected, unprotected, payload, signature = message.value
    assert cbor2.loads(protected) == {1: -8, 4: key.kid, 16: "x/y"}
    assert unprotected == {}
    assert payload == b"hello"
    sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])
    assert sodium.crypto_sign_open(signature + sig_structure, key.public_key) == sig_structure


# --- verification: one test per reason ------------------------------------------------------


def test_valid_credential(world: World) -> None:
    result = world.verify(world.issue())
    assert (result.valid, result.reason) == (True, cwt.VALID)
    assert result.kid == world.key.kid.hex()
    assert result.status_checked is False
    claims = result.claims
    assert claims["id"] == "202412345678"
    assert claims["full_name"] == "Gul Bibi Yousafzai"
    assert claims["secondary_full_name"] == "گل بی بی یوسفزئی"
    assert claims["date_of_birth"] == "1980-01-15"
    assert claims["gender"] == "female"
    assert claims["iss"] == ISSUER
    assert claims["iat"] == NOW - DAY
    assert "nbf" not in claims  # omitted when it equals iat: valid from iat
    assert claims["exp"] == NOW + 365 * DAY
    assert claims["status"] == {"idx": 3, "uri": STATUS_URI}
    assert result.as_dict()["claims"] == claims


def test_text_is_uppercase_base45_and_tolerates_surrounding_whitespace(world: World) -> None:
    text = world.issue()
    assert set(text) <= set(cwt.ALPHABET.decode())
    assert world.verify(f"  {text}\n").valid
    assert world.verify(f"\t{text}\r\n").valid


def test_credential_claims_drop_empty_identity_fields() -> None:
    claims = World().claims(ident=identity({cwt.GUARDIAN: "", cwt.PHOTO: b"", cwt.ADDRESS: None}))
    assert cwt.GUARDIAN not in claims[cwt.CLAIM_169]
    assert cwt.PHOTO not in claims[cwt.CLAIM_169]
    assert cwt.ADDRESS not in claims[cwt.CLAIM_169]
    assert claims[cwt.STATUS] == {"status_list": {"idx": 3, "uri": STATUS_URI}}


def test_photo_claims_are_readable(world: World) -> None:
    photo = webp_photo()
    result = world.verify(world.issue(ident=identity({cwt.PHOTO: photo, cwt.PHOTO_FORMAT: 4})))
    assert result.valid
    assert base64.b64decode(result.claims["photo"]) == photo
    assert result.claims["photo_format"] == "webp"
    assert result.claims["photo_media_type"] == "image/webp"


def test_every_flipped_signature_bit_is_a_bad_signature(world: World) -> None:
    protected, unprotected, payload, signature = cose_of(world.issue())
    assert len(signature) == 64
    reasons = set()
    for bit in range(len(signature) * 8):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        tag = cbor2.CBORTag(18, [protected, unprotected, payload, bytes(flipped)])
        result = world.verify(text_of(tag))
        assert not result.valid, bit
        reasons.add(result.reason)
    assert reasons == {cwt.BAD_SIGNATURE}


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" * 64, b"\x00" * 63, b"\x00" * 65, b"\xff" * 64],
    ids=["empty", "zeros", "short", "long", "ones"],
)
def test_junk_signature_is_rejected(world: World, signature: bytes) -> None:
    protected, unprotected, payload, _ = cose_of(world.issue())
    result = world.verify(text_of(cbor2.CBORTag(18, [protected, unprotected, payload, signature])))
    assert (result.valid, result.reason) == (False, cwt.BAD_SIGNATURE)


def test_signature_swapped_from_another_credential(world: World) -> None:
    mine = cose_of(world.issue(ident=identity({cwt.FULL_NAME: "Shazia Afridi"})))
    other = cose_of(world.issue(ident=identity({cwt.FULL_NAME: "Nasreen Khattak"})))
    assert world.verify(text_of(cbor2.CBORTag(18, mine))).valid
    mine[3] = other[3]
    result = world.verify(text_of(cbor2.CBORTag(18, mine)))
    assert (result.valid, result.reason) == (False, cwt.BAD_SIGNATURE)
    assert result.payload is None and result.claims == {}  # nothing unsigned is shown


def test_payload_swapped_under_a_valid_signature(world: World) -> None:
    mine = cose_of(world.issue())
    other = cose_of(world.issue(ident=identity({cwt.ID: "999999999999"})))
    mine[2] = other[2]
    assert world.verify(text_of(cbor2.CBORTag(18, mine))).reason == cwt.BAD_SIGNATURE


def test_kid_of_a_trusted_key_but_signed_by_another(world: World) -> None:
    stranger = signing_key("stranger")
    text = cwt.encode(world.claims(), world.key, secret_key=stranger.secret_key)
    result = world.verify(text)
    assert (result.valid, result.reason) == (False, cwt.BAD_SIGNATURE)


def test_signed_by_a_key_not_in_the_key_set(world: World) -> None:
    result = world.verify(world.issue(key=signing_key("stranger")))
    assert (result.valid, result.reason) == (False, cwt.UNKNOWN_KEY)
    assert signing_key("stranger").kid.hex() in result.detail


def test_key_known_but_of_another_issuer(world: World) -> None:
    result = world.verify(world.issue(issuer=OTHER_ISSUER))
    assert (result.valid, result.reason) == (False, cwt.UNKNOWN_KEY)
    keyset = cwt.KeySet()
    keyset.add(public_key(world.key, issuer=OTHER_ISSUER))
    result = World(keyset=keyset).verify(world.issue())
    assert (result.valid, result.reason) == (False, cwt.UNKNOWN_KEY)


def test_empty_key_set_trusts_nothing(world: World) -> None:
    text = world.issue()
    result = cwt.Verifier(cwt.KeySet()).verify(text, now=NOW)
    assert (result.valid, result.reason) == (False, cwt.UNKNOWN_KEY)


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (NOW + 365 * DAY, cwt.VALID),
        (NOW + 365 * DAY + SKEW, cwt.VALID),  # within the clock skew
        (NOW + 365 * DAY + SKEW + 1, cwt.EXPIRED),
        (NOW + 10 * 365 * DAY, cwt.EXPIRED),
    ],
)
def test_expiry(world: World, now: int, reason: str) -> None:
    result = world.verify(world.issue(), now=now)
    assert (result.valid, result.reason) == (reason == cwt.VALID, reason)


@pytest.mark.parametrize(
    ("nbf", "reason"),
    [
        (NOW - 1, cwt.VALID),
        (NOW + SKEW, cwt.VALID),  # a phone clock a few minutes slow
        (NOW + SKEW + 1, cwt.NOT_YET_VALID),
        (NOW + 30 * DAY, cwt.NOT_YET_VALID),
    ],
)
def test_not_before(world: World, nbf: int, reason: str) -> None:
    result = world.verify(world.issue(not_before=nbf))
    assert (result.valid, result.reason) == (reason == cwt.VALID, reason)


def test_issued_at_stands_in_for_a_missing_nbf(world: World) -> None:
    claims = world.claims(issued_at=NOW + DAY)
    claims.pop(cwt.NBF, None)
    result = world.verify(cwt.encode(claims, world.key))
    assert result.reason == cwt.NOT_YET_VALID


def test_an_expired_forgery_is_a_bad_signature(world: World) -> None:
    """An expired forgery is a bad signature, not 'expired': nothing unsigned is believed."""
    text = cwt.encode(
        world.claims(expires_at=NOW - DAY), world.key, secret_key=signing_key("x").secret_key
    )
    assert world.verify(text).reason == cwt.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (cwt.STATUS_VALID, cwt.VALID),
        (cwt.STATUS_INVALID, cwt.REVOKED),
        (cwt.STATUS_SUSPENDED, cwt.SUSPENDED),
        (3, cwt.VALID),  # application-specific value: not a revocation
    ],
)
def test_status_list_entry(world: World, status: int, reason: str) -> None:
    world.verifier.add_status_list(status_list({3: status, 2: 1, 4: 2}))
    result = world.verify(world.issue(status_index=3))
    assert (result.valid, result.reason) == (reason == cwt.VALID, reason)
    assert result.status_checked is True
    assert result.status_list_age_seconds == 3600
    if not result.valid:
        assert result.claims["id"] == "202412345678"  # the signed claims are still shown


@pytest.mark.parametrize("index", [16, 17, 1_000, 10_000_000])
def test_status_index_outside_the_list(world: World, index: int) -> None:
    world.verifier.add_status_list(status_list(size=16))
    result = world.verify(world.issue(status_index=index))
    assert (result.valid, result.reason) == (False, cwt.MALFORMED)
    assert result.status_checked is True


def test_status_index_at_the_end_of_the_list(world: World) -> None:
    world.verifier.add_status_list(status_list({15: 1}, size=16))
    assert world.verify(world.issue(status_index=15)).reason == cwt.REVOKED
    assert world.verify(world.issue(status_index=14)).reason == cwt.VALID


def test_negative_status_index(world: World) -> None:
    world.verifier.add_status_list(status_list())
    assert world.verify(world.issue(status_index=-1)).reason == cwt.MALFORMED


def test_no_status_list_for_the_uri_is_valid_but_unchecked(world: World) -> None:
    world.verifier.add_status_list(status_list({3: 1}, uri=f"{ISSUER}/status/2"))
    result = world.verify(world.issue(status_index=3))
    assert (result.valid, result.reason) == (True, cwt.VALID)
    assert result.status_checked is False
    assert result.status_list_age_seconds is None


@pytest.mark.parametrize(
    ("issued_at", "now", "age"),
    [(NOW - 3600, NOW, 3600), (NOW, NOW, 0), (NOW - 7 * DAY, NOW, 7 * DAY), (NOW + 60, NOW, 0)],
)
def test_status_list_age(world: World, issued_at: int, now: int, age: int) -> None:
    world.verifier.add_status_list(status_list(issued_at=issued_at))
    result = world.verify(world.issue(), now=now)
    assert result.valid and result.status_checked
    assert result.status_list_age_seconds == age


def test_verifier_takes_status_lists_in_the_constructor(world: World) -> None:
    verifier = cwt.Verifier(world.keyset, [status_list({3: 2})])
    assert verifier.verify(world.issue(), now=NOW).reason == cwt.SUSPENDED


@pytest.mark.parametrize("version", ["9", "2", "", 9, "1.0"])
def test_unsupported_profile_version(world: World, version: Any) -> None:
    result = world.verify(world.issue(ident=identity({cwt.VERSION: version})))
    if version == "":  # credential_claims drops empty fields: no version claim at all
        assert result.valid
        return
    assert (result.valid, result.reason) == (False, cwt.UNSUPPORTED_VERSION)


def test_integer_profile_version_one_is_accepted(world: World) -> None:
    assert world.verify(world.issue(ident=identity({cwt.VERSION: 1}))).valid


def test_accepted_versions_are_configurable(world: World) -> None:
    text = world.issue(ident=identity({cwt.VERSION: "2"}))
    verifier = cwt.Verifier(world.keyset, accepted_versions=frozenset({"1", "2"}))
    assert verifier.verify(text, now=NOW).valid


@pytest.mark.parametrize("tag", [16, 17, 96, 97, 98])
def test_other_cose_structures_are_unsupported_versions(world: World, tag: int) -> None:
    """COSE_Encrypt0 (16), COSE_Mac0 (17), COSE_Encrypt (96), COSE_Mac (97), COSE_Sign (98)."""
    protected = cbor2.dumps({cwt.HDR_ALG: 3})  # A256GCM
    result = world.verify(text_of(cbor2.CBORTag(tag, [protected, {5: b"\x00" * 12}, b"\x01" * 40])))
    assert (result.valid, result.reason) == (False, cwt.UNSUPPORTED_VERSION)


def test_an_untagged_sign1_is_accepted(world: World) -> None:
    assert world.verify(text_of(cose_of(world.issue()))).valid


@pytest.mark.parametrize(
    "header",
    [
        {cwt.HDR_ALG: -7},  # ES256
        {cwt.HDR_ALG: -35},  # ES384
        {cwt.HDR_ALG: -257},  # RS256
        {cwt.HDR_ALG: 5},  # HMAC 256/256
        {cwt.HDR_ALG: "EdDSA"},
        {},
        {cwt.HDR_KID: b"x"},
    ],
)
def test_unsupported_algorithm(world: World, header: dict[int, Any]) -> None:
    header = {cwt.HDR_KID: world.key.kid, **header}
    result = world.verify(sign1_text(world.claims(), world.key, header=header))
    assert (result.valid, result.reason) == (False, cwt.UNSUPPORTED_ALGORITHM)


def test_algorithm_only_in_the_unprotected_header_is_unsupported(world: World) -> None:
    protected, _, payload, signature = cose_of(
        sign1_text(world.claims(), world.key, header={cwt.HDR_KID: world.key.kid})
    )
    text = text_of(cbor2.CBORTag(18, [protected, {cwt.HDR_ALG: cwt.ALG_EDDSA}, payload, signature]))
    assert world.verify(text).reason == cwt.UNSUPPORTED_ALGORITHM


def test_kid_in_the_unprotected_header_is_used(world: World) -> None:
    text = sign1_text(world.claims(), world.key, header={cwt.HDR_ALG: cwt.ALG_EDDSA})
    protected, _, payload, signature = cose_of(text)
    moved = text_of(
        cbor2.CBORTag(18, [protected, {cwt.HDR_KID: world.key.kid}, payload, signature])
    )
    result = world.verify(moved)
    assert result.valid and result.kid == world.key.kid.hex()


@pytest.mark.parametrize(
    "text",
    [
        "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOO6+IUKRG*I.I6RCE1LM8",
        "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA.A5:S9MKN4NN3F85QNCY0O%0VZ001HOC9JU0D0HT0HB2PL/IB*09B9LW4T*8+DCMH0LDK2%K:XFE70*LP$V25$0Q:J:4MO1P0%0L0HD+9E/HY+4J6TH48S%4K.GJ2PT3QY:GQ3TE2I+-CPHN6D7LLK*2HG%89UV-0LZ 2ZJJ524-LH/CJTK96L6SR9MU9RFGJA6Q3QR$P2OIC0JVLA8J3ET3:H3A+2+33U SAAUOT3TPTO4UBZIC0JKQTL*QDKBO.AI9BVYTOCFOPS4IJCOT0$89NT2V457U8+9W2KQ-7LF9-DF07U$B97JJ1D7WKP/HLIJLRKF1MFHJP7NVDEBU1J*Z222E.GJF67Z JA6B.38O4BH*HB0EGLE2%V -3O+J3.PI2G:M1SSP2Y3D38-G9C+Q6F2 QH1+E",
        "https://id.example.gov.pk/verify?c=BB8",
        "WIFI:S:rahdari;T:WPA;P:secret;;",
        "mailto:someone@example.org",
        "  HC1:NCFOXN%TS3DH3ZSUZK",
    ],
)
def test_other_qr_formats_are_a_wrong_prefix(world: World, text: str) -> None:
    result = world.verify(text)
    assert (result.valid, result.reason) == (False, cwt.WRONG_PREFIX)


def test_our_credential_behind_a_prefix_is_a_wrong_prefix(world: World) -> None:
    assert world.verify("HC1:" + world.issue()).reason == cwt.WRONG_PREFIX


def _bad_payload(world: World, payload: Any) -> str:
    return sign1_text(payload, world.key)


MALFORMED_TEXTS: list[tuple[str, Callable[[World], Any]]] = [
    ("empty", lambda w: ""),
    ("blank", lambda w: "   \n"),
    ("prose", lambda w: "hello world"),
    ("lowercase copy", lambda w: w.issue().lower()),
    ("non-ascii", lambda w: "گل بی بی"),
    ("emoji", lambda w: "BB8🙂"),
    ("single char left over", lambda w: w.issue() + "A"),
    ("base45 but not zlib", lambda w: "BB8"),
    ("random bytes", lambda w: cwt.b45encode(bytes(range(200)))),
    ("truncated zlib", lambda w: cwt.b45encode(zlib.compress(b"\xd2\x84" * 40)[:-6])),
    ("zlib then junk", lambda w: cwt.b45encode(cwt.b45decode(w.issue()) + b"\x00")),
    ("zlib of non-CBOR", lambda w: cwt.b45encode(zlib.compress(b"\xff\xff\xff"))),
    (
        "zlib of truncated CBOR",
        lambda w: cwt.b45encode(zlib.compress(zlib.decompress(cwt.b45decode(w.issue()))[:-3])),
    ),
    ("CBOR integer", lambda w: text_of(18)),
    ("array of three", lambda w: text_of(cbor2.CBORTag(18, [b"", {}, b""]))),
    ("array of five", lambda w: text_of(cbor2.CBORTag(18, [b"", {}, b"", b"", b"x"]))),
    ("protected is text", lambda w: text_of(cbor2.CBORTag(18, ["a", {}, b"", b""]))),
    ("unprotected is list", lambda w: text_of(cbor2.CBORTag(18, [b"", [], b"", b""]))),
    ("payload is nil", lambda w: text_of(cbor2.CBORTag(18, [b"\xa1\x01\x27", {}, None, b""]))),
    ("signature is text", lambda w: text_of(cbor2.CBORTag(18, [b"\xa1\x01\x27", {}, b"", "x"]))),
    ("protected is not CBOR", lambda w: text_of(cbor2.CBORTag(18, [b"\xff", {}, b"", b""]))),
    (
        "protected is a list",
        lambda w: text_of(cbor2.CBORTag(18, [cbor2.dumps([1, -8]), {}, b"", b""])),
    ),
    ("payload is not CBOR", lambda w: _bad_payload(w, b"\xff\xfe")),
    ("payload is a list", lambda w: _bad_payload(w, [1, 2, 3])),
    ("payload lacks claim 169", lambda w: _bad_payload(w, {1: ISSUER, 4: NOW + DAY})),
    ("claim 169 is text", lambda w: _bad_payload(w, {1: ISSUER, 169: "Gul Bibi"})),
    ("longer than any QR", lambda w: "0" * (cwt.MAX_TEXT_CHARS + 3)),
]


@pytest.mark.parametrize(("name", "make"), MALFORMED_TEXTS, ids=[n for n, _ in MALFORMED_TEXTS])
def test_malformed(world: World, name: str, make: Callable[[World], Any]) -> None:
    result = world.verify(make(world))
    assert (result.valid, result.reason) == (False, cwt.MALFORMED), name
    assert result.detail


@pytest.mark.parametrize("value", [None, b"BB8", 42, ["BB8"]], ids=["none", "bytes", "int", "list"])
def test_non_text_input_is_malformed(world: World, value: Any) -> None:
    result = world.verify(value)
    assert (result.valid, result.reason) == (False, cwt.MALFORMED)


def test_zlib_bomb_is_malformed(world: World) -> None:
    bomb = zlib.compress(b"\x00" * 1_000_000, 9)
    text = cwt.b45encode(bomb)
    assert len(text) < cwt.MAX_TEXT_CHARS  # it reaches the inflater
    result = world.verify(text)
    assert (result.valid, result.reason) == (False, cwt.MALFORMED)
    assert "64 KiB" in result.detail


def test_just_under_the_inflate_limit_is_parsed(world: World) -> None:
    """A COSE message of almost 64 KiB is inflated and checked (here: a bad signature)."""
    protected, unprotected, payload, signature = cose_of(world.issue())
    body = cbor2.loads(payload)
    body[cwt.CLAIM_169][99] = "x" * 60_000
    padded = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(body), signature]))
    assert len(padded) < cwt.MAX_INFLATED_BYTES
    assert world.verify(cwt.b45encode(zlib.compress(padded, 9))).reason == cwt.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("now", "reason"),
    [(NOW + DAY, cwt.VALID), (NOW + DAY + 1, cwt.UNKNOWN_KEY), (NOW + 90 * DAY, cwt.UNKNOWN_KEY)],
)
def test_key_past_verify_until(now: int, reason: str) -> None:
    world = World()
    world.keyset.add(public_key(world.key, verify_until=NOW + DAY))
    result = world.verify(world.issue(expires_at=NOW + 365 * DAY), now=now)
    assert (result.valid, result.reason) == (reason == cwt.VALID, reason)


@pytest.mark.parametrize(
    ("issued_at", "reason"),
    [
        (NOW - 30 * DAY, cwt.VALID),
        (NOW - 10 * DAY, cwt.VALID),  # the last second it signed
        (NOW - 10 * DAY + SKEW, cwt.VALID),
        (NOW - 10 * DAY + SKEW + 1, cwt.UNKNOWN_KEY),
        (NOW - DAY, cwt.UNKNOWN_KEY),
    ],
)
def test_credential_issued_after_the_key_stopped_signing(issued_at: int, reason: str) -> None:
    world = World()
    world.keyset.add(public_key(world.key, signing_until=NOW - 10 * DAY))
    result = world.verify(world.issue(issued_at=issued_at))
    assert (result.valid, result.reason) == (reason == cwt.VALID, reason)


def test_no_kid_tries_every_key_of_the_issuer(world: World) -> None:
    """Claim 169 QR codes of other issuers may carry no kid: the issuer's keys are tried."""
    second = signing_key("second")
    world.keyset.add(public_key(second))
    world.keyset.add(public_key(signing_key("other issuer"), issuer=OTHER_ISSUER))
    text = sign1_text(world.claims(), second, header={cwt.HDR_ALG: cwt.ALG_EDDSA})
    result = world.verify(text)
    assert result.valid and result.kid == second.kid.hex()
    foreign = sign1_text(
        world.claims(), signing_key("other issuer"), header={cwt.HDR_ALG: cwt.ALG_EDDSA}
    )
    assert world.verify(foreign).reason == cwt.BAD_SIGNATURE
    unknown = sign1_text(
        world.claims(issuer="https://nobody.example"), second, header={cwt.HDR_ALG: cwt.ALG_EDDSA}
    )
    assert world.verify(unknown).reason == cwt.UNKNOWN_KEY


def test_verification_reasons_are_stable_codes() -> None:
    assert cwt.REASONS == (
        "valid",
        "malformed",
        "wrong_prefix",
        "unsupported_version",
        "unsupported_algorithm",
        "unknown_key",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "revoked",
        "suspended",
    )


# --- Token Status List -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "packed"),
    [
        ([], b""),
        ([0], b"\x00"),
        ([1], b"\x01"),
        ([2], b"\x02"),
        ([3], b"\x03"),
        ([0, 1], b"\x04"),
        ([0, 0, 1], b"\x10"),
        ([0, 0, 0, 1], b"\x40"),
        ([0, 0, 0, 2], b"\x80"),
        ([1, 2, 0, 3], b"\xc9"),
        ([1, 2, 0, 3, 1], b"\xc9\x01"),
        # draft-ietf-oauth-status-list, the 2-bit example: c9 44 f9
        ([1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3], b"\xc9\x44\xf9"),
        ([0] * 8 + [3], b"\x00\x00\x03"),
    ],
)
def test_pack_statuses_bit_order(statuses: list[int], packed: bytes) -> None:
    compressed = cwt.pack_statuses(np.array(statuses, dtype=np.uint8))
    assert zlib.decompress(compressed) == packed


@given(st.lists(st.integers(0, 3), max_size=200))
@settings(max_examples=200, deadline=None)
def test_pack_statuses_round_trips_through_status_list(statuses: list[int]) -> None:
    data = zlib.decompress(cwt.pack_statuses(np.array(statuses, dtype=np.uint8)))
    parsed = cwt.StatusList(uri="u", bits=2, data=data, issued_at=0, expires_at=None, ttl=None)
    assert [parsed.status(i) for i in range(len(statuses))] == statuses
    assert parsed.size == -(-len(statuses) // 4) * 4
    assert all(parsed.status(i) == 0 for i in range(len(statuses), parsed.size))
    assert parsed.status(parsed.size) is None
    assert parsed.status(-1) is None


@pytest.mark.parametrize(
    ("bits", "data", "statuses"),
    [
        (1, b"\xb9\xa3", [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]),  # draft 1-bit example
        (4, b"\x21\xf0", [1, 2, 0, 15]),
        (8, b"\x00\x07\xff", [0, 7, 255]),
    ],
)
def test_status_list_reads_other_bit_widths(bits: int, data: bytes, statuses: list[int]) -> None:
    parsed = cwt.StatusList(uri="u", bits=bits, data=data, issued_at=0, expires_at=None, ttl=None)
    assert [parsed.status(i) for i in range(len(statuses))] == statuses
    assert parsed.status(len(statuses)) is None


def test_status_list_token_round_trip() -> None:
    key = signing_key("issuer")
    keyset = cwt.KeySet({key.kid: public_key(key)})
    bits = np.array([0, 1, 2, 0, 0, 1], dtype=np.uint8)
    token = cwt.status_list_token(
        uri=STATUS_URI,
        compressed=cwt.pack_statuses(bits),
        issued_at=NOW,
        ttl=600,
        expires_at=NOW + DAY,
        key=key,
    )
    message = cbor2.loads(token)
    assert message.tag == 18
    assert cbor2.loads(message.value[0])[cwt.HDR_TYP] == "application/statuslist+cwt"
    claims = cbor2.loads(message.value[2])
    assert claims[cwt.SUB] == STATUS_URI
    assert claims[cwt.STATUS_LIST]["bits"] == 2
    parsed = cwt.parse_status_list_token(token, keyset)
    assert (parsed.uri, parsed.bits, parsed.issued_at, parsed.ttl, parsed.expires_at) == (
        STATUS_URI,
        2,
        NOW,
        600,
        NOW + DAY,
    )
    assert [parsed.status(i) for i in range(6)] == [0, 1, 2, 0, 0, 1]


def _token(key: cwt.SigningKey, **overrides: Any) -> bytes:
    return cwt.status_list_token(
        uri=STATUS_URI,
        compressed=cwt.pack_statuses(np.zeros(8, dtype=np.uint8)),
        issued_at=NOW,
        ttl=600,
        expires_at=NOW + DAY,
        key=key,
        **overrides,
    )


def test_status_list_token_by_an_unknown_key_is_rejected() -> None:
    key = signing_key("issuer")
    keyset = cwt.KeySet({key.kid: public_key(key)})
    with pytest.raises(cwt.FormatError) as err:
        cwt.parse_status_list_token(_token(signing_key("stranger")), keyset)
    assert err.value.reason == cwt.UNKNOWN_KEY


def test_status_list_token_with_a_known_kid_but_another_signer_is_rejected() -> None:
    key = signing_key("issuer")
    keyset = cwt.KeySet({key.kid: public_key(key)})
    with pytest.raises(cwt.FormatError) as err:
        cwt.parse_status_list_token(_token(key, secret_key=signing_key("x").secret_key), keyset)
    assert err.value.reason == cwt.BAD_SIGNATURE


def test_tampered_status_list_token_is_rejected() -> None:
    """Un-revoking someone by editing the list must break the signature."""
    key = signing_key("issuer")
    keyset = cwt.KeySet({key.kid: public_key(key)})
    revoked = np.zeros(8, dtype=np.uint8)
    revoked[5] = cwt.STATUS_INVALID
    token = cwt.status_list_token(
        uri=STATUS_URI,
        compressed=cwt.pack_statuses(revoked),
        issued_at=NOW,
        ttl=600,
        expires_at=NOW + DAY,
        key=key,
    )
    assert cwt.parse_status_list_token(token, keyset).status(5) == cwt.STATUS_INVALID
    protected, unprotected, payload, signature = cbor2.loads(token).value
    claims = cbor2.loads(payload)
    claims[cwt.STATUS_LIST]["lst"] = cwt.pack_statuses(np.zeros(8, dtype=np.uint8))
    forged = cbor2.dumps(
        cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(claims), signature])
    )
    with pytest.raises(cwt.FormatError) as err:
        cwt.parse_status_list_token(forged, keyset)
    assert err.value.reason == cwt.BAD_SIGNATURE
    for bit in range(len(token) * 8):  # any flipped bit
        flipped = bytearray(token)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(cwt.FormatError):
            cwt.parse_status_list_token(bytes(flipped), keyset)


def test_a_credential_is_not_a_status_list_token() -> None:
    world = World()
    cose = zlib.decompress(cwt.b45decode(world.issue()))
    with pytest.raises(cwt.FormatError) as err:
        cwt.parse_status_list_token(cose, world.keyset)
    assert err.value.reason == cwt.MALFORMED


@pytest.mark.parametrize(
    "claims",
    [
        {cwt.SUB: STATUS_URI, cwt.IAT: NOW},
        {
            cwt.SUB: STATUS_URI,
            cwt.IAT: NOW,
            cwt.STATUS_LIST: {"bits": 3, "lst": zlib.compress(b"")},
        },
        {cwt.SUB: STATUS_URI, cwt.IAT: NOW, cwt.STATUS_LIST: {"bits": 2, "lst": b"not zlib"}},
        {cwt.SUB: STATUS_URI, cwt.IAT: NOW, cwt.STATUS_LIST: {"bits": 2, "lst": "text"}},
        {cwt.SUB: STATUS_URI, cwt.STATUS_LIST: {"bits": 2, "lst": zlib.compress(b"")}},
        7,
        [1, 2],
        "status",
        {cwt.SUB: STATUS_URI, cwt.IAT: NOW, cwt.STATUS_LIST: [2, b""]},
        {cwt.SUB: STATUS_URI, cwt.IAT: NOW, cwt.STATUS_LIST: "lst"},
    ],
    ids=[
        "no list",
        "bits 3",
        "lst not zlib",
        "lst text",
        "no iat",
        "integer",
        "list",
        "text",
        "list body",
        "text body",
    ],
)
def test_incomplete_status_list_token_is_malformed(claims: Any) -> None:
    key = signing_key("issuer")
    keyset = cwt.KeySet({key.kid: public_key(key)})
    token = cwt.sign1(
        cbor2.dumps(claims), kid=key.kid, secret_key=key.secret_key, typ=cwt.STATUS_LIST_TYP
    )
    with pytest.raises(cwt.FormatError) as err:
        cwt.parse_status_list_token(token, keyset)
    assert err.value.reason == cwt.MALFORMED


def test_ten_million_entries_with_sparse_revocations_compress_small() -> None:
    """A province-sized list (10M credentials, 0.1% revoked) stays a small download."""
    size = 10_000_000
    rng = np.random.default_rng(20_240_169)
    statuses = np.zeros(size, dtype=np.uint8)
    revoked = rng.choice(size, size // 1000, replace=False)
    statuses[revoked] = cwt.STATUS_INVALID
    compressed = cwt.pack_statuses(statuses)
    assert len(compressed) < 30_000
    data = zlib.decompress(compressed)
    assert len(data) == size // 4
    parsed = cwt.StatusList(uri="u", bits=2, data=data, issued_at=0, expires_at=None, ttl=None)
    assert all(parsed.status(int(i)) == cwt.STATUS_INVALID for i in revoked[:200])
    assert np.unpackbits(np.frombuffer(data, dtype=np.uint8)).sum() == size // 1000


# --- key set document ------------------------------------------------------------------------


def key_row(key: cwt.SigningKey, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kid": key.kid.hex(),
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "x": cwt.b64url(key.public_key),
        "not_before": NOW - DAY,
        "signing_until": None,
        "verify_until": NOW + 400 * DAY,
    }
    row.update(overrides)
    return row


def test_key_set_from_json() -> None:
    active, retired = signing_key("active"), signing_key("retired")
    document = {
        "issuer": ISSUER,
        "generated_at": NOW,
        "format": "rahdari-keys/1",
        "keys": [
            key_row(active),
            key_row(
                retired,
                not_before=NOW - 900 * DAY,
                signing_until=NOW - 100 * DAY,
                verify_until=NOW + 1800 * DAY,
            ),
            {"kid": "ff", "kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},  # skipped
        ],
    }
    keyset = cwt.KeySet.from_json(document)
    assert keyset.fetched_at == NOW
    assert set(keyset.keys) == {active.kid, retired.kid}
    assert keyset.keys[active.kid] == cwt.PublicKey(
        kid=active.kid,
        key=active.public_key,
        issuer=ISSUER,
        not_before=NOW - DAY,
        signing_until=None,
        verify_until=NOW + 400 * DAY,
    )
    assert keyset.keys[retired.kid].signing_until == NOW - 100 * DAY
    assert keyset.of_issuer(ISSUER) == list(keyset.keys.values())
    assert keyset.of_issuer(OTHER_ISSUER) == []
    # and a verifier built from it accepts what the active key signs
    world = World(key=active, keyset=keyset)
    assert world.verify(world.issue()).valid
    old = World(key=retired, keyset=keyset)
    assert old.verify(old.issue(issued_at=NOW - 200 * DAY)).valid
    assert old.verify(old.issue(issued_at=NOW - DAY)).reason == cwt.UNKNOWN_KEY


def test_key_set_from_json_without_generated_at() -> None:
    keyset = cwt.KeySet.from_json({"issuer": ISSUER, "keys": []})
    assert keyset.keys == {} and keyset.fetched_at is None


def test_b64url_round_trip() -> None:
    for n in range(40):
        data = bytes(range(250, 250 - n, -1)) if n else b""
        assert "=" not in cwt.b64url(data)
        assert cwt.unb64url(cwt.b64url(data)) == data


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"keys": []},
        {"issuer": ISSUER},
        {"issuer": 7, "keys": []},
        {"issuer": ISSUER, "keys": {}},
        {"issuer": ISSUER, "keys": "none"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},  # a single JWK, not a set
    ],
)
def test_key_set_from_json_rejects_other_documents(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="key set"):
        cwt.KeySet.from_json(document)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_key_set_from_json_rejects_a_key_of_the_wrong_length(length: int) -> None:
    row = key_row(signing_key("a"), x=cwt.b64url(b"\x01" * length))
    with pytest.raises(ValueError, match="32 bytes"):
        cwt.KeySet.from_json({"issuer": ISSUER, "generated_at": NOW, "keys": [row]})


# --- interoperability with the claim169 package ----------------------------------------------


def webp_photo() -> bytes:
    image = Image.new("RGB", (48, 64), (200, 170, 140))
    for x in range(10, 38):
        for y in range(12, 52):
            image.putpixel((x, y), (225 - x, 190 - y, 160))
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=40)
    return out.getvalue()


def test_claim169_decodes_and_verifies_our_credential() -> None:
    import time

    now = int(time.time())  # claim169 checks exp/nbf against the real clock
    world = World()
    photo = webp_photo()
    assert photo[:4] == b"RIFF" and photo[8:12] == b"WEBP"
    text = world.issue(
        ident=identity({cwt.PHOTO: photo, cwt.PHOTO_FORMAT: 4}),
        issued_at=now - 60,
        expires_at=now + 365 * DAY,
    )
    result = claim169.decode(text, verify_with_ed25519=world.key.public_key)
    assert result.is_verified()
    assert result.verification_status == "verified"
    person = result.claim169
    assert person.id == "202412345678"
    assert person.version == "1"
    assert person.language == "eng"
    assert person.full_name == "Gul Bibi Yousafzai"
    assert person.date_of_birth == "1980-01-15"
    assert person.gender == claim169.Gender.FEMALE
    assert person.address == "Babuzai, Swat"
    assert person.nationality == "PAK"
    assert person.guardian == "Sher Khan Yousafzai"
    assert person.secondary_full_name == "گل بی بی یوسفزئی"
    assert person.secondary_language == "urd"
    assert person.location_code == "Swat"
    assert person.country_of_issuance == "PAK"
    assert person.photo == photo
    assert person.photo_format == claim169.PhotoFormat.WEBP
    meta = result.cwt_meta
    assert (meta.issuer, meta.issued_at, meta.not_before, meta.expires_at) == (
        ISSUER,
        now - 60,
        None,  # omitted when equal to iat
        now + 365 * DAY,
    )
    assert result.detected_compression == "zlib"
    inspected = claim169.inspect(text)
    assert (inspected.key_id, inspected.algorithm, inspected.cose_type) == (
        world.key.kid,
        "EdDSA",
        "Sign1",
    )


def test_claim169_rejects_our_credential_under_another_key() -> None:
    world = World()
    text = world.issue(issued_at=NOW, expires_at=NOW + DAY)
    with pytest.raises(claim169.SignatureError):
        claim169.decode(
            text, verify_with_ed25519=signing_key("stranger").public_key, validate_timestamps=False
        )


def test_claim169_sees_our_expiry() -> None:
    """Our exp (CWT claim 4) means the same to claim169: an expired credential fails there."""
    world = World()
    text = world.issue(
        issued_at=NOW - 400 * DAY, expires_at=NOW - 30 * DAY
    )  # NOW is in the past already
    with pytest.raises(claim169.Claim169Exception, match="expired"):
        claim169.decode(text, verify_with_ed25519=world.key.public_key)
    assert claim169.decode(
        text, verify_with_ed25519=world.key.public_key, validate_timestamps=False
    ).is_verified()


def claim169_input() -> tuple[claim169.Claim169Input, claim169.CwtMetaInput]:
    person = claim169.Claim169Input(
        id="998877665544",
        full_name="Zarmina Khattak",
        date_of_birth="1990-05-06",
        gender=claim169.Gender.FEMALE,
        secondary_full_name="زرمینہ خٹک",
        secondary_language="urd",
        address="Mingora, Swat",
    )
    meta = claim169.CwtMetaInput(issuer=ISSUER, expires_at=NOW + 365 * DAY)
    meta.issued_at = NOW - DAY
    meta.not_before = NOW - DAY
    return person, meta


def test_we_verify_a_claim169_credential_without_kid() -> None:
    world = World()
    person, meta = claim169_input()
    text = claim169.encode(person, meta, sign_with_ed25519=world.key.seed)
    assert cwt.unwrap(text).kid is None
    result = world.verify(text)
    assert (result.valid, result.reason) == (True, cwt.VALID)
    assert result.kid == world.key.kid.hex()
    assert result.status_checked is False  # no status claim in their credential
    claims = result.claims
    assert claims["id"] == "998877665544"
    assert claims["full_name"] == "Zarmina Khattak"
    assert claims["secondary_full_name"] == "زرمینہ خٹک"
    assert claims["date_of_birth"] == "1990-05-06"
    assert claims["gender"] == "female"
    assert claims["address"] == "Mingora, Swat"
    assert (claims["iss"], claims["iat"], claims["nbf"], claims["exp"]) == (
        ISSUER,
        NOW - DAY,
        NOW - DAY,
        NOW + 365 * DAY,
    )
    assert world.verify(text, now=NOW + 366 * DAY).reason == cwt.EXPIRED


def test_we_verify_a_claim169_credential_with_photo() -> None:
    world = World()
    person, meta = claim169_input()
    photo = webp_photo()
    person.photo = photo
    person.photo_format = claim169.PhotoFormat.WEBP
    result = world.verify(claim169.encode(person, meta, sign_with_ed25519=world.key.seed))
    assert result.valid
    assert base64.b64decode(result.claims["photo"]) == photo
    assert result.claims["photo_media_type"] == "image/webp"


def test_we_verify_a_claim169_credential_with_kid() -> None:
    world = World()
    world.keyset.add(public_key(signing_key("second")))  # a second key of the same issuer
    person, meta = claim169_input()
    calls: list[tuple[str, bytes | None]] = []

    def sign(algorithm: str, key_id: bytes | None, data: bytes) -> bytes:
        calls.append((algorithm, key_id))
        return sodium.crypto_sign(data, world.key.secret_key)[:64]

    text = claim169.encode_with_signer(
        person, meta, signer=sign, algorithm="EdDSA", key_id=world.key.kid
    )
    assert calls == [("EdDSA", world.key.kid)]
    assert cwt.unwrap(text).kid == world.key.kid
    result = world.verify(text)
    assert (result.valid, result.reason) == (True, cwt.VALID)
    assert result.kid == world.key.kid.hex()
    assert result.claims["full_name"] == "Zarmina Khattak"


@pytest.mark.parametrize(
    ("issuer", "key_id", "reason"),
    [
        (ISSUER, None, cwt.BAD_SIGNATURE),  # issuer known, its keys don't verify it
        (OTHER_ISSUER, None, cwt.UNKNOWN_KEY),
        (ISSUER, b"\x00\x01\x02\x03", cwt.UNKNOWN_KEY),  # a kid we don't have
        (ISSUER, "ours", cwt.BAD_SIGNATURE),  # our kid, someone else's signature
    ],
)
def test_claim169_credential_signed_by_another_key(issuer: str, key_id: Any, reason: str) -> None:
    world = World()
    stranger = signing_key("stranger")
    person, meta = claim169_input()
    meta.issuer = issuer
    if key_id is None:
        text = claim169.encode(person, meta, sign_with_ed25519=stranger.seed)
    else:
        text = claim169.encode_with_signer(
            person,
            meta,
            signer=lambda alg, kid, data: sodium.crypto_sign(data, stranger.secret_key)[:64],
            algorithm="EdDSA",
            key_id=world.key.kid if key_id == "ours" else key_id,
        )
    result = world.verify(text)
    assert (result.valid, result.reason) == (False, reason)


def test_claim169_es256_credential_is_an_unsupported_algorithm() -> None:
    person, meta = claim169_input()
    text = claim169.encode(person, meta, sign_with_ecdsa_p256=seed_of("p256"))
    assert World().verify(text).reason == cwt.UNSUPPORTED_ALGORITHM


def test_claim169_encrypted_credential_is_an_unsupported_version() -> None:
    person, meta = claim169_input()
    text = claim169.encode_signed_encrypted(person, meta, signing_key("issuer").seed, b"\x07" * 32)
    assert World().verify(text).reason == cwt.UNSUPPORTED_VERSION


# --- mutation fuzzing -------------------------------------------------------------------------
# One valid credential with a status list in the verifier; every mutant of its QR text must be
# answered (never an exception), with a known reason, and never as valid unless the mutation
# left the signed parts (protected header, payload, signature) exactly as they were.

FUZZ_WORLD = World()
FUZZ_WORLD.verifier.add_status_list(status_list({3: 0, 4: 1}))
FUZZ_TEXT = FUZZ_WORLD.issue(status_index=3)
FUZZ_ZLIB = cwt.b45decode(FUZZ_TEXT)
FUZZ_COSE = zlib.decompress(FUZZ_ZLIB)
B45_CHARS = cwt.ALPHABET.decode()


def _signed_parts(text: Any) -> tuple[bytes, bytes, bytes] | None:
    try:
        sign1 = cwt.unwrap(text.strip())
    except (cwt.FormatError, AttributeError):
        return None
    return sign1.protected, sign1.payload, sign1.signature


FUZZ_PARTS = _signed_parts(FUZZ_TEXT)


def check_mutant(text: Any) -> None:
    result = FUZZ_WORLD.verifier.verify(text, now=NOW)  # must not raise
    assert isinstance(result, cwt.Verification)
    assert result.reason in cwt.REASONS
    assert result.valid == (result.reason == cwt.VALID)
    result.as_dict()  # and neither may presenting it
    if result.valid:
        assert _signed_parts(text) == FUZZ_PARTS, f"a mutant verified: {text!r}"
    elif result.payload is not None:  # failed after the signature held: the signed parts held
        assert _signed_parts(text) == FUZZ_PARTS


def fuzz_settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def test_fuzz_base_credential_is_valid() -> None:
    assert FUZZ_WORLD.verifier.verify(FUZZ_TEXT, now=NOW).valid
    assert (
        FUZZ_WORLD.verifier.verify(FUZZ_WORLD.issue(status_index=4), now=NOW).reason == cwt.REVOKED
    )


@given(st.integers(0, len(FUZZ_TEXT) - 1), st.sampled_from(B45_CHARS))
@fuzz_settings(3000)
def test_fuzz_one_character_replaced(position: int, char: str) -> None:
    check_mutant(FUZZ_TEXT[:position] + char + FUZZ_TEXT[position + 1 :])


@given(st.integers(0, len(FUZZ_ZLIB) * 8 - 1))
@fuzz_settings(1500)
def test_fuzz_one_bit_of_the_zlib_stream(bit: int) -> None:
    flipped = bytearray(FUZZ_ZLIB)
    flipped[bit // 8] ^= 1 << (bit % 8)
    check_mutant(cwt.b45encode(bytes(flipped)))


@given(st.integers(0, len(FUZZ_COSE) * 8 - 1))
@fuzz_settings(2000)
def test_fuzz_one_bit_of_the_cose_message(bit: int) -> None:
    flipped = bytearray(FUZZ_COSE)
    flipped[bit // 8] ^= 1 << (bit % 8)
    text = cwt.b45encode(zlib.compress(bytes(flipped), 9))
    check_mutant(text)
    assert not FUZZ_WORLD.verifier.verify(text, now=NOW).valid  # a changed byte always fails


def _edit(kind: str, position: int, char: str, length: int) -> str:
    text = FUZZ_TEXT
    position %= len(text) + 1
    if kind == "delete":
        return text[:position] + text[position + length :]
    if kind == "insert":
        return text[:position] + char * length + text[position:]
    if kind == "duplicate":
        return text[:position] + text[position : position + length] * 2 + text[position + length :]
    if kind == "truncate":
        return text[:position]
    if kind == "swap":
        chars = list(text)
        other = (position + length) % len(text)
        position %= len(text)
        chars[position], chars[other] = chars[other], chars[position]
        return "".join(chars)
    raise AssertionError(kind)


@given(
    st.sampled_from(["delete", "insert", "duplicate", "truncate", "swap"]),
    st.integers(0, len(FUZZ_TEXT)),
    st.sampled_from(B45_CHARS + "\n\t\x00a"),
    st.integers(1, 8),
)
@fuzz_settings(1500)
def test_fuzz_characters_deleted_inserted_duplicated_truncated(
    kind: str, position: int, char: str, length: int
) -> None:
    check_mutant(_edit(kind, position, char, length))


@given(st.one_of(st.text(max_size=600), st.text(alphabet=B45_CHARS, max_size=600)))
@fuzz_settings(1000)
def test_fuzz_arbitrary_text(text: str) -> None:
    check_mutant(text)


@given(st.binary(max_size=600), st.booleans())
@fuzz_settings(1000)
def test_fuzz_arbitrary_bytes_base45_encoded(data: bytes, compress: bool) -> None:
    check_mutant(cwt.b45encode(zlib.compress(data) if compress else data))


CBOR_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.binary(max_size=40)
    | st.sampled_from([cwt.ALG_EDDSA, -7, cwt.CLAIM_169, cwt.STATUS, ISSUER, FUZZ_WORLD.key.kid]),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.integers(-10, 70_000) | st.text(max_size=12), inner, max_size=5)
        | st.builds(cbor2.CBORTag, st.sampled_from([1, 2, 3, 16, 18, 24, 37, 258, 1004]), inner)
    ),
    max_leaves=8,
)


@given(
    st.one_of(st.builds(cbor2.dumps, CBOR_VALUES), st.just(b"")),
    CBOR_VALUES,
    st.one_of(st.builds(cbor2.dumps, CBOR_VALUES), st.binary(max_size=40)),
    st.binary(min_size=0, max_size=70),
    st.booleans(),
)
@fuzz_settings(500)
def test_fuzz_structured_cose_messages(
    protected: bytes, unprotected: Any, payload: bytes, signature: bytes, tagged: bool
) -> None:
    """Well-formed CBOR with hostile contents reaches the header, payload and claim checks."""
    message = [protected, unprotected, payload, signature]
    try:
        text = text_of(cbor2.CBORTag(18, message) if tagged else message)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        return
    check_mutant(text)
    assert not FUZZ_WORLD.verifier.verify(text, now=NOW).valid


@given(
    st.fixed_dictionaries(
        {},
        optional={
            cwt.ISS: st.one_of(st.just(ISSUER), CBOR_VALUES),
            cwt.EXP: st.one_of(st.integers(), CBOR_VALUES),
            cwt.NBF: st.one_of(st.integers(), CBOR_VALUES),
            cwt.IAT: st.one_of(st.integers(), CBOR_VALUES),
            cwt.CLAIM_169: st.one_of(
                st.dictionaries(st.integers(0, 30), CBOR_VALUES, max_size=6), CBOR_VALUES
            ),
            cwt.STATUS: st.one_of(
                st.builds(
                    lambda idx, uri: {"status_list": {"idx": idx, "uri": uri}},
                    st.one_of(st.integers(-(2**70), 2**70), CBOR_VALUES),
                    st.one_of(st.just(STATUS_URI), CBOR_VALUES),
                ),
                CBOR_VALUES,
            ),
        },
    )
)
@fuzz_settings(400)
def test_fuzz_signed_hostile_payloads(payload: dict[int, Any]) -> None:
    """Correctly signed payloads of any shape: verified or refused, never an exception."""
    try:
        text = sign1_text(payload, FUZZ_WORLD.key)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        return
    result = FUZZ_WORLD.verifier.verify(text, now=NOW)
    assert result.reason in cwt.REASONS
    assert result.valid == (result.reason == cwt.VALID)
    result.as_dict()
    if result.valid:
        assert payload.get(cwt.ISS) == ISSUER
        assert isinstance(payload.get(cwt.CLAIM_169), dict)


def test_float_times_are_honoured_and_non_numbers_are_malformed(world: World) -> None:
    claims = world.claims()
    claims[cwt.EXP] = float(NOW - 3 * DAY)  # RFC 8392 NumericDate may be a float
    assert world.verify(cwt.encode(claims, world.key)).reason == cwt.EXPIRED
    for bad in (cbor2.CBORTag(1, NOW + DAY), "2030-01-01", True, [NOW]):
        claims = world.claims()
        claims[cwt.EXP] = bad
        assert world.verify(cwt.encode(claims, world.key)).reason == cwt.MALFORMED, bad


def test_a_credential_dated_before_its_key_existed_is_refused() -> None:
    key = signing_key("young key")
    world = World(key=key, keyset=cwt.KeySet({key.kid: public_key(key, not_before=NOW - DAY)}))
    assert world.verify(world.issue(issued_at=NOW - 2 * DAY)).reason == cwt.UNKNOWN_KEY
    assert world.verify(world.issue(issued_at=NOW - DAY + 10)).valid


def test_damaged_text_of_our_own_qr_is_malformed_not_another_format(world: World) -> None:
    text = world.issue()
    damaged = text[:12] + ":" + text[13:]
    assert world.verify(damaged).reason in (cwt.MALFORMED, cwt.BAD_SIGNATURE)
    assert world.verify("NCFOXN5UTPGO:HOE007J4N5").reason == cwt.MALFORMED
