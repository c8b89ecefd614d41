"""`stream_events` in PostgreSQL: the writer the Kafka consumer uses and the reader of SSE streams.

Writers take one transaction-scoped advisory lock before inserting: sequences are then committed
in order, so a reader that saw sequence N never later finds a smaller one appear (no lost events).
Each insert also sends `NOTIFY gateway_stream` (delivered at commit) to wake the fan-out of every
gateway process at once instead of waiting for its next poll."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.adapters.sqlalchemy_tables import stream_events
from gateway.ports import StreamEvent, StreamTopic

STREAM_LOCK = 0x16A8_5E0E  # the advisory lock of stream_events writers
CHANNEL = "gateway_stream"


def _event(row: Any) -> StreamEvent:
    return StreamEvent(
        seq=row.seq,
        account_id=row.account_id,
        site_id=row.site_id,
        run_id=row.run_id,
        type=row.type,
        data=row.data,
        time=row.time,
    )


def _of(topic: StreamTopic) -> sa.ColumnElement[bool]:
    column = stream_events.c.run_id if topic.kind == "run" else stream_events.c.site_id
    return (stream_events.c.account_id == topic.account_id) & (column == topic.object_id)


class SqlAlchemyStreamWriter:
    """Appends inside the consumer's transaction (with its inbox row): stored once by event id."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self,
        event_id: uuid.UUID,
        account_id: uuid.UUID,
        site_id: uuid.UUID | None,
        run_id: uuid.UUID | None,
        type_: str,
        data: dict[str, Any],
        time: datetime,
    ) -> None:
        await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(STREAM_LOCK)))
        await self._session.execute(
            insert(stream_events)
            .values(
                event_id=event_id,
                account_id=account_id,
                site_id=site_id,
                run_id=run_id,
                type=type_,
                data=data,
                time=time,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        await self._session.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))


class SqlAlchemyStreamEvents:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def latest(self) -> int:
        async with self._engine.connect() as conn:
            top = await conn.scalar(sa.select(sa.func.max(stream_events.c.seq)))
        return int(top or 0)

    async def _select(self, where: sa.ColumnElement[bool], limit: int) -> list[StreamEvent]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(stream_events).where(where).order_by(stream_events.c.seq).limit(limit)
            )
            return [_event(row) for row in rows]

    async def since(self, after: int, limit: int) -> list[StreamEvent]:
        return await self._select(stream_events.c.seq > after, limit)

    async def of(self, topic: StreamTopic, after: int, limit: int) -> list[StreamEvent]:
        return await self._select(_of(topic) & (stream_events.c.seq > after), limit)

    async def ended(self, topic: StreamTopic, upto: int, types: frozenset[str]) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(stream_events)
                .where(_of(topic), stream_events.c.seq <= upto, stream_events.c.type.in_(types))
            )
        return bool(found)
