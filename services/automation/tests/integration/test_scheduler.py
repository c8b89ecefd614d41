"""The scheduler starts due runs, arms new schedules without backfilling, never doubles a run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import known_sites, runs
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.scheduler import start_due_runs
from automation.domain.config import AutomationConfig, Schedule
from igny8.db import create_engine, session_factory

pytestmark = pytest.mark.integration


@dataclass
class Clock:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def test_due_runs_start_once_and_live_runs_are_never_doubled(automation_db):
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
        config = AutomationConfig(schedule=Schedule(frequency="daily", time="06:00"))
        await uow.sites.save_config(account, site, config)
        await uow.commit()
    clock = Clock(datetime(2026, 11, 26, 7, 0, tzinfo=UTC))
    unit = lambda: AutomationUnitOfWork(sessions)  # noqa: E731

    async def site_runs() -> list:
        async with engine.connect() as conn:
            return (
                await conn.execute(sa.select(runs.c.status).where(runs.c.site_id == site))
            ).all()

    assert any(o.endswith("armed") for o in await start_due_runs(unit, clock)), (
        "no backfill at first sight"
    )
    assert await site_runs() == []
    assert not [o for o in await start_due_runs(unit, clock) if o.startswith(str(site))]
    clock.at += timedelta(days=1)
    assert f"{site}:started" in await start_due_runs(unit, clock)
    assert [r.status for r in await site_runs()] == ["queued"], "it waits for a slot like any run"
    clock.at += timedelta(days=1)  # the next day's run is due while the first is still live
    assert f"{site}:skipped" in await start_due_runs(unit, clock)
    assert len(await site_runs()) == 1
    await engine.dispose()
