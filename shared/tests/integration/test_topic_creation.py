"""Topic creation at worker start is a setting: on locally, off where KafkaTopic objects own topics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.config import ServiceSettings
from igny8.db import session_factory
from igny8.messaging import Messaging
from igny8.runtime import Service, create_app
from igny8.testing import wait_until

import ping_app

pytestmark = pytest.mark.integration


async def topic_names(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


@asynccontextmanager
async def started_worker(
    settings: ServiceSettings, engine: AsyncEngine, topic: str
) -> AsyncIterator[None]:
    sessions = session_factory(engine)
    messaging = Messaging(
        "pinger",
        settings.kafka_bootstrap_servers,
        engine,
        sessions,
        registry=ping_app.registry(topic),
        topic_replication_factor=settings.topic_replication_factor,
    )
    service = Service(
        "pinger", settings, Path(ping_app.__file__).parent, engine, sessions, messaging
    )
    app = create_app(service)
    async with app.router.lifespan_context(app):
        yield


async def test_a_worker_with_topic_creation_off_creates_no_topic(kafka_bootstrap, engine):
    topic = f"test.nocreate.{uuid.uuid4().hex[:10]}"
    settings = ServiceSettings(
        role="worker", kafka_bootstrap_servers=kafka_bootstrap, IGNY8_CREATE_TOPICS="false"
    )
    assert settings.create_topics is False
    async with started_worker(settings, engine, topic):
        names = await topic_names(kafka_bootstrap)
        assert topic not in names and f"{topic}.dlq" not in names


async def test_a_worker_with_topic_creation_on_creates_the_topic_and_its_twin(
    kafka_bootstrap, engine
):
    topic = f"test.create.{uuid.uuid4().hex[:10]}"
    settings = ServiceSettings(role="worker", kafka_bootstrap_servers=kafka_bootstrap)
    assert settings.create_topics is True
    async with started_worker(settings, engine, topic):

        async def both_listed() -> bool:  # a fresh topic reaches the metadata a moment later
            return {topic, f"{topic}.dlq"} <= await topic_names(kafka_bootstrap)

        await wait_until(both_listed, timeout=15)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, f"{topic}.dlq")]
        )
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
    assert configs["retention.ms"] == str(30 * 86_400_000)


def test_replication_factor_above_two_requires_all_but_one_replica_in_sync():
    from igny8.contracts import TOPICS
    from igny8.messaging.topics import topic_definitions

    spec = TOPICS["credit.reserve"]
    local, replicated = (
        topic_definitions([spec], replication=1),
        topic_definitions([spec], replication=3),
    )
    assert all(t.replication_factor == 1 for t in local)
    assert all("min.insync.replicas" not in t.topic_configs for t in local)
    assert all(t.replication_factor == 3 for t in replicated)
    assert all(t.topic_configs["min.insync.replicas"] == "2" for t in replicated)
