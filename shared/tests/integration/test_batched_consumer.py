"""A fetched batch applied in one transaction: duplicates skipped, a poison message dead-lettered
alone, a transient failure waited out without loss, per-key order and per-message context kept."""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from igny8.db import MessageContext, session_factory
from igny8.messaging import ConsumerSettings, InboxConsumer, Messaging, Subscription
from igny8.messaging.outbox import NOTIFY_CHANNEL
from igny8.messaging.tables import outbox
from igny8.testing import topic_records

import ping_app
from ping_app import Ping, effect_rows, effects

pytestmark = pytest.mark.integration

SETTINGS = ConsumerSettings(max_attempts=2, retry_backoff_s=0.01, transient_backoff_max_s=0.05)


def records(topic: str, envelopes, start: int = 0) -> list[SimpleNamespace]:  # type: ignore[no-untyped-def]
    return [
        SimpleNamespace(
            topic=topic,
            partition=0,
            offset=start + n,
            key=str(e.account_id).encode(),
            value=e.to_bytes(),
            headers=[],
        )
        for n, e in enumerate(envelopes)
    ]


async def apply_ping(envelope, payload, session) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(payload, Ping)
    if payload.fail:
        raise RuntimeError("poison")
    await session.execute(
        sa.insert(effects).values(
            message_id=envelope.id, account_id=envelope.account_id, seq=payload.seq, pid=0
        )
    )


@pytest.fixture
async def messaging(engine, kafka_bootstrap, topic):  # type: ignore[no-untyped-def]
    bus = Messaging(
        "pinger",
        kafka_bootstrap,
        engine,
        session_factory(engine),
        registry=ping_app.registry(topic),
    )
    await bus.broker.connect()  # dead letters are published for real
    yield bus
    await bus.broker.stop()


def consumer_of(messaging, subscription, settings=SETTINGS) -> InboxConsumer:  # type: ignore[no-untyped-def]
    return InboxConsumer(
        "pinger",
        subscription,
        messaging.registry,
        messaging.sessions,
        messaging.broker,
        settings,
    )


async def test_duplicates_within_and_across_batches_are_applied_once_with_their_own_context(
    engine, messaging, topic
):
    calls: list[list[int]] = []
    writer = messaging.outbox
    registry = messaging.registry

    async def batch(items, session) -> None:  # type: ignore[no-untyped-def]
        calls.append([p.seq for _, p in items])
        for envelope, payload in items:
            await apply_ping(envelope, payload, session)
            context = MessageContext.of(envelope)  # each emitted row answers its own message
            reply = registry.envelope(
                topic,
                Ping(seq=payload.seq + 100),
                source="pinger",
                account_id=envelope.account_id,
                causation_id=context.causation_id,
                correlation_id=context.correlation_id,
            )
            await writer.add(session, reply)

    consumer = consumer_of(
        messaging, Subscription((topic,), "batch", apply_ping, batch_handler=batch)
    )
    account = uuid.uuid4()
    m1, m2, m3, m4 = (ping_app.ping(topic, account, seq) for seq in range(1, 5))
    assert await consumer.handle_batch(records(topic, [m1, m2, m1, m3])) == []  # type: ignore[arg-type]
    assert await consumer.handle_batch(records(topic, [m2, m4], start=4)) == []  # type: ignore[arg-type]

    assert calls == [[1, 2, 3], [4]], "one call per transaction, duplicates left out"
    assert [r.seq for r in await effect_rows(engine)] == [1, 2, 3, 4]
    async with engine.connect() as conn:
        emitted = (await conn.execute(sa.select(outbox.c.value).order_by(outbox.c.id))).all()
    sources = {m.id: m for m in (m1, m2, m3, m4)}
    for (value,) in emitted:
        reply = json.loads(value)
        cause = sources[uuid.UUID(reply["causation_id"])]
        assert reply["data"]["seq"] == cause.data["seq"] + 100
        assert reply["correlation_id"] == cause.correlation_id
    assert len(emitted) == 4


@pytest.mark.parametrize("mode", ["batch_handler", "handler_in_one_transaction"])
async def test_a_poison_message_mid_batch_goes_alone_to_the_dlq_the_rest_once_in_order(
    engine, messaging, topic, kafka_bootstrap, mode
):
    batch_calls: list[int] = []

    async def batch(items, session) -> None:  # type: ignore[no-untyped-def]
        batch_calls.append(len(items))
        for envelope, payload in items:
            await apply_ping(envelope, payload, session)

    subscription = (
        Subscription((topic,), "poison", apply_ping, batch_handler=batch)
        if mode == "batch_handler"
        else Subscription((topic,), "poison", apply_ping, batch_in_one_transaction=True)
    )
    consumer = consumer_of(messaging, subscription)
    a, b = uuid.uuid4(), uuid.uuid4()
    envelopes = [ping_app.ping(topic, a if n % 2 else b, n, fail=n == 5) for n in range(1, 10)]
    assert await consumer.handle_batch(records(topic, envelopes)) == []  # type: ignore[arg-type]

    rows = await effect_rows(engine)
    assert sorted(r.seq for r in rows) == [1, 2, 3, 4, 6, 7, 8, 9]
    for account in (a, b):
        seqs = [r.seq for r in rows if r.account_id == account]
        assert seqs == sorted(seqs), "commit order per key"
    (dead,) = await topic_records(kafka_bootstrap, f"{topic}.dlq")
    headers = {k: v.decode() for k, v in dead.headers}
    assert (headers["dlq-reason"], headers["dlq-original-offset"]) == ("handler_failed", "4")
    if mode == "batch_handler":
        assert batch_calls[0] == 9 and len(batch_calls) > 1, "tried whole, then bisected"
    # Redelivery of the whole batch changes nothing: every message is a duplicate or parked.
    # (The poison one is retried: its inbox row was never written; it fails and parks again.)
    assert await consumer.handle_batch(records(topic, envelopes)) == []  # type: ignore[arg-type]
    assert len(await effect_rows(engine)) == 8


