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
from automation.adapters.postgres_wakeups import PostgresWakeups
from automation.adapters.sqlalchemy_run_logs import SqlAlchemyRunLog
from automation.adapters.sqlalchemy_tables import ai_calls_in_flight, ai_providers, run_log, runs
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.ai_budget import within_budget
from automation.app.run_engine import RunEngine
from automation.app.run_lifecycle import driving, take_requests
from automation.app.runs import start_run
from automation.app.slots import admit, publish_positions
from automation.bootstrap import SERVICE_ROOT
from automation.domain.ai import AIRateLimited
from automation.domain.runs import STAGES, RunStatus
from automation.domain.scheduling import Caps
from automation.entrypoints.worker import run_driver
from igny8.clock import SystemClock
from igny8.contracts import TOPICS
from igny8.db import create_engine, session_factory
from igny8.messaging.tables import outbox
from igny8.testing import migrated_database

from .conftest import FakeAI, Harness

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


WITH_IMAGES = {  # a short run with one inline image per article, so stage 6 has work
    "ideas_per_cluster": 1,
    "target_word_count": 200,
    "inline_images": 1,
    "image_size": "32x32",
}


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
    announced = await publish_positions(uow_of(sessions), Caps(), SystemClock())
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
    assert await publish_positions(uow_of(sessions), Caps(), SystemClock()) == 20, (
        "everyone moved up two places"
    )


class StepClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


async def announced_places(sessions: Any, run_id: uuid.UUID) -> list[int]:
    async with sessions() as session:
        events = (
            await session.execute(
                sa.select(outbox.c.value)
                .where(outbox.c.topic == "stage.progress")
                .order_by(outbox.c.id)
            )
        ).all()
    data = [TOPICS.decode("stage.progress", e.value).data for e in events]
    return [d["queue_position"] for d in data if d["run_id"] == str(run_id)]


async def test_a_queued_runs_place_is_announced_at_most_once_per_interval(sessions) -> None:
    agency, small, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    agency_runs = await queue_runs(sessions, agency, 3)
    clock, every = StepClock(T0), timedelta(milliseconds=500)
    assert await publish_positions(uow_of(sessions), Caps(), clock, every) == 3
    assert await publish_positions(uow_of(sessions), Caps(), clock, every) == 0, "no change"

    await queue_runs(sessions, small, 1, after_s=30)  # takes place 2: the agency's 2nd moves
    clock.at = T0 + timedelta(milliseconds=100)
    assert await publish_positions(uow_of(sessions), Caps(), clock, every) == 1, "the new run"
    await queue_runs(sessions, third, 1, after_s=40)  # and again
    clock.at = T0 + timedelta(milliseconds=300)
    assert await publish_positions(uow_of(sessions), Caps(), clock, every) == 1, "the new run"
    assert await announced_places(sessions, agency_runs[1]) == [2], "throttled twice"

    clock.at = T0 + timedelta(milliseconds=500)
    assert await publish_positions(uow_of(sessions), Caps(), clock, every) >= 1
    assert await announced_places(sessions, agency_runs[1]) == [2, 4], "only the latest place"
    async with sessions() as session:
        stored = (
            await session.execute(
                sa.select(runs.c.queue_position).where(runs.c.run_id == agency_runs[1])
            )
        ).scalar()
    assert stored == 4


async def test_an_accounts_cap_holds_across_workers_admitting_at_once(fair_db, sessions) -> None:
    agency, small = uuid.uuid4(), uuid.uuid4()
    await queue_runs(sessions, agency, 10)
    await queue_runs(sessions, small, 1, after_s=30)
    other = create_engine(fair_db, 5)  # a second worker: its own pool, only PostgreSQL shared
    try:
        caps = Caps(per_account=3)
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
        granted, cool = await budgets[1]._try(uuid.uuid4(), accounts[1])
        assert not granted and cool > 0
    finally:
        await other.dispose()


