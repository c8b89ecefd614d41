"""The run log in the database (`run_log` rows): the worker that drives a run writes its lines,
any api process serves its trace and logs — nothing a pod keeps on its own disk.

Why the database and not the object storage that holds images: a run log is thousands of small
appends read back in order by run, which is an index range scan here, while an object store can
only rewrite whole objects (or list many tiny ones); and the database is already there, backed up
and tenant-checked through the run's row.

`write` stays synchronous (the engine calls it between awaits and must not wait on the database
for a log line): lines go to an in-memory queue that one drain task per process inserts in
order, in batches. A crash can lose the lines not yet inserted (up to `LINGER_S` of them);
the run's state never depends on its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.run_log_files import FileRunLog
from automation.adapters.sqlalchemy_tables import run_log
from igny8.observability import get_logger

log = get_logger(__name__)

BATCH = 500
LINGER_S = 1.0
"""A drain waits this long for more lines before its first insert: the lines of every run this
process drives go in one transaction, not one per line or two (issue 17's profile: a fifth of the
worker's transactions were run-log inserts of a line or two; at 50 ms it was still one insert per
AI call of a sequential stage, whose items are ~0.25 s apart). A run's driver flushes when it
stops, so a run's lines are stored when its end is seen."""
READ_CHUNK = 1000


def _text(value: str) -> str:
    """PostgreSQL text and JSONB refuse NUL; one such character must not block the queue."""
    return value.replace("\x00", "\ufffd")


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    """JSONB takes what `json` can write: UUIDs, decimals and dates become strings, as in the
    files the log used to be."""
    written = json.dumps(fields, default=str).replace("\\u0000", "\\ufffd")
    loaded: dict[str, Any] = json.loads(written)
    return loaded


def trace_event(row: Any) -> dict[str, Any]:
    """One trace line, the shape `trace.jsonl` had."""
    return {
        "time": row.at.isoformat(),
        "run_id": str(row.run_id),
        "stage": row.stage,
        "event": row.event,
        "message": row.message,
        "correlation_id": str(row.run_id),
        **row.fields,
    }


def log_line(row: Any) -> str:
    """One log line, the shape `main.log` and `stage-N.log` had."""
    fields = f" {json.dumps(row.fields)}" if row.fields else ""
    return f"{row.at.isoformat()} {row.event} {row.message}{fields}\n"


