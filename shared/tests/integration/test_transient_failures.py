"""Which failures are transient, classified from real PostgreSQL errors; /readyz says who waits."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from igny8.config import ServiceSettings
from igny8.db import create_engine, session_factory
from igny8.messaging import ConsumerSettings, InboxConsumer, Messaging, Subscription
from igny8.messaging.failures import is_transient
from igny8.runtime import Service, create_app
from igny8.testing import free_port, wait_until

import ping_app

pytestmark = pytest.mark.integration


async def failure_of(coro) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        await coro
    except Exception as exc:
        return exc
    raise AssertionError("expected a failure")


@pytest.fixture
async def rows(engine) -> str:
    table = f"t_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, n int)"))
        await conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 0), (2, 0)"))
    return table


async def test_a_deadlock_is_transient(engine, rows):
    both_locked_one = asyncio.Barrier(2)

    async def lock(first: int, second: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"UPDATE {rows} SET n = n + 1 WHERE id = {first}"))
            await both_locked_one.wait()
            await conn.execute(sa.text(f"UPDATE {rows} SET n = n + 1 WHERE id = {second}"))

    results = await asyncio.gather(lock(1, 2), lock(2, 1), return_exceptions=True)
    (deadlock,) = [r for r in results if isinstance(r, BaseException)]
    assert "deadlock" in str(deadlock)
    assert is_transient(deadlock)


async def test_a_serialization_failure_is_transient(engine, rows):
    both_read = asyncio.Barrier(2)

    async def read_then_write(row: int) -> None:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="SERIALIZABLE")
            async with conn.begin():
                await conn.execute(sa.text(f"SELECT sum(n) FROM {rows}"))
                await both_read.wait()
                await conn.execute(sa.text(f"UPDATE {rows} SET n = n + 1 WHERE id = {row}"))

    results = await asyncio.gather(read_then_write(1), read_then_write(2), return_exceptions=True)
    (conflict,) = [r for r in results if isinstance(r, BaseException)]
    assert "serialize" in str(conflict)
    assert is_transient(conflict)


async def test_a_pool_timeout_and_an_unreachable_database_are_transient(db_url):
    small = create_async_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    try:
        async with small.connect():
            exhausted = await failure_of(small.connect().__aenter__())
        assert isinstance(exhausted, sa.exc.TimeoutError)
        assert is_transient(exhausted)
    finally:
        await small.dispose()
    nowhere = create_async_engine(
        sa.engine.make_url(db_url).set(port=free_port()).render_as_string(hide_password=False)
    )
    try:
        refused = await failure_of(nowhere.connect().__aenter__())
        assert is_transient(refused)
    finally:
        await nowhere.dispose()


async def test_failures_of_the_message_are_not_transient(engine, rows):
    duplicate = await failure_of(_insert(engine, rows, 1))
    assert isinstance(duplicate, sa.exc.IntegrityError)
    assert not is_transient(duplicate)
    bad_sql = await failure_of(_insert(engine, "no_such_table", 3))
    assert not is_transient(bad_sql)
    assert not is_transient(RuntimeError("this handler always fails"))
    assert not is_transient(KeyError("grant"))


def test_a_remote_service_refusing_connections_is_not_a_database_outage():
    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except ConnectionRefusedError as refused:
            raise httpx.ConnectError("AI provider unreachable") from refused
    except httpx.ConnectError as error:
        assert not is_transient(error), "the handler's own retry policy decides, not the consumer"


async def _insert(engine, table: str, row: int) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"INSERT INTO {table} VALUES ({row}, 0)"))


async def test_readyz_names_the_records_a_consumer_waits_on_while_the_database_is_down(db_url):
    topic = f"test.ready.{uuid.uuid4().hex[:8]}"
    down = sa.engine.make_url(db_url).set(port=free_port()).render_as_string(hide_password=False)
    engine = create_engine(down, 1)
    sessions = session_factory(engine)
    registry = ping_app.registry(topic)
    messaging = Messaging("pinger", "127.0.0.1:1", engine, sessions, registry=registry)

    async def handler(envelope, payload, session) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("never reached: the database is down")

    consumer = InboxConsumer(
        "pinger",
        Subscription((topic,), "ready", handler),
        registry,
        sessions,
        messaging.broker,
        ConsumerSettings(max_attempts=2, retry_backoff_s=0.01, transient_backoff_max_s=0.2),
    )
    messaging.consumers.append(consumer)
    envelope = ping_app.ping(topic, uuid.uuid4(), 1)
    record = SimpleNamespace(
        topic=topic, partition=0, offset=41, key=b"k", value=envelope.to_bytes(), headers=[]
    )
    settings = ServiceSettings(database_url=down, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(Service("pinger", settings, ping_app.__file__, engine, sessions, messaging))  # type: ignore[arg-type]
    handling = asyncio.create_task(consumer.handle(record))  # type: ignore[arg-type]
    try:
        await wait_until(lambda: _true(consumer.waiting()), 10)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://billing"
        ) as client:
            answer = await client.get("/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert body["checks"]["consumers"] is False
        (waiting,) = body["waiting"]
        assert (waiting["consumer"], waiting["topic"], waiting["offset"]) == (
            "pinger.ready",
            topic,
            41,
        )
        assert "Connect" in waiting["error"]
        assert not handling.done(), "a transient failure is never dead-lettered"
    finally:
        handling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await handling
        await engine.dispose()


async def _true(value: object) -> bool:
    return bool(value)