async def test_a_freed_ai_slot_goes_to_the_account_with_fewest_calls_in_flight(
    fair_db, sessions
) -> None:
    """An agency's calls waited first; a small account's one call waited last. The slot an
    agency call frees — on another worker — goes to the small account's call."""
    other = create_engine(fair_db, 5)
    one, two = (
        PostgresAIBudget(s, "dev", limit=2, per_account=16, holder=f"w{i}")
        for i, s in enumerate([sessions, session_factory(other)])
    )
    agency, small = uuid.uuid4(), uuid.uuid4()

    async def rows() -> dict[tuple[uuid.UUID, bool], int]:
        async with sessions() as session:
            got = await session.execute(
                sa.select(
                    ai_calls_in_flight.c.account_id,
                    ai_calls_in_flight.c.granted,
                    sa.func.count(),
                ).group_by(ai_calls_in_flight.c.account_id, ai_calls_in_flight.c.granted)
            )
            return {(a, g): n for a, g, n in got}

    async def until(expected: dict[tuple[uuid.UUID, bool], int]) -> None:
        for _ in range(200):
            if await rows() == expected:
                return
            await asyncio.sleep(0.02)
        assert await rows() == expected

    try:
        first = [await one.acquire(agency), await two.acquire(agency)]
        waiting = [asyncio.create_task(b.acquire(agency)) for b in (one, two, one, two)]
        await until({(agency, True): 2, (agency, False): 4})
        smalls = asyncio.create_task(two.acquire(small))
        await until({(agency, True): 2, (agency, False): 4, (small, False): 1})

        await one.release(first[0])
        token = await asyncio.wait_for(smalls, 5)
        assert not any(t.done() for t in waiting), "the agency's older calls still wait"
        assert await rows() == {(agency, True): 1, (agency, False): 4, (small, True): 1}

        await two.release(token)  # now the agency's oldest waiting call
        await asyncio.wait_for(asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED), 5)
        assert await rows() == {(agency, True): 2, (agency, False): 3}

        waiting[-1].cancel()  # a call cancelled while waiting leaves no row behind
        await asyncio.gather(waiting[-1], return_exceptions=True)
        assert (await rows())[(agency, False)] == 2
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await other.dispose()


async def test_a_slot_granted_to_a_waiter_is_held_briefly_until_the_waiter_takes_it(
    fair_db, sessions
) -> None:
    """A slot is granted to a waiting call by whoever frees it; if that waiter's worker died
    meanwhile, the slot comes back after the waiter's short lease, not after a call's lease."""
    budget = PostgresAIBudget(sessions, "dev", limit=1, per_account=16, holder="w0")
    account = uuid.uuid4()

    async def lease_left(call_id: object) -> float:
        async with sessions() as session:
            expires = (
                await session.execute(
                    sa.select(ai_calls_in_flight.c.expires_at - sa.func.now()).where(
                        ai_calls_in_flight.c.call_id == call_id
                    )
                )
            ).scalar_one()
        return float(expires.total_seconds())

    first = await budget.acquire(account)
    waiter = asyncio.create_task(budget.acquire(account))
    for _ in range(200):  # the waiter's row is written
        async with sessions() as session:
            count = (
                await session.execute(sa.select(sa.func.count()).select_from(ai_calls_in_flight))
            ).scalar_one()
        if count == 2:
            break
        await asyncio.sleep(0.02)
    waiter_id = None
    async with sessions() as session:
        waiter_id = (
            await session.execute(
                sa.select(ai_calls_in_flight.c.call_id).where(
                    ai_calls_in_flight.c.granted.is_(False)
                )
            )
        ).scalar_one()
    waiter.cancel()  # its worker is gone: nobody will take the grant
    await asyncio.gather(waiter, return_exceptions=True)
    async with sessions() as session, session.begin():  # what a dead worker leaves behind
        await session.execute(
            sa.insert(ai_calls_in_flight).values(
                call_id=waiter_id,
                provider="dev",
                account_id=account,
                holder="w1",
                granted=False,
                expires_at=sa.func.now() + timedelta(seconds=10),
            )
        )
    await budget.release(first)  # grants the dead waiter the slot
    assert await lease_left(waiter_id) <= 10.5, "a waiter's lease, not a call's (300 s)"


async def test_a_runs_images_reach_the_work_topic_a_window_at_a_time(harness) -> None:
    """One run's thousand images cannot all sit ahead of another run's ten on the topic."""
    h = harness
    await h.add_site(WITH_IMAGES)
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


class GatedAI(FakeAI):
    """Every completion waits for a permit: the test decides how far each run gets."""

    def __init__(self) -> None:
        super().__init__()
        self.permits = asyncio.Semaphore(0)
        self.waiting = 0

    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        self.waiting += 1
        try:
            await self.permits.acquire()
        finally:
            self.waiting -= 1
        return await super().complete(*args, **kwargs)


