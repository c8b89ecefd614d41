"""Outbox → relay → Kafka → inbox consumer, each in its own process, on the real broker and DB."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.db import session_factory
from igny8.testing import count_records, wait_until

import ping_app
from ping_app import effect_rows, unsent

pytestmark = pytest.mark.integration


async def write(engine: AsyncEngine, topic: str, pings: list, rollback: bool = False) -> None:
    async with session_factory(engine)() as session:
        await ping_app.write_pings(session, topic, pings)
        if rollback:
            await session.rollback()
        else:
            await session.commit()


async def test_committed_message_reaches_another_process_and_a_rolled_back_one_never_does(
    db_url, engine, topic, kafka_bootstrap, spawn
):
    account = uuid.uuid4()
    consumer = spawn("consume", "--db", db_url, "--bootstrap", kafka_bootstrap, "--topic", topic)
    relay = spawn("relay", "--db", db_url, "--bootstrap", kafka_bootstrap)
    consumer.wait_for_output("consumer started")
    relay.wait_for_output("relay started")

    await write(engine, topic, [ping_app.ping(topic, account, 1)])
    await write(engine, topic, [ping_app.ping(topic, account, 2)], rollback=True)
    await write(engine, topic, [ping_app.ping(topic, account, 3)])

    async def both_arrived() -> bool:
        return len(await effect_rows(engine)) >= 2

    await wait_until(both_arrived, 60, message="committed messages did not arrive")
    rows = await effect_rows(engine)
    assert [r.seq for r in rows] == [1, 3]
    assert all(r.pid == consumer.proc.pid for r in rows)
    assert await count_records(kafka_bootstrap, topic) == 2
    assert await unsent(engine) == 0


async def test_relay_killed_after_publishing_causes_duplicates_that_the_inbox_absorbs(
    db_url, engine, topic, kafka_bootstrap, spawn
):
    account = uuid.uuid4()
    consumer = spawn("consume", "--db", db_url, "--bootstrap", kafka_bootstrap, "--topic", topic)
    slow_relay = spawn(
        "relay", "--db", db_url, "--bootstrap", kafka_bootstrap, "--pause-after-publish", "60"
    )
    consumer.wait_for_output("consumer started")
    slow_relay.wait_for_output("relay started")
    await write(engine, topic, [ping_app.ping(topic, account, i) for i in range(20)])

    slow_relay.wait_for_output("pausing before marking sent", 60)
    slow_relay.kill()
    assert await unsent(engine) == 20, "the killed relay must not have marked anything sent"

    async def first_copies_applied() -> bool:
        return len(await effect_rows(engine)) == 20

    await wait_until(first_copies_applied, 60)

    relay = spawn("relay", "--db", db_url, "--bootstrap", kafka_bootstrap)
    relay.wait_for_output("relay started")

    async def drained() -> bool:
        return await unsent(engine) == 0

    await wait_until(drained, 60)

    async def all_copies_in_kafka() -> bool:
        return await count_records(kafka_bootstrap, topic) == 40

    await wait_until(all_copies_in_kafka, 30, message="the restarted relay did not republish")

    async def duplicates_consumed() -> bool:
        async with engine.connect() as conn:
            claimed = (await conn.execute(sa.text("SELECT count(*) FROM inbox"))).scalar()
        return claimed == 20 and "duplicate delivery ignored" in consumer.output()

    await wait_until(duplicates_consumed, 60)
    await wait_until(lambda: _duplicate_count_at_least(consumer, 20), 60)
    rows = await effect_rows(engine)
    assert len(rows) == 20
    assert Counter(r.message_id for r in rows).most_common(1)[0][1] == 1


async def _duplicate_count_at_least(consumer, n: int) -> bool:
    return consumer.output().count("duplicate delivery ignored") >= n


async def test_order_per_key_holds_for_1000_messages_over_3_partitions(
    db_url, engine, topic, kafka_bootstrap, spawn
):
    accounts = [uuid.uuid4() for _ in range(10)]
    consumer = spawn("consume", "--db", db_url, "--bootstrap", kafka_bootstrap, "--topic", topic)
    relay = spawn("relay", "--db", db_url, "--bootstrap", kafka_bootstrap)
    consumer.wait_for_output("consumer started")
    relay.wait_for_output("relay started")

    seq = 0
    for _ in range(100):  # 100 transactions of 10 messages, keys interleaved
        batch = []
        for account in accounts:
            batch.append(ping_app.ping(topic, account, seq))
            seq += 1
        await write(engine, topic, batch)

    async def all_applied() -> bool:
        return len(await effect_rows(engine)) >= 1000

    await wait_until(all_applied, 120, message="not all 1000 messages were applied")
    rows = await effect_rows(engine)
    assert len(rows) == 1000
    per_key: dict[uuid.UUID, list[int]] = {}
    for row in rows:
        per_key.setdefault(row.account_id, []).append(row.seq)
    assert len(per_key) == 10
    for account, seqs in per_key.items():
        assert seqs == sorted(seqs), f"order broken for key {account}"
        assert len(seqs) == 100

    consumer_probe = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap)
    await consumer_probe.start()
    try:
        assert len(consumer_probe.partitions_for_topic(topic)) == 3
    finally:
        await consumer_probe.stop()
