"""The AI budget in PostgreSQL, shared by every worker process (issue 17).

One row per call in flight (with an expiry: a worker that died mid-call frees its slots) and one
row per provider with its current concurrency limit and cool-down. Taking a slot is one short
transaction under an advisory lock per provider: refused while the fleet cools down after a 429,
or when the provider's or the account's calls in flight are at their limit. A 429 halves the
provider's limit and starts a cool-down that doubles with repeated 429s (up to 30 s); each call
that went through raises the limit by one again (additive increase, multiplicative decrease)."""

from __future__ import annotations

import asyncio
import uuid
import zlib
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.sqlalchemy_tables import ai_calls_in_flight as calls
from automation.adapters.sqlalchemy_tables import ai_providers as providers

MAX_COOLDOWN_S = 30.0
WAIT_MIN_S, WAIT_MAX_S = 0.01, 0.25


class PostgresAIBudget:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        provider: str,
        limit: int,
        per_account: int,
        holder: str,
        call_lease_s: float = 300.0,
        cooldown_s: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.limit = limit
        self.per_account = per_account
        self.holder = holder
        self.call_lease_s = call_lease_s
        self.cooldown_s = cooldown_s
        self.lock_key = zlib.crc32(f"automation.ai:{provider}".encode())

    async def acquire(self, account_id: uuid.UUID) -> uuid.UUID:
        wait = WAIT_MIN_S
        while True:
            call_id, cool_s = await self._try(account_id)
            if call_id is not None:
                return call_id
            await asyncio.sleep(max(cool_s, wait))
            wait = min(wait * 1.5, WAIT_MAX_S)

    async def _try(self, account_id: uuid.UUID) -> tuple[uuid.UUID | None, float]:
        now = sa.func.now()
        async with self.sessions() as session, session.begin():
            await session.execute(sa.select(sa.func.pg_advisory_xact_lock(self.lock_key)))
            await session.execute(
                insert(providers)
                .values(provider=self.provider, limit_now=self.limit)
                .on_conflict_do_nothing()
            )
            state = (
                await session.execute(
                    sa.select(
                        providers.c.limit_now,
                        sa.func.extract("epoch", providers.c.cooldown_until - now).label("cool"),
                    ).where(providers.c.provider == self.provider)
                )
            ).one()
            if state.cool is not None and state.cool > 0:
                return None, float(state.cool)
            await session.execute(
                sa.delete(calls).where(calls.c.provider == self.provider, calls.c.expires_at < now)
            )
            total, mine = (
                await session.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.count().filter(calls.c.account_id == account_id),
                    ).where(calls.c.provider == self.provider)
                )
            ).one()
            if total >= min(state.limit_now, self.limit) or mine >= self.per_account:
                return None, 0.0
            call_id = uuid.uuid4()
            await session.execute(
                sa.insert(calls).values(
                    call_id=call_id,
                    provider=self.provider,
                    account_id=account_id,
                    holder=self.holder,
                    expires_at=now + timedelta(seconds=self.call_lease_s),
                )
            )
        return call_id, 0.0

    async def release(self, token: uuid.UUID, rate_limited: bool = False) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(sa.delete(calls).where(calls.c.call_id == token))
            if rate_limited:
                cool = sa.func.least(
                    MAX_COOLDOWN_S, self.cooldown_s * sa.func.power(2, providers.c.strikes)
                )
                values = {
                    "strikes": sa.func.least(providers.c.strikes + 1, 10),
                    "limit_now": sa.func.greatest(1, providers.c.limit_now // 2),
                    "cooldown_until": sa.func.now() + cool * sa.text("interval '1 second'"),
                    "updated_at": sa.func.now(),
                }
                await session.execute(
                    sa.update(providers).where(providers.c.provider == self.provider).values(values)
                )
            else:  # additive increase back to the configured limit
                await session.execute(
                    sa.update(providers)
                    .where(
                        providers.c.provider == self.provider,
                        sa.or_(providers.c.limit_now < self.limit, providers.c.strikes > 0),
                    )
                    .values(
                        strikes=0,
                        limit_now=sa.func.least(self.limit, providers.c.limit_now + 1),
                        updated_at=sa.func.now(),
                    )
                )

    async def in_flight(self) -> dict[uuid.UUID, int]:
        """Calls in flight per account now (for benchmarks and operators)."""
        async with self.sessions() as session:
            rows = await session.execute(
                sa.select(calls.c.account_id, sa.func.count())
                .where(calls.c.provider == self.provider, calls.c.expires_at > sa.func.now())
                .group_by(calls.c.account_id)
            )
            return {a: int(n) for a, n in rows}
