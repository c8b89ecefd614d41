"""Automation's scheduling ports (issue 17, ADR 0007): the fair run queue, the AI budget shared by
every worker process, and per-run wake-ups from other processes. `automation.ports` re-exports
them beside the repositories on the unit of work."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Protocol

from automation.domain.scheduling import Admission, QueuedRun, Waiting
from igny8.uow import UnitOfWork


class RunQueue(Protocol):
    """The fair run queue (issue 17): runs in progress per account, queued runs, admission."""

    async def notify(self) -> None:
        """Wake every worker when this transaction commits (a run was queued or resumed)."""

    async def signal_run(self, run_id: uuid.UUID) -> None:
        """Wake the run's driver (wherever it runs) when this transaction commits."""

    async def lock_admission(self) -> None:
        """Serialize admission across every worker process until the transaction ends."""

    async def in_progress(self) -> dict[uuid.UUID, int]: ...

    async def queued(self, per_account: int) -> list[Waiting]: ...

    async def queue_positions(self) -> dict[uuid.UUID, int | None]: ...

    async def announced_at(self) -> dict[uuid.UUID, datetime | None]:
        """When each queued run's place was last announced (the throttle's memory)."""

    async def admit(
        self, run_id: uuid.UUID, owner: str, now: datetime, ttl_s: float
    ) -> Admission | None:
        """queued → reserving (or → running for a run that yielded its slot), with the lease;
        None when the run is no longer queued."""

    async def yielding(self) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
        """Per account: running runs a yield can be asked of, and runs asked that still hold
        their slot."""

    async def request_yields(self, account_id: uuid.UUID, n: int) -> int:
        """Ask up to `n` of the account's running runs to give their slot back (the ones that
        started last first); how many were asked."""

    async def set_positions(
        self, places: dict[uuid.UUID, int], announced_at: datetime | None = None
    ) -> None: ...

    async def queued_runs(self, run_ids: list[uuid.UUID]) -> list[QueuedRun]: ...


class AIBudget(Protocol):
    """AI calls in flight and provider limits shared by every worker process (issue 17)."""

    async def acquire(self, account_id: uuid.UUID, call_id: uuid.UUID | None = None) -> uuid.UUID:
        """Wait for a slot of the provider's (and the account's) budget; the token to release.
        `call_id`: a call whose first look (`first_look_in`) was not granted waits on."""

    async def first_look_in(self, uow: UnitOfWork, account_id: uuid.UUID) -> tuple[uuid.UUID, bool]:
        """A call's first look in the caller's transaction: its id, and whether it was granted
        (else it waits on in `acquire` once that transaction committed)."""

    async def release(self, token: uuid.UUID, rate_limited: bool = False) -> None:
        """Give the slot back; `rate_limited` (the provider answered 429) slows the whole fleet."""

    async def release_in(self, uow: UnitOfWork, token: uuid.UUID) -> None:
        """Give the slot back in the caller's transaction (the item's checkpoint): it is free
        once that commits, and still held if it rolls back (then `release` it)."""


class RunSignals(Protocol):
    """Wake-ups per run from other processes (PostgreSQL NOTIFY): a reply, an image, a capture."""

    def event(self, run_id: uuid.UUID) -> asyncio.Event:
        """An asyncio.Event set whenever the run is signalled."""

    def forget(self, run_id: uuid.UUID) -> None:
        """No more wake-ups of the run wanted in this process (its drives here have all ended):
        the next `event` of the run is a new one."""
