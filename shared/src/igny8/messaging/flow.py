"""A steady flow of records for parallel work topics whose handlers own their transactions.

A batch consumer fetches its next batch only when every record of the current one is done. On a
work topic of slow provider calls behind a gate (automation's images) every batch then ends with
the gate idle while its last calls finish, the records sent meanwhile waiting for the fetch; and
a fetch that found only one or two records (their commands trickle in as earlier ones finish) is
a whole round of calls with the gate mostly idle. Bounding whole batches (two in flight) keeps
the second problem. Here the bound is on records instead: at most `limit` records in flight, and
the consumer polls for as many as there is room for the moment one ends.

Offsets are committed explicitly (never the consumer's positions, which run ahead of unfinished
work), per partition, up to the first record not finished: a crash or a stop redelivers every
record that had not finished (and the inbox absorbs those after it that had). A record handed
back (the infrastructure failed too long) stops its partition's commits; before the next poll
everything in flight ends and the partitions concerned are sought back to their first record not
done — what was fetched meanwhile is dropped and sought back too — so a redelivered record never
runs beside its first delivery. For the same reason a rebalance waits (`on_partitions_revoked`)
until what is in flight has ended and committed: the group refetches from the commits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from igny8.observability import get_logger

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[Any, Any]
HandleRecord = Callable[[Record], Awaitable[bool]]
"""Handles one record to its outcome: True when finished, False when handed back."""


class RecordFlow:
    def __init__(self, handle: HandleRecord, limit: int) -> None:
        self._handle = handle
        self.limit = max(1, limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        # offsets fetched and not committed yet, per partition: finished or not
        self._open: dict[TopicPartition, dict[int, bool]] = {}
        self._committed: dict[TopicPartition, int] = {}
        # partitions to seek back before the next poll (a record handed back, or dropped)
        self._rewound: dict[TopicPartition, int] = {}
        self._commit_lock = asyncio.Lock()
        self._stopped = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def room(self, consumer: Any) -> int:
        """Before each poll: wait until a record may start; how many may. After a hand-back,
        first let everything in flight end and seek the partitions back."""
        while not self._stopped:
            if self._rewound:
                await self.drain()
                self._seek_back(consumer)
            free = self.limit - len(self._tasks)
            if free > 0 and not self._rewound:
                return free
            self._changed.clear()
            if self.limit - len(self._tasks) <= 0 and not self._rewound:
                await self._changed.wait()
        return self.limit  # stopping: what is polled now is left alone (`take`)

    def take(self, consumer: Any, records: Sequence[Record]) -> None:
        """Start each fetched record (the poll loop then asks for `room` again)."""
        if self._stopped:
            return  # not started, not committed: redelivered to the group's next member
        if self._rewound:  # fetched before a hand-back was seen: dropped, fetched again
            for tp, offset in _first_offsets(records).items():
                self._rewound[tp] = min(self._rewound.get(tp, offset), offset)
            return
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self._open.setdefault(tp, {})[record.offset] = False
            task = asyncio.create_task(self._run(consumer, tp, record))
            self._tasks.add(task)
            task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._changed.set()

    async def _run(self, consumer: Any, tp: TopicPartition, record: Record) -> None:
        try:
            finished = await self._handle(record)
        except Exception as exc:  # e.g. a dead letter that could not be published: comes again
            log.error("record failed; it comes again", error=repr(exc)[:500])
            finished = False
        offsets = self._open.get(tp)
        if offsets is None or record.offset not in offsets:
            return  # its partition was revoked meanwhile
        if not finished:
            self._rewound[tp] = min(self._rewound.get(tp, record.offset), record.offset)
            return
        offsets[record.offset] = True
        await self._commit(consumer, tp)

    async def _commit(self, consumer: Any, tp: TopicPartition) -> None:
        """Commit `tp` up to its first record not finished (never past a rewind)."""
        async with self._commit_lock:
            offsets = self._open.get(tp, {})
            position = None
            for offset in sorted(offsets):
                if not offsets[offset]:
                    break
                position = offset + 1
                del offsets[offset]
            if position is None:
                return
            if tp in self._rewound:
                position = min(position, self._rewound[tp])
            if position <= self._committed.get(tp, -1):
                return
            try:
                await consumer.commit({tp: position})
                self._committed[tp] = position
            except Exception as exc:  # revoked or stopped: the next owner redelivers, the inbox
                log.info("offset not committed", partition=str(tp), error=repr(exc))  # absorbs

    def _seek_back(self, consumer: Any) -> None:
        for tp, offset in self._rewound.items():
            for later in [o for o in self._open.get(tp, {}) if o >= offset]:
                del self._open[tp][later]  # fetched again
            try:
                consumer.seek(tp, offset)
            except Exception as exc:  # revoked meanwhile: its new owner starts from the commit
                log.info("partition not rewound", partition=str(tp), error=repr(exc))
        self._rewound = {}

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        """Before partitions are taken away, let what is in flight end and commit: after the
        rebalance the group refetches from the commits, and a record still running here would
        run beside its redelivery (a provider called twice)."""
        flow = self

        class DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                await flow.drain()
                for tp in revoked:  # the next owner starts from the commits
                    flow._open.pop(tp, None)
                    flow._committed.pop(tp, None)
                    flow._rewound.pop(tp, None)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                return None

        return DrainOnRevoke()

    async def cancel(self) -> None:
        """On stop: what is in flight ends as a crash would (uncommitted, so redelivered to the
        group's next member; the inbox absorbs what had finished); records polled from now on
        are left alone."""
        self._stopped = True
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._changed.set()


def _first_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    first: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        first[tp] = min(first.get(tp, record.offset), record.offset)
    return first
