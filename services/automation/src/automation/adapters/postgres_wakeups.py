"""LISTEN for the run queue's NOTIFYs (a run queued or resumed in any process), so a worker with
free slots admits it at once instead of at its next tick; a lost connection is re-opened with
backoff (`igny8.db.notifications`), and the worker's tick still admits meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from automation.adapters.sqlalchemy_scheduling import RUN_CHANNEL, WAKE_CHANNEL
from igny8.db.notifications import listen, listener_dsn


class PostgresWakeups:
    def __init__(self, database_url: str) -> None:
        self.dsn = listener_dsn(database_url)
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

    def _listening(self, now: bool) -> None:
        self.listening = now
        if now:
            self.queue_event.set()  # anything queued while we were not listening
            for event in self.runs.values():
                event.set()

    async def run(self, stop: asyncio.Event) -> None:
        await listen(
            self.dsn,
            {WAKE_CHANNEL: self._wake, RUN_CHANNEL: self._run},
            stop,
            what="runs",
            listening=self._listening,
        )
