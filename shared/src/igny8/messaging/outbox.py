"""Writing messages into the outbox, inside the caller's database transaction."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import MAX_MESSAGE_BYTES, Envelope, InvalidPayload, TopicRegistry
from igny8.db.arrays import array_text
from igny8.messaging.tracing import current_trace_headers

NOTIFY_CHANNEL = "igny8_outbox"

# One round trip per add, whatever the number of rows: the rows travel as arrays, and the
# notification that wakes the relay (delivered at commit only, and once per transaction however
# often it is raised) is folded into the same statement instead of a NOTIFY of its own. Plain
# SQL over the outbox table every service already has: no trigger, no migration.
INSERT_ROWS = (
    "INSERT INTO outbox (message_id, topic, key, value, headers)"
    " SELECT i, t, k, v, CAST(h AS jsonb) FROM unnest("
    "  CAST(CAST(:ids AS text) AS uuid[]), CAST(CAST(:topics AS text) AS text[]),"
    "  CAST(:keys AS bytea[]), CAST(:values AS bytea[]), CAST(CAST(:headers AS text) AS text[])"
    " ) WITH ORDINALITY AS r(i, t, k, v, h, n) ORDER BY n"  # ids in the order given
)
"""The insert alone, with the parameters `OutboxWriter.rows` gives: a writer that folds its own
statements into one (a data-modifying WITH) adds this one and ends with `WAKE_RELAY`."""
WAKE_RELAY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"
_ADD = sa.text(f"WITH added AS ({INSERT_ROWS}) {WAKE_RELAY}")


class OutboxWriter:
    """Adds envelopes to the outbox table in an open session; never commits."""

    def __init__(self, registry: TopicRegistry) -> None:
        self._registry = registry

    async def add(self, session: AsyncSession, *envelopes: Envelope) -> None:
        if envelopes:
            await session.execute(_ADD, self.rows(*envelopes))

    def rows(self, *envelopes: Envelope) -> dict[str, Any]:
        """The parameters of `INSERT_ROWS` for `envelopes` (checked as `add` checks them)."""
        ids, topics, keys, values = [], [], [], []
        # Array parameters go as text (far cheaper than asyncpg's element-by-element encoding),
        # and what repeats is quoted once: every row of an add has the same headers (the caller's
        # current trace context), and an add's rows share a few topics.
        header = array_text(
            [json.dumps({"content-type": "application/json", **current_trace_headers()})]
        )
        topic_text: dict[str, str] = {}
        for envelope in envelopes:
            topic = envelope.type
            spec = self._registry[topic]
            value = envelope.to_bytes()
            if len(value) >= MAX_MESSAGE_BYTES:
                raise InvalidPayload(topic, "data", "message exceeds 1 MiB; send a URL")
            ids.append(str(envelope.id))
            quoted = topic_text.get(topic)
            if quoted is None:
                quoted = topic_text[topic] = array_text([topic])[1:-1]
            topics.append(quoted)
            keys.append(spec.key_of(envelope))
            values.append(value)
        return {
            "ids": "{" + ",".join(ids) + "}",  # uuids: nothing to quote
            "topics": "{" + ",".join(topics) + "}",
            "keys": keys,
            "values": values,
            "headers": "{" + ",".join([header[1:-1]] * len(envelopes)) + "}",
        }
