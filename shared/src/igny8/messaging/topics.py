"""Creating topics from the registry (the broker's auto-creation stays off)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from igny8.contracts import MAX_MESSAGE_BYTES, TopicSpec
from igny8.messaging.retention import DLQ_RETENTION_S

logging.getLogger("aiokafka.admin").setLevel(logging.CRITICAL)

# Size limits, each layer with room for what the next one adds. Writers keep envelopes under
# MAX_MESSAGE_BYTES (1 MiB); topics take a record up to 64 KiB more (headers, batch framing);
# dead-letter topics take 64 KiB more again, because dead-lettering copies a record the topic
# accepted and adds its own headers (bounded, see consumer); producers may send anything a
# dead-letter topic takes, so the broker, not the client, is the one that refuses.
TOPIC_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES + 65_536
DLQ_MAX_MESSAGE_BYTES = TOPIC_MAX_MESSAGE_BYTES + 65_536
PRODUCER_MAX_REQUEST_BYTES = DLQ_MAX_MESSAGE_BYTES


def topic_definitions(
    specs: Iterable[TopicSpec], partitions: int | None = None, replication: int = 1
) -> list[NewTopic]:
    topics = []
    for spec in specs:
        count = partitions or spec.partitions
        configs = {
            "cleanup.policy": spec.cleanup_policy,
            "max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES),
        }
        if spec.retention_ms is not None:
            configs["retention.ms"] = str(spec.retention_ms)
        topics.append(NewTopic(spec.name, count, replication, topic_configs=configs))
        # The dead-letter twin keeps everything for inspection and replay (30 days).
        topics.append(
            NewTopic(
                spec.dlq,
                count,
                replication,
                topic_configs={
                    "cleanup.policy": "delete",
                    "retention.ms": str(DLQ_RETENTION_S * 1000),
                    "max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES),
                },
            )
        )
    return topics


async def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], partitions: int | None = None
) -> list[str]:
    """Create missing topics (and their `.dlq` twins); returns the names that were created."""
    wanted = topic_definitions(specs, partitions)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        for topic in missing:  # one by one: a concurrent creator must not fail the rest
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
        return [t.name for t in missing]
    finally:
        await admin.close()
