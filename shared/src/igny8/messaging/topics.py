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
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from igny8.contracts import TopicSpec
from igny8.contracts.transport import (
    DLQ_MAX_MESSAGE_BYTES,
    PRODUCER_MAX_REQUEST_BYTES,
    TOPIC_MAX_MESSAGE_BYTES,
)
from igny8.messaging.retention import DLQ_RETENTION_S
from igny8.observability import get_logger

__all__ = ["PRODUCER_MAX_REQUEST_BYTES", "ensure_topics", "topic_definitions"]

logging.getLogger("aiokafka.admin").setLevel(logging.CRITICAL)
log = get_logger(__name__)


def _min_insync(replication: int) -> dict[str, str]:
    # With acks=all, one replica may be down while writes go on; a single replica needs none.
    return {"min.insync.replicas": str(replication - 1)} if replication > 2 else {}


def topic_configs(spec: TopicSpec, replication: int = 1) -> dict[str, str]:
    configs = {
        "cleanup.policy": spec.cleanup_policy,
        "max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES),
        **_min_insync(replication),
    }
    if spec.retention_ms is not None:
        configs["retention.ms"] = str(spec.retention_ms)
    return configs


def dlq_configs(replication: int = 1) -> dict[str, str]:
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(DLQ_RETENTION_S * 1000),
        "max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES),
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
    """Create missing topics (and their `.dlq` twins); returns the names that were created.
    Existing topics whose settings differ from ours (retention, size limit, cleanup policy…)
    are altered to ours: the registry is the one source of a topic's settings."""
    wanted = topic_definitions(specs, partitions, replication)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        for topic in missing:  # one by one: a concurrent creator must not fail the rest
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
        await align_topic_configs(admin, [t for t in wanted if t.name in existing])
        return [t.name for t in missing]
    finally:
        await admin.close()


async def align_topic_configs(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> list[str]:
    """Alter the topics whose current value of any setting we define differs from ours; returns
    their names. AlterConfigs replaces a topic's whole dynamic config, so all of ours is sent."""
    if not topics:
        return []
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in topics]
    )
    current: dict[str, dict[str, str]] = {
        name: {config[0]: config[1] for config in configs}
        for response in responses
        for _error, _message, _type, name, configs in response.resources
    }
    differing = [
        t
        for t in topics
        if any(current.get(t.name, {}).get(k) != v for k, v in t.topic_configs.items())
    ]
    if differing:
        await admin.alter_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, t.name, dict(t.topic_configs))
                for t in differing
            ]
        )
        log.info("topic settings aligned", topics=[t.name for t in differing])
    return [t.name for t in differing]
