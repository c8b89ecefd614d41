"""Credentials at rest: AES-256-GCM under a key ring, bound to the account and the integration.

Token: `v1.<key id>.<base64url(nonce | ciphertext+tag)>`; the associated data is
`igny8:integration:<account_id>:<integration_id>`, so a ciphertext copied to another row or
account fails to decrypt. The first key of the ring encrypts; every key still decrypts until it is
removed from the ring (`integration rotate-keys` re-encrypts everything under the first one).
"""

from __future__ import annotations

import base64
import json
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from integration.domain.errors import InvalidInput, KeyNotFound


def parse_key_ring(spec: str) -> dict[str, bytes]:
    """`kid:base64key,kid2:base64key` (first one is primary) → ordered {kid: 32-byte key}."""
    ring: dict[str, bytes] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        kid, _, encoded = entry.partition(":")
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if not kid.isalnum() or len(key) != 32:
            raise ValueError("each key ring entry is `<alphanumeric id>:<base64 of 32 bytes>`")
        ring[kid] = key
    if not ring:
        raise ValueError("the credential key ring is empty")
    return ring


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class AesGcmCredentialCipher:
    def __init__(self, ring: dict[str, bytes]) -> None:
        self._ring = ring
        self.primary = next(iter(ring))

    @staticmethod
    def _aad(account_id: uuid.UUID, integration_id: uuid.UUID) -> bytes:
        return f"igny8:integration:{account_id}:{integration_id}".encode()

    def encrypt(
        self, plaintext: dict[str, str], account_id: uuid.UUID, integration_id: uuid.UUID
    ) -> bytes:
        nonce = os.urandom(12)
        sealed = AESGCM(self._ring[self.primary]).encrypt(
            nonce, json.dumps(plaintext).encode(), self._aad(account_id, integration_id)
        )
        return f"v1.{self.primary}.".encode() + base64.urlsafe_b64encode(nonce + sealed)

    def key_id(self, token: bytes) -> str:
        return token.split(b".", 2)[1].decode()

    def decrypt(
        self, token: bytes, account_id: uuid.UUID, integration_id: uuid.UUID
    ) -> dict[str, str]:
        try:
            version, kid, body = token.split(b".", 2)
        except ValueError:
            raise InvalidInput("malformed credential token") from None
        if version != b"v1":
            raise InvalidInput("unknown credential token version")
        key = self._ring.get(kid.decode())
        if key is None:
            raise KeyNotFound(f"credential key {kid.decode()!r} is not in the key ring")
        raw = base64.urlsafe_b64decode(body)
        try:
            plaintext = AESGCM(key).decrypt(
                raw[:12], raw[12:], self._aad(account_id, integration_id)
            )
        except InvalidTag:
            raise InvalidInput("credentials do not belong to this integration") from None
        data: dict[str, str] = json.loads(plaintext)
        return data


def mask(credentials: dict[str, str]) -> dict[str, str]:
    """What listings may show: which fields are set, never their values."""
    return {name: "********" for name in credentials}
