"""LISTEN for publications becoming scheduled (a NOTIFY sent at their commit, in any process), so
the scheduler starts a pass at once instead of at its next tick; a lost connection is re-opened
with backoff (`igny8.db.notifications`), and the tick still releases meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

from igny8.db.notifications import listen, listener_dsn
from publishing.adapters.sqlalchemy_publications import DUE_CHANNEL


class PostgresWakeups:
    def __init__(self, database_url: str) -> None:
        self.dsn = listener_dsn(database_url)
        self.due = asyncio.Event()
        """Set on every NOTIFY of the channel (the scheduler's periodic job waits on it)."""

    def _wake(self, *_: Any) -> None:
        self.due.set()

    def _listening(self, now: bool) -> None:
        if now:
            self.due.set()  # anything scheduled while we were not listening

    async def run(self, stop: asyncio.Event) -> None:
        await listen(
            self.dsn,
            {DUE_CHANNEL: self._wake},
            stop,
            what="due publications",
            listening=self._listening,
        )
