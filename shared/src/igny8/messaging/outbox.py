"""Writing messages into the outbox, inside the caller's database transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import MAX_MESSAGE_BYTES, Envelope, InvalidPayload, TopicRegistry
from igny8.messaging.tables import outbox
from igny8.messaging.tracing import current_trace_headers

NOTIFY_CHANNEL = "igny8_outbox"


class OutboxWriter:
    """Adds envelopes to the outbox table in an open session; never commits."""

    def __init__(self, registry: TopicRegistry) -> None:
        self._registry = registry

    async def add(self, session: AsyncSession, *envelopes: Envelope) -> None:
        if not envelopes:
            return
        rows = []
        for envelope in envelopes:
            spec = self._registry[envelope.type]
            value = envelope.to_bytes()
            if len(value) >= MAX_MESSAGE_BYTES:
                raise InvalidPayload(envelope.type, "data", "message exceeds 1 MiB; send a URL")
            headers = {"content-type": "application/json", **current_trace_headers()}
            rows.append(
                {
                    "message_id": envelope.id,
                    "topic": envelope.type,
                    "key": spec.key_of(envelope),
                    "value": value,
                    "headers": headers,
                }
            )
        await session.execute(sa.insert(outbox), rows)
        # Delivered at commit only; wakes the relay instead of waiting for its next poll.
        await session.execute(sa.text(f"NOTIFY {NOTIFY_CHANNEL}"))
