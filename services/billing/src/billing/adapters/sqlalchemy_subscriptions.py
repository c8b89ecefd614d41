"""PostgreSQL repositories of the catalogue (versioned plans and packages) and subscriptions."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_invoicing_tables import credit_packages, plans, subscriptions
from billing.domain.subscriptions import (
    CreditPackage,
    Interval,
    Plan,
    Subscription,
    SubscriptionStatus,
)


def _plan(r: Any) -> Plan:
    return Plan(
        r.plan_id, r.code, r.version, r.name, Interval(r.interval), r.price, r.currency,
        r.credits, r.active,
    )  # fmt: skip


def _package(r: Any) -> CreditPackage:
    return CreditPackage(
        r.package_id, r.code, r.version, r.name, r.price, r.currency, r.credits, r.active
    )


def _latest(table: sa.Table) -> sa.Select[Any]:
    return (
        sa.select(table)
        .ext(distinct_on(table.c.code))
        .order_by(table.c.code, table.c.version.desc())
    )


class SqlAlchemyCatalogueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest_plan(self, code: str) -> Plan | None:
        row = (await self.session.execute(_latest(plans).where(plans.c.code == code))).first()
        return _plan(row) if row else None

    async def plan(self, plan_id: uuid.UUID) -> Plan | None:
        row = (
            await self.session.execute(sa.select(plans).where(plans.c.plan_id == plan_id))
        ).first()
        return _plan(row) if row else None

    async def plans(self) -> list[Plan]:
        return [_plan(r) for r in await self.session.execute(_latest(plans))]

    async def add_plan(self, plan: Plan) -> None:
        values = asdict(plan)
        values["interval"] = plan.interval.value
        await self.session.execute(sa.insert(plans).values(**values, created_at=sa.func.now()))

    async def latest_package(self, code: str) -> CreditPackage | None:
        query = _latest(credit_packages).where(credit_packages.c.code == code)
        row = (await self.session.execute(query)).first()
        return _package(row) if row else None

    async def packages(self) -> list[CreditPackage]:
        return [_package(r) for r in await self.session.execute(_latest(credit_packages))]

    async def add_package(self, package: CreditPackage) -> None:
        await self.session.execute(
            sa.insert(credit_packages).values(**asdict(package), created_at=sa.func.now())
        )


def _subscription(r: Any) -> Subscription:
    return Subscription(
        subscription_id=r.subscription_id,
        account_id=r.account_id,
        plan_code=r.plan_code,
        status=SubscriptionStatus(r.status),
        period_start=r.period_start,
        period_end=r.period_end,
        created_at=r.created_at,
        next_plan_code=r.next_plan_code,
        cancel_at_period_end=r.cancel_at_period_end,
        failed_attempts=r.failed_attempts,
        next_retry_at=r.next_retry_at,
        past_due_since=r.past_due_since,
        cancelled_at=r.cancelled_at,
    )


class SqlAlchemySubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, where: Any, lock: bool) -> Subscription | None:
        query = sa.select(subscriptions).where(where)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return _subscription(row) if row else None

    async def live_for_account(
        self, account_id: uuid.UUID, lock: bool = False
    ) -> Subscription | None:
        return await self._one(
            sa.and_(
                subscriptions.c.account_id == account_id, subscriptions.c.status != "cancelled"
            ),
            lock,
        )

    async def get(self, subscription_id: uuid.UUID, lock: bool = False) -> Subscription | None:
        return await self._one(subscriptions.c.subscription_id == subscription_id, lock)

    async def add(self, subscription: Subscription) -> None:
        values = asdict(subscription)
        values["status"] = subscription.status.value
        await self.session.execute(sa.insert(subscriptions).values(**values))

    async def save(self, subscription: Subscription) -> None:
        values = asdict(subscription)
        values["status"] = subscription.status.value
        for fixed in ("subscription_id", "account_id", "created_at"):
            values.pop(fixed)
        await self.session.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.subscription_id == subscription.subscription_id)
            .values(**values)
        )

    async def needing_attention(self, now: datetime, limit: int) -> list[uuid.UUID]:
        s = subscriptions.c
        rows = await self.session.execute(
            sa.select(s.subscription_id)
            .where(
                s.status != "cancelled",
                sa.or_(s.period_end <= now, s.next_retry_at <= now, s.status == "past_due"),
            )
            .order_by(s.period_end)
            .limit(limit)
        )
        return list(rows.scalars())
