"""A minimal service for the messaging tests, run as separate processes.

`python -m ping_app relay --db URL --bootstrap B [--pause-after-publish S]`
`python -m ping_app consume --db URL --bootstrap B --topic T --purpose P`

The consumer's effect is an `effects` row per handled message, deliberately without a unique
constraint, so a second effect of one message would show as a second row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import Envelope, TopicRegistry, TopicSpec
from igny8.db import create_engine, new_metadata, session_factory
from igny8.messaging import (
    ConsumerSettings,
    Messaging,
    OutboxRelay,
    OutboxWriter,
    RelaySettings,
    Subscription,
    include_messaging_tables,
)
from igny8.observability import configure

metadata = new_metadata()
include_messaging_tables(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("message_id", postgresql.UUID(as_uuid=True), nullable=False),
    sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
)


class Ping(BaseModel):
    seq: int
    fail: bool = False


def registry(topic: str) -> TopicRegistry:
    return TopicRegistry([TopicSpec(topic, Ping, "account_id", "event", owner="pinger")])


async def create_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


def ping(topic: str, account_id: uuid.UUID, seq: int, fail: bool = False) -> Envelope:
    return registry(topic).envelope(
        topic,
        Ping(seq=seq, fail=fail),
        source="pinger",
        account_id=account_id,
        correlation_id=f"test-{seq}",
    )


async def write_pings(session: AsyncSession, topic: str, envelopes: list[Envelope]) -> None:
    await OutboxWriter(registry(topic)).add(session, *envelopes)


async def effect_rows(engine: Any) -> list[sa.Row]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(effects).order_by(effects.c.id))).all())


async def unsent(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            ).scalar()
        )


async def consume(args: argparse.Namespace) -> None:
    engine = create_engine(args.db, 5)
    sessions = session_factory(engine)

    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        assert isinstance(payload, Ping)
        if payload.fail and (args.fail_while is None or os.path.exists(args.fail_while)):  # noqa: ASYNC240 - a test switch
            raise RuntimeError("this handler always fails for fail=true")
        await session.execute(
            sa.insert(effects).values(
                message_id=envelope.id,
                account_id=envelope.account_id,
                seq=payload.seq,
                pid=os.getpid(),
            )
        )

    messaging = Messaging(
        "pinger",
        args.bootstrap,
        engine,
        sessions,
        registry=registry(args.topic),
        consumer_settings=ConsumerSettings(
            max_attempts=args.max_attempts,
            retry_backoff_s=0.05,
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
            hold_batch_s=args.hold_batch_s,
            max_poll_interval_ms=args.max_poll_interval_ms,
            transient_backoff_max_s=1.0,
        ),
    )
    messaging.subscribe([Subscription((args.topic,), args.purpose, handle)])
    await messaging.start(consume=True, relay=False)
    print("consumer started", flush=True)
    await wait_for_signal()
    await messaging.stop()
    await engine.dispose()


async def relay(args: argparse.Namespace) -> None:
    engine = create_engine(args.db, 2)
    outbox_relay = OutboxRelay(
        engine,
        args.bootstrap,
        "pinger",
        RelaySettings(
            poll_interval_s=0.1,
            pause_after_publish_s=args.pause_after_publish,
            max_backoff_s=1.0,
            publish_timeout_s=3.0,
        ),
    )
    task = asyncio.create_task(outbox_relay.run())
    print("relay started", flush=True)
    await wait_for_signal()
    outbox_relay.stop()
    await task
    await engine.dispose()


async def wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["consume", "relay"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", default="")
    parser.add_argument("--purpose", default="effects")
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--pause-after-publish", type=float, default=0.0)
    parser.add_argument("--hold-batch-s", type=float, default=30.0)
    parser.add_argument("--fail-while", default=None, help="fail=true fails while this exists")
    parser.add_argument("--max-poll-interval-ms", type=int, default=300_000)
    args = parser.parse_args()
    configure("pinger", "INFO")
    asyncio.run(consume(args) if args.role == "consume" else relay(args))


if __name__ == "__main__":
    main()
