"""Scheduled syncs: one replica at a time (PostgreSQL advisory lock) syncs what is due."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from igny8.observability import get_logger
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.scheduled_syncs import Fairness, run_due_syncs
from integration.domain.model import SyncSchedule
from integration.ports import Clock, CredentialCipher, PlatformConnector

log = get_logger(__name__)
SCHEDULER_LOCK = 0x1687_5C4E_D01E  # arbitrary, constant per service


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
    **tick: Any,
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """`tick`: sync_due's fairness and backoff options (retry_s, per_account, concurrency, …)."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with engine.connect() as conn:
                    got = (
                        await conn.execute(
                            sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK}
                        )
                    ).scalar()
                    if got:
                        try:
                            synced = await sync_due(
                                sessions, cipher, connector, clock, interval_s, **tick
                            )
                            if synced:
                                log.info("scheduled syncs ran", count=synced)
                        finally:
                            await conn.execute(
                                sa.text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEDULER_LOCK}
                            )
            except Exception as exc:  # a failing tick must not stop the scheduler
                log.warning("scheduled sync tick failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)

    return run