async def until(check: Any, what: str, tries: int = 500) -> None:
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def test_an_agency_holding_every_slot_yields_two_to_a_small_account_at_its_next_items(
    fair_db, sessions, tmp_path: Path
) -> None:
    """Issue 17 with counts: an agency's runs hold all four slots (two workers, two each) with
    more queued; a small account queues two runs. Each agency run is let through one AI call:
    at its next item two of them give their slots back, and the small account's runs start —
    before any agency run could end. Every run then completes, every AI call made once (a
    yielded run goes on from its checkpoints), and no run was ever driven by two workers."""
    agency, small = Harness(fair_db, tmp_path / "a"), Harness(fair_db, tmp_path / "s")
    ai = GatedAI()
    second = create_engine(fair_db, 5)
    one = agency.run_engine
    one.ai = ai
    two = RunEngine(
        unit_of_work=uow_of(session_factory(second)),
        ai=ai,
        storage=agency.storage,
        log=one.log,
        clock=SystemClock(),
        worker_id="worker-two",
        image_url=one.image_url,
        lease_ttl_s=5,
        reserve_wait_s=0.5,
        poll_s=0.02,
    )
    driving: dict[uuid.UUID, str] = {}
    overlaps: list[uuid.UUID] = []
    for engine in (one, two):
        inner = engine.drive

        async def drive(
            run_id: uuid.UUID, token: int | None = None, inner: Any = inner, e: Any = engine
        ) -> str:
            if run_id in driving:
                overlaps.append(run_id)
            driving[run_id] = e.worker_id
            try:
                return str(await inner(run_id, token))
            finally:
                driving.pop(run_id, None)

        engine.drive = drive  # type: ignore[method-assign]

    async def queue(h: Harness, n: int) -> list[uuid.UUID]:
        ids = []
        for _ in range(n):
            h.site = uuid.uuid4()
            await h.add_site({"batch_sizes": {"1": 50}, "ideas_per_cluster": 2})
            await h.add_keywords(3)
            async with h.uow() as uow:
                ids.append(await start_run(uow, h.account, h.site, [1, 2, 3, 4]))
                await uow.commit()
        return ids

    async def rows(ids: list[uuid.UUID]) -> list[Any]:
        async with sessions() as session:
            found = await session.execute(sa.select(runs).where(runs.c.run_id.in_(ids)))
            return list(found.all())

    agency_runs = await queue(agency, 6)
    agency.start_pump()
    small.start_pump()
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(run_driver(e, e.unit_of_work, 2, 0.05)(stop))  # type: ignore[arg-type]
        for e in (one, two)
    ]
    try:

        async def four_waiting() -> bool:
            return ai.waiting == 4

        await until(four_waiting, "the agency's runs in all four slots, each in its first call")
        small_runs = await queue(small, 2)
        await publish_positions(uow_of(sessions), Caps(), SystemClock())
        asked = [r for r in await rows(agency_runs) if r.requested == "yield"]
        assert len(asked) == 2, "two of the agency's four runs are asked to give their slot back"
        for _ in range(4):
            ai.permits.release()  # one call each

        async def small_started() -> bool:
            return all(r.started_at is not None for r in await rows(small_runs))

        await until(small_started, "the small account's runs started")
        mine = await rows(agency_runs)
        assert not [r for r in mine if r.ended_at is not None], "no agency run has ended"
        assert sum(1 for r in mine if r.status == "queued" and r.started_at) == 2, "yielded"
        assert ai.calls["cluster_keywords"] == 4, "one call per agency run, none of the small's"

        for _ in range(1_000):
            ai.permits.release()

        async def all_done() -> bool:
            return all(r.status == "completed" for r in await rows(agency_runs + small_runs))

        await until(all_done, "every run completed", tries=1_500)
    finally:
        stop.set()
        await asyncio.gather(*loops)
        await agency.close()
        await small.close()
        await second.dispose()
    assert overlaps == []
    assert ai.calls["cluster_keywords"] == 8, "every item once: the yielded runs went on"
    assert ai.calls["generate_ideas"] == 8
    assert ai.calls["generate_content"] == 16
    readmitted = [r for r in await rows(agency_runs) if r.fencing_token >= 2]
    assert len(readmitted) >= 2, "the yielded runs were admitted again"


