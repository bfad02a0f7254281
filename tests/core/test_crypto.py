"""The pure encryption and blind-index functions (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rahdari.core import crypto

KEY = bytes(range(32))
MASTER = bytes(reversed(range(32)))


@given(st.text(max_size=500))
def test_encrypt_decrypt_round_trip(text: str) -> None:
    token = crypto.encrypt("k1", KEY, text, "accounts.user.cnic")
    assert token.startswith("v1.k1.")
    assert crypto.decrypt(KEY, token, "accounts.user.cnic") == text


def test_same_value_encrypts_differently_each_time() -> None:
    a = crypto.encrypt("k1", KEY, "17301-1234567-1", "c")
    b = crypto.encrypt("k1", KEY, "17301-1234567-1", "c")
    assert a != b
    assert "1234567" not in a


def test_ciphertext_moved_to_another_column_does_not_decrypt() -> None:
    token = crypto.encrypt("k1", KEY, "03001234567", "accounts.user.phone")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(KEY, token, "accounts.user.full_name")


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])  # nonce, ciphertext, last tag byte
def test_tampered_ciphertext_is_refused(position: int) -> None:
    # Flip a bit of the sealed bytes (not a base64 character: the last character of
    # unpadded base64 carries filler bits, so changing it may change nothing).
    token = crypto.encrypt("k1", KEY, "secret", "c")
    prefix, sealed = token.rsplit(".", 1)
    blob = bytearray(crypto._unb64(sealed))
    blob[position] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(KEY, f"{prefix}.{crypto._b64(bytes(blob))}", "c")


@pytest.mark.parametrize("junk", ["", "plain text", "v2.k1.abc", "v1.k1.!!!", "v1.k1"])
def test_not_an_encrypted_value(junk: str) -> None:
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(KEY, junk, "c")


def test_wrapped_key_opens_only_with_its_master_and_id() -> None:
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_key(MASTER, "k7", data_key)
    assert crypto.unwrap_key(MASTER, "k7", wrapped) == data_key
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_key(KEY, "k7", wrapped)
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_key(MASTER, "k8", wrapped)


@pytest.mark.parametrize(
    ("a", "b"),
    [("17301-1234567-1", "1730112345671"), (" 0300 1234567 ", "03001234567"), ("ABC", "abc")],
)
def test_blind_index_ignores_formatting(a: str, b: str) -> None:
    index_key = crypto.derive_key(MASTER, "blind-index-v1")
    assert crypto.blind_index(index_key, "x", a) == crypto.blind_index(index_key, "x", b)


def test_blind_index_is_domain_separated_and_keyed() -> None:
    k1 = crypto.derive_key(MASTER, "blind-index-v1")
    k2 = crypto.derive_key(KEY, "blind-index-v1")
    assert crypto.blind_index(k1, "cnic", "1") != crypto.blind_index(k1, "phone", "1")
    assert crypto.blind_index(k1, "cnic", "1") != crypto.blind_index(k2, "cnic", "1")


@given(st.lists(st.text(max_size=50), max_size=20))
def test_batch_tokens_are_the_same_format_as_single_ones(texts: list[str]) -> None:
    other = crypto.new_data_key()
    sealed = crypto.encrypt_many("k1", KEY, texts, "registry.surveyresponse.answers")
    assert [crypto.decrypt(KEY, t, "registry.surveyresponse.answers") for t in sealed] == texts
    mixed = [*sealed, crypto.encrypt("k2", other, "x", "registry.surveyresponse.answers")]
    keys = {"k1": KEY, "k2": other}
    assert crypto.decrypt_many(keys.__getitem__, mixed, "registry.surveyresponse.answers") == [
        *texts,
        "x",
    ]


def test_batch_decryption_refuses_a_tampered_or_misplaced_value() -> None:
    sealed = crypto.encrypt_many("k1", KEY, ["a", "b"], "one.column")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_many(lambda _: KEY, sealed, "another.column")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_many(lambda _: KEY, [sealed[0][:-2] + "AA"], "one.column")
