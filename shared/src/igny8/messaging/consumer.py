"""Consuming with effects exactly once: inbox + handler in one transaction, then the offset.

FastStream's default (ack-first) is at-most-once, and its nack-on-error loops forever on a
poison message. Here every subscriber is MANUAL: decode → (inbox claim + handler) in one
database transaction → commit → commit the Kafka offset. Undecodable messages and handlers that
keep failing go to `<topic>.dlq` with the reason and their original coordinates, and the
partition moves on.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.contracts import ContractError, Envelope, InvalidPayload, TopicRegistry
from igny8.messaging.tables import inbox
from igny8.messaging.tracing import context_from_headers, tracer
from igny8.observability import (
    HANDLER_SECONDS,
    MESSAGES_CONSUMED,
    MESSAGES_DEAD_LETTERED,
    MESSAGES_RETRIED,
    get_logger,
)

log = get_logger(__name__)

Handler = Callable[[Envelope, BaseModel, AsyncSession], Awaitable[None]]
InvalidHandler = Callable[[Envelope, InvalidPayload, AsyncSession], Awaitable[None]]


class DeadLetter(Exception):
    """Raised by a handler for a message that can never succeed: dead-letter it now."""


@dataclass(frozen=True)
class Subscription:
    topics: tuple[str, ...]
    purpose: str
    """Consumer group is `<service>.<purpose>`; the inbox is keyed by it too."""
    handler: Handler
    on_invalid: InvalidHandler | None = None
    """Turns a decodable message with invalid data into a typed rejection (else dead letter)."""
    from_beginning: bool = True
    parallel: bool = False
    """Work topics whose messages are independent: handle a batch's records side by side
    (bounded by the consumer's key concurrency) instead of in order per key."""
    max_batch: int | None = None
    """Records per poll for this subscription (None: the consumer's setting). Work topics whose
    handlers call a provider take a few, so a batch never outlives `max.poll.interval`."""
    own_transactions: bool = False
    """The handler opens its own short transactions (a work topic around a provider call): no
    inbox transaction — nor pooled connection — is held across it; the inbox row is written once
    it returned. Its handler must be idempotent (a redelivery after a crash runs it again)."""


@dataclass(frozen=True)
class ConsumerSettings:
    max_attempts: int = 5
    retry_backoff_s: float = 0.2
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_batch: int = 200
    batch_timeout_ms: int = 50
    key_concurrency: int = 8
    """Distinct keys of one batch handled at once (keep below the database pool size)."""


class InboxConsumer:
    """Wraps one Subscription as a FastStream subscriber with MANUAL acknowledgement."""

    def __init__(
        self,
        service: str,
        subscription: Subscription,
        registry: TopicRegistry,
        sessions: async_sessionmaker[AsyncSession],
        broker: KafkaBroker,
        settings: ConsumerSettings,
    ) -> None:
        self.service = service
        self.subscription = subscription
        self.group_id = f"{service}.{subscription.purpose}"
        self._registry = registry
        self._sessions = sessions
        self._broker = broker
        self._settings = settings

    def register(self) -> None:
        async def raw_body(message: Any) -> Any:
            return None  # records are read from message.raw_message; skip FastStream's decoding

        # Batches amortise the offset commit; each record still gets its own transaction and
        # outcome, in partition order, and the offsets are committed after the last of them.
        @self._broker.subscriber(
            *self.subscription.topics,
            batch=True,
            max_records=self.subscription.max_batch or self._settings.max_batch,
            batch_timeout_ms=self._settings.batch_timeout_ms,
            group_id=self.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest" if self.subscription.from_beginning else "latest",
            session_timeout_ms=self._settings.session_timeout_ms,
            heartbeat_interval_ms=self._settings.heartbeat_interval_ms,
            decoder=raw_body,
            title=f"{self.group_id}:{','.join(self.subscription.topics)}",
        )
        async def consume(body: Any, message: KafkaMessage) -> None:
            records = message.raw_message
            await self.handle_batch(records if isinstance(records, tuple) else (records,))
            await message.ack()

    async def handle_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Records of one key in order; different keys side by side (bounded), so one slow
        account never serializes the others while per-key order is kept."""
        lanes: dict[object, list[ConsumerRecord[Any, Any]]] = {}
        for n, record in enumerate(records):
            lanes.setdefault(n if self.subscription.parallel else record.key, []).append(record)
        if len(lanes) == 1:
            for record in records:
                await self.handle(record)
            return
        gate = asyncio.Semaphore(self._settings.key_concurrency)

        async def run(lane: list[ConsumerRecord[Any, Any]]) -> None:
            async with gate:
                for record in lane:
                    await self.handle(record)

        await asyncio.gather(*(run(lane) for lane in lanes.values()))

    async def handle(self, record: ConsumerRecord[Any, Any]) -> str:
        """Process one record to its final outcome; returns applied|duplicate|dead_lettered."""
        topic = record.topic
        try:
            envelope = self._registry.decode(topic, record.value)
        except ContractError as exc:
            await self._dead_letter(record, "undecodable", str(exc))
            return "dead_lettered"
        structlog.contextvars.bind_contextvars(
            message_id=str(envelope.id),
            message_type=envelope.type,
            correlation_id=envelope.correlation_id,
        )
        try:
            ctx = context_from_headers(record.headers or ())
            with tracer.start_as_current_span(
                f"consume {topic}",
                context=ctx,
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": topic,
                    "messaging.message.id": str(envelope.id),
                },
            ):
                return await self._apply_with_retries(record, envelope)
        finally:
            structlog.contextvars.unbind_contextvars("message_id", "message_type", "correlation_id")

    async def _apply_with_retries(
        self, record: ConsumerRecord[Any, Any], envelope: Envelope
    ) -> str:
        topic = record.topic
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                outcome = await self._apply_once(envelope)
            except DeadLetter as exc:
                await self._dead_letter(record, "rejected_by_handler", str(exc))
                return "dead_lettered"
            except _Invalid as exc:
                await self._dead_letter(record, "invalid", str(exc.error))
                return "dead_lettered"
            except Exception as exc:
                if attempt >= self._settings.max_attempts:
                    detail = "".join(traceback.format_exception_only(exc)).strip()
                    log.error(
                        "handler kept failing; dead-lettering", attempts=attempt, error=detail
                    )
                    await self._dead_letter(record, "handler_failed", detail, attempts=attempt)
                    return "dead_lettered"
                MESSAGES_RETRIED.labels(self.group_id, topic).inc()
                log.warning("handler failed; retrying", attempt=attempt, error=repr(exc))
                await asyncio.sleep(self._settings.retry_backoff_s * 2 ** (attempt - 1))
                continue
            HANDLER_SECONDS.labels(self.group_id, topic).observe(time.perf_counter() - started)
            MESSAGES_CONSUMED.labels(self.group_id, topic, outcome).inc()
            return outcome

    async def _apply_once(self, envelope: Envelope) -> str:
        if self.subscription.own_transactions:
            return await self._apply_outside_a_transaction(envelope)
        async with self._sessions() as session, session.begin():
            claimed = await session.execute(
                insert(inbox)
                .values(consumer=self.group_id, message_id=envelope.id)
                .on_conflict_do_nothing()
                .returning(sa.literal(1))
            )
            if claimed.first() is None:
                log.info("duplicate delivery ignored")
                return "duplicate"
            try:
                payload = self._registry.payload(envelope)
            except InvalidPayload as exc:
                if self.subscription.on_invalid is None:
                    raise _Invalid(exc) from None
                await self.subscription.on_invalid(envelope, exc, session)
                return "rejected"
            await self.subscription.handler(envelope, payload, session)
            return "applied"

    async def _apply_outside_a_transaction(self, envelope: Envelope) -> str:
        def received() -> Any:
            return sa.select(inbox.c.message_id).where(
                inbox.c.consumer == self.group_id, inbox.c.message_id == envelope.id
            )

        async with self._sessions() as session:
            if (await session.execute(received())).first() is not None:
                log.info("duplicate delivery ignored")
                return "duplicate"
        try:
            payload = self._registry.payload(envelope)
        except InvalidPayload as exc:
            raise _Invalid(exc) from None
        async with self._sessions() as session:  # no transaction until the handler starts one
            await self.subscription.handler(envelope, payload, session)
            await session.commit()
        async with self._sessions() as session, session.begin():
            await session.execute(
                insert(inbox)
                .values(consumer=self.group_id, message_id=envelope.id)
                .on_conflict_do_nothing()
            )
        return "applied"

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], reason: str, error: str, attempts: int = 1
    ) -> None:
        headers = {
            k: v.decode(errors="replace") for k, v in (record.headers or ()) if v is not None
        }
        headers.update(
            {
                "dlq-reason": reason,
                "dlq-error": error[:4000],
                "dlq-original-topic": record.topic,
                "dlq-original-partition": str(record.partition),
                "dlq-original-offset": str(record.offset),
                "dlq-consumer": self.group_id,
                "dlq-attempts": str(attempts),
            }
        )
        delay = 0.2
        while True:  # never move past a message that was not parked somewhere
            try:
                await self._broker.publish(
                    record.value or b"",
                    topic=f"{record.topic}.dlq",
                    key=record.key,
                    headers=headers,
                )
                break
            except Exception as exc:
                log.warning("dead-letter publish failed; retrying", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        MESSAGES_DEAD_LETTERED.labels(self.group_id, record.topic, reason).inc()
        MESSAGES_CONSUMED.labels(self.group_id, record.topic, "dead_lettered").inc()
        log.warning(
            "message dead-lettered",
            reason=reason,
            error=error[:500],
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )


class _Invalid(Exception):
    def __init__(self, error: InvalidPayload) -> None:
        self.error = error


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
        consumer.register()
    return consumers
