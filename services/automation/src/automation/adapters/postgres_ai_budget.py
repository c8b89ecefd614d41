"""The AI budget in PostgreSQL, shared by every worker process (issue 17).

One row per call in flight (with an expiry: a worker that died mid-call frees its slots) and one
row per provider with its current concurrency limit and cool-down. A call that finds no free slot
waits as a row of its own (`granted` false), and every grant — when a call asks, and when a call
in flight ends and frees its slot — goes to the waiting call of the account with the fewest calls
in flight, then the one waiting longest (`domain.scheduling.choose`, as for run slots), within
each account's cap: an agency's hundred queued calls cannot keep a small account's one waiting
behind them, and it does not matter which worker freed the slot. The granted waiter is woken by
NOTIFY (`RunSignals`, keyed by the call's id) and otherwise looks again soon.

Each step is one short transaction under the provider's row lock, refused while the fleet
cools down after a 429 — its own, or the caller's: an item's first look (`first_look_in`) goes in
the item's read before the call and its release (`release_in`) in the item's checkpoint.
A 429 halves the provider's limit and starts a cool-down that doubles with repeated 429s (up to
30 s); each call that went through raises the limit by one again (additive increase,
multiplicative decrease)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.sqlalchemy_scheduling import RUN_CHANNEL
from automation.adapters.sqlalchemy_tables import ai_calls_in_flight as calls
from automation.adapters.sqlalchemy_tables import ai_providers as providers
from automation.domain.scheduling import Caps, Waiting, choose
from automation.ports import RunSignals
from igny8.db import SqlAlchemyUnitOfWork
from igny8.uow import UnitOfWork

MAX_COOLDOWN_S = 30.0
WAIT_MIN_S, WAIT_MAX_S = 0.01, 0.25
SIGNALLED_WAIT_MAX_S = 1.0
"""A waiter woken by NOTIFY looks on its own only as a safety net."""
WAITER_LEASE_S = 10.0
"""A waiting call's row expires unless its waiter looks again (a worker that died waiting)."""


