"""What a service declares to consume: its subscriptions (topics, handlers, batching) and the
consumer's settings. `consumer.py` applies them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import Envelope, InvalidPayload

Handler = Callable[[Envelope, BaseModel, AsyncSession], Awaitable[None]]
InvalidHandler = Callable[[Envelope, InvalidPayload, AsyncSession], Awaitable[None]]
BatchHandler = Callable[[Sequence[tuple[Envelope, BaseModel]], AsyncSession], Awaitable[None]]
"""Applies several messages in one transaction: the batch's new (non-duplicate), valid messages
in offset order per partition (it may mix the subscription's topics and partitions). Emitted
messages must carry each message's own context (`MessageContext.of(envelope)` per unit of work)."""


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
    handlers call a provider take a few, so a batch never outlives `max.poll.interval`. With
    `parallel` and `own_transactions` it bounds the records in flight instead: they flow, the
    next fetched the moment one ends (`flow.RecordFlow`)."""
    own_transactions: bool = False
    """The handler opens its own short transactions (a work topic around a provider call): no
    inbox transaction — nor pooled connection — is held across it; the inbox row is written once
    it returned. Its handler must be idempotent (a redelivery after a crash runs it again)."""
    batch_handler: BatchHandler | None = None
    """Applies a fetched batch in one transaction (one inbox insert, its effects, one commit).
    On a failure that is not transient the transaction rolls back and the batch is bisected,
    down to single messages that go through `handler` (the reference behaviour, so it stays
    required): a poison message still reaches the dead-letter topic alone."""
    batch_in_one_transaction: bool = False
    """Without a batch_handler: call `handler` for each message of a batch in one shared
    transaction, with the same bisecting fallback. Opt-in: the handler must not depend on
    committing alone (it joins the consumer's session, as every handler does today)."""


@dataclass(frozen=True)
class ConsumerSettings:
    max_attempts: int = 5
    retry_backoff_s: float = 0.2
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_batch: int = 200
    """Records per poll: the batch one transaction applies (a subscription may take fewer)."""
    batch_timeout_ms: int = 50
    """How long a poll waits when nothing is buffered yet."""
    fetch_min_bytes: int = 1
    """The broker answers a fetch once this many bytes are ready or fetch_max_wait_ms passed."""
    fetch_max_wait_ms: int = 500
    key_concurrency: int = 8
    """Distinct keys of one batch handled at once (keep below the database pool size)."""
    batch_lanes: int = 1
    """A batched subscription may split a fetched batch by key into this many lanes, each applied
    in its own transaction side by side (keys never share a lane, so per-key order holds): one
    lane's Python work overlaps another's database round trips where a core is idle. Off (1) by
    default: on a saturated machine it measured no gain and more CPU per message (smaller
    transactions)."""
    transient_backoff_max_s: float = 5.0
    """Cap of the backoff between attempts while the infrastructure is failing."""
    hold_batch_s: float = 30.0
    """How long a batch waits on the infrastructure before it is handed back and polled again."""
    max_poll_interval_ms: int = 300_000
    """Kafka drops a member that does not poll this long; must exceed hold_batch_s plenty."""

    def __post_init__(self) -> None:
        if self.hold_batch_s * 1000 * 2 > self.max_poll_interval_ms:
            raise ValueError("hold_batch_s must stay well below max_poll_interval_ms")


__all__ = [
    "BatchHandler",
    "ConsumerSettings",
    "DeadLetter",
    "Handler",
    "InvalidHandler",
    "Subscription",
]
