"""The outbox relay: one active per service (advisory lock), publishing in commit order."""

from __future__ import annotations

import asyncio
import contextlib
import time
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
from igny8.messaging.retention import (
    DAY_S,
    DLQ_RETENTION_S,
    INBOX_KEEP_S,
    OUTBOX_KEEP_SENT_S,
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

_SELECT_UNSENT = sa.text(
    "SELECT id, topic, key, value, headers FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT :n"
)
_MARK_SENT = sa.text("UPDATE outbox SET sent_at = now() WHERE id = ANY(:ids)")
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


def relay_lock_key(service: str) -> int:
    return advisory_lock_key(f"igny8.outbox.relay.{service}")


@dataclass
class RelaySettings:
    batch_size: int = 500
    poll_interval_s: float = 0.5
    standby_interval_s: float = 1.0
    max_backoff_s: float = 5.0
    publish_timeout_s: float = 15.0
    """A batch not acknowledged by then counts as failed (the producer would retry forever)."""
    keep_sent_s: float = OUTBOX_KEEP_SENT_S
    keep_inbox_s: float = INBOX_KEEP_S
    """Inbox rows outlive dead-letter retention plus a margin, so a replay is still a duplicate."""
    inbox_purge_interval_s: float = 3600.0
    """The inbox purge scans the table (no index on age): hourly is plenty."""
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

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Stand by until this replica holds the lock, then relay until stopped."""
        while not self._stopping.is_set():
            try:
                async with self._engine.connect() as conn:
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
        await conn.commit()
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
        backoff = 0.1
        # -inf: the first pass purges at once (monotonic time may start near zero at boot).
        last_purge = last_inbox_purge = float("-inf")
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    if producer is None:
                        producer = await self._start_producer()
                    sent = await self._relay_batch(conn, producer)
                    backoff = 0.1
                except (sa.exc.DBAPIError, sa.exc.InterfaceError):
                    raise  # the database is gone: give up the lock and stand by
                except Exception as exc:  # Kafka unavailable: rows stay, we retry with backoff
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
                    last_inbox_purge = time.monotonic()
                    purged = await purge_inbox(conn, self._settings.keep_inbox_s)
                    if purged:
                        log.info("inbox rows purged", rows=purged)
                if sent < self._settings.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)
        finally:
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
            linger_ms=2,
            request_timeout_ms=10_000,
            max_request_size=PRODUCER_MAX_REQUEST_BYTES,
            client_id=f"{self._service}-outbox-relay",
        )
        try:
            await producer.start()
        except Exception:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        return producer

    async def _relay_batch(self, conn: AsyncConnection, producer: AIOKafkaProducer) -> int:
        rows = (await conn.execute(_SELECT_UNSENT, {"n": self._settings.batch_size})).all()
        await conn.commit()
        if not rows:
            return 0

        async def send_all() -> list[object]:
            futures: list[asyncio.Future[object]] = []
            for row in rows:
                headers = [(k, str(v).encode()) for k, v in (row.headers or {}).items()]
                try:
                    futures.append(
                        await producer.send(
                            row.topic, value=row.value, key=row.key, headers=headers
                        )
                    )
                except UNPUBLISHABLE as exc:  # refused by the client before sending
                    refused: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                    refused.set_exception(exc)
                    futures.append(refused)
            return list(await asyncio.gather(*futures, return_exceptions=True))

        results = await asyncio.wait_for(send_all(), self._settings.publish_timeout_s)
        # Mark only the unbroken prefix: a later row never counts as sent before an earlier one.
        done: list[int] = []
        failure: BaseException | None = None
        set_aside: list[tuple[int, str]] = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, UNPUBLISHABLE):
                # The broker refuses whole record batches, so batch-mates of a too-large row fail
                # with it: try this row alone; the rows after it go again in the next batch.
                alone = await self._send_alone(producer, row)
                if alone is None:
                    done.append(row.id)
                    MESSAGES_PUBLISHED.labels(row.topic).inc()
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
            MESSAGES_PUBLISHED.labels(row.topic).inc()
        for row_id, reason in set_aside:
            await conn.execute(_SET_ASIDE, {"id": row_id, "reason": reason})
        if set_aside:
            await conn.commit()
        if self._settings.pause_after_publish_s and done:
            log.info("relay published, pausing before marking sent", rows=len(done))
            await asyncio.sleep(self._settings.pause_after_publish_s)
        if done:
            await conn.execute(_MARK_SENT, {"ids": done})
            await conn.commit()
            self.published += len(done)
        if failure is not None:
            raise failure
        return len(rows)

    async def _send_alone(self, producer: AIOKafkaProducer, row: Any) -> BaseException | None:
        headers = [(k, str(v).encode()) for k, v in (row.headers or {}).items()]
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
        await conn.commit()
        await purge_sent_outbox(conn, self._settings.keep_sent_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
