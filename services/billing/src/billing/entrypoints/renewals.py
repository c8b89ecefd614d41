"""The renewal job: one active replica (PostgreSQL advisory lock) runs due subscription periods.

Thin on purpose: the work is `app.subscriptions.renew_subscriptions`, idempotent, so a second
replica or a second pass issues nothing twice. (To be switched to `igny8.periodic.periodic_job`
once that shared helper lands.)
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app.subscriptions import renew_subscriptions
from billing.ports import Clock, PaymentGateway, PaymentsPolicy, Policy
from igny8.observability import get_logger

log = get_logger(__name__)
RENEWAL_LOCK = zlib.crc32(b"billing.renewals")


def renewal_job(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    gateway: PaymentGateway,
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
    interval_s: float,
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with engine.connect() as conn:
                    got = (
                        await conn.execute(
                            sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": RENEWAL_LOCK}
                        )
                    ).scalar()
                    if got:
                        try:
                            sent = await renew_subscriptions(
                                lambda: BillingUnitOfWork(sessions),
                                gateway, clock, policy, payments_policy,
                            )  # fmt: skip
                            if sent:
                                log.info("renewal charges sent", count=sent)
                        finally:
                            await conn.execute(
                                sa.text("SELECT pg_advisory_unlock(:k)"), {"k": RENEWAL_LOCK}
                            )
                            await conn.commit()
            except Exception as exc:  # one failed pass must not stop the job; the next retries
                log.warning("renewal pass failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    return run
