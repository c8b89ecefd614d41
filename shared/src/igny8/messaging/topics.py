"""Topics from the registry: their Kafka settings, and creating them (broker auto-creation is off).

`topic_configs` / `dlq_configs` are the one source of a topic's settings: `ensure_topics` uses them
for local runs and `scripts/kafka_topics.py` writes the same values into the Strimzi `KafkaTopic`
objects of `deploy/`, so both paths give a topic the same settings.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from igny8.contracts import MAX_MESSAGE_BYTES, TopicSpec

logging.getLogger("aiokafka.admin").setLevel(logging.CRITICAL)

DLQ_RETENTION_MS = 30 * 86_400_000
"""The dead-letter twin keeps everything for inspection and replay for 30 days."""


def _min_insync(replication: int) -> dict[str, str]:
    # With acks=all, one replica may be down while writes go on; a single replica needs none.
    return {"min.insync.replicas": str(replication - 1)} if replication > 2 else {}


def topic_configs(spec: TopicSpec, replication: int = 1) -> dict[str, str]:
    configs = {
        "cleanup.policy": spec.cleanup_policy,
        "max.message.bytes": str(MAX_MESSAGE_BYTES + 65_536),
        **_min_insync(replication),
    }
    if spec.retention_ms is not None:
        configs["retention.ms"] = str(spec.retention_ms)
    return configs


def dlq_configs(replication: int = 1) -> dict[str, str]:
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(DLQ_RETENTION_MS),
        "max.message.bytes": str(MAX_MESSAGE_BYTES + 65_536),
        **_min_insync(replication),
    }


def topic_definitions(
    specs: Iterable[TopicSpec], partitions: int | None = None, replication: int = 1
) -> list[NewTopic]:
    topics = []
    for spec in specs:
        count = partitions or spec.partitions
        topics.append(
            NewTopic(spec.name, count, replication, topic_configs=topic_configs(spec, replication))
        )
        topics.append(
            NewTopic(spec.dlq, count, replication, topic_configs=dlq_configs(replication))
        )
    return topics


async def ensure_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec],
    partitions: int | None = None,
    replication: int = 1,
) -> list[str]:
    """Create missing topics (and their `.dlq` twins); returns the names that were created."""
    wanted = topic_definitions(specs, partitions, replication)
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
