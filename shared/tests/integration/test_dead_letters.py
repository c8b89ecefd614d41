"""Poison messages land in `<topic>.dlq` with reason and coordinates; the partition moves on."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from igny8.testing import count_records, topic_records, wait_until

import ping_app
from ping_app import effect_rows

pytestmark = pytest.mark.integration


async def test_poison_messages_are_dead_lettered_and_later_messages_still_processed(
    db_url, engine, topic, kafka_bootstrap, spawn
):
    account = uuid.uuid4()
    key = str(account).encode()
    good_before = ping_app.ping(topic, account, 1)
    wrong_payload = ping_app.ping(topic, account, 2).model_copy(update={"data": {"seq": "many"}})
    always_fails = ping_app.ping(topic, account, 3, fail=True)
    unknown_version = ping_app.ping(topic, account, 4).model_copy(update={"schema_version": 9})
    good_after = ping_app.ping(topic, account, 5)
    values = [
        good_before.to_bytes(),
        b"\x00 definitely not json",
        json.dumps({"hello": "world"}).encode(),
        wrong_payload.to_bytes(),
        always_fails.to_bytes(),
        unknown_version.to_bytes(),
        good_after.to_bytes(),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        metas = [await producer.send_and_wait(topic, v, key=key) for v in values]
    finally:
        await producer.stop()
    assert len({m.partition for m in metas}) == 1, "one key, one partition"

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
    )
    consumer.wait_for_output("consumer started")

    async def good_after_applied() -> bool:
        return any(r.seq == 5 for r in await effect_rows(engine))

    await wait_until(good_after_applied, 60, message="the partition did not move on")
    assert [r.seq for r in await effect_rows(engine)] == [1, 5]

    async def five_dead_letters() -> bool:
        return await count_records(kafka_bootstrap, f"{topic}.dlq") >= 5

    await wait_until(five_dead_letters, 30)
    dead = await topic_records(kafka_bootstrap, f"{topic}.dlq")
    assert len(dead) == 5
    by_offset = {}
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        by_offset[int(headers["dlq-original-offset"])] = (record, headers)
    expected = {
        metas[1].offset: ("undecodable", "not JSON"),
        metas[2].offset: ("undecodable", "not an envelope"),
        metas[3].offset: ("invalid", "data.seq"),
        metas[4].offset: ("handler_failed", "always fails"),
        metas[5].offset: ("undecodable", "schema version"),
    }
    assert set(by_offset) == set(expected)
    for offset, (reason, fragment) in expected.items():
        record, headers = by_offset[offset]
        assert headers["dlq-reason"] == reason
        assert fragment in headers["dlq-error"]
        assert headers["dlq-original-topic"] == topic
        assert headers["dlq-original-partition"] == str(metas[0].partition)
        assert record.value == values[offset - metas[0].offset]
        assert record.key == key
    assert by_offset[metas[4].offset][1]["dlq-attempts"] == "3"
