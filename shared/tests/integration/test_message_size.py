"""Messages near the size limit: a record the topic accepted can always be dead-lettered, and an
outbox row the broker refuses is set aside and reported instead of blocking the relay forever."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY

from igny8.contracts import MAX_MESSAGE_BYTES
from igny8.contracts.transport import DLQ_MAX_MESSAGE_BYTES
from igny8.db import session_factory
from igny8.messaging import OutboxRelay, RelaySettings, ensure_topics
from igny8.messaging.retention import DLQ_RETENTION_S
from igny8.testing import topic_records, wait_until

import ping_app
from ping_app import effect_rows

pytestmark = pytest.mark.integration


async def test_a_record_at_the_topic_limit_is_dead_lettered_and_the_partition_moves_on(
    db_url, engine, topic, kafka_bootstrap, spawn
):
    account = uuid.uuid4()
    key = str(account).encode()
    # Not JSON (undecodable), as large as the topic takes: dead-lettering adds headers to it.
    huge = b"\x00" + b"x" * (MAX_MESSAGE_BYTES + 60_000)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=4 * 2**20)
    await producer.start()
    try:
        await producer.send_and_wait(topic, huge, key=key)
        await producer.send_and_wait(topic, ping_app.ping(topic, account, 1).to_bytes(), key=key)
    finally:
        await producer.stop()
    consumer = spawn("consume", "--db", db_url, "--bootstrap", kafka_bootstrap, "--topic", topic)
    consumer.wait_for_output("consumer started")

    async def applied() -> bool:
        return len(await effect_rows(engine)) == 1

    await wait_until(applied, 60, message="the partition is stuck behind the large record")
    (dead,) = await topic_records(kafka_bootstrap, f"{topic}.dlq")
    assert dead.value == huge
    assert dict(dead.headers)["dlq-reason"] == b"undecodable"


async def test_an_outbox_row_the_broker_refuses_is_set_aside_and_reported(engine, kafka_bootstrap):
    small = f"test.small.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await ensure_topics(kafka_bootstrap, ping_app.registry(small))
    try:  # a topic whose limit was lowered far below what the producer may send
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, small, {"max.message.bytes": "2000"})]
        )
    finally:
        await admin.close()
    account = uuid.uuid4()
    big = ping_app.ping(small, account, 1).model_copy(update={"correlation_id": "x" * 5000})
    after = [ping_app.ping(small, account, seq) for seq in (2, 3)]
    sessions = session_factory(engine)
    async with sessions() as session:
        await ping_app.write_pings(session, small, [big, *after])
        await session.commit()

    relay = OutboxRelay(
        engine, kafka_bootstrap, f"sizer{uuid.uuid4().hex[:6]}", RelaySettings(poll_interval_s=0.1)
    )
    task = asyncio.create_task(relay.run())
    try:

        async def later_rows_published() -> bool:
            return len(await topic_records(kafka_bootstrap, small)) == 2

        await wait_until(later_rows_published, 60, message="the refused row blocks the relay")
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT sent_at, headers FROM outbox WHERE message_id = :m"), {"m": big.id}
            )
        ).one()
        unsent = (
            await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
        ).scalar()
    assert unsent == 0, "nothing retried forever"
    assert row.headers["igny8-unpublishable"].startswith("MessageSizeTooLargeError: ")
    assert REGISTRY.get_sample_value("igny8_outbox_unpublishable_total", {"topic": small}) == 1


async def test_a_dead_letter_topic_created_with_a_smaller_limit_gets_the_current_one(
    kafka_bootstrap,
):
    topic = f"test.grow.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:  # as wave 1 created it: the dead-letter twin no larger than its topic
        await admin.create_topics(
            [NewTopic(f"{topic}.dlq", 1, 1, topic_configs={"max.message.bytes": "1114112"})]
        )
        await ensure_topics(kafka_bootstrap, ping_app.registry(topic))
        values: dict[str, str] = {}

        async def grown() -> bool:  # a broker applies an altered config a moment after
            (described,) = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, f"{topic}.dlq", None)]
            )
            ((*_, configs),) = described.resources
            values.update({c[0]: c[1] for c in configs})
            return values["max.message.bytes"] == str(DLQ_MAX_MESSAGE_BYTES)

        await wait_until(grown, timeout=15)
    finally:
        await admin.close()
    assert values["max.message.bytes"] == str(DLQ_MAX_MESSAGE_BYTES)
    assert values["retention.ms"] == str(DLQ_RETENTION_S * 1000), "the rest of its config kept"
    assert values["cleanup.policy"] == "delete"
