"""Applying a fetched batch in one database transaction, bisecting when a message fails.

One transaction per batch instead of one per message: one multi-row inbox claim (duplicates are
skipped by the conflict), the handlers' effects and the outbox rows they emit, one commit — then
the consumer commits the offsets. The batch is taken in fetched order (offset order per
partition, so per key), one run after another:

- a run of decoded, valid messages is applied together (`Subscription.batch_handler`, or
  `handler` called for each in the shared session);
- a transient failure waits and retries the same run, exactly like a single message does, and
  hands the batch back after `hold_batch_s` — never a dead letter;
- any other failure rolls the run back and bisects it: the halves are applied one after the
  other, down to single messages that take the per-message path (`InboxConsumer.handle`), so a
  poison message is retried, then dead-lettered alone, with today's semantics;
- records that need individual care (undecodable, invalid payload, a replayed dead letter) are
  handled alone at their place in the order, so per-key order holds around them too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from aiokafka import ConsumerRecord
from opentelemetry import context as otel_context
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import ContractError, Envelope, InvalidPayload
from igny8.contracts.transport import REPLAY_HEADER_PREFIX
from igny8.db.arrays import array_text
from igny8.messaging.failures import is_transient
from igny8.messaging.tracing import context_from_headers, tracer
from igny8.observability import HANDLER_SECONDS, MESSAGES_CONSUMED, get_logger

if TYPE_CHECKING:
    from igny8.messaging.consumer import InboxConsumer, _Batch

log = get_logger(__name__)

# One statement whatever the batch size (a cached prepared statement, not 2 x N parameters).
_CLAIM = sa.text(
    "INSERT INTO inbox (consumer, message_id) "
    "SELECT :consumer, unnest(CAST(CAST(:ids AS text) AS uuid[])) "
    "ON CONFLICT DO NOTHING RETURNING message_id"
)


async def claim(session: AsyncSession, consumer: str, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Insert the inbox rows of `ids` (distinct); returns those not received before."""
    result = await session.execute(_CLAIM, {"consumer": consumer, "ids": array_text(ids)})
    return {row[0] for row in result}


@dataclass(frozen=True)
class Item:
    """A record decoded and validated once, ready to apply."""

    record: ConsumerRecord[Any, Any]
    envelope: Envelope
    payload: BaseModel


class BatchApplier:
    """The batched path of one InboxConsumer (see the module docstring)."""

    def __init__(self, consumer: InboxConsumer) -> None:
        self._consumer = consumer
        self._subscription = consumer.subscription
        self._registry = consumer._registry

    async def apply(self, records: Sequence[ConsumerRecord[Any, Any]], batch: _Batch) -> None:
        """Sets `batch.unfinished` when the infrastructure kept failing and the batch is handed
        back; everything before the unfinished records is committed."""
        from igny8.messaging.consumer import _HandBack

        run: list[Item] = []
        done = 0  # records[:done] reached their outcome

        async def flush() -> None:
            nonlocal done
            if run:
                await self._apply_run(run, batch)
                done += len(run)
                run.clear()

        try:
            for record in records:
                item = self._prepare(record)
                if item is not None:
                    run.append(item)
                    continue
                await flush()
                await self._consumer.handle(record, batch)
                done += 1
            await flush()
        except _HandBack:
            batch.unfinished += records[done:]

    def _prepare(self, record: ConsumerRecord[Any, Any]) -> Item | None:
        """Decode and validate once; None sends the record down the per-message path."""
        if any(k.startswith(REPLAY_HEADER_PREFIX) for k, _ in record.headers or ()):
            return None
        try:
            envelope = self._registry.decode(record.topic, record.value)
            payload = self._registry.payload(envelope)
        except (ContractError, InvalidPayload):
            return None
        return Item(record, envelope, payload)

    async def _apply_run(self, items: list[Item], batch: _Batch) -> None:
        """Apply `items` in one transaction, or bisect on a failure that is not transient."""
        consumer = self._consumer
        while True:
            started = time.perf_counter()
            try:
                outcomes = await self._apply_once(items)
            except Exception as exc:
                if is_transient(exc):
                    await consumer._wait_out(items[0].record, exc, batch)
                    continue
                if len(items) == 1:
                    # Down to one message: the per-message path retries it, tells a poison
                    # message from an outage, and dead-letters it alone.
                    await consumer.handle(items[0].record, batch)
                    return
                log.info("batch failed; bisecting", messages=len(items), error=repr(exc)[:300])
                half = len(items) // 2
                await self._apply_run(items[:half], batch)
                await self._apply_run(items[half:], batch)
                return
            consumer._recovered(items[0].record)
            _count(consumer.group_id, items, outcomes, time.perf_counter() - started)
            return

    async def _apply_once(self, items: list[Item]) -> list[str]:
        """One transaction: claim, apply what is new, commit. Outcome per item, in order."""
        consumer = self._consumer
        first: dict[uuid.UUID, int] = {}
        for n, item in enumerate(items):
            first.setdefault(item.envelope.id, n)
        async with consumer._sessions() as session, session.begin():
            fresh = await claim(session, consumer.group_id, list(first))
            new = [
                item
                for n, item in enumerate(items)
                if item.envelope.id in fresh and first[item.envelope.id] == n
            ]
            if len(new) < len(items):
                log.info("duplicate deliveries ignored", duplicates=len(items) - len(new))
            if new:
                await self._handle(new, session)
        new_ids = {id(item) for item in new}
        return ["applied" if id(item) in new_ids else "duplicate" for item in items]

    async def _handle(self, items: list[Item], session: AsyncSession) -> None:
        # One consumer span per batch, not per message (a span per message was a sixth of the
        # consumer's CPU in bench/bus.py). Each message's handler still runs in that message's
        # own trace context, so what it emits continues the producer's trace.
        with tracer.start_as_current_span(
            f"consume {items[0].record.topic} batch",
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.batch.message_count": len(items)},
        ):
            batch_handler = self._subscription.batch_handler
            if batch_handler is not None:
                await batch_handler([(i.envelope, i.payload) for i in items], session)
                return
            handler = self._subscription.handler
            message_id, message_type, correlation_id = _log_context()
            try:
                for item in items:
                    envelope = item.envelope
                    message_id.set(str(envelope.id))
                    message_type.set(envelope.type)
                    correlation_id.set(envelope.correlation_id)
                    token = _attach_trace(item.record)
                    try:
                        await handler(envelope, item.payload, session)
                    finally:
                        if token is not None:
                            otel_context.detach(token)
            finally:  # what structlog's unbind does
                for var in (message_id, message_type, correlation_id):
                    var.set(Ellipsis)


