"""Ports of the gateway service (Protocols the app layer depends on)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.domain.model import Role, Scope


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    email: str | None = None


@dataclass(frozen=True)
class StoredKey:
    key_id: uuid.UUID
    account_id: uuid.UUID
    digest: str
    scope: Scope
    revoked: bool


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> TokenClaims: ...


class BillingAccounts(Protocol):
    async def open(self, account_id: uuid.UUID) -> None:
        """Open the account's billing account; opening an open one is a no-op."""


class IdentityStore(Protocol):
    async def ensure_user(self, user_id: str, email: str | None) -> bool:
        """Create the user if new; returns whether the user is a platform admin."""

    async def lookup(self, user_id: str, account_id: uuid.UUID) -> tuple[bool, bool, Role | None]:
        """(user known, platform admin, role in the account) in one read."""

    async def create_account(self, account_id: uuid.UUID, name: str, owner: str) -> bool: ...
    async def mark_billing_opened(self, account_id: uuid.UUID) -> None: ...
    async def account(self, account_id: uuid.UUID) -> dict[str, Any] | None: ...
    async def role_of(self, account_id: uuid.UUID, user_id: str) -> Role | None: ...
    async def accounts_of(self, user_id: str) -> list[dict[str, Any]]: ...
    async def members(self, account_id: uuid.UUID) -> list[dict[str, Any]]: ...
    async def set_member(self, account_id: uuid.UUID, user_id: str, role: Role) -> None: ...
    async def remove_member(self, account_id: uuid.UUID, user_id: str) -> bool: ...
    async def add_api_key(
        self,
        key_id: uuid.UUID,
        account_id: uuid.UUID,
        prefix: str,
        digest: str,
        name: str,
        scope: Scope,
        created_by: str | None,
    ) -> None: ...
    async def api_key_by_prefix(self, prefix: str) -> StoredKey | None: ...
    async def touch_api_key(self, key_id: uuid.UUID, at: datetime) -> None: ...
    async def api_keys(self, account_id: uuid.UUID) -> list[dict[str, Any]]: ...
    async def revoke_api_key(self, account_id: uuid.UUID, key_id: uuid.UUID) -> bool: ...


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int


class RateLimiter(Protocol):
    async def take(self, bucket: str, rate_per_s: float, burst: int) -> RateDecision: ...


@dataclass(frozen=True)
class StreamEvent:
    """One stored event of the live-progress stream; `seq` orders it on every replica."""

    seq: int
    account_id: uuid.UUID
    site_id: uuid.UUID | None
    run_id: uuid.UUID | None
    type: str
    data: dict[str, Any]
    time: datetime


@dataclass(frozen=True)
class StreamTopic:
    """What one SSE stream follows: a run or a site, always inside one account."""

    account_id: uuid.UUID
    kind: str  # "run" | "site"
    object_id: uuid.UUID


class StreamEvents(Protocol):
    async def latest(self) -> int:
        """The highest stored sequence (0 when empty)."""

    async def since(self, after: int, limit: int) -> list[StreamEvent]:
        """Every account's events after `after`, by sequence (the fan-out's one reader)."""

    async def of(self, topic: StreamTopic, after: int, limit: int) -> list[StreamEvent]:
        """One topic's events after `after`, by sequence (a stream catching up)."""

    async def ended(self, topic: StreamTopic, upto: int, types: frozenset[str]) -> bool:
        """Whether one of `types` is among the topic's events up to `upto`."""


class StreamWriter(Protocol):
    async def append(
        self,
        event_id: uuid.UUID,
        account_id: uuid.UUID,
        site_id: uuid.UUID | None,
        run_id: uuid.UUID | None,
        type_: str,
        data: dict[str, Any],
        time: datetime,
    ) -> None:
        """Stores the event once (by `event_id`) with the next sequence."""


class StreamWakeups(Protocol):
    async def wait(self, timeout: float) -> None:
        """Returns when new events may have been stored, or after `timeout` seconds."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class StoredAnswer:
    """What an `Idempotency-Key` holds: the request's fingerprint and, once done, its answer."""

    fingerprint: str
    status: int | None
    body: bytes | None
    content_type: str | None


class IdempotencyKeys(Protocol):
    async def claim(self, account_id: uuid.UUID, key: str, fingerprint: str) -> StoredAnswer | None:
        """Claims the key; None if this call claimed it, else what the key already holds."""

    async def complete(
        self,
        account_id: uuid.UUID,
        key: str,
        status: int,
        body: bytes,
        content_type: str | None,
    ) -> None: ...

    async def release(self, account_id: uuid.UUID, key: str) -> None: ...
