"""Kafka entrypoint: the events a frontend follows (`run.*`, `stage.*`, `content.ready`,
`publication.*`) into the `stream_events` table, which SSE streams read by sequence.

One consumer group (`gateway.stream`) for all replicas: the table lives in the gateway's one
database, so whichever replica consumes an event stores it for every replica's streams, and a
restarted replica resumes from the group's committed offsets (a per-replica group needed a name
stable per pod, or a new group started at the latest offset and missed what came meanwhile). The
group reads from the beginning when it is new; events older than the resume window are skipped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.sqlalchemy_streams import SqlAlchemyStreamWriter
from gateway.app.stream_events import record_event
from igny8.contracts import TOPICS, Envelope
from igny8.messaging import Subscription

PREFIXES = ("run.", "stage.", "content.ready", "publication.")
TERMINAL = frozenset({"run.completed", "run.failed", "run.cancelled", "run.rejected"})
LEFT_OUT = {"html"}  # an article's body is not progress; the API serves it


def stream_topics() -> tuple[str, ...]:
    return tuple(
        sorted(
            spec.name for spec in TOPICS if spec.kind == "event" and spec.name.startswith(PREFIXES)
        )
    )


def subscriptions(retention_h: int) -> list[Subscription]:
    window = timedelta(hours=retention_h)

    async def store_event(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        exclude = LEFT_OUT & set(type(payload).model_fields)
        data: dict[str, Any] = payload.model_dump(mode="json", exclude=exclude)
        await record_event(
            SqlAlchemyStreamWriter(session),
            event_id=envelope.id,
            account_id=envelope.account_id,
            site_id=getattr(payload, "site_id", None) or envelope.site_id,
            run_id=getattr(payload, "run_id", None),
            type_=envelope.type,
            data=data,
            time=envelope.time,
            window=window,
        )

    return [
        Subscription(
            topics=stream_topics(),
            purpose="stream",
            handler=store_event,
            from_beginning=True,
        )
    ]
