"""Creating topics from the registry (the broker's auto-creation stays off)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from igny8.contracts import TopicSpec
from igny8.contracts.transport import (
    DLQ_MAX_MESSAGE_BYTES,
    PRODUCER_MAX_REQUEST_BYTES,
    TOPIC_MAX_MESSAGE_BYTES,
)
from igny8.messaging.retention import DLQ_RETENTION_S

__all__ = ["PRODUCER_MAX_REQUEST_BYTES", "ensure_topics", "topic_definitions"]

logging.getLogger("aiokafka.admin").setLevel(logging.CRITICAL)


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
