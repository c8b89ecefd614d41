"""Scheduled syncs, fairly: claim what is due (a few per account), sync them side by side, each
within a time budget, and record every attempt so failures back off."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from integration.app.sync import record_sync_timeout, sync_integration
from integration.domain.model import SyncSchedule
from integration.ports import Clock, CredentialCipher, PlatformConnector, UnitOfWorkFactory


@dataclass(frozen=True)
class Fairness:
    batch: int = 20
    """Integrations claimed per tick."""
    per_account: int = 2
    """At most this many of one account's integrations per tick."""
    concurrency: int = 4
    """Syncs running at once: a slow site occupies one slot, not the tick."""
    sync_timeout_s: float = 360.0
    """A sync still running after this is abandoned and recorded as a failed attempt (the
    connector's own bound is tighter; this one holds whatever the connector does)."""


@dataclass
class TickReport:
    claimed: int = 0
    failed: list[uuid.UUID] = field(default_factory=list)
    timed_out: list[uuid.UUID] = field(default_factory=list)


async def run_due_syncs(
    uows: UnitOfWorkFactory,
    cipher: CredentialCipher,
    connector: PlatformConnector,
    clock: Clock,
    schedule: SyncSchedule,
    fairness: Fairness,
) -> TickReport:
    async with uows() as uow:
        # Claimed rows are pushed back past the sync's budget, so nothing takes them meanwhile;
        # the attempt's outcome then sets the real next time (interval, or backoff).
        due = await uow.integrations.claim_due(
            clock.now(), fairness.batch, fairness.per_account, fairness.sync_timeout_s * 2 + 60
        )
        await uow.commit()
    report = TickReport(claimed=len(due))
    slots = asyncio.Semaphore(max(1, fairness.concurrency))

    async def one(account_id: uuid.UUID, integration_id: uuid.UUID) -> None:
        async with slots:
            try:
                async with asyncio.timeout(fairness.sync_timeout_s):
                    summary = await sync_integration(
                        account_id, integration_id, uows, cipher, connector, clock, schedule
                    )
                if not summary.success:
                    report.failed.append(integration_id)
            except TimeoutError:
                report.timed_out.append(integration_id)
                await record_sync_timeout(
                    account_id, integration_id, fairness.sync_timeout_s, uows, clock, schedule
                )

    results = await asyncio.gather(*(one(a, i) for a, i in due), return_exceptions=True)
    for (_, integration_id), result in zip(due, results, strict=True):
        if isinstance(result, Exception):  # one integration must not stop the others' syncs
            report.failed.append(integration_id)
    return report
