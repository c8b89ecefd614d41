"""Upkeep of the messaging tables and topics: an idle relay opens no transactions, older inboxes
get their age index, existing topics take the registry's settings, and a batched handler runs in
its message's own trace context."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import asyncpg.transaction
import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from igny8.contracts import TopicRegistry, TopicSpec
from igny8.db import session_factory
from igny8.db.arrays import array_param, array_text
from igny8.messaging import (
    ConsumerSettings,
    InboxConsumer,
    Messaging,
    OutboxRelay,
    RelaySettings,
    Subscription,
    ensure_topics,
)
from igny8.messaging.tables import INBOX_AGE_INDEX
from igny8.messaging.tracing import current_trace_headers
from igny8.testing import wait_until

import ping_app
from ping_app import Ping

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def test_an_idle_relay_polls_without_opening_a_transaction_each_time(
    engine, kafka_bootstrap, monkeypatch
):
    started: list[object] = []
    start = asyncpg.transaction.Transaction.start

    async def counted(self):  # type: ignore[no-untyped-def]
        started.append(self)
        return await start(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    relay = OutboxRelay(
        engine, kafka_bootstrap, f"idle{uuid.uuid4().hex[:6]}", RelaySettings(poll_interval_s=0.02)
    )
    async with running(relay):

        async def active() -> bool:
            return relay.is_active

        await wait_until(active, timeout=30)
        await asyncio.sleep(1.0)  # first-pass upkeep (purges, the index check) done by now
        before = len(started)
        await asyncio.sleep(1.0)  # some fifty empty polls
        assert relay.is_active
        assert len(started) - before == 0, "an empty poll began (and committed) a transaction"


async def test_the_relay_builds_the_inbox_age_index_an_older_database_lacks(
    engine, kafka_bootstrap
):
    async with engine.begin() as conn:  # a database migrated before the index existed
        await conn.execute(sa.text(f"DROP INDEX {INBOX_AGE_INDEX}"))

    async def index_valid() -> bool | None:
        async with engine.connect() as conn:
            return (
                await conn.execute(
                    sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"),
                    {"n": INBOX_AGE_INDEX},
                )
            ).scalar()

    assert await index_valid() is None
    relay = OutboxRelay(engine, kafka_bootstrap, f"idx{uuid.uuid4().hex[:6]}", RelaySettings())
    async with running(relay):
        await wait_until(index_valid, timeout=30, message="the relay did not build the index")
    async with engine.connect() as conn:
        definition = (
            await conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                {"n": INBOX_AGE_INDEX},
            )
        ).scalar()
    assert definition is not None and "(received_at)" in definition


async def topic_config(bootstrap: str, name: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    return {entry[0]: entry[1] for entry in described[0].resources[0][4]}


async def test_ensure_topics_alters_an_existing_topic_whose_settings_differ(kafka_bootstrap):
    name = f"test.align.{uuid.uuid4().hex[:10]}"

    def spec(days: int) -> TopicRegistry:
        return TopicRegistry(
            [TopicSpec(name, Ping, "account_id", "event", "pinger", retention_ms=days * 86_400_000)]
        )

    assert await ensure_topics(kafka_bootstrap, spec(3)) == [name, f"{name}.dlq"]
    assert (await topic_config(kafka_bootstrap, name))["retention.ms"] == str(3 * 86_400_000)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:  # someone shrank the dead-letter twin's size limit by hand
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    f"{name}.dlq",
                    {"max.message.bytes": "100000", "retention.ms": str(30 * 86_400_000)},
                )
            ]
        )
    finally:
        await admin.close()

    async def shrunk() -> bool:  # a broker applies a config change a moment after it is accepted
        return (await topic_config(kafka_bootstrap, f"{name}.dlq"))["max.message.bytes"] == "100000"

    await wait_until(shrunk, timeout=15)
    assert await ensure_topics(kafka_bootstrap, spec(9)) == [], "nothing new to create"

    async def aligned() -> bool:
        topic = await topic_config(kafka_bootstrap, name)
        dlq = await topic_config(kafka_bootstrap, f"{name}.dlq")
        return (
            topic["retention.ms"] == str(9 * 86_400_000)
            and int(dlq["max.message.bytes"]) > 1_000_000
        )

    await wait_until(aligned, timeout=15, message="the existing topics kept their old settings")


async def test_a_batched_handler_runs_in_its_messages_own_trace_context(
    engine, kafka_bootstrap, topic
):
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    messaging = Messaging(
        "pinger", kafka_bootstrap, engine, session_factory(engine), ping_app.registry(topic)
    )
    trace_ids: dict[int, int] = {}
    seen: dict[int, int] = {}
    rows = []
    for seq in (1, 2, 3):
        with tracer.start_as_current_span(f"request {seq}") as span:
            trace_ids[seq] = span.get_span_context().trace_id
            headers = [(k, v.encode()) for k, v in current_trace_headers().items()]
        envelope = ping_app.ping(topic, uuid.uuid4(), seq)
        rows.append(
            SimpleNamespace(
                topic=topic,
                partition=0,
                offset=seq,
                key=str(envelope.account_id).encode(),
                value=envelope.to_bytes(),
                headers=headers,
            )
        )

    async def handler(envelope, payload, session) -> None:  # type: ignore[no-untyped-def]
        seen[payload.seq] = trace.get_current_span().get_span_context().trace_id
        assert current_trace_headers()["traceparent"].split("-")[1] == f"{seen[payload.seq]:032x}"

    consumer = InboxConsumer(
        "pinger",
        Subscription((topic,), "traced", handler, batch_in_one_transaction=True),
        messaging.registry,
        messaging.sessions,
        messaging.broker,
        ConsumerSettings(),
    )
    assert await consumer.handle_batch(rows) == []  # type: ignore[arg-type]
    assert seen == trace_ids, "each message's handler continues that message's trace"


async def test_array_text_reaches_postgresql_as_the_same_values(engine):
    tricky = [
        "plain",
        'a "quoted" word',
        "back\\slash",
        "NULL",
        "",
        "{braces}, commas",
        "ünï",
        None,
    ]
    ids = [uuid.uuid4(), uuid.uuid4()]
    when = [datetime(2026, 11, 26, 19, 30, 1, 250000, tzinfo=UTC)]
    async with engine.connect() as conn:
        texts = (
            await conn.execute(
                sa.text(f"SELECT {array_param('t', 'text')}"), {"t": array_text(tricky)}
            )
        ).scalar()
        uuids = (
            await conn.execute(
                sa.text(f"SELECT {array_param('u', 'uuid')}"), {"u": array_text(ids)}
            )
        ).scalar()
        numbers = (
            await conn.execute(
                sa.text(f"SELECT {array_param('n', 'bigint')}"), {"n": array_text([1, -2, 2**40])}
            )
        ).scalar()
        flags = (
            await conn.execute(
                sa.text(f"SELECT {array_param('b', 'boolean')}"), {"b": array_text([True, False])}
            )
        ).scalar()
        times = (
            await conn.execute(
                sa.text(f"SELECT {array_param('w', 'timestamptz')}"), {"w": array_text(when)}
            )
        ).scalar()
    assert texts == tricky
    assert uuids == ids
    assert numbers == [1, -2, 2**40]
    assert flags == [True, False]
    assert times == when
    with pytest.raises(ValueError, match="naive"):
        array_text([datetime(2026, 1, 1)])


async def test_the_relay_excludes_rows_in_flight_through_one_hash_table_per_read(engine):
    """The relay's read skips the rows of batches still in flight. As a plain `<> ALL(array)`
    filter the array text was parsed again for every row the scan visited and each row compared
    with every id in flight (two thirds of PostgreSQL's time in bench/bus.py); the subquery is
    built once per read into a hash table. Same rows, same order either way."""
    from igny8.messaging.relay import _SELECT_UNSENT

    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO outbox (message_id, topic, key, value)"
                " SELECT gen_random_uuid(), 't', '\\x6b', '\\x76' FROM generate_series(1, 6)"
            )
        )
        ids = [r[0] for r in await conn.execute(sa.text("SELECT id FROM outbox ORDER BY id"))]
        in_flight = "{" + ",".join(map(str, [ids[1], ids[4]])) + "}"
        read = await conn.execute(_SELECT_UNSENT, {"n": 10, "in_flight": in_flight})
        assert [row.id for row in read] == [ids[0], ids[2], ids[3], ids[5]]
        assert [
            row.id for row in await conn.execute(_SELECT_UNSENT, {"n": 2, "in_flight": "{}"})
        ] == ids[:2]
        plan = "\n".join(
            row[0]
            for row in await conn.execute(
                sa.text(f"EXPLAIN {_SELECT_UNSENT.text}"), {"n": 10, "in_flight": in_flight}
            )
        )
        assert "hashed SubPlan" in plan, plan
        await conn.execute(sa.text("DELETE FROM outbox"))
