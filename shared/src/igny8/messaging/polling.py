"""Polling without FastStream's idle sleep.

FastStream's batch subscriber polls `getmany(timeout_ms=batch_timeout_ms)` and, when that found
nothing, sleeps `batch_timeout_ms` more before polling again; a record arriving during that
sleep waits for it. On a trickle (a consumer that has caught up, the usual state) that added up
to a whole `batch_timeout_ms` to the delivery latency. `getmany` already returns as soon as any
record is fetched, so the poll here simply waits again; it sleeps only when `getmany` came back
empty early (no assignment yet), where FastStream's sleep guards against a busy loop.

Since `getmany` returns the moment a record is fetched, how long it waits when nothing comes
adds no latency: it only sets how often an idle consumer wakes. Each wake costs the loop and
aiokafka's bookkeeping, so an idle consumer waits at least `IDLE_WAIT_MS` (a stopping consumer's
fetcher wakes the waiter at once, so shutdown is not delayed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any

IDLE_WAIT_MS = 1_000


def poll_without_idle_sleep(
    subscriber: Any,
    timeout_ms: int,
    max_records: int,
    room: Callable[[Any], Awaitable[int]] | None = None,
) -> None:
    """Replace a FastStream batch subscriber's `get_msg` (same contract: a tuple of records).
    `room`: waits until records may start and says how many (`flow.RecordFlow.room`)."""
    timeout_ms = max(timeout_ms, IDLE_WAIT_MS)
    timeout_s = timeout_ms / 1000

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        while True:
            limit = max_records if room is None else await room(consumer)
            started = time.monotonic()
            fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=limit)
            if fetched:
                return tuple(chain(*fetched.values()))
            if not getattr(subscriber, "running", True):
                return ()
            if time.monotonic() - started < timeout_s / 2:
                await asyncio.sleep(timeout_s)  # nothing to wait on yet (no assignment)

    subscriber.get_msg = get_msg
