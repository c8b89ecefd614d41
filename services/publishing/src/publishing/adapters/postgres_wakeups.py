"""LISTEN for publications becoming scheduled (a NOTIFY sent at their commit, in any process), so
the scheduler starts a pass at once instead of at its next tick; a lost connection is re-opened
with backoff, and the tick still releases meanwhile (as automation's run queue wake-ups)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from igny8.observability import get_logger
from publishing.adapters.sqlalchemy_repositories import DUE_CHANNEL

log = get_logger(__name__)


class PostgresWakeups:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.due = asyncio.Event()
        """Set on every NOTIFY of the channel (the scheduler's periodic job waits on it)."""

    def _wake(self, *_: Any) -> None:
        self.due.set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self.dsn)
            except Exception as exc:
                log.warning("cannot listen for due publications", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            lost = asyncio.Event()
            connection.add_termination_listener(_setter(lost))
            try:
                await connection.add_listener(DUE_CHANNEL, self._wake)
                self.due.set()  # anything scheduled while we were not listening
                waits = [asyncio.ensure_future(e.wait()) for e in (stop, lost)]
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for waiting in waits:
                    waiting.cancel()
            finally:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)


def _setter(event: asyncio.Event) -> Any:
    return lambda *_: event.set()
