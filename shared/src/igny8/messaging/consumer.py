"""Consuming with effects exactly once: inbox + handler in one transaction, then the offset.

FastStream's default (ack-first) is at-most-once, and its nack-on-error loops forever on a
poison message. Here every subscriber is MANUAL: decode → (inbox claim + handler) in one
database transaction → commit → commit the Kafka offset. Undecodable messages and handlers that
keep failing while the database answers go to `<topic>.dlq` with the reason and their original
coordinates, and the partition moves on.

Transient is not poison: a failure of the infrastructure (`failures.is_transient`, or any failure
while the database does not answer) is retried with capped backoff for as long as it lasts and
never dead-lettered. So that the consumer stays in its group meanwhile (Kafka drops a member
that does not poll within max.poll.interval), a batch waits at most `hold_batch_s`; then its
unfinished partitions are rewound to the first unfinished record and the consumer polls again,
which hands the same records back. `waiting()` says what waits and why (for /readyz).
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.contracts import ContractError, Envelope, InvalidPayload, TopicRegistry
from igny8.contracts.transport import REPLAY_HEADER_PREFIX
from igny8.messaging.batches import BatchApplier
from igny8.messaging.dead_letters import dead_letter_headers, park
from igny8.messaging.failures import WaitingRecords, is_transient
from igny8.messaging.flow import RecordFlow
from igny8.messaging.subscriptions import (
    ConsumerSettings,
    DeadLetter,
    Subscription,
)
from igny8.messaging.tables import inbox
from igny8.messaging.tracing import context_from_headers, tracer
from igny8.observability import (
    CONSUMER_WAITING,
    HANDLER_SECONDS,
    MESSAGES_CONSUMED,
    MESSAGES_DEAD_LETTERED,
    MESSAGES_RETRIED,
    TRANSIENT_FAILURES,
    get_logger,
)

log = get_logger(__name__)


@dataclass
class _Batch:
    """One polled batch: when it must be handed back, and whether it was."""

    deadline: float
    handed_back: bool = False
    unfinished: list[ConsumerRecord[Any, Any]] = field(default_factory=list)


class _HandBack(Exception):
    """The batch waited its time on the infrastructure: rewind and poll again."""


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
        self.broker = broker
        self.settings = settings
        self._waiting = WaitingRecords(3 * settings.transient_backoff_max_s + 1)
        self._backoff = settings.retry_backoff_s
        s = subscription
        batched = s.batch_handler is not None or s.batch_in_one_transaction
        # Work topics keep their own shapes: side by side, or their own short transactions.
        self._batches = (
            BatchApplier(self) if batched and not (s.parallel or s.own_transactions) else None
        )
        # Independent records in short transactions of their own: a steady flow of at most
        # `max_batch` records in flight (flow.py), not batch after batch; ordered subscriptions
        # stay one batch at a time.
        self.flow = (
            RecordFlow(self._handle_alone, s.max_batch or settings.max_batch)
            if s.parallel and s.own_transactions
            else None
        )

    def waiting(self) -> list[dict[str, Any]]:
        """Records waiting for the infrastructure, with the last error (empty when healthy)."""
        waiting = [{"consumer": self.group_id, **w} for w in self._waiting.snapshot()]
        if not waiting:
            CONSUMER_WAITING.labels(self.group_id).set(0)
        return waiting

    async def stop_in_flight(self) -> None:
        """On stop, before the broker: end the records in flight, which FastStream does not
        know of (uncommitted: redelivered to the group's next member)."""
        if self.flow is not None:
            await self.flow.cancel()

    async def _handle_alone(self, record: ConsumerRecord[Any, Any]) -> bool:
        return not await self.handle_batch((record,))

    async def handle_batch(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> list[ConsumerRecord[Any, Any]]:
        """Records of one key in order; different keys side by side (bounded), so one slow
        account never serializes the others while per-key order is kept. Returns the records
        left unfinished because the batch was handed back (the infrastructure is failing)."""
        batch = _Batch(deadline=time.monotonic() + self.settings.hold_batch_s)
        if self._batches is not None:
            await self._apply_in_lanes(records, batch)
            return batch.unfinished
        lanes: dict[object, list[ConsumerRecord[Any, Any]]] = {}
        for n, record in enumerate(records):
            lanes.setdefault(n if self.subscription.parallel else record.key, []).append(record)
        gate = asyncio.Semaphore(self.settings.key_concurrency)

        async def run(lane: list[ConsumerRecord[Any, Any]]) -> None:
            async with gate:
                for n, record in enumerate(lane):
                    if batch.handed_back:
                        batch.unfinished += lane[n:]
                        return
                    try:
                        await self.handle(record, batch)
                    except _HandBack:
                        batch.unfinished += lane[n:]
                        return

        if len(lanes) == 1:
            await run(records if isinstance(records, list) else list(records))
        else:
            await asyncio.gather(*(run(lane) for lane in lanes.values()))
        return batch.unfinished

    async def _apply_in_lanes(
        self, records: Sequence[ConsumerRecord[Any, Any]], batch: _Batch
    ) -> None:
        """A batched subscription's batch as up to `batch_lanes` transactions side by side, the
        records split by key (a key's records stay in one lane, in offset order). One lane's
        Python work then overlaps another's database round trips; keys of different lanes touch
        different rows, so the lanes do not wait on each other's locks. A lane handed back adds
        its records to `batch.unfinished`; the rewind replays them (and the inbox absorbs what
        another lane applied behind them on the same partition)."""
        assert self._batches is not None
        n = min(self.settings.batch_lanes, len(records))
        if n <= 1:
            await self._batches.apply(records, batch)
            return
        lanes: list[list[ConsumerRecord[Any, Any]]] = [[] for _ in range(n)]
        for record in records:
            lanes[hash(record.key) % n].append(record)
        applier = self._batches
        await asyncio.gather(*(applier.apply(lane, batch) for lane in lanes if lane))

    def rewind(self, consumer: Any, unfinished: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Seek each partition back to its first unfinished record; records of other keys after
        it that were applied come again and the inbox absorbs them."""
        first: dict[TopicPartition, int] = {}
        for record in unfinished:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        for tp, offset in first.items():
            try:
                consumer.seek(tp, offset)
            except Exception as exc:  # revoked meanwhile: its new owner starts from the commit
                log.info("partition not rewound", partition=str(tp), error=repr(exc))

    async def handle(self, record: ConsumerRecord[Any, Any], batch: _Batch | None = None) -> str:
        """Process one record to its final outcome (applied, duplicate, rejected, dead_lettered,
        or skipped: a replay meant for another group).
        Raises _HandBack when `batch` must be handed back (infrastructure failing too long)."""
        topic = record.topic
        replay = _replay_headers(record)
        if replay and replay.get("for") != self.group_id:
            # A replayed dead letter is for the group that dead-lettered it; this group applied
            # (or parked) the message the first time.
            MESSAGES_CONSUMED.labels(self.group_id, topic, "skipped").inc()
            return "skipped"
        if replay:
            log.warning("handling a replayed dead letter", topic=topic, **replay)
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
                return await self._apply_with_retries(record, envelope, batch)
        finally:
            structlog.contextvars.unbind_contextvars("message_id", "message_type", "correlation_id")

    async def _apply_with_retries(
        self, record: ConsumerRecord[Any, Any], envelope: Envelope, batch: _Batch | None
    ) -> str:
        topic = record.topic
        failures = 0
        while True:
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
                transient = is_transient(exc)
                if not transient:
                    failures += 1
                    if failures >= self.settings.max_attempts:
                        # The same failure N times proves the message bad only if the database
                        # answers; otherwise it is the outage speaking.
                        if await self._database_answers():
                            self._recovered(record)
                            detail = "".join(traceback.format_exception_only(exc)).strip()
                            log.error(
                                "handler kept failing; dead-lettering",
                                attempts=failures,
                                error=detail,
                            )
                            await self._dead_letter(
                                record, "handler_failed", detail, attempts=failures
                            )
                            return "dead_lettered"
                        transient = True
                if transient:
                    await self._wait_out(record, exc, batch)
                    continue
                MESSAGES_RETRIED.labels(self.group_id, topic).inc()
                log.warning("handler failed; retrying", attempt=failures, error=repr(exc))
                await asyncio.sleep(self.settings.retry_backoff_s * 2 ** (failures - 1))
                continue
            self._recovered(record)
            HANDLER_SECONDS.labels(self.group_id, topic).observe(time.perf_counter() - started)
            MESSAGES_CONSUMED.labels(self.group_id, topic, outcome).inc()
            return outcome

    async def _wait_out(
        self, record: ConsumerRecord[Any, Any], exc: BaseException, batch: _Batch | None
    ) -> None:
        """One backoff step of a transient failure; hands the batch back when it waited long."""
        if not self._waiting:
            CONSUMER_WAITING.labels(self.group_id).set(1)
            log.warning(
                "waiting for infrastructure; retrying until it is back",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=repr(exc)[:500],
            )
        self._waiting.failed(record, exc)
        TRANSIENT_FAILURES.labels(self.group_id, record.topic).inc()
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self.settings.transient_backoff_max_s)
        if batch is not None and (batch.handed_back or time.monotonic() >= batch.deadline):
            batch.handed_back = True
            raise _HandBack

    def _recovered(self, record: ConsumerRecord[Any, Any]) -> None:
        if not self._waiting.recovered(record):
            return
        self._backoff = self.settings.retry_backoff_s
        if not self._waiting:
            CONSUMER_WAITING.labels(self.group_id).set(0)
            log.warning("infrastructure is back; consuming again", topic=record.topic)

    async def _database_answers(self) -> bool:
        try:
            async with asyncio.timeout(5), self._sessions() as session:
                await session.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

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
        headers = dead_letter_headers(record, self.group_id, reason, error, attempts)
        await park(self.broker.publish, record, headers)
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


def _replay_headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {
        k.removeprefix(REPLAY_HEADER_PREFIX): v.decode(errors="replace")
        for k, v in (record.headers or ())
        if k.startswith(REPLAY_HEADER_PREFIX) and v is not None
    }


class _Invalid(Exception):
    def __init__(self, error: InvalidPayload) -> None:
        self.error = error
