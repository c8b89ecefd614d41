"""LISTEN on PostgreSQL channels for as long as a process runs: one connection, re-opened with
backoff when it is lost or refused. Notifications only make a service prompt; its periodic tick
is the safety net, so a listener that cannot connect logs and keeps trying rather than ending."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from igny8.observability import get_logger

log = get_logger(__name__)

Callback = Callable[[Any, int, str, str], None]
"""asyncpg's listener signature: (connection, pid, channel, payload)."""


def listener_dsn(database_url: str) -> str:
    """The plain libpq form of a SQLAlchemy URL (asyncpg connects on its own, outside the pool)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(
    dsn: str,
    channels: Mapping[str, Callback],
    stop: asyncio.Event,
    *,
    what: str,
    listening: Callable[[bool], None] = lambda _: None,
    max_backoff_s: float = 10.0,
) -> None:
    """Until `stop`: listen on every channel; `listening(True)` once all are registered (the
    caller catches up on what it may have missed), `listening(False)` when the connection ends."""
    backoff = 0.5
    while not stop.is_set():
        lost = asyncio.Event()
        connection = None
        try:
            connection = await asyncpg.connect(dsn)
            connection.add_termination_listener(_setter(lost))
            for channel, callback in channels.items():
                await connection.add_listener(channel, callback)
        except Exception as exc:  # refused, or lost between connect and LISTEN: try again
            log.warning("cannot listen", what=what, error=repr(exc))
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, max_backoff_s)
            continue
        backoff = 0.5
        try:
            listening(True)
            waits = [asyncio.ensure_future(e.wait()) for e in (stop, lost)]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
        finally:
            listening(False)
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)


def _setter(event: asyncio.Event) -> Callable[..., None]:
    return lambda *_: event.set()
