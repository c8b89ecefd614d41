"""One active relay per service (the others stand by and take over); trace context crosses Kafka."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from igny8.db import session_factory
from igny8.messaging import (
    ConsumerSettings,
    InboxConsumer,
    OutboxRelay,
    RelaySettings,
    Subscription,
)
from igny8.messaging.bus import create_broker
from igny8.testing import wait_until

import ping_app
from ping_app import effect_rows, unsent

pytestmark = pytest.mark.integration


async def test_only_one_relay_is_active_and_a_standby_takes_over(engine, topic, kafka_bootstrap):
    settings = RelaySettings(poll_interval_s=0.05, standby_interval_s=0.2)
    first = OutboxRelay(engine, kafka_bootstrap, "pinger", settings)
    second = OutboxRelay(engine, kafka_bootstrap, "pinger", settings)
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:

        async def one_active() -> bool:
            return first.is_active or second.is_active

        await wait_until(one_active, 20)
        await asyncio.sleep(0.5)
        assert [first.is_active, second.is_active].count(True) == 1
        active, standby = (first, second) if first.is_active else (second, first)
        account = uuid.uuid4()
        async with session_factory(engine)() as session:
            await ping_app.write_pings(
                session, topic, [ping_app.ping(topic, account, i) for i in range(5)]
            )
            await session.commit()

        async def drained() -> bool:
            return await unsent(engine) == 0

        await wait_until(drained, 20)
        assert active.published == 5 and standby.published == 0
        active.stop()
        await tasks[[first, second].index(active)]

        async def took_over() -> bool:
            return standby.is_active

        await wait_until(took_over, 20, message="the standby relay did not take over")
        async with session_factory(engine)() as session:
            await ping_app.write_pings(session, topic, [ping_app.ping(topic, account, 9)])
            await session.commit()
        await wait_until(drained, 20)
        assert standby.published == 1
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_trace_context_travels_from_producer_through_consumer_to_its_messages(engine, topic):
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    trace.set_tracer_provider(provider)
    sessions = session_factory(engine)
    account = uuid.uuid4()
    with tracer.start_as_current_span("request") as span:
        trace_id = span.get_span_context().trace_id
        async with sessions() as session:
            await ping_app.write_pings(session, topic, [ping_app.ping(topic, account, 1)])
            await session.commit()
    async with engine.connect() as conn:
        row = (await conn.execute(sa.text("SELECT value, key, headers FROM outbox"))).one()
    assert row.headers["traceparent"].split("-")[1] == f"{trace_id:032x}"

    seen: list[int] = []

    async def handler(envelope, payload, session) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)
        await ping_app.write_pings(session, topic, [ping_app.ping(topic, account, 2)])

    record = SimpleNamespace(
        topic=topic,
        partition=0,
        offset=0,
        key=row.key,
        value=bytes(row.value),
        headers=[(k, v.encode()) for k, v in row.headers.items()],
    )
    consumer = InboxConsumer(
        "pinger",
        Subscription((topic,), "trace", handler),
        ping_app.registry(topic),
        sessions,
        create_broker("pinger", "127.0.0.1:1"),
        ConsumerSettings(),
    )
    assert await consumer.handle(record) == "applied"
    assert seen == [trace_id]
    async with engine.connect() as conn:
        headers = (
            await conn.execute(sa.text("SELECT headers FROM outbox ORDER BY id DESC LIMIT 1"))
        ).scalar()
    assert headers["traceparent"].split("-")[1] == f"{trace_id:032x}", (
        "the reply continues the trace"
    )
    assert await effect_rows(engine) == []
