"""Parallel work topics with their own transactions flow record by record: at most `max_batch`
records in flight, the next one fetched the moment one ends (not when its whole batch has), and
no offset committed past a record that has not finished (a crash before it ends redelivers it;
the inbox absorbs the finished ones after it). A record handed back comes again, never beside
its first delivery."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata

from igny8.db import session_factory
from igny8.messaging import ConsumerSettings, Messaging, Subscription
from igny8.messaging.subscriptions import Handler
from igny8.testing import wait_until

import ping_app
from ping_app import Ping, effects

pytestmark = pytest.mark.integration

SETTINGS = ConsumerSettings(
    max_attempts=2,
    retry_backoff_s=0.01,
    transient_backoff_max_s=0.05,
    session_timeout_ms=6000,
    heartbeat_interval_ms=500,
)


async def committed_offset(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await probe.start()
    try:
        return await probe.committed(tp)
    finally:
        await probe.stop()


async def send(bootstrap: str, topic: str, seqs: range) -> list[RecordMetadata]:
    account = uuid.uuid4()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        metas = [
            await producer.send_and_wait(
                topic, ping_app.ping(topic, account, seq).to_bytes(), key=str(account).encode()
            )
            for seq in seqs
        ]
    finally:
        await producer.stop()
    assert len({m.partition for m in metas}) == 1
    return metas


def bus(
    engine: object, bootstrap: str, topic: str, handle: Handler, settings: ConsumerSettings
) -> Messaging:
    messaging = Messaging(
        "pinger",
        bootstrap,
        engine,  # type: ignore[arg-type]
        session_factory(engine),  # type: ignore[arg-type]
        registry=ping_app.registry(topic),
        consumer_settings=settings,
    )
    messaging.subscribe(
        [Subscription((topic,), "work", handle, parallel=True, max_batch=2, own_transactions=True)]
    )
    return messaging


async def applied(engine: object) -> list[int]:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        return sorted((await conn.execute(sa.select(effects.c.seq))).scalars().all())


async def test_a_record_starts_when_one_ends_and_a_crash_redelivers_the_unfinished_ones(
    engine, kafka_bootstrap, topic
):
    metas = await send(kafka_bootstrap, topic, range(1, 5))
    tp = TopicPartition(topic, metas[0].partition)
    calls: Counter[int] = Counter()
    started = {seq: asyncio.Event() for seq in range(1, 5)}
    never = asyncio.Event()
    slow: list[asyncio.Task[object]] = []
    crashed = False

    async def handle(envelope, payload, session) -> None:  # type: ignore[no-untyped-def]
        assert isinstance(payload, Ping)
        calls[payload.seq] += 1
        started[payload.seq].set()
        if payload.seq in (1, 3) and not crashed:  # slow provider calls, cut by the "crash"
            task = asyncio.current_task()
            assert task is not None
            slow.append(task)
            await never.wait()
        await session.execute(
            sa.insert(effects).values(
                message_id=envelope.id, account_id=envelope.account_id, seq=payload.seq, pid=0
            )
        )

    first = bus(engine, kafka_bootstrap, topic, handle, SETTINGS)
    await first.start(consume=True, relay=False)
    try:
        await asyncio.wait_for(started[1].wait(), 60)
        # record 2 ended: record 3 starts beside the slow record 1 (a batch consumer waited
        # for the batch of records 1 and 2 to end)
        await asyncio.wait_for(started[3].wait(), 30)
        assert await applied(engine) == [2]
        assert not any(task.done() for task in slow)
        await asyncio.sleep(1.0)
        assert not started[4].is_set(), "at most two records in flight: 1 and 3"
        # nothing committed past record 1, which has not finished
        assert await committed_offset(kafka_bootstrap, "pinger.work", tp) in (
            None,
            metas[0].offset,
        )
    finally:
        await asyncio.wait_for(first.stop(), 30)  # the crash: the slow calls end unfinished
    assert all(task.cancelled() for task in slow)

    crashed = True
    second = bus(engine, kafka_bootstrap, topic, handle, SETTINGS)
    await second.start(consume=True, relay=False)
    try:

        async def all_applied() -> bool:
            return await applied(engine) == [1, 2, 3, 4]

        await wait_until(all_applied, 60, message="the unfinished records were not redelivered")

        async def committed_past_all() -> bool:
            offset = await committed_offset(kafka_bootstrap, "pinger.work", tp)
            return offset == metas[-1].offset + 1

        await wait_until(committed_past_all, 30, message="offsets not committed after all ended")
    finally:
        await asyncio.wait_for(second.stop(), 30)
    # the unfinished records ran again; the finished one was absorbed by the inbox
    assert calls == Counter({1: 2, 2: 1, 3: 2, 4: 1})


async def test_a_record_handed_back_comes_again_never_beside_itself_and_the_rest_once(
    engine, kafka_bootstrap, topic
):
    """Record 1 waits out a failing infrastructure until it is handed back, while records 2
    and 3 finish: nothing is committed past record 1, it comes again (and again) until the
    outage ends, never running twice at once; the redelivered 2 and 3 are absorbed."""
    metas = await send(kafka_bootstrap, topic, range(1, 4))
    tp = TopicPartition(topic, metas[0].partition)
    calls: Counter[int] = Counter()
    running: Counter[int] = Counter()
    most_at_once = 0
    outage = True

    async def handle(envelope, payload, session) -> None:  # type: ignore[no-untyped-def]
        nonlocal most_at_once
        assert isinstance(payload, Ping)
        calls[payload.seq] += 1
        running[payload.seq] += 1
        most_at_once = max(most_at_once, running[1])
        try:
            await asyncio.sleep(0.02)
            if payload.seq == 1 and outage:
                raise ConnectionError("the provider's network is down")  # transient: waited out
        finally:
            running[payload.seq] -= 1
        await session.execute(
            sa.insert(effects).values(
                message_id=envelope.id, account_id=envelope.account_id, seq=payload.seq, pid=0
            )
        )

    settings = ConsumerSettings(
        max_attempts=2,
        retry_backoff_s=0.01,
        transient_backoff_max_s=0.05,
        hold_batch_s=0.3,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    messaging = bus(engine, kafka_bootstrap, topic, handle, settings)
    await messaging.start(consume=True, relay=False)
    try:

        async def handed_back_a_few_times() -> bool:
            return calls[1] >= 30 and calls[3] >= 1

        await wait_until(handed_back_a_few_times, 60, message="record 1 was not retried")
        assert await applied(engine) == [2, 3]
        assert await committed_offset(kafka_bootstrap, "pinger.work", tp) in (
            None,
            metas[0].offset,
        )
        outage = False

        async def all_applied() -> bool:
            return await applied(engine) == [1, 2, 3]

        await wait_until(all_applied, 60, message="the outage ended but record 1 was not applied")

        async def committed_past_all() -> bool:
            offset = await committed_offset(kafka_bootstrap, "pinger.work", tp)
            return offset == metas[-1].offset + 1

        await wait_until(committed_past_all, 30, message="offsets not committed after all ended")
    finally:
        await asyncio.wait_for(messaging.stop(), 30)
    assert calls[2] == 1 and calls[3] == 1
    assert most_at_once == 1
