"""Bus ceilings: raw aiokafka vs the igny8.messaging path (outbox → relay → Kafka → inbox consumer).

Same broker, same message size, same run. Prints JSON. Two phases per path:
- burst: N messages as fast as possible → messages per second (first send to last receipt);
- paced: a steady rate well under the burst figure → p50/p99 produce→consume latency.
Needs `make infra-up` (KAFKA_BOOTSTRAP_SERVERS, IGNY8_POSTGRES_ADMIN_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import Envelope, TopicRegistry, TopicSpec
from igny8.db import create_engine, new_metadata, session_factory
from igny8.messaging import ConsumerSettings, Messaging, RelaySettings, Subscription, ensure_topics
from igny8.messaging.tables import messaging_metadata
from igny8.testing import temporary_database


class BenchPing(BaseModel):
    sent_ns: int
    pad: str


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies_ms, 0.50), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies_ms), 2),
    }


async def raw_path(bootstrap: str, n: int, size: int, rate: float) -> dict[str, object]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    registry = TopicRegistry([TopicSpec(topic, BenchPing, "account_id", "event", "bench")])
    await ensure_topics(bootstrap, registry)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench.{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    pad = "x" * size
    keys = [str(uuid.uuid4()).encode() for _ in range(30)]

    async def run(count: int, paced: bool) -> tuple[float, list[float]]:
        latencies: list[float] = []
        done = asyncio.Event()

        async def consume() -> None:
            while len(latencies) < count:
                batch = await consumer.getmany(timeout_ms=200)
                now = time.perf_counter_ns()
                for records in batch.values():
                    for record in records:
                        sent = int(record.value.split(b"|", 1)[0])
                        latencies.append((now - sent) / 1e6)
                if batch:
                    await consumer.commit()
            done.set()

        task = asyncio.create_task(consume())
        started = time.perf_counter()
        for i in range(count):
            value = f"{time.perf_counter_ns()}|".encode() + pad.encode()
            await producer.send(topic, value, key=keys[i % len(keys)])
            if paced:
                await asyncio.sleep(1 / rate)
        await done.wait()
        await task
        return time.perf_counter() - started, latencies

    elapsed, _ = await run(n, paced=False)
    _, latencies = await run(max(200, n // 5), paced=True)
    await producer.stop()
    await consumer.stop()
    return {"messages_per_s": round(n / elapsed), **summary(latencies)}


async def messaging_path(
    bootstrap: str, admin_url: str, n: int, size: int, rate: float
) -> dict[str, object]:
    topic = f"bench.bus.{uuid.uuid4().hex[:8]}"
    registry = TopicRegistry([TopicSpec(topic, BenchPing, "account_id", "event", "bench")])
    await ensure_topics(bootstrap, registry)
    async with temporary_database(admin_url, "bench_bus") as url:
        engine = create_engine(url, 10)
        async with engine.begin() as conn:
            await conn.run_sync(messaging_metadata.create_all)
        sessions = session_factory(engine)
        latencies: list[float] = []
        target = {"count": 0}
        done = asyncio.Event()

        async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
            assert isinstance(payload, BenchPing)
            latencies.append((time.perf_counter_ns() - payload.sent_ns) / 1e6)
            if len(latencies) >= target["count"]:
                done.set()

        messaging = Messaging(
            "bench",
            bootstrap,
            engine,
            sessions,
            registry=registry,
            consumer_settings=ConsumerSettings(),
            relay_settings=RelaySettings(poll_interval_s=0.5),
        )
        messaging.subscribe([Subscription((topic,), "bench", handle)])
        await messaging.start()
        accounts = [uuid.uuid4() for _ in range(30)]
        pad = "x" * size

        def envelope(i: int) -> Envelope:
            return registry.envelope(
                topic,
                BenchPing(sent_ns=time.perf_counter_ns(), pad=pad),
                source="bench",
                account_id=accounts[i % len(accounts)],
            )

        async def run(count: int, paced: bool) -> tuple[float, list[float]]:
            latencies.clear()
            done.clear()
            target["count"] = count
            started = time.perf_counter()
            if paced:
                for i in range(count):
                    async with sessions() as session:
                        await messaging.outbox.add(session, envelope(i))
                        await session.commit()
                    await asyncio.sleep(1 / rate)
            else:
                writers = 8  # concurrent writers, each committing one message per transaction

                async def writer(offset: int) -> None:
                    for i in range(offset, count, writers):
                        async with sessions() as session:
                            await messaging.outbox.add(session, envelope(i))
                            await session.commit()

                await asyncio.gather(*(writer(w) for w in range(writers)))
            await asyncio.wait_for(done.wait(), 300)
            return time.perf_counter() - started, list(latencies)

        elapsed, _ = await run(n, paced=False)
        _, paced_latencies = await run(max(200, n // 5), paced=True)
        await messaging.stop()
        async with engine.connect() as conn:
            unsent = (
                await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            ).scalar()
        await engine.dispose()
    return {
        "messages_per_s": round(n / elapsed),
        **summary(paced_latencies),
        "outbox_unsent_after": unsent,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--size", type=int, default=512, help="payload padding in bytes")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="paced phase, messages per second"
    )
    args = parser.parse_args()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    admin_url = os.environ["IGNY8_POSTGRES_ADMIN_URL"]
    raw = await raw_path(bootstrap, args.messages, args.size, args.rate)
    bus = await messaging_path(bootstrap, admin_url, args.messages, args.size, args.rate)
    print(
        json.dumps(
            {
                "benchmark": "bus",
                "messages": args.messages,
                "message_bytes": args.size,
                "paced_rate_per_s": args.rate,
                "raw_aiokafka": raw,
                "igny8_messaging": bus,
                "messaging_vs_raw_throughput": round(
                    bus["messages_per_s"] / raw["messages_per_s"], 3
                ),
            },
            indent=2,
        )
    )


_ = new_metadata  # the benchmark database carries only the messaging tables

if __name__ == "__main__":
    asyncio.run(main())
