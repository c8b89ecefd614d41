"""Service identities (DESIGN §1): each service signs its tokens with its own Ed25519 key.

A token is an EdDSA JWT (`sub` = calling service, `aud` = target service, `exp` at most five minutes
after `iat`). Verifiers hold every service's *public* key and check a token against the key of the
service it names, so a service holding only its own private key can speak only as itself (the
first wave's one shared HMAC key let any service mint a token claiming to be the gateway).

Keys travel as text: a private key is the base64url of its 32-byte seed (or a PKCS#8 PEM), a public
key the base64url of its 32 raw bytes. Configuration:
- `<SERVICE>_SERVICE_PRIVATE_KEY` — the service's own private key (`BILLING_SERVICE_PRIVATE_KEY`);
- `IGNY8_SERVICE_PUBLIC_KEYS` — every service's public key, `gateway:<key>,billing:<key>,…`.
`make infra-up` generates development key pairs under `.infra/keys/` and writes both into
`.env.infra`; `igny8 service-keys` prints a fresh set for a deployment.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
MAX_TOKEN_TTL_S = 300
SERVICES = ("gateway", "billing", "automation", "integration", "publishing")
PUBLIC_KEYS_ENV = "IGNY8_SERVICE_PUBLIC_KEYS"

SigningKey = str | Ed25519PrivateKey | None
"""A private key as text or object; None (or "") means the caller's `<SERVICE>_SERVICE_PRIVATE_KEY`
from the environment."""
PublicKeys = Mapping[str, Ed25519PublicKey]


class InvalidServiceToken(Exception):
    pass


def private_key_variable(service: str) -> str:
    return f"{service.upper()}_SERVICE_PRIVATE_KEY"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(
        text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
    )


def new_private_key() -> str:
    """A fresh private key as text (base64url of a random 32-byte seed)."""
    return _b64(secrets.token_bytes(32))


@lru_cache(maxsize=64)
def parse_private_key(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            return key
        return Ed25519PrivateKey.from_private_bytes(_unb64(text))
    except (ValueError, binascii.Error, TypeError):
        raise InvalidServiceToken(
            "the signing key is not an Ed25519 private key (base64url of 32 bytes, or PEM)"
        ) from None


def public_key_text(private: str | Ed25519PrivateKey) -> str:
    key = parse_private_key(private) if isinstance(private, str) else private
    return _b64(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


@lru_cache(maxsize=64)
def parse_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """`gateway:<key>,billing:<key>,…` → {service: public key}."""
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        service, sep, value = entry.partition(":")
        if not sep or not service.strip():
            raise InvalidServiceToken(f"{PUBLIC_KEYS_ENV} entry {entry[:20]!r} is not service:key")
        try:
            keys[service.strip()] = Ed25519PublicKey.from_public_bytes(_unb64(value))
        except (ValueError, binascii.Error):
            raise InvalidServiceToken(f"public key of {service!r} is not an Ed25519 key") from None
    return keys


def format_public_keys(private_keys: Mapping[str, str]) -> str:
    return ",".join(f"{svc}:{public_key_text(key)}" for svc, key in private_keys.items())


def development_keys(services: Iterable[str] = SERVICES) -> dict[str, str]:
    """Environment variables for a fresh key pair per service (development, tests)."""
    private = {svc: new_private_key() for svc in services}
    env = {private_key_variable(svc): key for svc, key in private.items()}
    env[PUBLIC_KEYS_ENV] = format_public_keys(private)
    return env


def signing_key(key: SigningKey, caller: str) -> Ed25519PrivateKey:
    if isinstance(key, Ed25519PrivateKey):
        return key
    if not key:  # None or empty: the caller's own variable
        key = os.environ.get(private_key_variable(caller), "")
        if not key:
            raise InvalidServiceToken(
                f"no private key for {caller!r}: set {private_key_variable(caller)} "
                "(`make infra-up` writes development keys to .env.infra; load it with "
                "`set -a; . ./.env.infra; set +a`) or pass --key-file .infra/keys/"
                f"{caller}.key"
            )
    return parse_private_key(key)


def mint_service_token(key: SigningKey, caller: str, audience: str, ttl_s: int = 120) -> str:
    """A token saying `caller` calls `audience`, signed with the caller's private key."""
    if not 0 < ttl_s <= MAX_TOKEN_TTL_S:
        raise InvalidServiceToken(f"ttl must be between 1 and {MAX_TOKEN_TTL_S} seconds")
    private = signing_key(key, caller)
    now = int(time.time())
    claims = {
        "sub": caller,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": caller})


def verify_service_token(public_keys: PublicKeys | str, token: str, audience: str) -> str:
    """Return the calling service's name, or raise InvalidServiceToken with the reason. The
    signature is checked with the public key of the service the token names."""
    if isinstance(public_keys, str):
        public_keys = parse_public_keys(public_keys)
    if not public_keys:
        raise InvalidServiceToken(f"service public keys not configured ({PUBLIC_KEYS_ENV})")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidServiceToken(f"invalid token: {exc}") from None
    caller = unverified.get("sub")
    key = public_keys.get(caller) if isinstance(caller, str) else None
    if key is None:
        raise InvalidServiceToken(f"no public key for caller {caller!r}")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "iat", "sub", "aud"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidServiceToken("token expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidServiceToken("token is for another service") from None
    except jwt.PyJWTError as exc:
        raise InvalidServiceToken(f"invalid token: {exc}") from None
    if claims["exp"] - claims["iat"] > MAX_TOKEN_TTL_S:
        raise InvalidServiceToken("token lifetime exceeds five minutes")
    return str(claims["sub"])
