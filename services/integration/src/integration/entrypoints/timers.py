"""Scheduled syncs: one replica at a time (`igny8.periodic`, an advisory lock) syncs what is due."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from igny8.observability import get_logger
from igny8.periodic import periodic_job
from igny8.runtime import Timer
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.sync import sync_integration
from integration.ports import Clock, CredentialCipher, PlatformConnector

log = get_logger(__name__)


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
            async with IntegrationUnitOfWork(sessions, correlation_id="scheduled-sync") as uow:
                await sync_integration(account_id, integration_id, uow, cipher, connector, clock)
                await uow.commit()
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
) -> Timer:
    async def tick() -> None:
        synced = await sync_due(sessions, cipher, connector, clock, interval_s)
        if synced:
            log.info("scheduled syncs ran", count=synced)

    return periodic_job("integration.sync-scheduler", tick_s, tick, lock_engine=engine)
