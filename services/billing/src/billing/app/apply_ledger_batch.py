"""A consumed batch of credit commands → one transaction, each command with its own outcome.

The batch runs the very use cases a single command runs (`reserve_credits`, `commit_credits`,
`release_credits`), in the batch's order, against a unit of work that read everything up front:
each account touched is locked once, in `account_id` order (so two batches cannot deadlock), and
the reservations, captures and tombstones the commands name are read with one query per table.
The changes are written at the end, one multi-row statement per table. So each command keeps its
exactly-once effect, its stored outcome and its own reply (answering its own message), and a
command that fails gets its typed failure alone — exactly as if the batch had been applied one
command at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from billing.app.commands import CommitCredits, ReleaseCredits, ReserveCredits
from billing.app.commit_credits import commit_credits
from billing.app.release_credits import release_credits
from billing.app.reserve_credits import reserve_credits
from billing.domain.errors import BillingError
from billing.ports import Clock, LedgerBatchUnitOfWork, Policy, StoredOutcome

_AS_INT = attrgetter("int")

LedgerCommand = ReserveCredits | CommitCredits | ReleaseCredits

USE_CASES: dict[type[Any], Callable[[Any, Any, Clock, Policy], Awaitable[StoredOutcome]]] = {
    ReserveCredits: reserve_credits,
    CommitCredits: commit_credits,
    ReleaseCredits: release_credits,
}


@dataclass(frozen=True)
class BatchedCommand:
    command: LedgerCommand
    causation_id: str | None
    """The id of the message carrying it: its replies name it."""
    correlation_id: str | None = None


Failed = Callable[[BatchedCommand, BillingError], Awaitable[None]]
"""Emits the typed failure reply of one command (the entrypoint owns the reply format)."""


async def apply_ledger_batch(
    batch: Sequence[BatchedCommand],
    uow: LedgerBatchUnitOfWork,
    clock: Clock,
    policy: Policy,
    failed: Failed,
) -> list[StoredOutcome | BillingError]:
    """Apply `batch` in order inside `uow`'s transaction; the caller commits."""
    reservations: set[uuid.UUID] = set()
    commits: set[uuid.UUID] = set()
    for item in batch:
        reservations.add(item.command.reservation_id)
        if isinstance(item.command, CommitCredits):
            commits.add(item.command.commit_id)
    # Sorted by the uuids' integers (the same order as comparing uuids, without a Python-level
    # comparison per pair); the reservations and captures are only looked up, in any order.
    await uow.load_batch(
        sorted({item.command.account_id for item in batch}, key=_AS_INT),
        list(reservations),
        list(commits),
    )
    results: list[StoredOutcome | BillingError] = []
    for item in batch:
        uow.answering(item.causation_id, item.correlation_id)
        mark = uow.checkpoint(item.command.account_id)
        try:
            results.append(await USE_CASES[type(item.command)](item.command, uow, clock, policy))
        except BillingError as error:
            uow.discard(mark)
            await failed(item, error)
            results.append(error)
    await uow.flush()
    return results