@pytest.fixture
async def fair_harness(fair_db, sessions, tmp_path: Path) -> AsyncIterator[Harness]:
    """The harness on this module's database, emptied by `sessions`: whether a yield is due is
    decided from every run in progress, so no other test's runs may count."""
    h = Harness(fair_db, tmp_path)
    h.start_pump()
    try:
        yield h
    finally:
        await h.close()


async def a_reason_to_yield(h: Harness) -> tuple[uuid.UUID, uuid.UUID]:
    """What makes a yield of the harness's run due: its account holds a second slot (a run of
    another worker) and a run of an account holding none waits. (that run, the waiting one)"""
    other, waiting = uuid.uuid4(), uuid.uuid4()
    common = {"stages": [1], "config": {}, "site_id": uuid.uuid4()}
    async with h.engine.begin() as conn:
        await conn.execute(
            sa.insert(runs).values(
                **common,
                run_id=other,
                account_id=h.account,
                status="running",
                lease_owner="elsewhere",
                lease_expires_at=datetime.now(UTC) + timedelta(hours=1),
                fencing_token=1,
            )
        )
        common["site_id"] = uuid.uuid4()
        await conn.execute(
            sa.insert(runs).values(
                **common, run_id=waiting, account_id=uuid.uuid4(), status="queued"
            )
        )
    return other, waiting


async def no_reason_left(h: Harness, *run_ids: uuid.UUID) -> None:
    async with h.engine.begin() as conn:
        await conn.execute(sa.delete(runs).where(runs.c.run_id.in_(run_ids)))


async def yielded_after_stage_1(h: Harness) -> uuid.UUID:
    """A run asked to yield while its stage-1 call is in flight (another account's run waits):
    it finishes that item, then gives its slot back at the stage boundary (queued, its lease
    cleared, its holds kept, `run.yielded` announced)."""
    ai = GatedAI()
    h.run_engine.ai = ai
    await h.add_site({"batch_sizes": {"1": 50}, "ideas_per_cluster": 2})
    await h.add_keywords(6)  # two clusters: two stage-2 items
    run_id = await h.start([1, 2, 3, 4])
    driving_task = asyncio.create_task(h.run_engine.drive(run_id))

    async def in_call() -> bool:
        return ai.waiting == 1

    await until(in_call, "the run's stage-1 call in flight")
    reason = await a_reason_to_yield(h)
    await h.set_run(run_id, requested="yield")
    async with h.uow() as uow:
        current = await uow.runs.run(run_id)
    assert current is not None
    ctx = h.run_engine.context(current, current.fencing_token)
    # an image consumer (any task but the driver) passing an item boundary leaves it be
    await take_requests(h.run_engine, ctx, current, (RunStatus.RUNNING,), may_yield=True)
    assert (await h.run(run_id))["status"] == "running"
    # and so does the driver where its caller does not say a yield is safe (the default)
    mine = driving.set(run_id)
    try:
        await take_requests(h.run_engine, ctx, current, (RunStatus.RUNNING,))
    finally:
        driving.reset(mine)
    assert (await h.run(run_id))["status"] == "running", "may_yield is False unless given"
    ai.permits.release()
    assert await asyncio.wait_for(driving_task, 10) == "queued"
    run = await h.run(run_id)
    assert (run["status"], run["requested"], run["lease_owner"]) == ("queued", None, None)
    assert run["started_at"] is not None
    assert ai.calls["cluster_keywords"] == 1
    await h.pump_once()
    yielded = h.topics("run.yielded")
    assert [(e.data["run_id"], e.data["status"]) for e in yielded] == [(str(run_id), "queued")]
    await no_reason_left(h, *reason)
    for _ in range(1_000):
        ai.permits.release()
    return run_id


async def test_a_yielded_run_is_admitted_again_as_running_and_goes_on_from_its_checkpoints(
    fair_harness,
) -> None:
    h = fair_harness
    run_id = await yielded_after_stage_1(h)
    reserves = len(h.topics("credit.reserve"))
    await publish_positions(h.uow, Caps(), SystemClock(), give_back=False)
    await h.pump_once()
    queued = [e.data for e in h.topics("stage.progress") if e.data["reason"] == "queued"]
    assert [(d["stage"], d["name"], d["queue_position"]) for d in queued] == [(2, STAGES[2], 1)], (
        "it waits to resume at stage 2, not at its first stage"
    )
    admitted = await admit(h.uow, SystemClock(), "worker-b", 1, Caps(), 30)
    assert [a.run_id for a in admitted] == [run_id]
    assert (await h.run(run_id))["status"] == "running", "it holds its credits already"
    await h.pump_once()
    again = h.topics("run.readmitted")
    assert [(e.data["run_id"], e.data["status"]) for e in again] == [(str(run_id), "running")]
    assert await h.run_engine.drive(run_id, admitted[0].token) == "completed"
    assert h.ai.calls == {}, "the harness's own AI was not used"
    ai = h.run_engine.ai
    assert isinstance(ai, GatedAI)
    assert ai.calls["cluster_keywords"] == 1, "stage 1 was not done again"
    assert ai.calls["generate_ideas"] == 2 and ai.calls["generate_content"] == 4
    await h.pump_once()
    assert len(h.topics("credit.reserve")) == reserves, "no second reservation"
    assert len(h.topics("stage.completed")) == 4


