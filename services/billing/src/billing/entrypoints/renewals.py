"""The renewal job: one active replica (`igny8.periodic`, a PostgreSQL advisory lock) runs due
subscription periods, dunning retries and lapses. Thin on purpose: the work is
`app.subscriptions.renew_subscriptions`, idempotent, so a second pass issues nothing twice."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app.subscriptions import renew_subscriptions
from billing.ports import Clock, PaymentGateway, PaymentsPolicy, Policy
from igny8.observability import get_logger
from igny8.periodic import periodic_job
from igny8.runtime import Timer

log = get_logger(__name__)


def renewal_job(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    gateway: PaymentGateway,
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
    interval_s: float,
) -> Timer:
    async def renew() -> None:
        sent = await renew_subscriptions(
            lambda: BillingUnitOfWork(sessions), gateway, clock, policy, payments_policy
        )
        if sent:
            log.info("renewal charges sent", count=sent)

    return periodic_job("billing.renewals", interval_s, renew, lock_engine=engine)