class SqlAlchemyRunLog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        copy: FileRunLog | None = None,
        max_pending: int = 50_000,
    ) -> None:
        self._sessions = sessions
        self._copy = copy
        self._max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._drain: asyncio.Task[None] | None = None
        self._hurry: asyncio.Event | None = None
        """Set by `flush`: the drain stops lingering and inserts at once."""
        self._in_flight: list[dict[str, Any]] = []
        """The batch the drain inserts now (out of `_pending` meanwhile)."""
        self._in_flight_done = asyncio.Event()
        self.dropped = 0
        """Lines given up: the queue was full (the database away for long) or the database
        refused them."""

    # -- writing (the RunLog port) -------------------------------------------------------------

    def write(self, run_id: Any, stage: int | None, kind: str, message: str, **fields: Any) -> None:
        if self._copy is not None:
            self._copy.write(run_id, stage, kind, message, **fields)
        if len(self._pending) >= self._max_pending:
            # the newest line goes, not the oldest: the drain may be inserting the queue's head
            self.dropped += 1
            return
        self._pending.append(
            {
                "run_id": run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id)),
                "stage": stage,
                "event": _text(kind),
                "message": _text(message),
                "fields": _jsonable(fields),
                "at": datetime.now(UTC),
            }
        )
        self._start_drain()

    async def flush(self, run_id: uuid.UUID | None = None) -> None:
        """Returns once the lines written so far are stored (or given up): of one run, or of
        every run. A run's flush takes its own lines out of the queue and stores them in a
        transaction of their own (after the batch in flight, should that hold some of them): it
        never waits for the queue's other lines — with many runs writing, the queue is rarely
        empty, and a driver that waited for it kept its slot."""
        if run_id is not None:
            await self._flush_run(run_id)
            return
        while self._pending or (self._drain is not None and not self._drain.done()):
            task = self._start_drain()
            if task is None:
                return
            if self._hurry is not None:
                self._hurry.set()
            await asyncio.shield(task)

    async def _flush_run(self, run_id: uuid.UUID) -> None:
        mine = [line for line in self._pending if line["run_id"] == run_id]
        if mine:
            self._pending[:] = [line for line in self._pending if line["run_id"] != run_id]
        while any(line["run_id"] == run_id for line in self._in_flight):
            await asyncio.shield(self._in_flight_done.wait())
        if mine and not await self._store(mine):
            self._pending[:0] = mine  # the database is away: the drain keeps trying
            self._start_drain()

    def _start_drain(self) -> asyncio.Task[None] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the next write or flush inside one stores these lines
            return None
        current = self._drain
        if current is None or current.done() or current.get_loop() is not loop:
            self._hurry = asyncio.Event()
            current = self._drain = loop.create_task(
                self._insert_pending(self._hurry), name="run-log-drain"
            )
        return current

    async def _insert_pending(self, hurry: asyncio.Event) -> None:
        failures = 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hurry.wait(), LINGER_S)
        while self._pending:
            # taken out of the queue while inserted, so a run's flush can take its own lines
            # out of what is left meanwhile
            batch = self._pending[:BATCH]
            del self._pending[:BATCH]
            self._in_flight, self._in_flight_done = batch, asyncio.Event()
            try:
                stored = await self._store(batch)
            except BaseException:  # cancelled mid-insert: the lines stay queued
                self._pending[:0] = batch
                raise
            finally:
                self._in_flight = []
                self._in_flight_done.set()
            if stored:
                failures = 0
                continue
            self._pending[:0] = batch  # the database is away: keep the lines, try again
            failures += 1
            await asyncio.sleep(min(5.0, 0.1 * 2**failures))

    async def _store(self, lines: list[dict[str, Any]]) -> bool:
        """Stored, or the lines at fault given up one by one; False when the database is away."""
        try:
            await self._insert(lines)
        except Exception as exc:
            if not await self._database_answers():
                log.warning("cannot store run log lines", error=repr(exc), pending=len(lines))
                return False
            await self._insert_one_by_one(lines)  # the lines are at fault, not the database
        return True

    async def _insert(self, lines: list[dict[str, Any]]) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(sa.insert(run_log), lines)

    async def _database_answers(self) -> bool:
        try:
            async with self._sessions() as session:
                await session.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _insert_one_by_one(self, batch: list[dict[str, Any]]) -> None:
        """Stores what can be stored; a line the database refuses on its own is given up (and
        counted) so that it cannot hold back every line after it."""
        for line in batch:
            try:
                await self._insert([line])
            except Exception as exc:
                self.dropped += 1
                log.error("run log line refused", error=repr(exc), kind=line["event"])

    # -- reading (any process) -----------------------------------------------------------------

    async def _rows(self, run_id: uuid.UUID, stage: int | None) -> AsyncIterator[Any]:
        query = sa.select(run_log).where(run_log.c.run_id == run_id)
        if stage is not None:
            query = query.where(run_log.c.stage == stage)
        query = query.order_by(run_log.c.at, run_log.c.entry_id)
        async with self._sessions() as session, session.begin():
            result = await session.stream(query.execution_options(yield_per=READ_CHUNK))
            async for row in result:
                yield row

    async def trace(self, run_id: uuid.UUID) -> AsyncIterator[bytes]:
        """The run's trace as NDJSON, in the order the lines were written."""
        async for row in self._rows(run_id, None):
            yield (json.dumps(trace_event(row), default=str) + "\n").encode()

    async def lines(self, run_id: uuid.UUID, stage: int | None = None) -> AsyncIterator[bytes]:
        """The run's log (every line, or one stage's) as text."""
        async for row in self._rows(run_id, stage):
            yield log_line(row).encode()

    async def prune(self, now: datetime, keep: timedelta, chunk: int = 10_000) -> int:
        """Deletes lines older than `keep`, a chunk per transaction (no long lock); how many."""
        old = (
            sa.select(run_log.c.entry_id)
            .where(run_log.c.at < now - keep)
            .limit(chunk)
            .scalar_subquery()
        )
        deleted = 0
        while True:
            async with self._sessions() as session, session.begin():
                result = await session.execute(
                    sa.delete(run_log).where(run_log.c.entry_id.in_(old))
                )
            count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < chunk:
                return deleted
