"""Scheduled syncs: one replica at a time (PostgreSQL advisory lock) syncs what is due."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from igny8.observability import get_logger
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.sync import sync_integration
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
) -> int:
    async with IntegrationUnitOfWork(sessions) as uow:
        due = await uow.integrations.due_for_sync(
            clock.now() - timedelta(seconds=interval_s), batch
        )
    for account_id, integration_id in due:
        try:
            await sync_integration(
                account_id,
                integration_id,
                lambda: IntegrationUnitOfWork(sessions, correlation_id="scheduled-sync"),
                cipher,
                connector,
                clock,
            )
        except Exception as exc:  # one integration must not stop the others' syncs
            log.warning(
                "scheduled sync failed", integration_id=str(integration_id), error=repr(exc)
            )
    return len(due)


def sync_scheduler(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    cipher: CredentialCipher,
    connector: PlatformConnector,
    clock: Clock,
    interval_s: float,
    tick_s: float,
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
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
                            synced = await sync_due(sessions, cipher, connector, clock, interval_s)
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
