"""Credentials are sealed to their account and integration; rotation keeps old keys readable."""

from __future__ import annotations

import uuid

import pytest

from integration.adapters.aesgcm_credentials import (
    AesGcmCredentialCipher,
    mask,
    new_key,
    parse_key_ring,
)
from integration.domain.errors import InvalidInput, KeyNotFound

SECRET = {"username": "editor", "application_password": "abcd efgh ijkl mnop"}


def cipher(*kids: str, keys: dict[str, str] | None = None) -> AesGcmCredentialCipher:
    keys = keys or {}
    return AesGcmCredentialCipher(
        parse_key_ring(",".join(f"{k}:{keys.get(k) or new_key()}" for k in kids))
    )


def test_round_trip_and_no_plaintext_in_the_token() -> None:
    c = cipher("k1")
    account, integration = uuid.uuid4(), uuid.uuid4()
    token = c.encrypt(SECRET, account, integration)
    assert b"editor" not in token and b"abcd" not in token
    assert c.decrypt(token, account, integration) == SECRET


def test_a_token_copied_to_another_integration_or_account_fails() -> None:
    c = cipher("k1")
    account, integration = uuid.uuid4(), uuid.uuid4()
    token = c.encrypt(SECRET, account, integration)
    with pytest.raises(InvalidInput, match="do not belong"):
        c.decrypt(token, account, uuid.uuid4())
    with pytest.raises(InvalidInput, match="do not belong"):
        c.decrypt(token, uuid.uuid4(), integration)


def test_tampering_is_detected() -> None:
    c = cipher("k1")
    account, integration = uuid.uuid4(), uuid.uuid4()
    token = bytearray(c.encrypt(SECRET, account, integration))
    token[-5] = ord("A") if token[-5] != ord("A") else ord("B")
    with pytest.raises(InvalidInput):
        c.decrypt(bytes(token), account, integration)


def test_old_keys_decrypt_until_removed_and_new_tokens_use_the_primary() -> None:
    old_key, new = new_key(), new_key()
    before = cipher("old", keys={"old": old_key})
    account, integration = uuid.uuid4(), uuid.uuid4()
    token = before.encrypt(SECRET, account, integration)
    after = cipher("new", "old", keys={"old": old_key, "new": new})
    assert after.decrypt(token, account, integration) == SECRET
    assert after.key_id(after.encrypt(SECRET, account, integration)) == "new"
    removed = cipher("new", keys={"new": new})
    with pytest.raises(KeyNotFound):
        removed.decrypt(token, account, integration)


def test_key_ring_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        parse_key_ring("k1:c2hvcnQ")
    with pytest.raises(ValueError, match="empty"):
        parse_key_ring("")


def test_masking_shows_fields_never_values() -> None:
    assert mask(SECRET) == {"username": "********", "application_password": "********"}
