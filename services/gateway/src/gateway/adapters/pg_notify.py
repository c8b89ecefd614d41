"""Wake-ups from PostgreSQL `LISTEN gateway_stream` on one dedicated asyncpg connection per
process. If the connection fails, `wait` degrades to a plain poll interval and reconnects later:
the fan-out's poll is the safety net, notifications only make it prompt."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from gateway.adapters.sqlalchemy_streams import CHANNEL
from igny8.observability import get_logger

log = get_logger(__name__)
RECONNECT_S = 5.0


class PgNotifyWakeups:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._connection: Any = None
        self._woken = asyncio.Event()
        self._next_try = 0.0

    def _notified(self, *_: object) -> None:
        self._woken.set()

    async def _connect(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            return
        if time.monotonic() < self._next_try:
            return
        try:
            self._connection = await asyncpg.connect(self._dsn)
            await self._connection.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError) as exc:
            self._connection = None
            self._next_try = time.monotonic() + RECONNECT_S
            log.warning("stream notifications unavailable; polling", error=repr(exc))

    async def wait(self, timeout: float) -> None:
        await self._connect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)
        self._woken.clear()

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
