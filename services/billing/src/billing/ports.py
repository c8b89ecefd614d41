"""Ports of the billing service: what the use cases need from the outside world."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import BaseModel

from billing.domain.model import AccountLedger, Grant, Reservation
from billing.domain.pricing import Price, PriceList


@dataclass(frozen=True)
class StoredOutcome:
    """The reply a command produced, kept so a retry gets the very same payload again."""

    topic: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Capture:
    commit_id: uuid.UUID
    reservation_id: uuid.UUID
    account_id: uuid.UUID
    request_hash: str
    outcome: StoredOutcome


@dataclass(frozen=True)
class UsageRecord:
    account_id: uuid.UUID
    reservation_id: uuid.UUID
    commit_id: uuid.UUID
    operation: str
    quantity: int
    credits: int
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    provider_cost_usd: str | None
    run_id: uuid.UUID | None
    stage: int | None
    item_id: str | None
    created_at: datetime


class LedgerRepository(Protocol):
    async def open_account(self, account_id: uuid.UUID, low_balance_threshold: int | None) -> bool:
        """Create the account if missing; True when it was created."""

    async def load(self, account_id: uuid.UUID, now: datetime) -> AccountLedger | None:
        """The account (row-locked until the transaction ends) with its live grants."""

    async def save(self, ledger: AccountLedger) -> None:
        """Persist the account, touched grants and the ledger's new movements (append-only)."""

    async def set_threshold(self, account_id: uuid.UUID, threshold: int | None) -> bool: ...

    async def grant_for_key(
        self, account_id: uuid.UUID, idempotency_key: str
    ) -> tuple[Grant, str] | None:
        """A grant made earlier under this idempotency key, with its request hash."""

    async def remember_grant_key(
        self, account_id: uuid.UUID, grant_id: uuid.UUID, idempotency_key: str, request_hash: str
    ) -> None: ...

    async def accounts_with_lapsed_grants(self, now: datetime, limit: int) -> list[uuid.UUID]: ...


class ReservationRepository(Protocol):
    async def get(self, reservation_id: uuid.UUID) -> tuple[Reservation, StoredOutcome] | None: ...

    async def add(self, reservation: Reservation, outcome: StoredOutcome) -> None: ...

    async def save(
        self, reservation: Reservation, end_outcome: StoredOutcome | None = None
    ) -> None: ...

    async def end_outcome(self, reservation_id: uuid.UUID) -> StoredOutcome | None: ...

    async def due_for_expiry(self, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(account_id, reservation_id) of active reservations past their TTL."""

    async def get_capture(self, commit_id: uuid.UUID) -> Capture | None: ...

    async def add_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> None:
        """Remember a release of a reservation not (yet) made (idempotent)."""

    async def has_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> bool: ...

    async def add_capture(self, capture: Capture) -> None: ...


class PriceRepository(Protocol):
    async def prices_at(self, when: datetime) -> PriceList: ...

    async def add_version(self, prices: list[Price], effective_at: datetime) -> None: ...


class UsageRepository(Protocol):
    async def add(self, record: UsageRecord) -> None: ...


class UnitOfWork(Protocol):
    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def reservations(self) -> ReservationRepository: ...

    @property
    def prices(self) -> PriceRepository: ...

    @property
    def usage(self) -> UsageRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def emit(self, topic: str, payload: BaseModel, account_id: uuid.UUID) -> None:
        """Queue a message in the outbox, in this unit's transaction."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Policy:
    """Platform-wide billing settings the use cases need."""

    low_balance_threshold: int = 100
