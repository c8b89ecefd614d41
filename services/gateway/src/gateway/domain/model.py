"""Who may do what: roles, API key scopes and the principal a request acts as."""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass

PLATFORM_ADMIN = "platform_admin"
API_KEY_PREFIX = "igk_"


class Role(enum.StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"
    OWNER = "owner"


RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Scope(enum.StrEnum):
    """An API key's scope: read = viewer, write = editor, admin = admin (never owner)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


SCOPE_ROLE = {Scope.READ: Role.VIEWER, Scope.WRITE: Role.EDITOR, Scope.ADMIN: Role.ADMIN}


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a user (by membership) or an API key, in one account."""

    account_id: uuid.UUID
    role: Role
    user_id: str | None = None
    api_key_id: uuid.UUID | None = None
    platform_admin: bool = False

    def may(self, required: Role) -> bool:
        return self.platform_admin or RANK[self.role] >= RANK[required]

    @property
    def forwarded_roles(self) -> tuple[str, ...]:
        """What services see in X-Roles: the membership role (and platform_admin)."""
        return (self.role.value, PLATFORM_ADMIN) if self.platform_admin else (self.role.value,)


@dataclass(frozen=True)
class NewApiKey:
    key_id: uuid.UUID
    prefix: str
    secret: str
    """The whole key, shown once."""
    digest: str


def hash_api_key(secret: str) -> str:
    # Keys carry 256 random bits, so one SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> NewApiKey:
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(uuid.uuid4(), prefix, secret, hash_api_key(secret))


def api_key_prefix(secret: str) -> str | None:
    """The recognisable prefix (`igk_1a2b3c4d`) of a presented key, or None when it is not one."""
    head, sep, rest = secret[len(API_KEY_PREFIX) :].partition("_")
    if not secret.startswith(API_KEY_PREFIX) or not sep or len(head) != 8 or not rest:
        return None
    return API_KEY_PREFIX + head
