"""Periodic jobs: run a coroutine every N seconds, optionally on one replica only.

Every service's worker role has background work (billing's expiry sweep, integration's scheduled
syncs, automation's run scheduler). This is the one loop they share:

- `fn` runs, then the job waits `interval_s` (or until stopped, or until `wakeup` is set — e.g.
  by a PostgreSQL LISTEN for work that became due) and runs it again;
- an exception in `fn` is logged and the next interval tries again — a failing pass never ends
  the loop (the process would otherwise keep running with its background work silently dead);
- with `lock_engine`, the job runs only while this replica holds a PostgreSQL session advisory
  lock whose key is derived from `name` (`igny8.db.locks.advisory_lock_key`, as the outbox relay
  derives its own). The lock lives on one dedicated connection: if the process dies, PostgreSQL
  ends the session and frees the lock, and a standby — which retries every interval — takes over.
  Before each run the holder checks that connection still answers, so a holder whose session was
  ended stops at once instead of running beside the new holder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from igny8.db.locks import advisory_lock_key
from igny8.observability import get_logger
from igny8.runtime import Timer

log = get_logger(__name__)

_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(:k)")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(:k)")
_ALIVE = sa.text("SELECT 1")


def periodic_job_lock_key(name: str) -> int:
    """The advisory-lock key a job called `name` holds while it is the active replica."""
    return advisory_lock_key(f"igny8.periodic.{name}")


def periodic_job(
    name: str,
    interval_s: float,
    fn: Callable[[], Awaitable[None]],
    *,
    lock_engine: AsyncEngine | None = None,
    wakeup: asyncio.Event | None = None,
) -> Timer:
    """A timer for `Service.timers`: runs `fn` every `interval_s` until the stop event is set;
    a set `wakeup` starts the next run at once (it is cleared before each run)."""

    async def unlocked(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _run_once(name, fn, wakeup)
            await _wait(stop, interval_s, wakeup)

    async def single_replica(stop: asyncio.Event) -> None:
        assert lock_engine is not None
        key = periodic_job_lock_key(name)
        while not stop.is_set():
            try:
                async with lock_engine.connect() as conn:
                    if await _try_lock(conn, key):
                        try:
                            await _run_while_holding(conn, name, interval_s, fn, stop, wakeup)
                        finally:
                            await _unlock(conn, key)
            except Exception as exc:  # lost the database or the lock with it: stand by, retry
                log.warning("periodic job lost its lock; standing by", job=name, error=repr(exc))
            await _wait(stop, interval_s)

    return unlocked if lock_engine is None else single_replica


async def _run_while_holding(
    conn: AsyncConnection,
    name: str,
    interval_s: float,
    fn: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    wakeup: asyncio.Event | None = None,
) -> None:
    log.info("periodic job active on this replica", job=name)
    while not stop.is_set():
        # A session ended under us (database restart, pg_terminate_backend) took the lock with
        # it; raising here hands the job back to whichever replica holds the lock now.
        await conn.execute(_ALIVE)
        await conn.commit()
        await _run_once(name, fn, wakeup)
        await _wait(stop, interval_s, wakeup)


async def _run_once(
    name: str, fn: Callable[[], Awaitable[None]], wakeup: asyncio.Event | None = None
) -> None:
    if wakeup is not None:
        wakeup.clear()  # what this run will see need not wake the next one
    try:
        await fn()
    except Exception as exc:  # one failing pass must not end the job; the next interval retries
        log.warning("periodic job failed; retrying next interval", job=name, error=repr(exc))


async def _try_lock(conn: AsyncConnection, key: int) -> bool:
    got = (await conn.execute(_TRY_LOCK, {"k": key})).scalar()
    await conn.commit()
    return bool(got)


async def _unlock(conn: AsyncConnection, key: int) -> None:
    """Give the lock back before the connection returns to the pool (a pooled connection would
    otherwise keep holding it); if that fails, discard the connection so its session ends."""
    try:
        await conn.execute(_UNLOCK, {"k": key})
        await conn.commit()
    except Exception:
        with contextlib.suppress(Exception):
            await conn.invalidate()


async def _wait(stop: asyncio.Event, seconds: float, wakeup: asyncio.Event | None = None) -> None:
    if wakeup is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        return
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
