"""The per-process fan-out of live progress: one reader of `stream_events` for every open stream.

One task per process reads new events by sequence (woken by a notification or after a poll
interval) and hands each to the queues of the streams that follow its run or site in its account.
A stream first catches up from the table after its resume point (`Last-Event-ID`), then takes
its queue, skipping what it already sent. It registers before catching up and the reader only moves
forward after handing a batch to every registered queue, so between the table and the queue
nothing falls through the gap.

Slow subscribers: a queue holds at most `queue_max` events. One that overflows is detached (the
reader never waits for it, and memory stays bounded); its stream then catches up from the table
again by sequence and re-attaches — slower, never lossy."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from gateway.ports import StreamEvent, StreamEvents, StreamTopic, StreamWakeups

BATCH = 500


@dataclass(eq=False)
class Subscriber:
    topic: StreamTopic
    queue_max: int
    pending: deque[tuple[StreamEvent, str]] = field(default_factory=deque)
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    idle_at: float = 0.0
    """When the stream, waiting since, is owed an empty batch (a heartbeat's turn)."""
    alarm: asyncio.TimerHandle | None = None


@dataclass
class HubStats:
    subscribers: int = 0
    delivered: int = 0
    overflows: int = 0
    reads: int = 0


class StreamHub:
    def __init__(
        self,
        events: StreamEvents,
        wakeups: StreamWakeups,
        render: Callable[[StreamEvent], str],
        *,
        poll_s: float,
        queue_max: int = 1000,
    ) -> None:
        self._events = events
        self._wakeups = wakeups
        self._render = render
        self._poll_s = poll_s
        self._queue_max = queue_max
        self._index: dict[tuple[object, ...], set[Subscriber]] = {}
        self._cursor = -1
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stats = HubStats()

    # -- the reader
    async def _start(self) -> None:
        """Starts the reader on first use (the API process may run no timers)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="stream-hub")
        await self._ready.wait()

    async def _run(self) -> None:
        while self._cursor < 0:
            try:
                self._cursor = await self._events.latest()
            except Exception:  # the database is away: the streams wait for it
                await asyncio.sleep(self._poll_s)
        self._ready.set()
        while True:
            await self._wakeups.wait(self._poll_s)
            with contextlib.suppress(Exception):
                await self._read()

    async def _read(self) -> None:
        while True:
            batch = await self._events.since(self._cursor, BATCH)
            self.stats.reads += 1
            for event in batch:
                self._dispatch(event)
                self._cursor = event.seq
            if len(batch) < BATCH:
                return

    def _dispatch(self, event: StreamEvent) -> None:
        keys = []
        if event.run_id is not None:
            keys.append((event.account_id, "run", event.run_id))
        if event.site_id is not None:
            keys.append((event.account_id, "site", event.site_id))
        frame: str | None = None
        for key in keys:
            for sub in tuple(self._index.get(key, ())):
                frame = frame or self._render(event)  # rendered once for every subscriber
                if len(sub.pending) >= sub.queue_max:
                    sub.overflowed = True
                    self.stats.overflows += 1
                    self._detach(sub)
                else:
                    sub.pending.append((event, frame))
                    self.stats.delivered += 1
                sub.woken.set()

    # -- subscribers
    def _key(self, topic: StreamTopic) -> tuple[object, ...]:
        return (topic.account_id, topic.kind, topic.object_id)

    def _attach(self, topic: StreamTopic) -> Subscriber:
        sub = Subscriber(topic, self._queue_max)
        self._index.setdefault(self._key(topic), set()).add(sub)
        self.stats.subscribers += 1
        return sub

    def _detach(self, sub: Subscriber) -> None:
        subs = self._index.get(self._key(sub.topic))
        if subs is not None and sub in subs:
            subs.discard(sub)
            self.stats.subscribers -= 1
            if not subs:
                del self._index[self._key(sub.topic)]

    async def follow(
        self, topic: StreamTopic, after: int, idle_s: float
    ) -> AsyncGenerator[list[tuple[StreamEvent, str]], None]:
        """The topic's events after `after` with their frames, in sequence order and each once,
        in batches (what queued meanwhile goes out as one write); an empty batch after `idle_s`
        without one (a heartbeat's turn)."""
        await self._start()
        while True:
            sub = self._attach(topic)
            try:
                while True:  # catch up from the table
                    batch = await self._events.of(topic, after, BATCH)
                    if batch:
                        after = batch[-1].seq
                        yield [(event, self._render(event)) for event in batch]
                    if len(batch) < BATCH:
                        break
                while not sub.overflowed:  # then live, from the queue
                    if not sub.pending:
                        if not await self._wait(sub, idle_s):
                            yield []
                        continue
                    fresh = [item for item in sub.pending if item[0].seq > after]
                    sub.pending.clear()
                    if fresh:
                        after = fresh[-1][0].seq
                        yield fresh
            finally:
                if sub.alarm is not None:
                    sub.alarm.cancel()
                self._detach(sub)

    async def _wait(self, sub: Subscriber, idle_s: float) -> bool:
        """Waits for the subscriber's next events; False when `idle_s` passed without any.

        Not `asyncio.timeout` around each wait: arming and cancelling a timer on every event
        of every stream was a tenth of the fan-out's CPU. One alarm per stream stays armed
        instead; when it rings before the stream's idle time (events came meanwhile) it is
        set again for then."""
        loop = asyncio.get_running_loop()
        sub.woken.clear()
        sub.idle_at = loop.time() + idle_s
        if sub.alarm is None:
            sub.alarm = loop.call_at(sub.idle_at, self._ring, sub, loop)
        await sub.woken.wait()
        return bool(sub.pending) or loop.time() < sub.idle_at

    def _ring(self, sub: Subscriber, loop: asyncio.AbstractEventLoop) -> None:
        sub.alarm = None
        if loop.time() >= sub.idle_at:
            sub.woken.set()
        else:
            sub.alarm = loop.call_at(sub.idle_at, self._ring, sub, loop)

    async def ended(self, topic: StreamTopic, upto: int, types: frozenset[str]) -> bool:
        return await self._events.ended(topic, upto, types)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self._wakeups.close()