class PostgresAIBudget:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        provider: str,
        limit: int,
        per_account: Caps | int,
        holder: str,
        call_lease_s: float = 300.0,
        cooldown_s: float = 1.0,
        signals: RunSignals | None = None,
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.limit = limit
        self.caps = per_account if isinstance(per_account, Caps) else Caps(per_account)
        self.holder = holder
        self.call_lease_s = call_lease_s
        self.cooldown_s = cooldown_s
        self.signals = signals
        # built once (each step runs them; a statement built per call costs more CPU than its
        # round trip): the provider's state under its row lock, its calls, a release
        self._state = (
            sa.select(
                providers.c.limit_now,
                providers.c.strikes,
                sa.func.extract("epoch", providers.c.cooldown_until - sa.func.now()).label("cool"),
            )
            .where(providers.c.provider == sa.bindparam("p"))
            .with_for_update(key_share=True)
        )
        self._calls = sa.select(
            calls.c.call_id,
            calls.c.account_id,
            calls.c.granted,
            calls.c.created_at,
            (calls.c.expires_at < sa.func.now()).label("expired"),
        ).where(calls.c.provider == sa.bindparam("p"))
        gone = sa.delete(calls).where(calls.c.call_id == sa.bindparam("call")).cte("gone")
        self._delete_and_waiting = sa.select(
            sa.exists().where(calls.c.provider == sa.bindparam("p"), calls.c.granted.is_(False))
        ).add_cte(gone)

    async def first_look_in(self, uow: UnitOfWork, account_id: uuid.UUID) -> tuple[uuid.UUID, bool]:
        """A call's first look within the caller's transaction (the item's read before its
        call): the call's id, and whether it was granted — if not, its waiting row is written
        and `acquire(account_id, call_id)` goes on waiting once the caller committed."""
        if not isinstance(uow, SqlAlchemyUnitOfWork):
            raise TypeError(f"cannot take an AI slot within {type(uow).__name__}")
        call_id = uuid.uuid4()
        granted, _ = await self._try_in(uow.session, call_id, account_id)
        return call_id, granted

    async def acquire(self, account_id: uuid.UUID, call_id: uuid.UUID | None = None) -> uuid.UUID:
        call_id = call_id or uuid.uuid4()
        event = self.signals.event(call_id) if self.signals is not None else None
        wait, most = WAIT_MIN_S, WAIT_MAX_S if event is None else SIGNALLED_WAIT_MAX_S
        try:
            while True:
                if event is not None:
                    event.clear()
                granted, cool_s = await self._try(call_id, account_id)
                if granted:
                    return call_id
                pause = min(max(cool_s, wait), WAITER_LEASE_S / 2)  # keep the row alive
                if event is None:
                    await asyncio.sleep(pause)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), pause)
                wait = min(wait * 1.5, most)
        except BaseException:  # cancelled while waiting: neither a waiter nor a call any more
            with contextlib.suppress(Exception):  # else its row expires on its own
                await asyncio.shield(self._drop(call_id))
            raise
        finally:
            if self.signals is not None:
                self.signals.forget(call_id)

    async def _lock(self, session: AsyncSession) -> Any:
        """The provider's row, locked until the transaction ends — every step of the provider's
        budget (in any worker) takes it first, so they run one at a time — and its state (limit
        now, strikes, seconds of cool-down left): one statement. FOR UPDATE reads the newest
        committed state once the lock is ours."""
        state = (await session.execute(self._state, {"p": self.provider})).one_or_none()
        if state is None:
            await session.execute(
                insert(providers)
                .values(provider=self.provider, limit_now=self.limit)
                .on_conflict_do_nothing()
            )
            state = (await session.execute(self._state, {"p": self.provider})).one()
        return state

    async def _rows(self, session: AsyncSession) -> Sequence[Any]:
        """The provider's calls in flight and waiting; expired ones (a worker died) are deleted
        — seldom any, so a look is one read, not a delete and a read."""
        rows = (await session.execute(self._calls, {"p": self.provider})).all()
        if any(r.expired for r in rows):
            await session.execute(
                sa.delete(calls).where(
                    calls.c.provider == self.provider, calls.c.expires_at < sa.func.now()
                )
            )
            rows = [r for r in rows if not r.expired]
        return rows

    def _choose(self, rows: Sequence[Any], limit_now: int, *extra: Waiting) -> set[uuid.UUID]:
        """The waiting calls that take the free slots now (fewest in flight, then oldest)."""
        in_flight = Counter(r.account_id for r in rows if r.granted)
        free = min(limit_now, self.limit) - sum(in_flight.values())
        waiting = [Waiting(r.call_id, r.account_id, r.created_at) for r in rows if not r.granted]
        waiting.extend(extra)
        if free <= 0 or not waiting:
            return set()
        return {w.run_id for w in choose(waiting, in_flight, free, self.caps)}

    async def _mark_granted(self, session: AsyncSession, call_ids: set[uuid.UUID]) -> None:
        """Grant waiting calls their slot and wake their waiters (at commit)."""
        if not call_ids:
            return
        await session.execute(
            sa.update(calls)
            .where(calls.c.call_id.in_(call_ids))
            # a waiter's short lease until it takes the grant: one that died meanwhile frees
            # the slot in seconds, not after a call's lease
            .values(granted=True, expires_at=sa.func.now() + timedelta(seconds=WAITER_LEASE_S))
        )
        for call_id in call_ids:
            await session.execute(sa.select(sa.func.pg_notify(RUN_CHANNEL, str(call_id))))

    async def _try(self, call_id: uuid.UUID, account_id: uuid.UUID) -> tuple[bool, float]:
        """One look: granted (now, or by a slot freed since the last look), or the cool-down
        left. The first look of a call that is granted at once costs one insert, as before
        waiters existed; one that is not leaves its waiting row."""
        async with self.sessions() as session, session.begin():
            return await self._try_in(session, call_id, account_id)

    async def _try_in(
        self, session: AsyncSession, call_id: uuid.UUID, account_id: uuid.UUID
    ) -> tuple[bool, float]:
        state = await self._lock(session)
        rows = await self._rows(session)
        mine = next((r for r in rows if r.call_id == call_id), None)
        if mine is not None and mine.granted:  # taken: the call's own lease from now
            await session.execute(
                sa.update(calls)
                .where(calls.c.call_id == call_id)
                .values(expires_at=sa.func.now() + timedelta(seconds=self.call_lease_s))
            )
            return True, 0.0
        cooling = state.cool is not None and state.cool > 0
        me = Waiting(call_id, account_id, mine.created_at if mine else datetime.now(UTC))
        others = [r for r in rows if r.call_id != call_id]
        chosen = set() if cooling else self._choose(others, state.limit_now, me)
        granted = call_id in chosen
        lease = self.call_lease_s if granted else WAITER_LEASE_S
        if mine is None:
            await session.execute(
                sa.insert(calls).values(
                    call_id=call_id,
                    provider=self.provider,
                    account_id=account_id,
                    holder=self.holder,
                    granted=granted,
                    created_at=me.queued_at,
                    expires_at=sa.func.now() + timedelta(seconds=lease),
                )
            )
        else:
            await session.execute(
                sa.update(calls)
                .where(calls.c.call_id == call_id)
                .values(granted=granted, expires_at=sa.func.now() + timedelta(seconds=lease))
            )
        await self._mark_granted(session, chosen - {call_id})
        return granted, float(state.cool) if cooling else 0.0

    async def _drop(self, call_id: uuid.UUID) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(sa.delete(calls).where(calls.c.call_id == call_id))

    async def release(self, token: uuid.UUID, rate_limited: bool = False) -> None:
        async with self.sessions() as session, session.begin():
            await self._release(session, token, rate_limited)

    async def release_in(self, uow: UnitOfWork, token: uuid.UUID) -> None:
        """In the unit's own transaction (one commit fewer per AI call). The provider's lock is
        then held until that unit commits: callers give the slot back last, just before."""
        if not isinstance(uow, SqlAlchemyUnitOfWork):
            raise TypeError(f"cannot release an AI slot within {type(uow).__name__}")
        await self._release(uow.session, token, False)

    async def _release(self, session: AsyncSession, token: uuid.UUID, rate_limited: bool) -> None:
        state = await self._lock(session)
        if rate_limited:
            await session.execute(sa.delete(calls).where(calls.c.call_id == token))
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
            return
        # the call's row goes, and whether any call waits comes back, in one statement
        waiting = (
            await session.execute(self._delete_and_waiting, {"call": token, "p": self.provider})
        ).scalar()
        limit_now = state.limit_now
        if limit_now < self.limit or state.strikes > 0:  # additive increase
            limit_now = min(self.limit, limit_now + 1)
            await session.execute(
                sa.update(providers)
                .where(providers.c.provider == self.provider)
                .values(strikes=0, limit_now=limit_now, updated_at=sa.func.now())
            )
        if state.cool is not None and state.cool > 0:
            return
        if waiting:  # the freed slot to the fairest waiter
            rows = await self._rows(session)
            await self._mark_granted(session, self._choose(rows, limit_now))

    async def in_flight(self) -> dict[uuid.UUID, int]:
        """Calls in flight per account now (for benchmarks and operators)."""
        async with self.sessions() as session:
            rows = await session.execute(
                sa.select(calls.c.account_id, sa.func.count())
                .where(
                    calls.c.provider == self.provider,
                    calls.c.granted,
                    calls.c.expires_at > sa.func.now(),
                )
                .group_by(calls.c.account_id)
            )
            return {a: int(n) for a, n in rows}
