"""Fair run slots and the shared AI budget on the real database (issue 17). A database of their
own: runs other tests left behind would take slots here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from automation.adapters.postgres_ai_budget import PostgresAIBudget
from automation.adapters.sqlalchemy_tables import ai_providers, runs
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.ai_budget import within_budget
from automation.app.run_engine import RunEngine
from automation.app.runs import start_run
from automation.app.slots import admit, publish_positions
from automation.bootstrap import SERVICE_ROOT
from automation.domain.ai import AIRateLimited
from automation.domain.scheduling import Caps
from automation.entrypoints.worker import run_driver
from igny8.clock import SystemClock
from igny8.contracts import TOPICS
from igny8.db import create_engine, session_factory
from igny8.messaging.tables import outbox
from igny8.testing import migrated_database

from .conftest import Harness

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fair_db(postgres_admin_url):
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "automation_fair")


@pytest.fixture
async def sessions(fair_db) -> AsyncIterator[Any]:
    engine = create_engine(fair_db, 5)
    async with engine.begin() as conn:  # every test starts with an empty queue
        await conn.execute(sa.text("TRUNCATE runs, ai_calls_in_flight, ai_providers CASCADE"))
    yield session_factory(engine)
    await engine.dispose()


async def queue_runs(sessions: Any, account: uuid.UUID, n: int, after_s: float = 0) -> list[Any]:
    ids = [uuid.uuid4() for _ in range(n)]
    async with sessions() as session, session.begin():
        await session.execute(
            sa.insert(runs),
            [
                {
                    "run_id": run_id,
                    "account_id": account,
                    "site_id": uuid.uuid4(),
                    "status": "queued",
                    "stages": [1],
                    "config": {},
                    "created_at": T0 + timedelta(seconds=after_s + i),
                }
                for i, run_id in enumerate(ids)
            ],
        )
    return ids


async def in_progress(sessions: Any, account: uuid.UUID, n: int) -> None:
    """Runs the account drives now, under live leases of another worker."""
    async with sessions() as session, session.begin():
        await session.execute(
            sa.insert(runs),
            [
                {
                    "run_id": uuid.uuid4(),
                    "account_id": account,
                    "site_id": uuid.uuid4(),
                    "status": "running",
                    "stages": [1],
                    "config": {},
                    "lease_owner": "elsewhere",
                    "lease_expires_at": datetime.now(UTC) + timedelta(hours=1),
                    "fencing_token": 1,
                }
                for _ in range(n)
            ],
        )


def uow_of(sessions: Any) -> Any:
    return lambda: AutomationUnitOfWork(sessions)


async def test_a_small_accounts_queued_runs_start_within_the_next_free_slots(sessions) -> None:
    agency, small = uuid.uuid4(), uuid.uuid4()
    await in_progress(sessions, agency, 4)
    agency_runs = await queue_runs(sessions, agency, 20)
    small_runs = await queue_runs(sessions, small, 2, after_s=60)
    announced = await publish_positions(uow_of(sessions), Caps())
    assert announced == 22
    async with sessions() as session:
        places = dict(
            (await session.execute(sa.select(runs.c.run_id, runs.c.queue_position))).all()
        )
        events = (
            await session.execute(
                sa.select(outbox.c.value).where(outbox.c.topic == "stage.progress")
            )
        ).all()
    assert {places[r] for r in small_runs} == {1, 2}, (
        "the small account is next despite arriving last"
    )
    assert places[agency_runs[0]] == 3
    queued = [TOPICS.decode("stage.progress", e.value).data for e in events]
    assert {
        (d["reason"], d["queue_position"]) for d in queued if d["run_id"] == str(small_runs[0])
    } == {("queued", 1)}

    admitted = await admit(uow_of(sessions), SystemClock(), "worker-a", 2, Caps(), 30)
    assert {a.run_id for a in admitted} == set(small_runs)
    assert all(a.token == 1 for a in admitted), "admitted with this worker's lease"
    async with sessions() as session:
        statuses = dict((await session.execute(sa.select(runs.c.run_id, runs.c.status))).all())
    assert {statuses[r] for r in small_runs} == {"reserving"}
    assert await publish_positions(uow_of(sessions), Caps()) == 20, "everyone moved up two places"


async def test_an_accounts_cap_holds_across_workers_admitting_at_once(fair_db, sessions) -> None:
    agency, small = uuid.uuid4(), uuid.uuid4()
    await queue_runs(sessions, agency, 10)
    await queue_runs(sessions, small, 1, after_s=30)
    other = create_engine(fair_db, 5)  # a second worker: its own pool, only PostgreSQL shared
    try:
        caps = Caps(runs_per_account=3)
        got = await asyncio.gather(
            *(
                admit(uow_of(s), SystemClock(), f"worker-{i}", 4, caps, 30)
                for i, s in enumerate([sessions, session_factory(other)] * 2)
            )
        )
    finally:
        await other.dispose()
    admitted = [a.run_id for batch in got for a in batch]
    assert len(admitted) == len(set(admitted)), "no run admitted twice"
    async with sessions() as session:
        rows = (
            await session.execute(
                sa.select(runs.c.account_id, sa.func.count())
                .where(runs.c.status == "reserving")
                .group_by(runs.c.account_id)
            )
        ).all()
    assert dict(rows) == {agency: 3, small: 1}


async def test_two_workers_never_drive_one_run_at_once_and_finish_every_run_once(
    fair_db, sessions, tmp_path: Path
) -> None:
    h = Harness(fair_db, tmp_path)
    second = create_engine(fair_db, 5)
    engines = [h.run_engine]
    engines.append(
        RunEngine(
            unit_of_work=uow_of(session_factory(second)),
            ai=h.ai,
            storage=h.storage,
            log=h.run_engine.log,
            clock=SystemClock(),
            worker_id="worker-two",
            image_url=h.run_engine.image_url,
            lease_ttl_s=5,
            reserve_wait_s=0.5,
            poll_s=0.02,
        )
    )
    driving: dict[uuid.UUID, str] = {}
    overlaps: list[uuid.UUID] = []
    drives: list[tuple[uuid.UUID, str]] = []

    def watched(engine: RunEngine) -> None:
        inner = engine.drive

        async def drive(run_id: uuid.UUID, token: int | None = None) -> str:
            if run_id in driving:
                overlaps.append(run_id)
            driving[run_id] = engine.worker_id
            drives.append((run_id, engine.worker_id))
            try:
                return await inner(run_id, token)
            finally:
                driving.pop(run_id, None)

        engine.drive = drive  # type: ignore[method-assign]

    for engine in engines:
        watched(engine)
    run_ids = []
    for _ in range(6):
        h.site = uuid.uuid4()
        await h.add_site({"batch_sizes": {"1": 50}})
        await h.add_keywords(3)
        async with h.uow() as uow:
            run_ids.append(await start_run(uow, h.account, h.site, [1, 2, 3]))
            await uow.commit()
    h.start_pump()
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(run_driver(e, e.unit_of_work, 2, 0.05)(stop))  # type: ignore[arg-type]
        for e in engines
    ]
    try:
        for _ in range(300):
            async with h.engine.connect() as conn:
                found = await conn.execute(
                    sa.select(runs.c.run_id, runs.c.status).where(runs.c.run_id.in_(run_ids))
                )
                status = dict(found.all())
            states = [status[r] for r in run_ids]
            if all(s == "completed" for s in states):
                break
            await asyncio.sleep(0.1)
        assert states == ["completed"] * len(run_ids)
        await h.pump_once()  # the last events
    finally:
        stop.set()
        await asyncio.gather(*loops)
        await h.close()
        await second.dispose()
    assert overlaps == []
    assert {w for _, w in drives} == {"worker-test", "worker-two"}, "both workers drove runs"
    completed = h.topics("run.completed")
    assert sorted(str(e.data["run_id"]) for e in completed) == sorted(str(r) for r in run_ids)
    assert h.ai.calls["cluster_keywords"] == len(run_ids), "every item once, by one worker"
    assert h.ai.calls["generate_ideas"] == len(run_ids)


async def test_the_ai_budget_is_shared_by_every_worker_and_a_429_slows_them_all(
    fair_db, sessions
) -> None:
    other = create_engine(fair_db, 5)
    budgets = [
        PostgresAIBudget(s, "dev", limit=3, per_account=2, holder=f"w{i}", cooldown_s=0.2)
        for i, s in enumerate([sessions, session_factory(other)])
    ]
    flying: dict[uuid.UUID, int] = {}
    peaks = {"total": 0}
    accounts = [uuid.uuid4(), uuid.uuid4()]

    async def call(account: uuid.UUID) -> None:
        flying[account] = flying.get(account, 0) + 1
        peaks["total"] = max(peaks["total"], sum(flying.values()))
        peaks[str(account)] = max(peaks.get(str(account), 0), flying[account])
        await asyncio.sleep(0.1)
        flying[account] -= 1

    try:
        await asyncio.gather(
            *(
                within_budget(
                    budgets[i % 2], accounts[i % 3 % 2], lambda a=accounts[i % 3 % 2]: call(a)
                )
                for i in range(24)
            )
        )
        assert 2 <= peaks["total"] <= 3, "the provider's limit holds across both workers"
        assert max(peaks[str(a)] for a in accounts) <= 2, "and so does each account's"

        attempts = {"n": 0}

        async def limited() -> str:
            attempts["n"] += 1
            if attempts["n"] == 1:
                raise AIRateLimited("429")
            return "ok"

        assert await within_budget(budgets[0], accounts[0], limited) == "ok", "not failed"
        async with sessions() as session:
            state = (await session.execute(sa.select(ai_providers))).one()
        assert state.limit_now < 3 and state.strikes == 0, "halved, then recovering"
        # while the fleet cools down the other worker is refused too
        async with sessions() as session, session.begin():
            await session.execute(
                sa.update(ai_providers).values(cooldown_until=sa.func.now() + timedelta(seconds=5))
            )
        call_id, cool = await budgets[1]._try(accounts[1])
        assert call_id is None and cool > 0
    finally:
        await other.dispose()


async def test_a_runs_images_reach_the_work_topic_a_window_at_a_time(harness) -> None:
    """One run's thousand images cannot all sit ahead of another run's ten on the topic."""
    h = harness
    await h.add_site(
        {
            "ideas_per_cluster": 1,
            "target_word_count": 200,
            "inline_images": 1,
            "image_size": "32x32",
        }
    )
    await h.add_keywords(6)
    h.run_engine.image_window = 2
    h.pump_images = False
    run_id = await h.start([1, 2, 3, 4, 5, 6])
    driving = asyncio.create_task(h.drive_until(run_id, {"completed", "failed", "paused"}))

    async def sent(n: int) -> list[Any]:
        for _ in range(500):
            await h.pump_once()
            commands = h.topics("image.generate")
            if len(commands) >= n:
                return commands
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {n} image commands")

    made = 0
    total = None
    while True:
        commands = await sent(made + 1)
        assert len(commands) - made <= 2, "never more than the window outstanding"
        command = commands[made]
        await h.run_engine.image_item(
            run_id, command.data["fencing_token"], uuid.UUID(command.data["prompt_id"])
        )
        made += 1
        async with h.uow() as uow:
            total = total or len(await uow.queues.prompts_without_images(h.site, 100)) + made
        if made == total:
            break
    run = await asyncio.wait_for(driving, 20)
    assert run["status"] == "completed"
    assert len(h.topics("image.generate")) == total == h.ai.calls["generate_image"] > 2
