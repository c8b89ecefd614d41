"""The run log in the database: what one process writes, another (its own engine and sessions,
no shared memory) reads back in order, as trace events and as text lines."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_run_logs import BATCH, SqlAlchemyRunLog
from automation.adapters.sqlalchemy_tables import run_log
from igny8.db import create_engine, session_factory

pytestmark = pytest.mark.integration


@pytest.fixture
async def two_processes(automation_db):
    """A writer and a reader that share nothing but the database."""
    engines = [create_engine(automation_db, 4), create_engine(automation_db, 4)]
    try:
        yield tuple(SqlAlchemyRunLog(session_factory(engine)) for engine in engines)
    finally:
        for engine in engines:
            await engine.dispose()


async def collect(chunks) -> str:
    return b"".join([chunk async for chunk in chunks]).decode()


async def test_lines_written_by_one_process_are_read_by_another_in_order(two_processes):
    writer, reader = two_processes
    run_id, other = uuid.uuid4(), uuid.uuid4()
    writer.write(run_id, None, "run.running", "running", quantities={"clustering": 2})
    for n in range(BATCH + 20):  # more than one insert batch
        writer.write(run_id, 2, "item.done", f"idea-{n}", credits=n)
    writer.write(run_id, 3, "stage.completed", "ideas → tasks", run=run_id)
    writer.write(other, None, "run.running", "someone else's run")
    await writer.flush()

    events = [json.loads(line) for line in (await collect(reader.trace(run_id))).splitlines()]
    assert len(events) == BATCH + 22
    assert [e["message"] for e in events[1:-1]] == [f"idea-{n}" for n in range(BATCH + 20)]
    first, last = events[0], events[-1]
    assert first["event"] == "run.running" and first["quantities"] == {"clustering": 2}
    assert first["run_id"] == first["correlation_id"] == str(run_id) and first["stage"] is None
    assert last["run"] == str(run_id)  # a UUID field is written as text, as the files had it
    assert datetime.fromisoformat(first["time"]) <= datetime.fromisoformat(last["time"])

    stage_2 = (await collect(reader.lines(run_id, 2))).splitlines()
    assert len(stage_2) == BATCH + 20
    assert stage_2[0].split(" ", 1)[1] == 'item.done idea-0 {"credits": 0}'
    everything = (await collect(reader.lines(run_id))).splitlines()
    assert everything[0].endswith('run.running running {"quantities": {"clustering": 2}}')
    assert everything[-1].split(" ", 1)[1].startswith("stage.completed ideas → tasks")
    assert await collect(reader.trace(uuid.uuid4())) == ""


async def test_a_line_the_database_refuses_does_not_block_the_lines_after_it(two_processes):
    writer, reader = two_processes
    run_id = uuid.uuid4()
    writer.write(run_id, 1, "item.done", "nul\x00in the message", value="nul\x00in a field")
    await writer.flush()
    writer.write(run_id, 40_000, "stage.started", "a stage number smallint cannot hold")
    await writer.flush()
    assert writer.dropped == 1
    writer.write(run_id, 1, "stage.completed", "after the refused one")
    await writer.flush()
    events = [json.loads(line) for line in (await collect(reader.trace(run_id))).splitlines()]
    assert [e["message"] for e in events] == ["nul\ufffdin the message", "after the refused one"]
    assert events[0]["value"] == "nul\ufffdin a field"


async def test_lines_past_their_retention_are_pruned(two_processes, automation_db):
    writer, reader = two_processes
    old_run, new_run = uuid.uuid4(), uuid.uuid4()
    writer.write(old_run, None, "run.completed", "long ago")
    writer.write(new_run, None, "run.completed", "today")
    await writer.flush()
    engine = create_engine(automation_db, 1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.update(run_log)
                .where(run_log.c.run_id == old_run)
                .values(at=datetime.now(UTC) - timedelta(days=91))
            )
    finally:
        await engine.dispose()
    assert await reader.prune(datetime.now(UTC), timedelta(days=90), chunk=1) >= 1
    assert await collect(reader.trace(old_run)) == ""
    assert "today" in await collect(reader.trace(new_run))


async def test_a_full_queue_keeps_the_oldest_lines_and_counts_the_rest(automation_db):
    engine = create_engine(automation_db, 2)
    try:
        writer = SqlAlchemyRunLog(session_factory(engine), max_pending=3)
        run_id = uuid.uuid4()

        def outside_the_loop() -> None:  # no event loop in this thread: nothing drains yet
            for n in range(5):
                writer.write(run_id, None, "item.done", f"line-{n}")

        await asyncio.to_thread(outside_the_loop)
        assert writer.dropped == 2
        await writer.flush()
        events = [json.loads(line) for line in (await collect(writer.trace(run_id))).splitlines()]
        assert [e["message"] for e in events] == ["line-0", "line-1", "line-2"]
    finally:
        await engine.dispose()
