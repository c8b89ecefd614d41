"""The repositories a batch of ledger commands runs against: the state read up front, in memory.

They answer the use cases from `BatchState` and record every change there (and count it, so a
command that failed is known to have changed nothing); `SqlAlchemyLedgerBatch` reads the state
before the batch and writes the recorded changes after it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_price_cache import PRICES, Version
from billing.domain.ledger import Movement
from billing.domain.model import AccountLedger, Grant, Reservation
from billing.domain.pricing import PriceList
from billing.ports import Capture, StoredOutcome, UsageRecord
from igny8.contracts import Envelope


class OutsideTheBatch(RuntimeError):
    """A use case reached for a repository method the batch does not load (the batch's
    repositories serve only what reserve, commit and release read). Raised, it fails the batch,
    and the consumer falls back to applying its commands one by one."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not part of a command batch")


class BatchLedgers:
    """LedgerRepository over the locked accounts: each aggregate lives for the whole batch."""

    def __init__(self, state: BatchState) -> None:
        self._state = state

    async def load(self, account_id: uuid.UUID, now: datetime) -> AccountLedger | None:
        ledger = self._state.ledgers.get(account_id)
        if ledger is not None:
            ledger.now = now
        return ledger

    async def save(self, ledger: AccountLedger) -> None:
        state = self._state
        state.changes += 1
        state.dirty_accounts[ledger.account.account_id] = ledger
        for grant_id in ledger.touched_grants:
            state.touched_grants[grant_id] = (ledger.account.account_id, ledger.grants[grant_id])
        state.movements += [(ledger.account.account_id, ledger.now, m) for m in ledger.movements]
        ledger.movements.clear()
        ledger.touched_grants.clear()

    def __getattr__(self, name: str) -> Any:
        raise OutsideTheBatch(name)


class BatchReservations:
    def __init__(self, state: BatchState) -> None:
        self._state = state

    async def get(self, reservation_id: uuid.UUID) -> tuple[Reservation, StoredOutcome] | None:
        return self._state.reservations.get(reservation_id)

    async def add(self, reservation: Reservation, outcome: StoredOutcome) -> None:
        state = self._state
        state.changes += 1
        state.reservations[reservation.reservation_id] = (reservation, outcome)
        state.new_reservations[reservation.reservation_id] = reservation

    async def save(
        self, reservation: Reservation, end_outcome: StoredOutcome | None = None
    ) -> None:
        state = self._state
        state.changes += 1
        if end_outcome is not None:
            state.end_outcomes[reservation.reservation_id] = end_outcome
        if reservation.reservation_id not in state.new_reservations:
            state.saved_reservations[reservation.reservation_id] = reservation

    async def end_outcome(self, reservation_id: uuid.UUID) -> StoredOutcome | None:
        return self._state.end_outcomes.get(reservation_id)

    async def get_capture(self, commit_id: uuid.UUID) -> Capture | None:
        return self._state.captures.get(commit_id)

    async def add_capture(self, capture: Capture) -> None:
        self._state.changes += 1
        self._state.captures[capture.commit_id] = capture
        self._state.new_captures.append(capture)

    async def add_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> None:
        key = (account_id, reservation_id)
        if key not in self._state.tombstones:
            self._state.changes += 1
            self._state.tombstones.add(key)
            self._state.new_tombstones.append(key)

    async def has_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> bool:
        return (account_id, reservation_id) in self._state.tombstones

    def __getattr__(self, name: str) -> Any:
        raise OutsideTheBatch(name)


class BatchPrices:
    def __init__(self, session: AsyncSession, state: BatchState) -> None:
        self._session = session
        self._state = state

    async def prices_at(self, when: datetime) -> PriceList:
        return await PRICES.prices_at(self._session, when, self._state.price_version)

    def __getattr__(self, name: str) -> Any:
        raise OutsideTheBatch(name)


class BatchUsage:
    def __init__(self, state: BatchState) -> None:
        self._state = state

    async def add(self, record: UsageRecord) -> None:
        self._state.changes += 1
        self._state.usage.append(record)


class BatchState:
    def __init__(self) -> None:
        self.ledgers: dict[uuid.UUID, AccountLedger] = {}
        self.reservations: dict[uuid.UUID, tuple[Reservation, StoredOutcome]] = {}
        self.end_outcomes: dict[uuid.UUID, StoredOutcome] = {}
        self.captures: dict[uuid.UUID, Capture] = {}
        self.tombstones: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self.price_version: Version | None = None
        self.changes = 0
        """Counts every recorded change: a failed command must not have made one."""
        self.dirty_accounts: dict[uuid.UUID, AccountLedger] = {}
        self.touched_grants: dict[uuid.UUID, tuple[uuid.UUID, Grant]] = {}
        self.movements: list[tuple[uuid.UUID, datetime, Movement]] = []
        self.new_reservations: dict[uuid.UUID, Reservation] = {}
        self.saved_reservations: dict[uuid.UUID, Reservation] = {}
        self.new_captures: list[Capture] = []
        self.new_tombstones: list[tuple[uuid.UUID, uuid.UUID]] = []
        self.usage: list[UsageRecord] = []
        self.envelopes: list[Envelope] = []
