"""Leases with fencing tokens: an expired lease is taken over and the stale holder cannot write."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import known_sites
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.runs import start_run
from automation.domain.runs import LeaseLost
from igny8.db import create_engine, session_factory

pytestmark = pytest.mark.integration


async def test_a_taken_over_run_refuses_the_stale_workers_writes(automation_db):
    engine = create_engine(automation_db, 5)
    sessions = session_factory(engine)
    account, site = uuid.uuid4(), uuid.uuid4()
    async with AutomationUnitOfWork(sessions) as uow:
        await uow.session.execute(
            sa.insert(known_sites).values(
                site_id=site,
                account_id=account,
                version=1,
                deleted=False,
                name="s",
                url="https://s.example",
            )
        )
        run_id = await start_run(uow, account, site, [1])
        await uow.commit()
    async with AutomationUnitOfWork(sessions) as uow:  # a slot, with a lease already run out
        assert await uow.run_queue.admit(run_id, "admission", datetime.now(UTC), -1) is not None
        await uow.commit()

    async def acquire(owner: str, ttl: float) -> int | None:
        async with AutomationUnitOfWork(sessions) as uow:
            token = await uow.runs.acquire_lease(run_id, owner, datetime.now(UTC), ttl)
            await uow.commit()
            return token

    first = await acquire("worker-a", 0.2)
    assert first is not None
    assert await acquire("worker-b", 10) is None, "a live lease is not taken"
    await asyncio.sleep(0.3)
    second = await acquire("worker-b", 10)
    assert second == first + 1
    async with AutomationUnitOfWork(sessions) as uow:
        assert not await uow.runs.renew_lease(run_id, first, datetime.now(UTC), 10)
        with pytest.raises(LeaseLost):
            await uow.runs.guard(run_id, first)
        assert (await uow.runs.guard(run_id, second)).lease_owner == "worker-b"
    await engine.dispose()
