"""The outbox relay: one active per service (advisory lock), publishing in commit order.

Pipelined: while the broker acknowledges one batch, the next is read and handed to the producer
(up to `in_flight_batches`), so neither the database nor the broker round trip is waited on
alone. Batches are settled in the order they were read, and only an unbroken acknowledged prefix
is marked sent: on a failure the batches behind it are dropped unmarked and read again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from igny8.db.locks import advisory_lock_key
from igny8.messaging.outbox import NOTIFY_CHANNEL
from igny8.messaging.partitioning import cached_partitioner
from igny8.messaging.record_batches import kafka_headers, send_rows
from igny8.messaging.retention import (
    DAY_S,
    DLQ_RETENTION_S,
    INBOX_KEEP_S,
    OUTBOX_KEEP_SENT_S,
    ensure_inbox_age_index,
    purge_inbox,
    purge_sent_outbox,
)
from igny8.messaging.topics import PRODUCER_MAX_REQUEST_BYTES
from igny8.observability import (
    MESSAGES_PUBLISHED,
    OUTBOX_LAG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_UNPUBLISHABLE,
    get_logger,
)

log = get_logger(__name__)

# Rows already handed to the producer are not read again while their batch is in flight. The
# in-flight ids go through a subquery, which PostgreSQL turns into one hash table per read: as a
# plain `id <> ALL(CAST(… AS bigint[]))` filter the text-to-array cast (array_in is stable, never
# folded) was evaluated again for every row the index scan visited, and each row compared with
# every id in flight — two thirds of PostgreSQL's time in bench/bus.py (15 ms a read of 1,000 rows
# with 200 in flight, 177 ms with 1,000; 0.6 and 2.3 ms hashed).
_SELECT_UNSENT = sa.text(
    "SELECT id, topic, key, value, CAST(headers AS text) AS headers FROM outbox"
    " WHERE sent_at IS NULL"
    " AND id NOT IN (SELECT unnest(CAST(CAST(:in_flight AS text) AS bigint[])))"
    " ORDER BY id LIMIT :n"
)
_MARK_SENT = sa.text(
    "UPDATE outbox SET sent_at = now()"
    " WHERE id = ANY(CAST((SELECT CAST(CAST(:ids AS text) AS bigint[])) AS bigint[]))"
)
# A row the broker can never take is stamped like a sent one (so the relay moves on and the purge
# removes it with the sent rows) and marked with the reason; the error log and the metric alert.
_SET_ASIDE = sa.text(
    "UPDATE outbox SET sent_at = now(), headers = headers || "
    "jsonb_build_object('igny8-unpublishable', CAST(:reason AS text)) WHERE id = :id"
)
#: Errors that no retry cures: the record itself is unacceptable to the broker.
UNPUBLISHABLE = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
)
_LAG = sa.text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
    "FROM outbox WHERE sent_at IS NULL"
)


@dataclass
class _InFlight:
    rows: list[Any]
    results: asyncio.Future[Any]
    deadline: float
    """Monotonic time by which every row must be acknowledged (else the batch failed)."""
    ids: str
    """The rows' ids in array syntax without braces, made once: every read while the batch is
    in flight excludes them, and marking the whole batch sent names them again."""


def _abandon(in_flight: deque[_InFlight]) -> None:
    """Forget batches without marking them: their rows are read and sent again."""
    for batch in in_flight:
        batch.results.cancel()
    in_flight.clear()


def relay_lock_key(service: str) -> int:
    return advisory_lock_key(f"igny8.outbox.relay.{service}")


@dataclass
class RelaySettings:
    batch_size: int = 1000
    in_flight_batches: int = 4
    """Batches handed to the producer before the oldest must be acknowledged and marked."""
    linger_ms: int = 0
    """The producer's linger. The relay submits whole record batches (`record_batches.send_rows`:
    one per partition per read), which aiokafka still holds for `linger_ms` before sending; at 5
    it added ~6 ms to each message's way at half load in bench/bus.py and gathered nothing. Only
    a row sent alone (after a too-large batch) goes through the producer's own batching."""
    max_batch_bytes: int = 512 * 1024
    """Producer record-batch size per partition (aiokafka's default, 16 KiB, is ~25 messages)."""
    compression_type: str | None = None
    """None: on a local or same-zone broker the CPU costs more than the bytes saved (measured
    in bench/bus.py); "gzip" (or lz4/zstd with their libraries) where the network is the limit."""
    poll_interval_s: float = 0.5
    standby_interval_s: float = 1.0
    max_backoff_s: float = 5.0
    publish_timeout_s: float = 15.0
    """A batch not acknowledged by then counts as failed (the producer would retry forever)."""
    keep_sent_s: float = OUTBOX_KEEP_SENT_S
    keep_inbox_s: float = INBOX_KEEP_S
    """Inbox rows outlive dead-letter retention plus a margin, so a replay is still a duplicate."""
    inbox_purge_interval_s: float = 3600.0
    """The inbox purge finds old rows by the age index; hourly is plenty."""
    pause_after_publish_s: float = 0.0
    """Fault injection for tests: wait after publishing, before marking rows sent."""

    def __post_init__(self) -> None:
        if self.keep_inbox_s < DLQ_RETENTION_S + DAY_S:
            raise ValueError("keep_inbox_s must exceed the dead-letter retention by a day or more")


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        bootstrap_servers: str,
        service: str,
        settings: RelaySettings | None = None,
    ) -> None:
        self._engine = engine
        self._bootstrap = bootstrap_servers
        self._service = service
        self._settings = settings or RelaySettings()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_active = False
        self.published = 0
        self._more = False
        """The last read filled a batch: more rows may be waiting."""

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Stand by until this replica holds the lock, then relay until stopped."""
        while not self._stopping.is_set():
            try:
                async with self._engine.connect() as conn:
                    # Every statement of the relay stands alone (a read, a mark, a purge chunk):
                    # autocommit spares each poll a BEGIN and a COMMIT round trip, and an empty
                    # poll leaves no transaction behind to end.
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    if await self._try_lock(conn):
                        await self._relay_while_holding(conn)
            except Exception as exc:  # lost the database (or the lock with it): stand by, retry
                log.warning("outbox relay stopped relaying; standing by", error=repr(exc))
            self.is_active = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.standby_interval_s)

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        key = relay_lock_key(self._service)
        got = (await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        return bool(got)

    async def _relay_while_holding(self, conn: AsyncConnection) -> None:
        self.is_active = True
        log.info("outbox relay active", service=self._service)
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None

        def on_notify(*_: object) -> None:
            self._wake.set()

        await driver.add_listener(NOTIFY_CHANNEL, on_notify)
        producer: AIOKafkaProducer | None = None
        in_flight: deque[_InFlight] = deque()
        backoff = 0.1
        # -inf: the first pass purges at once (monotonic time may start near zero at boot).
        last_purge = last_inbox_purge = float("-inf")
        try:
            while not self._stopping.is_set():
                # the wake-up is cleared where the outbox is read (`_relay_step`), not here: a
                # notification that came after the last read still counts
                try:
                    if producer is None:
                        producer = await self._start_producer()
                    read = await self._relay_step(conn, producer, in_flight)
                    backoff = 0.1
                except (sa.exc.DBAPIError, sa.exc.InterfaceError):
                    raise  # the database is gone: give up the lock and stand by
                except Exception as exc:  # Kafka unavailable: rows stay, we retry with backoff
                    _abandon(in_flight)  # unmarked: read and sent again
                    log.warning(
                        "outbox relay cannot publish; retrying", error=repr(exc), backoff_s=backoff
                    )
                    if producer is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(producer.stop(), 5)
                        producer = None
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, self._settings.max_backoff_s)
                    continue
                # The active relay is the service's one periodic maintainer of both tables.
                if time.monotonic() - last_purge > 60:
                    last_purge = time.monotonic()
                    await self._observe_and_purge(conn)
                if time.monotonic() - last_inbox_purge > self._settings.inbox_purge_interval_s:
                    if last_inbox_purge == float("-inf") and await ensure_inbox_age_index(conn):
                        log.info("inbox age index built")
                    last_inbox_purge = time.monotonic()
                    purged = await purge_inbox(conn, self._settings.keep_inbox_s)
                    if purged:
                        log.info("inbox rows purged", rows=purged)
                if not read and not in_flight:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)
        finally:
            _abandon(in_flight)
            with contextlib.suppress(Exception):
                await driver.remove_listener(NOTIFY_CHANNEL, on_notify)
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=self._settings.linger_ms,
            max_batch_size=self._settings.max_batch_bytes,
            compression_type=self._settings.compression_type,
            request_timeout_ms=10_000,
            max_request_size=PRODUCER_MAX_REQUEST_BYTES,
            client_id=f"{self._service}-outbox-relay",
            partitioner=cached_partitioner,
        )
        try:
            await producer.start()
        except Exception:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        return producer

    async def _relay_step(
        self, conn: AsyncConnection, producer: AIOKafkaProducer, in_flight: deque[_InFlight]
    ) -> int:
        """Read and send one batch when there is room; settle the oldest batches that are
        acknowledged (or wait for the oldest when nothing else can be done). Rows read."""
        rows: list[Any] = []
        timeout = self._settings.publish_timeout_s
        room = len(in_flight) < self._settings.in_flight_batches
        # Read when there is room — but while a batch is in flight, only if the last read filled
        # a batch or new rows were notified since: a short read took every row there was, so
        # a read now would be empty (one statement per batch fewer). Rows committed without a
        # notification are found by the next poll, as ever.
        if room and (not in_flight or self._more or self._wake.is_set()):
            self._wake.clear()
            sending = "{" + ",".join(batch.ids for batch in in_flight) + "}"
            rows = list(
                (
                    await conn.execute(
                        _SELECT_UNSENT, {"n": self._settings.batch_size, "in_flight": sending}
                    )
                ).all()
            )
            self._more = len(rows) >= self._settings.batch_size
            if rows:
                results = await asyncio.wait_for(self._send(producer, rows), timeout)
                ids = ",".join([str(row.id) for row in rows])
                in_flight.append(_InFlight(rows, results, time.monotonic() + timeout, ids))
        if in_flight and not rows and not in_flight[0].results.done():
            # Nothing new to send: wait for the oldest batch's acknowledgements, or for new
            # rows (a notification), whichever comes first.
            head = in_flight[0]
            # new rows wake this wait only when there is room to read them
            woken = asyncio.ensure_future(self._wake.wait() if room else self._stopping.wait())
            try:
                await asyncio.wait(
                    {head.results, woken},
                    timeout=max(0.0, head.deadline - time.monotonic()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                woken.cancel()
            if not head.results.done() and time.monotonic() >= head.deadline:
                raise TimeoutError(f"{len(head.rows)} records not acknowledged in {timeout}s")
        while in_flight and in_flight[0].results.done():
            batch = in_flight.popleft()
            if not await self._settle(conn, producer, batch, batch.results.result()):
                _abandon(in_flight)  # behind a row sent alone: read and sent again, in order
        return len(rows)

    async def _send(self, producer: AIOKafkaProducer, rows: list[Any]) -> asyncio.Future[Any]:
        """Hand the rows to the producer in order; a future of their results, in row order."""
        return await send_rows(producer, rows)

    async def _settle(
        self, conn: AsyncConnection, producer: AIOKafkaProducer, batch: _InFlight, results: Any
    ) -> bool:
        """Mark the acknowledged prefix of one batch; False when a row was set aside or sent
        alone (the rest of the batch, and the batches behind it, go again). Raises a failure."""
        rows = batch.rows
        # Mark only the unbroken prefix: a later row never counts as sent before an earlier one.
        done: list[int] = []
        failure: BaseException | None = None
        set_aside: list[tuple[int, str]] = []
        published: dict[str, int] = {}
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, UNPUBLISHABLE):
                # The broker refuses whole record batches, so batch-mates of a too-large row fail
                # with it: try this row alone; the rows after it go again in the next batch.
                alone = await self._send_alone(producer, row)
                if alone is None:
                    done.append(row.id)
                    published[row.topic] = published.get(row.topic, 0) + 1
                elif isinstance(alone, UNPUBLISHABLE):
                    reason = (
                        f"{type(alone).__name__}: {len(row.value)} bytes refused by {row.topic}"
                    )
                    set_aside.append((row.id, reason))
                    OUTBOX_UNPUBLISHABLE.labels(row.topic).inc()
                    log.error(
                        "outbox row can never be published; set aside",
                        topic=row.topic,
                        outbox_id=row.id,
                        bytes=len(row.value),
                        error=repr(alone),
                    )
                else:
                    failure = alone
                break
            if isinstance(result, BaseException):
                failure = result
                break
            done.append(row.id)
            published[row.topic] = published.get(row.topic, 0) + 1
        for topic, count in published.items():
            MESSAGES_PUBLISHED.labels(topic).inc(count)
        for row_id, reason in set_aside:
            await conn.execute(_SET_ASIDE, {"id": row_id, "reason": reason})
        if self._settings.pause_after_publish_s and done:
            log.info("relay published, pausing before marking sent", rows=len(done))
            await asyncio.sleep(self._settings.pause_after_publish_s)
        if done:
            ids = batch.ids if len(done) == len(rows) else ",".join(map(str, done))
            await conn.execute(_MARK_SENT, {"ids": "{" + ids + "}"})
            self.published += len(done)
        if failure is not None:
            raise failure
        return len(done) == len(rows)

    async def _send_alone(self, producer: AIOKafkaProducer, row: Any) -> BaseException | None:
        headers = kafka_headers(row.headers)
        try:
            sent = await producer.send(row.topic, value=row.value, key=row.key, headers=headers)
            await asyncio.wait_for(sent, self._settings.publish_timeout_s)
        except Exception as exc:
            return exc
        return None

    async def _observe_and_purge(self, conn: AsyncConnection) -> None:
        count, age = (await conn.execute(_LAG)).one()
        OUTBOX_LAG.set(count)
        OUTBOX_OLDEST_AGE.set(float(age))
        await purge_sent_outbox(conn, self._settings.keep_sent_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
