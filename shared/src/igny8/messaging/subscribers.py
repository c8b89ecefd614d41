"""Wiring inbox consumers into FastStream: one batch subscriber per subscription, MANUAL
acknowledgement, the offsets committed after the records' transactions (consumer.py says how
each record is applied; flow.py how a work topic's records flow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.contracts import TopicRegistry
from igny8.messaging.consumer import InboxConsumer
from igny8.messaging.polling import poll_without_idle_sleep
from igny8.messaging.subscriptions import ConsumerSettings, Subscription


def subscribe(consumer: InboxConsumer) -> None:
    """Register the consumer's subscriber on its broker."""
    settings, flow, subscription = consumer.settings, consumer.flow, consumer.subscription

    async def raw_body(message: Any) -> Any:
        return None  # records are read from message.raw_message; skip FastStream's decoding

    # Batches amortise the offset commit; each record still gets its own transaction and
    # outcome, in partition order, and the offsets are committed after the last of them.
    max_records = subscription.max_batch or settings.max_batch
    subscriber = consumer.broker.subscriber(
        *subscription.topics,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        fetch_min_bytes=settings.fetch_min_bytes,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        group_id=consumer.group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest" if subscription.from_beginning else "latest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        decoder=raw_body,
        listener=flow.rebalance_listener() if flow is not None else None,
        title=f"{consumer.group_id}:{','.join(subscription.topics)}",
    )
    poll_without_idle_sleep(
        subscriber,
        settings.batch_timeout_ms,
        max_records,
        flow.room if flow is not None else None,
    )

    @subscriber
    async def consume(body: Any, message: KafkaMessage) -> None:
        records = message.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        if flow is not None:  # commits its own offsets as records finish
            flow.take(message.consumer, batch)
            return
        unfinished = await consumer.handle_batch(batch)
        if unfinished:
            consumer.rewind(message.consumer, unfinished)
        await message.ack()  # commits the positions: after a rewind, the finished prefix


def build_consumers(
    service: str,
    subscriptions: Sequence[Subscription],
    registry: TopicRegistry,
    sessions: async_sessionmaker[AsyncSession],
    broker: KafkaBroker,
    settings: ConsumerSettings,
) -> list[InboxConsumer]:
    consumers = [
        InboxConsumer(service, s, registry, sessions, broker, settings) for s in subscriptions
    ]
    for consumer in consumers:
        subscribe(consumer)
    return consumers
