"""The SSE fan-out with an in-memory event table: one reader for many streams, resume without
gaps, tenant isolation, and the slow-subscriber policy (detached, then caught up from the table)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.app.stream_events import record_event
from gateway.app.stream_hub import StreamHub
from gateway.ports import StreamEvent, StreamTopic


class FakeStreamEvents:
    def __init__(self) -> None:
        self.rows: list[StreamEvent] = []
        self.since_calls = 0
        self.of_calls = 0

    def add(self, account: uuid.UUID, run: uuid.UUID, n: int) -> StreamEvent:
        event = StreamEvent(
            len(self.rows) + 1, account, None, run, "stage.progress", {"n": n}, datetime.now(UTC)
        )
        self.rows.append(event)
        return event

    async def latest(self) -> int:
        return self.rows[-1].seq if self.rows else 0

    async def since(self, after: int, limit: int) -> list[StreamEvent]:
        self.since_calls += 1
        return [r for r in self.rows if r.seq > after][:limit]

    async def of(self, topic: StreamTopic, after: int, limit: int) -> list[StreamEvent]:
        self.of_calls += 1
        return [
            r
            for r in self.rows
            if r.account_id == topic.account_id and r.run_id == topic.object_id and r.seq > after
        ][:limit]

    async def ended(self, topic: StreamTopic, upto: int, types: frozenset[str]) -> bool:
        return False


class FakeWakeups:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    async def close(self) -> None:
        pass


async def take(hub: StreamHub, topic: StreamTopic, after: int, count: int) -> list[int]:
    seen: list[int] = []
    async with contextlib.aclosing(hub.follow(topic, after, 0.05)) as events:
        async for batch in events:
            seen += [event.seq for event, _ in batch]
            if len(seen) >= count:
                break
    return seen


def hub_over(table: FakeStreamEvents, wakeups: FakeWakeups, queue_max: int = 1000) -> StreamHub:
    return StreamHub(table, wakeups, lambda e: f"id: {e.seq}\n\n", poll_s=0.02, queue_max=queue_max)


async def test_many_streams_share_one_reader_and_see_only_their_account():
    table, wakeups = FakeStreamEvents(), FakeWakeups()
    hub = hub_over(table, wakeups)
    mine, theirs, run = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    readers = [
        asyncio.create_task(take(hub, StreamTopic(mine, "run", run), 0, 5)) for _ in range(50)
    ]
    other = asyncio.create_task(take(hub, StreamTopic(theirs, "run", run), 0, 1))
    await asyncio.sleep(0.1)
    table.since_calls = 0
    for n in range(5):
        table.add(theirs if n == 2 else mine, run, n)
    table.add(mine, run, 5)
    wakeups.event.set()
    results = await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert all(r == [1, 2, 4, 5, 6] for r in results)  # seq 3 is the other account's
    assert await asyncio.wait_for(other, 5) == [3]
    # one reader per process: polls, not one query per stream per poll
    assert table.since_calls < 50
    await hub.close()


async def test_a_stream_resumes_after_its_last_event_id_without_gap_or_repeat():
    table, wakeups = FakeStreamEvents(), FakeWakeups()
    hub = hub_over(table, wakeups)
    account, run = uuid.uuid4(), uuid.uuid4()
    for n in range(4):
        table.add(account, run, n)
    reader = asyncio.create_task(take(hub, StreamTopic(account, "run", run), 2, 4))
    await asyncio.sleep(0.05)
    table.add(account, run, 4)
    table.add(account, run, 5)
    wakeups.event.set()
    assert await asyncio.wait_for(reader, 5) == [3, 4, 5, 6]
    await hub.close()


async def test_a_slow_stream_is_detached_and_catches_up_from_the_table():
    table, wakeups = FakeStreamEvents(), FakeWakeups()
    hub = hub_over(table, wakeups, queue_max=3)
    account, run = uuid.uuid4(), uuid.uuid4()
    topic = StreamTopic(account, "run", run)
    events = hub.follow(topic, 0, 0.05)
    assert await anext(events) == []  # attached, idle
    for n in range(10):  # more than the queue holds, while the stream does not read
        table.add(account, run, n)
    wakeups.event.set()
    for _ in range(100):
        if hub.stats.overflows:
            break
        await asyncio.sleep(0.01)
    assert hub.stats.overflows == 1
    assert hub.stats.subscribers == 0  # detached: the reader holds nothing for it
    seen = []
    while len(seen) < 10:
        seen += [event.seq for event, _ in await asyncio.wait_for(anext(events), 5)]
    assert seen == list(range(1, 11))
    await events.aclose()
    assert hub.stats.subscribers == 0
    await hub.close()


class Recorder:
    def __init__(self) -> None:
        self.appended: list[uuid.UUID] = []

    async def append(self, event_id: uuid.UUID, *args: object) -> None:
        self.appended.append(event_id)


@pytest.mark.parametrize(
    ("account", "age_h", "stored"),
    [(uuid.uuid4(), 1, True), (None, 1, False), (uuid.uuid4(), 80, False)],
)
async def test_an_event_is_recorded_with_an_account_and_inside_the_resume_window(
    account, age_h, stored
):
    writer = Recorder()
    now = datetime.now(UTC)
    done = await record_event(
        writer,
        event_id=uuid.uuid4(),
        account_id=account,
        site_id=None,
        run_id=None,
        type_="run.started",
        data={},
        time=now - timedelta(hours=age_h),
        window=timedelta(hours=72),
        now=now,
    )
    assert done is stored
    assert len(writer.appended) == int(stored)