@pytest.mark.parametrize("newcomer", ["admitted by another worker", "cancelled"])
async def test_a_run_asked_to_yield_for_a_run_no_longer_waiting_keeps_its_slot(
    fair_harness, newcomer: str
) -> None:
    """The request is decided from counts under the admission lock; before the run reaches its
    safe point another worker admits the newcomer into a slot that freed up (or the newcomer is
    cancelled). The run decides again there: nobody waits for its slot, so it carries on."""
    h = fair_harness
    ai = GatedAI()
    h.run_engine.ai = ai
    await h.add_site({"batch_sizes": {"1": 50}, "ideas_per_cluster": 2})
    await h.add_keywords(6)
    run_id = await h.start([1, 2])
    driving_task = asyncio.create_task(h.run_engine.drive(run_id))

    async def in_call() -> bool:
        return ai.waiting == 1

    await until(in_call, "the run's stage-1 call in flight")
    _, waiting = await a_reason_to_yield(h)
    await publish_positions(h.uow, Caps(), SystemClock())
    asked = await h.run(run_id)
    assert asked["requested"] == "yield", "the review asked the run that started last"
    if newcomer == "cancelled":
        await h.set_run(waiting, status="cancelled", ended_at=datetime.now(UTC))
    else:
        async with h.uow() as uow:
            assert await uow.run_queue.admit(waiting, "worker-b", datetime.now(UTC), 30)
            await uow.commit()
    for _ in range(1_000):
        ai.permits.release()
    assert await asyncio.wait_for(driving_task, 20) == "completed", "it never gave its slot back"
    run = await h.run(run_id)
    assert run["requested"] is None
    assert run["fencing_token"] == asked["fencing_token"], "never admitted again"
    await h.pump_once()
    assert h.topics("run.yielded") == []
    assert ai.calls["cluster_keywords"] == 1 and ai.calls["generate_ideas"] == 2


async def test_a_drive_of_the_run_ending_here_leaves_the_current_drives_wake_ups(
    fair_db, fair_harness
) -> None:
    """A run that gave its slot back can be admitted again by the same worker while its last
    drive still unwinds. That drive's end must not take the run's wake-ups (NOTIFY) from the
    drive now waiting: here an older drive of the run (a stale token) ends while the current
    one waits for billing's answer to its reservation; the answer's NOTIFY still wakes it.
    That wait's unsignalled looks are a minute apart, so only the NOTIFY ends it in time."""
    h = fair_harness
    wakeups = PostgresWakeups(fair_db)
    stop = asyncio.Event()
    listening = asyncio.create_task(wakeups.run(stop))
    try:

        async def ready() -> bool:
            return wakeups.listening

        await until(ready, "listening")
        h.run_engine.signals = wakeups
        h.run_engine.poll_s = 30.0
        h.answer_reserves = False
        await h.add_site({"batch_sizes": {"1": 50}})
        await h.add_keywords(3)
        run_id = await h.start([1])
        current = asyncio.create_task(h.run_engine.drive(run_id))

        async def reserving() -> bool:
            await h.pump_once()
            return bool(h.topics("credit.reserve"))

        await until(reserving, "the run waits for billing's answer")
        token = (await h.run(run_id))["fencing_token"]
        assert await h.run_engine.drive(run_id, token - 1) == "lease_lost"
        assert not current.done()
        h.run_engine.poll_s = 0.02  # the waits from now on (the reservation's is made)
        await h.answer_pending("credit.reserve")  # answered: NOTIFY for the run

        async def started() -> bool:
            return (await h.run(run_id))["status"] != "reserving"

        await until(started, "woken by the answer's NOTIFY")
        assert await asyncio.wait_for(current, 20) == "completed"
        assert run_id not in wakeups.runs, "forgotten once no drive of it is left"
    finally:
        stop.set()
        await listening


