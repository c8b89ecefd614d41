"""Scheduled syncs: one replica at a time (`igny8.periodic`, an advisory lock) syncs what is due."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from igny8.observability import get_logger
from igny8.periodic import periodic_job
from igny8.runtime import Timer
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.scheduled_syncs import Fairness, run_due_syncs
from integration.domain.model import SyncSchedule
from integration.ports import Clock, CredentialCipher, PlatformConnector

log = get_logger(__name__)


async def sync_due(
    sessions: async_sessionmaker[AsyncSession],
    cipher: CredentialCipher,
    connector: PlatformConnector,
    clock: Clock,
    interval_s: float,
    batch: int = 20,
    *,
    retry_s: float = 60.0,
    max_backoff_s: float = 6 * 3600.0,
    per_account: int = 2,
    concurrency: int = 4,
    sync_timeout_s: float = 360.0,
) -> int:
    """One tick of the scheduler (what the timer calls): fair, bounded, backing off."""
    report = await run_due_syncs(
        lambda: IntegrationUnitOfWork(sessions, correlation_id="scheduled-sync"),
        cipher,
        connector,
        clock,
        SyncSchedule(interval_s, retry_s, max_backoff_s),
        Fairness(batch, per_account, concurrency, sync_timeout_s),
    )
    if report.failed or report.timed_out:
        log.warning(
            "scheduled syncs failed",
            failed=[str(i) for i in report.failed],
            timed_out=[str(i) for i in report.timed_out],
        )
    return report.claimed


def sync_scheduler(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    cipher: CredentialCipher,
    connector: PlatformConnector,
    clock: Clock,
    interval_s: float,
    tick_s: float,
    **options: Any,
) -> Timer:
    """`options`: sync_due's fairness and backoff settings (retry_s, per_account, …)."""

    async def tick() -> None:
        synced = await sync_due(sessions, cipher, connector, clock, interval_s, **options)
        if synced:
            log.info("scheduled syncs ran", count=synced)

    return periodic_job("integration.sync-scheduler", tick_s, tick, lock_engine=engine)
