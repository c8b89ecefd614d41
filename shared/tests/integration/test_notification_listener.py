"""One LISTEN helper for every service's wake-ups: it delivers NOTIFYs, says when it listens (so
the caller catches up), re-opens a connection the server ended, and keeps trying while the
database refuses it instead of ending (the service's tick is then the only thing left)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from igny8.db.notifications import listen, listener_dsn

pytestmark = pytest.mark.integration


async def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


async def test_notifications_arrive_and_a_lost_connection_is_reopened(db_url):
    dsn = listener_dsn(db_url)
    got: list[str] = []
    states: list[bool] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        listen(
            dsn,
            {"test_wake": lambda _c, _p, _ch, payload: got.append(payload)},
            stop,
            what="test",
            listening=states.append,
        )
    )
    other = await asyncpg.connect(dsn)
    try:
        await _until(lambda: states == [True], "listening")
        await other.execute("NOTIFY test_wake, 'one'")
        await _until(lambda: got == ["one"], "the first notification")
        await other.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
        await _until(lambda: states == [True, False, True], "listening again")
        await other.execute("NOTIFY test_wake, 'two'")
        await _until(lambda: got == ["one", "two"], "a notification after the reconnect")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await other.close()
    assert states[-1] is False


async def test_a_refused_connection_is_tried_again_until_stopped():
    stop = asyncio.Event()
    task = asyncio.create_task(
        listen("postgresql://nobody@127.0.0.1:1/none", {}, stop, what="t", max_backoff_s=0.05)
    )
    await asyncio.sleep(0.3)
    assert not task.done(), "a refused listener keeps trying"
    stop.set()
    await asyncio.wait_for(task, 2)
