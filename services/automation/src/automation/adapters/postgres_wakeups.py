"""LISTEN for the run queue's NOTIFYs (a run queued or resumed in any process), so a worker with
free slots admits it at once instead of at its next tick; a lost connection is re-opened with
backoff, and the worker's tick still admits meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from automation.adapters.sqlalchemy_scheduling import RUN_CHANNEL, WAKE_CHANNEL
from igny8.observability import get_logger

log = get_logger(__name__)


class PostgresWakeups:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.queue_event = asyncio.Event()
        """Set on every NOTIFY of the run queue (the run driver waits on it)."""
        self.runs: dict[uuid.UUID, asyncio.Event] = {}
        self.listening = False

    def _wake(self, *_: Any) -> None:
        self.queue_event.set()

    def _run(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = self.runs.get(uuid.UUID(payload))
        except ValueError:
            return
        if event is not None:
            event.set()

    def event(self, run_id: uuid.UUID) -> asyncio.Event:
        event = self.runs.setdefault(run_id, asyncio.Event())
        if not self.listening:
            event.set()  # not listening (yet): the waiter falls back to looking soon
        return event

    def forget(self, run_id: uuid.UUID) -> None:
        self.runs.pop(run_id, None)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self.dsn)
            except Exception as exc:
                log.warning("cannot listen for runs", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            lost = asyncio.Event()
            connection.add_termination_listener(_setter(lost))
            try:
                await connection.add_listener(WAKE_CHANNEL, self._wake)
                await connection.add_listener(RUN_CHANNEL, self._run)
                self.listening = True
                self.queue_event.set()  # anything queued while we were not listening
                for event in self.runs.values():
                    event.set()
                done = [asyncio.create_task(e.wait()) for e in (stop, lost)]
                await asyncio.wait(done, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.cancel()
            finally:
                self.listening = False
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)


def _setter(event: asyncio.Event) -> Any:
    return lambda *_: event.set()