def _log_context() -> tuple[ContextVar[Any], ContextVar[Any], ContextVar[Any]]:
    """structlog's context variables of a message's log fields. Set directly per message: the
    same effect as `bind_contextvars` / `unbind_contextvars` (which build and look the variables
    up by name on every call: ~8% of the consumer's CPU in bench/bus.py, once per message)."""
    tokens = structlog.contextvars.bind_contextvars(
        message_id=None, message_type=None, correlation_id=None
    )
    return tokens["message_id"].var, tokens["message_type"].var, tokens["correlation_id"].var


def _attach_trace(record: ConsumerRecord[Any, Any]) -> Token[otel_context.Context] | None:
    """Make the record's trace context current (None when it carries none: nothing to continue)."""
    headers = record.headers or ()
    if not any(k == "traceparent" for k, _ in headers):
        return None
    return otel_context.attach(context_from_headers(headers))


def _count(group: str, items: list[Item], outcomes: list[str], seconds: float) -> None:
    """Metrics per batch: one labelled child per topic and outcome, not one lookup per message,
    and each message's share of the batch's time observed once per topic for all its messages."""
    each = seconds / len(items)
    counts: dict[tuple[str, str], int] = {}
    per_topic: dict[str, int] = {}
    for item, outcome in zip(items, outcomes, strict=True):
        topic = item.record.topic
        key = (topic, outcome)
        counts[key] = counts.get(key, 0) + 1
        per_topic[topic] = per_topic.get(topic, 0) + 1
    for topic, n in per_topic.items():
        observe_many(HANDLER_SECONDS.labels(group, topic), each, n)
    for (topic, outcome), n in counts.items():
        MESSAGES_CONSUMED.labels(group, topic, outcome).inc(n)


def observe_many(histogram: Any, amount: float, n: int) -> None:
    """`n` observations of the same `amount`: what n `observe` calls record (n in the amount's
    bucket, n x amount in the sum), in two increments. Falls back to n calls on a histogram
    without prometheus_client's internals."""
    buckets = getattr(histogram, "_buckets", None)
    bounds = getattr(histogram, "_upper_bounds", None)
    total = getattr(histogram, "_sum", None)
    if buckets is None or bounds is None or total is None:
        for _ in range(n):
            histogram.observe(amount)
        return
    histogram._raise_if_not_observable()
    total.inc(amount * n)
    for bucket, bound in zip(buckets, bounds, strict=True):
        if amount <= bound:
            bucket.inc(n)
            break
