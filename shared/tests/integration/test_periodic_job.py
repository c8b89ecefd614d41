"""periodic_job: one active replica per job name (real PostgreSQL), takeover, failures survived."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.db import create_engine
from igny8.periodic import periodic_job, periodic_job_lock_key
from igny8.runtime import Timer
from igny8.testing import ChildProcess, wait_until

pytestmark = pytest.mark.integration
INTERVAL = 0.05
APP = Path(__file__).resolve().parents[1] / "support" / "periodic_app.py"


class Replica:
    """One process's view of a job: its own engine (own connections), its own stop event."""

    def __init__(self, url: str, name: str, fail_first: int = 0) -> None:
        self.engine: AsyncEngine = create_engine(url, 2)
        self.calls = 0
        self.failures_left = fail_first
        self.stop = asyncio.Event()
        self.timer: Timer = periodic_job(name, INTERVAL, self._tick, lock_engine=self.engine)
        self.task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        self.calls += 1
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("a failing pass")

    def start(self) -> Replica:
        self.task = asyncio.create_task(self.timer(self.stop))
        return self

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def replicas(db_url: str) -> AsyncIterator[list[Replica]]:
    made: list[Replica] = []
    yield made
    for replica in made:
        await replica.halt()
        await replica.engine.dispose()


async def lock_holders(engine: AsyncEngine, name: str) -> list[int]:
    """Backend pids holding the job's advisory lock (a bigint key is classid:objid, objsubid 1)."""
    key = periodic_job_lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objsubid = 1 AND classid = :hi AND objid = :lo"
            ),
            {"hi": key >> 32, "lo": key & 0xFFFF_FFFF},
        )
        return [row.pid for row in rows]


async def test_two_replicas_of_one_job_run_it_on_one_only(db_url, engine, replicas):
    a = Replica(db_url, "test.sweeper")
    b = Replica(db_url, "test.sweeper")
    replicas += [a, b]
    a.start()
    await wait_until(lambda: _true(a.calls >= 1), message="the first replica never ran the job")
    b.start()
    await wait_until(lambda: _true(a.calls >= 8), message="the holder stopped running the job")

    assert b.calls == 0
    assert len(await lock_holders(engine, "test.sweeper")) == 1


async def test_jobs_with_different_names_do_not_exclude_each_other(db_url, replicas):
    a = Replica(db_url, "test.one")
    b = Replica(db_url, "test.two")
    replicas += [a, b]
    a.start()
    b.start()
    await wait_until(lambda: _true(a.calls >= 3 and b.calls >= 3))


async def test_a_standby_takes_over_when_the_holder_stops(db_url, engine, replicas):
    a = Replica(db_url, "test.sync")
    b = Replica(db_url, "test.sync")
    replicas += [a, b]
    a.start()
    await wait_until(lambda: _true(a.calls >= 1))
    b.start()
    await wait_until(lambda: _true(a.calls >= 4))
    assert b.calls == 0

    await a.halt()  # a clean stop gives the lock back (the pooled connection must not keep it)
    stopped_at = a.calls
    await wait_until(lambda: _true(b.calls >= 3), message="the standby never took over")

    assert a.calls == stopped_at
    assert len(await lock_holders(engine, "test.sync")) == 1


async def test_a_standby_takes_over_when_the_holders_session_dies(db_url, engine, replicas):
    a = Replica(db_url, "test.crash")
    b = Replica(db_url, "test.crash")
    replicas += [a, b]
    a.start()
    await wait_until(lambda: _true(a.calls >= 1))
    b.start()
    await wait_until(lambda: _true(a.calls >= 3))
    assert b.calls == 0
    (holder,) = await lock_holders(engine, "test.crash")

    # What a crashed process looks like to PostgreSQL: its session ends and the lock with it.
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
        await conn.commit()
    await wait_until(lambda: _true(b.calls >= 3), message="the standby never took over")
    frozen = a.calls
    await wait_until(lambda: _true(b.calls >= 8))

    assert a.calls == frozen  # the old holder noticed and stands by; it does not run beside b
    assert not a.task.done()  # ... and keeps standing by rather than ending
    (new_holder,) = await lock_holders(engine, "test.crash")
    assert new_holder != holder


async def test_an_exception_does_not_end_a_locked_job(db_url, replicas):
    a = Replica(db_url, "test.flaky", fail_first=3)
    replicas.append(a)
    a.start()
    await wait_until(lambda: _true(a.calls >= 6), message="the job stopped after a failure")
    assert a.failures_left == 0
    assert not a.task.done()


async def test_an_exception_does_not_end_an_unlocked_job():
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise ValueError("a failing pass")

    stop = asyncio.Event()
    task = asyncio.create_task(periodic_job("test.unlocked", INTERVAL, flaky)(stop))
    await wait_until(lambda: _true(calls >= 5), message="the job stopped after a failure")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert task.exception() is None


async def _true(value: bool) -> bool:
    return value


async def test_a_standby_takes_over_when_the_holder_process_is_killed(
    db_url, engine, replicas, tmp_path
):
    holder = ChildProcess(
        [
            sys.executable,
            str(APP),
            "--db",
            db_url,
            "--name",
            "test.killed",
            "--replica",
            "child",
        ],
        tmp_path / "periodic.log",
    )
    try:
        holder.wait_for_output("tick")
        standby = Replica(db_url, "test.killed").start()
        replicas.append(standby)
        holder.wait_for_output("tick\ntick\ntick")
        assert standby.calls == 0, "the standby ran beside the holder"

        holder.kill()  # SIGKILL: no unlock, no clean-up; PostgreSQL ends the session
        await wait_until(lambda: _true(standby.calls >= 3), message="the standby never took over")
    finally:
        holder.stop()
    async with engine.connect() as conn:
        child_ticks = (await conn.execute(sa.text("SELECT count(*) FROM ticks"))).scalar()
    assert child_ticks >= 3


async def test_a_wakeup_starts_the_next_run_before_the_interval() -> None:
    calls = 0
    ran = asyncio.Event()

    async def tick() -> None:
        nonlocal calls
        calls += 1
        ran.set()

    wakeup, stop = asyncio.Event(), asyncio.Event()
    timer = periodic_job("test.wakeup", 3600.0, tick, wakeup=wakeup)  # an hour between runs
    task = asyncio.create_task(timer(stop))
    try:
        await asyncio.wait_for(ran.wait(), 10)
        assert calls == 1
        ran.clear()
        wakeup.set()  # e.g. a NOTIFY: work became due
        await asyncio.wait_for(ran.wait(), 10)
        assert calls == 2 and not wakeup.is_set(), "cleared for the run it started"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
