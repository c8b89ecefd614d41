"""An item's AI slot goes back in the item's own transaction (its checkpoint), one commit fewer
per AI call than a release of its own: the freed slot is granted to a waiting call when — and
only when — that transaction commits, and a transaction that rolls back leaves the slot held
until the item gives it back on its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from automation.adapters.postgres_ai_budget import PostgresAIBudget
from automation.adapters.sqlalchemy_tables import ai_calls_in_flight
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.ai_budget import Slot, holding_budget
from automation.bootstrap import SERVICE_ROOT
from igny8.db import create_engine, session_factory
from igny8.testing import migrated_database


@pytest.fixture(scope="module")
def slot_db(postgres_admin_url):
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "automation_slot")


@pytest.fixture
async def sessions(slot_db) -> AsyncIterator[Any]:
    engine = create_engine(slot_db, 5)
    yield session_factory(engine)
    await engine.dispose()


async def _rows(sessions: Any) -> int:
    async with sessions() as session:
        return int(
            (
                await session.execute(sa.select(sa.func.count()).select_from(ai_calls_in_flight))
            ).scalar_one()
        )


async def _waiting(sessions: Any, rows: int) -> None:
    for _ in range(200):
        if await _rows(sessions) == rows:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {rows} rows in ai_calls_in_flight")


async def test_an_items_slot_is_freed_by_its_committed_checkpoint_and_only_then(sessions) -> None:
    budget = PostgresAIBudget(sessions, "dev", limit=1, per_account=16, holder="w0")
    account = uuid.uuid4()

    async def call() -> str:
        return "made"

    made, slot = await holding_budget(budget, account, call)
    assert made == "made" and not slot.released
    waiter = asyncio.create_task(budget.acquire(account))
    try:
        await _waiting(sessions, 2)  # the call in flight and the waiting one

        async with AutomationUnitOfWork(sessions) as uow:  # the item's transaction fails
            await slot.release_in(uow)
        await asyncio.sleep(0.3)
        assert not waiter.done(), "a rolled-back checkpoint freed the slot"
        await slot.release()  # the item gives it back on its own
        token = await asyncio.wait_for(waiter, 5)

        held = Slot(budget, token)
        second = asyncio.create_task(budget.acquire(account))
        await _waiting(sessions, 2)
        async with AutomationUnitOfWork(sessions) as uow:
            await held.release_in(uow)
            await asyncio.sleep(0.3)
            assert not second.done(), "the slot was freed before the checkpoint committed"
            await uow.commit()
        held.committed()
        last = await asyncio.wait_for(second, 5)
        await held.release()  # given back already: no second release
        assert await _rows(sessions) == 1, "only the granted waiter's call is in flight"
        await budget.release(last)
        assert await _rows(sessions) == 0
    finally:
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