class HeldRunLog(SqlAlchemyRunLog):
    """Lines of one run (`held`) wait at their insert until `release` is set."""

    def __init__(self, sessions: Any, held: uuid.UUID) -> None:
        super().__init__(sessions)
        self.held = held
        self.release = asyncio.Event()

    async def _insert(self, lines: list[dict[str, Any]]) -> None:
        if any(line["run_id"] == self.held for line in lines):
            await self.release.wait()
        await super()._insert(lines)


async def test_a_drive_ends_with_its_own_log_lines_stored_not_waiting_for_other_runs(
    fair_harness,
) -> None:
    """A driver stores its run's lines as it stops; the slot is refilled when it returns. The
    lines of other runs (here held at their insert) are not waited for, and none is lost."""
    h = fair_harness
    other = uuid.uuid4()
    log = HeldRunLog(h.sessions, other)
    h.run_engine.log = log
    for n in range(3):
        log.write(other, 1, "item.done", f"another run's line {n}")
    everything = asyncio.create_task(log.flush())

    async def held() -> bool:
        return any(line["run_id"] == other for line in log._in_flight)

    await until(held, "the other run's lines in the drain's insert")
    await h.add_site({"batch_sizes": {"1": 50}})
    await h.add_keywords(3)
    run_id = await h.start([1])
    log.write(other, 1, "item.done", "another run's line written meanwhile")
    run = await asyncio.wait_for(h.drive_until(run_id, {"completed"}), 30)
    assert run["status"] == "completed"

    async def stored(which: uuid.UUID) -> list[str]:
        async with h.engine.connect() as conn:
            found = await conn.execute(sa.select(run_log.c.event).where(run_log.c.run_id == which))
            return [r.event for r in found]

    mine = await stored(run_id)
    assert "run.completed" in mine and "stage.completed" in mine, mine
    assert await stored(other) == [], "still held"
    assert not everything.done()
    log.release.set()
    await asyncio.wait_for(everything, 15)
    assert len(await stored(other)) == 4, "nothing lost"


async def test_a_yielded_run_cancelled_with_captures_unanswered_ends_through_finishing(
    fair_harness, action
) -> None:
    h = fair_harness
    h.answer_commits = False
    run_id = await yielded_after_stage_1(h)
    cancelled = await action(h, run_id, "cancel")
    assert cancelled["status"] == "finishing", "queued -> finishing: a capture is unanswered"
    await h.answer_pending("credit.commit")
    run = await h.drive_until(run_id, {"cancelled"})
    assert run["ended_at"] is not None
    assert h.run_engine.ai.calls["generate_ideas"] == 0  # type: ignore[attr-defined]


async def test_a_run_asked_to_yield_inside_stage_6_keeps_its_slot_until_its_images_are_made(
    fair_harness,
) -> None:
    """Images are with the consumers while stage 6 waits: a run leaving then would discard
    their paid results and ask for them again when admitted back. It stays and completes,
    each image made once (though another account's run waits: the request stands)."""
    h = fair_harness
    await h.add_site(WITH_IMAGES)
    await h.add_keywords(6)
    h.pump_images = False
    run_id = await h.start([1, 2, 3, 4, 5, 6])
    driving = asyncio.create_task(h.drive_until(run_id, {"completed", "failed", "paused"}))
    made, asked = 0, False
    while True:
        for _ in range(500):
            await h.pump_once()
            if len(h.topics("image.generate")) > made or driving.done():
                break
            await asyncio.sleep(0.02)
        if driving.done():
            break
        if not asked:
            await a_reason_to_yield(h)
            await h.set_run(run_id, requested="yield")  # the first image is out
            asked = True
            await asyncio.sleep(0.3)  # the stage-6 loop looks at the run meanwhile
        command = h.topics("image.generate")[made]
        await h.run_engine.image_item(
            run_id, command.data["fencing_token"], uuid.UUID(command.data["prompt_id"])
        )
        made += 1
    run = await asyncio.wait_for(driving, 20)
    assert run["status"] == "completed", run
    prompts = {c.data["prompt_id"] for c in h.topics("image.generate")}
    assert h.ai.calls["generate_image"] == made == len(prompts), "each image made once"
