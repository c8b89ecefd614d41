"""PostgreSQL stops while commands flow: the consumer waits, dead-letters nothing, applies all after.

Transient is not poison (DESIGN §3): while the database is gone every handler attempt fails, but
the consumer keeps retrying with capped backoff — polling Kafka again now and then so it stays in
its group — and resumes once the database is back. Runs on a PostgreSQL cluster of its own, so
stopping it disturbs no other test.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from igny8.db import create_engine
from igny8.messaging import ensure_topics
from igny8.testing import count_records, temporary_database, wait_until

import ping_app
from ping_app import effect_rows

pytestmark = pytest.mark.integration


async def group_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_consumer_groups([group])
        return len(described.groups[0][5]) if hasattr(described, "groups") else 0
    finally:
        await admin.close()


async def test_commands_wait_out_a_database_outage_and_none_is_dead_lettered(
    private_postgres, kafka_bootstrap, spawn
):
    admin_url = private_postgres.admin_url
    topic = f"test.dbout.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, ping_app.registry(topic))
    account = uuid.uuid4()
    key = str(account).encode()
    group = f"pinger.outage{uuid.uuid4().hex[:8]}"
    async with temporary_database(admin_url, "outage") as db_url:
        await ping_app.create_schema(db_url)
        consumer = spawn(
            "consume",
            "--db",
            db_url,
            "--bootstrap",
            kafka_bootstrap,
            "--topic",
            topic,
            "--max-attempts",
            "3",
            "--hold-batch-s",
            "2",
            "--max-poll-interval-ms",
            "6000",
            "--purpose",
            group.removeprefix("pinger."),
        )
        consumer.wait_for_output("consumer started")
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        engine = create_engine(db_url, 2)
        try:

            async def send(seqs: range) -> None:
                for seq in seqs:
                    envelope = ping_app.ping(topic, account, seq)
                    await producer.send_and_wait(topic, envelope.to_bytes(), key=key)

            async def applied(n: int) -> bool:
                try:
                    return len(await effect_rows(engine)) >= n
                except Exception:
                    return False

            await send(range(10))
            await wait_until(lambda: applied(10), 60)

            private_postgres.stop()
            down_at = time.monotonic()
            for second in range(6):  # commands keep coming while the database is gone
                await send(range(10 + 10 * second, 20 + 10 * second))
                await asyncio.sleep(1)
            consumer.wait_for_output("waiting for infrastructure", 30)
            # Longer than max.poll.interval (6 s): a consumer that stopped polling would have
            # been dropped from its group by now.
            await asyncio.sleep(max(0.0, 12 - (time.monotonic() - down_at)))
            assert await group_members(kafka_bootstrap, group) == 1
            private_postgres.start()
            await engine.dispose()

            await wait_until(lambda: applied(70), 120, message="commands of the outage were lost")
            rows = await effect_rows(engine)
            assert sorted(r.seq for r in rows) == list(range(70)), "each applied exactly once"
            assert [r.seq for r in rows] == list(range(70)), "in order per key"
            assert await count_records(kafka_bootstrap, f"{topic}.dlq") == 0
            assert "dead-lettered" not in consumer.output()
            consumer.wait_for_output("infrastructure is back", 10)
        finally:
            await producer.stop()
            await engine.dispose()
            consumer.stop()
