"""Kafka entrypoint: the events a frontend follows (`run.*`, `stage.*`, `content.ready`) into the
`stream_events` table, which SSE streams read by sequence.

Each replica consumes with its own group (`gateway.stream-<replica>`), so every replica reads every
partition; inserts are idempotent by event id, so replicas writing the same event store it once.
Writers take one transaction-scoped advisory lock before inserting: sequences are then committed in
order, so a reader that saw sequence N never later finds a smaller one appear (no lost events)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.sqlalchemy_tables import stream_events
from igny8.contracts import TOPICS, Envelope
from igny8.messaging import Subscription

STREAM_LOCK = 0x16A8_5E0E  # the advisory lock of stream_events writers
PREFIXES = ("run.", "stage.", "content.ready", "publication.")
TERMINAL = frozenset({"run.completed", "run.failed", "run.cancelled", "run.rejected"})
LEFT_OUT = {"html"}  # an article's body is not progress; the API serves it


def stream_topics() -> tuple[str, ...]:
    return tuple(
        sorted(
            spec.name for spec in TOPICS if spec.kind == "event" and spec.name.startswith(PREFIXES)
        )
    )


async def store_event(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
    if envelope.account_id is None:
        return
    exclude = LEFT_OUT & set(type(payload).model_fields)
    data: dict[str, Any] = payload.model_dump(mode="json", exclude=exclude)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(STREAM_LOCK)))
    await session.execute(
        insert(stream_events)
        .values(
            event_id=envelope.id,
            account_id=envelope.account_id,
            site_id=getattr(payload, "site_id", None) or envelope.site_id,
            run_id=getattr(payload, "run_id", None),
            type=envelope.type,
            data=data,
            time=envelope.time,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


def subscriptions(replica: str) -> list[Subscription]:
    return [
        Subscription(
            topics=stream_topics(),
            purpose=f"stream-{replica}",
            handler=store_event,
            from_beginning=False,
        )
    ]
