"""Background work of the worker role: expire overdue holds and lapsed grants."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app.grant_credits import expire_grants
from billing.app.release_credits import expire_reservation
from billing.ports import Clock, Policy
from igny8.observability import get_logger
from igny8.periodic import periodic_job
from igny8.runtime import Timer

log = get_logger(__name__)


async def sweep_once(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, policy: Policy, batch: int = 200
) -> int:
    """One pass; each hold or account in its own transaction. Returns how many were ended."""
    now = clock.now()
    async with BillingUnitOfWork(sessions) as uow:
        due = await uow.reservations.due_for_expiry(now, batch)
        lapsed = await uow.ledger.accounts_with_lapsed_grants(now, batch)
    ended = 0
    for account_id, reservation_id in due:
        async with BillingUnitOfWork(sessions) as uow:
            if await expire_reservation(account_id, reservation_id, uow, clock, policy):
                ended += 1
            await uow.commit()
    for account_id in lapsed:
        async with BillingUnitOfWork(sessions) as uow:
            await expire_grants(account_id, uow, clock, policy)
            await uow.commit()
    return ended


def expiry_sweeper(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    policy: Policy,
    interval_s: float,
) -> Timer:
    """One replica at a time sweeps (two would race for the same holds and grants)."""

    async def sweep() -> None:
        ended = await sweep_once(sessions, clock, policy)
        if ended:
            log.info("expired overdue holds", count=ended)

    return periodic_job("billing.expiry-sweeper", interval_s, sweep, lock_engine=engine)
