"""A service's messaging: the broker factory, its inbox consumers, its outbox writer and relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from igny8.contracts import TOPICS, TopicRegistry
from igny8.messaging.consumer import InboxConsumer
from igny8.messaging.outbox import OutboxWriter
from igny8.messaging.relay import OutboxRelay, RelaySettings
from igny8.messaging.subscribers import build_consumers
from igny8.messaging.subscriptions import ConsumerSettings, Subscription
from igny8.messaging.topics import PRODUCER_MAX_REQUEST_BYTES, ensure_topics


def create_broker(service: str, bootstrap_servers: str) -> KafkaBroker:
    """FastStream's KafkaBroker with an idempotent producer; service logs at WARNING and up."""
    faststream_log = logging.getLogger(f"faststream.{service}")
    faststream_log.setLevel(logging.WARNING)
    return KafkaBroker(
        bootstrap_servers,
        client_id=service,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=10_000,
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,  # dead letters of near-limit records fit
        logger=faststream_log,
        log_level=logging.DEBUG,
    )


class Messaging:
    def __init__(
        self,
        service: str,
        bootstrap_servers: str,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        registry: TopicRegistry = TOPICS,
        consumer_settings: ConsumerSettings | None = None,
        relay_settings: RelaySettings | None = None,
        topic_partitions: int | None = None,
        topic_replication_factor: int = 1,
    ) -> None:
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        self.registry = registry
        self.sessions = sessions
        self.broker = create_broker(service, bootstrap_servers)
        self.outbox = OutboxWriter(registry)
        self.consumer_settings = consumer_settings or ConsumerSettings()
        self.relay_settings = relay_settings or RelaySettings()
        self.relay = OutboxRelay(engine, bootstrap_servers, service, self.relay_settings)
        self.consumers: list[InboxConsumer] = []
        self._topic_partitions = topic_partitions
        self._topic_replication_factor = topic_replication_factor
        self._relay_task: asyncio.Task[None] | None = None

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Register before start(): FastStream builds its consumers at start."""
        self.consumers += build_consumers(
            self.service,
            subscriptions,
            self.registry,
            self.sessions,
            self.broker,
            self.consumer_settings,
        )

    async def ensure_topics(self) -> list[str]:
        return await ensure_topics(
            self.bootstrap_servers,
            self.registry,
            self._topic_partitions,
            self._topic_replication_factor,
        )

    async def start(self, *, consume: bool = True, relay: bool = True) -> None:
        if consume:
            await self.broker.start()
        else:
            await self.broker.connect()
        if relay:
            self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}-relay")

    async def stop(self) -> None:
        self.relay.stop()
        if self._relay_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._relay_task, 10)
        for consumer in self.consumers:  # before the broker: their consumers still answer
            await consumer.stop_in_flight()
        await self.broker.stop()

    def waiting(self) -> list[dict[str, Any]]:
        """What the consumers wait for (records retried while the infrastructure fails)."""
        return [w for consumer in self.consumers for w in consumer.waiting()]

    async def kafka_reachable(self, timeout: float = 2.0) -> bool:
        try:
            return await self.broker.ping(timeout)
        except Exception:
            return False