async def test_batch_lanes_split_a_batch_by_key_each_key_in_order_a_poison_message_alone(
    engine, messaging, topic, kafka_bootstrap
):
    keys_per_call: list[set[uuid.UUID]] = []

    async def batch(items, session) -> None:  # type: ignore[no-untyped-def]
        keys_per_call.append({e.account_id for e, _ in items})
        for envelope, payload in items:
            await apply_ping(envelope, payload, session)

    settings = ConsumerSettings(
        max_attempts=2, retry_backoff_s=0.01, transient_backoff_max_s=0.05, batch_lanes=2
    )
    consumer = consumer_of(
        messaging, Subscription((topic,), "lanes", apply_ping, batch_handler=batch), settings
    )
    accounts = [uuid.uuid4() for _ in range(8)]
    envelopes = [ping_app.ping(topic, accounts[n % 8], n, fail=n == 13) for n in range(1, 41)]
    assert await consumer.handle_batch(records(topic, envelopes)) == []  # type: ignore[arg-type]

    def lane(account: uuid.UUID) -> int:
        return hash(str(account).encode()) % 2  # the record key, as the consumer splits

    assert all(len({lane(k) for k in keys}) == 1 for keys in keys_per_call), "one lane a call"
    assert {lane(a) for a in accounts} == {lane(next(iter(k))) for k in keys_per_call}
    rows = await effect_rows(engine)
    assert sorted(r.seq for r in rows) == [n for n in range(1, 41) if n != 13]
    for account in accounts:
        seqs = [r.seq for r in rows if r.account_id == account]
        assert seqs == sorted(seqs), "commit order per key"
    (dead,) = await topic_records(kafka_bootstrap, f"{topic}.dlq")
    assert dict(dead.headers)["dlq-original-offset"] == b"12"
    assert await consumer.handle_batch(records(topic, envelopes)) == []  # type: ignore[arg-type]
    assert len(await effect_rows(engine)) == 39, "redelivered: every message once"


async def test_a_transient_failure_mid_batch_is_waited_out_and_handed_back_without_loss(
    engine, messaging, topic, kafka_bootstrap
):
    """A real lock timeout (55P03) on one message: the batch waits, is handed back after
    hold_batch_s (records to rewind), and the redelivery applies everything exactly once."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS gate (id int PRIMARY KEY)"))
        await conn.execute(sa.text("INSERT INTO gate VALUES (1) ON CONFLICT DO NOTHING"))

    async def gated(envelope, payload, session) -> None:  # type: ignore[no-untyped-def]
        if payload.seq == 3:
            await session.execute(sa.text("SET LOCAL lock_timeout = '20ms'"))
            await session.execute(sa.text("SELECT id FROM gate FOR UPDATE"))
        await apply_ping(envelope, payload, session)

    settings = ConsumerSettings(
        max_attempts=2, retry_backoff_s=0.01, transient_backoff_max_s=0.05, hold_batch_s=0.3
    )
    consumer = consumer_of(
        messaging, Subscription((topic,), "outage", gated, batch_in_one_transaction=True), settings
    )
    account = uuid.uuid4()
    batch = records(topic, [ping_app.ping(topic, account, n) for n in range(1, 6)])
    holder = await engine.connect()
    await holder.begin()
    await holder.execute(sa.text("SELECT id FROM gate FOR UPDATE"))
    try:
        unfinished = await consumer.handle_batch(batch)  # type: ignore[arg-type]
        assert [r.offset for r in unfinished] == [0, 1, 2, 3, 4], "handed back whole, in order"
        assert consumer.waiting(), "/readyz says what waits"
        assert await effect_rows(engine) == []
    finally:
        await holder.rollback()
        await holder.close()
    assert await consumer.handle_batch(unfinished) == []  # type: ignore[arg-type]
    assert [r.seq for r in await effect_rows(engine)] == [1, 2, 3, 4, 5]
    assert not consumer.waiting()
    assert await topic_records(kafka_bootstrap, f"{topic}.dlq") == [], "never dead-lettered"
    await asyncio.sleep(0)


async def test_one_outbox_statement_adds_the_rows_in_order_and_wakes_the_relay_at_commit(
    engine, topic
):
    woken = asyncio.Event()
    async with engine.connect() as listening:
        driver = (await listening.get_raw_connection()).driver_connection
        await driver.add_listener(NOTIFY_CHANNEL, lambda *_: woken.set())
        account = uuid.uuid4()
        pings = [ping_app.ping(topic, account, n) for n in range(1, 4)]
        async with session_factory(engine)() as session:
            await ping_app.write_pings(session, topic, pings)
            await asyncio.sleep(0.2)
            assert not woken.is_set(), "nothing is announced before the commit"
            await session.commit()
        await asyncio.wait_for(woken.wait(), 5)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox).order_by(outbox.c.id))).all()
    assert [r.message_id for r in rows] == [p.id for p in pings]
    assert [r.key for r in rows] == [str(account).encode()] * 3
    assert rows[0].headers["content-type"] == "application/json"
