"""Bus ceilings: raw aiokafka vs the igny8.messaging path (outbox → relay → Kafka → inbox consumer).

Same broker, same message size, same run. Prints JSON:
- burst: N messages as fast as possible, first write to last receipt → messages per second, for
  raw aiokafka and for the messaging path; their ratio beside the goal (>= 0.30);
- paced: the messaging path at a fraction (default 50%) of its own burst figure, and raw aiokafka
  at the same rate → p50/p99 write→handled latency; the ratio of the p99s beside the goal (<= 2);
- CPU seconds per 1,000 messages of every process involved, from /proc: the writer + relay
  process (this one), the consumer process (a child, so the two are told apart), the broker JVM
  and the PostgreSQL server (postmaster and backends), plus the machine's load average, since the
  machine may be shared.
Writers commit `--per-tx` messages per transaction (the shape of a batched consumer emitting its
batch's messages); the consumer applies each fetched batch in one transaction.
`--profile DIR` writes cProfile output of both Python processes and prints their top functions.
Needs `make infra-up` (KAFKA_BOOTSTRAP_SERVERS, IGNY8_POSTGRES_ADMIN_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from bus_support import CpuMeter, Hops, Profiler
from pydantic import BaseModel

from igny8.contracts import TopicRegistry, TopicSpec
from igny8.db import create_engine, session_factory
from igny8.messaging import ConsumerSettings, Messaging, RelaySettings, Subscription, ensure_topics
from igny8.messaging.tables import messaging_metadata
from igny8.testing import temporary_database

INFRA = Path(__file__).resolve().parents[1] / ".infra"
TICK_S = 0.01
"""Paced phases write what is due every 10 ms (one transaction / a few sends per tick)."""


class BenchPing(BaseModel):
    sent_ns: int
    pad: str


def registry_of(topic: str) -> TopicRegistry:
    return TopicRegistry([TopicSpec(topic, BenchPing, "account_id", "event", "bench")])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies_ms, 0.50), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies_ms), 2),
    }


async def paced(rate: float, seconds: float, write: Any) -> int:
    """Call write(count) every tick with the messages due since the start; returns the total."""
    total = int(rate * seconds)
    sent = 0
    started = time.perf_counter()
    while sent < total:
        due = min(total, int(rate * (time.perf_counter() - started))) - sent
        if due > 0:
            await write(due)
            sent += due
        await asyncio.sleep(TICK_S)
    return total


async def raw_path(
    bootstrap: str, n: int, size: int, rate: float, seconds: float, cpu: CpuMeter
) -> dict[str, Any]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, registry_of(topic))
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
    pad = ("x" * size).encode()
    keys = [str(uuid.uuid4()).encode() for _ in range(30)]

    async def run(count: int, pace: float | None) -> tuple[float, list[float]]:
        latencies: list[float] = []

        async def consume() -> None:
            while len(latencies) < count:
                batch = await consumer.getmany(timeout_ms=200)
                now = time.perf_counter_ns()
                for records in batch.values():
                    for record in records:
                        latencies.append((now - int(record.value.split(b"|", 1)[0])) / 1e6)
                if batch:
                    await consumer.commit()

        task = asyncio.create_task(consume())
        started = time.perf_counter()
        sent = 0

        async def send(k: int) -> None:
            nonlocal sent
            for _ in range(k):
                value = f"{time.perf_counter_ns()}|".encode() + pad
                await producer.send(topic, value, key=keys[sent % len(keys)])
                sent += 1

        if pace is None:
            await send(count)
        else:
            await paced(pace, seconds, send)
        await task
        return time.perf_counter() - started, latencies

    await run(20, None)  # warm up: the group joined and assigned, connections open
    result: dict[str, Any] = {}
    if n:
        with cpu.phase("raw_burst", n):
            elapsed, _ = await run(n, None)
        result["burst_messages_per_s"] = round(n / elapsed)
    if rate:
        with cpu.phase("raw_paced", int(rate * seconds)):
            _, latencies = await run(int(rate * seconds), rate)
        result["paced"] = {"rate_per_s": round(rate), **summary(latencies)}
    await producer.stop()
    await consumer.stop()
    return result


def consumer_process(
    pipe: Any, url: str, bootstrap: str, topic: str, profile: str | None, settings: dict[str, Any]
) -> None:
    """The inbox consumer, alone in its process; reports latencies per phase over the pipe."""

    async def main() -> None:
        engine = create_engine(url, 5)
        sessions = session_factory(engine)
        handled: list[tuple[int, int]] = []
        target = {"count": -1}
        done = asyncio.Event()

        async def handle(envelope: Any, payload: BaseModel, session: Any) -> None:
            assert isinstance(payload, BenchPing)
            handled.append((payload.sent_ns, time.perf_counter_ns()))
            if len(handled) == target["count"]:
                done.set()

        messaging = Messaging(
            "bench",
            bootstrap,
            engine,
            sessions,
            registry=registry_of(topic),
            consumer_settings=ConsumerSettings(**settings),
        )
        messaging.subscribe(
            [Subscription((topic,), "bench", handle, batch_in_one_transaction=True)]
        )
        await messaging.start(relay=False)
        loop = asyncio.get_running_loop()
        with Profiler(profile, "consumer") as profiler:
            pipe.send("ready")
            while (command := await loop.run_in_executor(None, pipe.recv)) != "stop":
                handled.clear()
                done.clear()
                target["count"] = int(command)
                await done.wait()
                pipe.send(list(handled))
        await messaging.stop()
        await engine.dispose()
        pipe.send(profiler.top())

    asyncio.run(main())


async def messaging_path(
    bootstrap: str,
    admin_url: str,
    n: int,
    size: int,
    rate: float = 0.0,
    *,
    per_tx: int = 100,
    fraction: float = 0.5,
    seconds: float = 5.0,
    cpu: CpuMeter | None = None,
    profile: str | None = None,
    consumer_settings: dict[str, Any] | None = None,
    relay_settings: dict[str, Any] | None = None,
    hops: Hops | None = None,
) -> dict[str, Any]:
    """Burst, then paced at `fraction` of the burst figure (or at `rate` when given)."""
    cpu = cpu or CpuMeter()
    topic = f"bench.bus.{uuid.uuid4().hex[:8]}"
    registry = registry_of(topic)
    await ensure_topics(bootstrap, registry)
    async with temporary_database(admin_url, "bench_bus") as url:
        engine = create_engine(url, 10)
        async with engine.begin() as conn:
            await conn.run_sync(messaging_metadata.create_all)
        sessions = session_factory(engine)
        pipe, child_end = multiprocessing.get_context("spawn").Pipe()
        child = multiprocessing.get_context("spawn").Process(
            target=consumer_process,
            args=(child_end, url, bootstrap, topic, profile, consumer_settings or {}),
        )
        child.start()
        cpu.watch("consumer", child.pid)
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, pipe.recv) == "ready"
        messaging = Messaging(
            "bench",
            bootstrap,
            engine,
            sessions,
            registry=registry,
            relay_settings=RelaySettings(**(relay_settings or {})),
        )
        if hops is not None:
            hops.wrap_relay(messaging.relay)
        await messaging.start(consume=False)
        accounts = [uuid.uuid4() for _ in range(30)]
        pad = "x" * size
        written = 0

        async def write(count: int) -> None:
            nonlocal written
            envelopes = []
            for _ in range(count):
                envelopes.append(
                    registry.envelope(
                        topic,
                        BenchPing(sent_ns=time.perf_counter_ns(), pad=pad),
                        source="bench",
                        account_id=accounts[written % len(accounts)],
                    )
                )
                written += 1
            async with sessions() as session:
                await messaging.outbox.add(session, *envelopes)
                await session.commit()
            if hops is not None:
                hops.on_commit([e.data["sent_ns"] for e in envelopes])

        async def run(count: int, pace: float | None) -> tuple[float, list[tuple[int, int]]]:
            pipe.send(str(count))
            started = time.perf_counter()
            if pace is None:
                writers = 4
                chunks = [per_tx] * (count // per_tx) + ([count % per_tx] if count % per_tx else [])

                async def writer(mine: list[int]) -> None:
                    for k in mine:
                        await write(k)

                await asyncio.gather(*(writer(chunks[w::writers]) for w in range(writers)))
            else:
                await paced(pace, seconds, write)
            handled = await loop.run_in_executor(None, pipe.recv)
            return time.perf_counter() - started, handled

        await run(20, None)  # warm up: the consumer group joined, the relay's producer started
        with Profiler(profile, "writer_relay") as profiler, cpu.phase("bus_burst", n):
            elapsed, _ = await run(n, None)
        peak = n / elapsed
        pace = rate or fraction * peak
        if hops is not None:
            hops.recording = True
        with cpu.phase("bus_paced", int(pace * seconds)):
            _, paced_handled = await run(int(pace * seconds), pace)
        paced_latencies = [(done - sent) / 1e6 for sent, done in paced_handled]
        await messaging.stop()
        pipe.send("stop")
        consumer_top = await loop.run_in_executor(None, pipe.recv)
        child.join(30)
        async with engine.connect() as conn:
            unsent = (
                await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            ).scalar()
        await engine.dispose()
    result: dict[str, Any] = {
        "messages_per_s": round(peak),
        "writer_messages_per_transaction": per_tx,
        "consumer_settings": consumer_settings or {},
        "relay_settings": relay_settings or {},
        "paced": {"rate_per_s": round(pace), **summary(paced_latencies)},
        "outbox_unsent_after": unsent,
    }
    if hops is not None:
        result["paced_hops"] = hops.report(paced_handled)
    if profile:
        result["profile_top"] = {"writer_relay": profiler.top(), "consumer": consumer_top}
    return result


def settings_of(cls: type, pairs: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs as keyword arguments of a settings dataclass, typed as its defaults."""
    return {
        name: type(getattr(cls, name))(value)
        for name, value in (pair.split("=", 1) for pair in pairs)
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=512, help="payload padding in bytes")
    parser.add_argument("--per-tx", type=int, default=100, help="messages per writer transaction")
    parser.add_argument("--fraction", type=float, default=0.5, help="paced rate / own peak")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a paced phase")
    parser.add_argument("--profile", default=None, help="directory for cProfile output")
    parser.add_argument(
        "--consumer-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a ConsumerSettings field for the consumer (e.g. fetch_max_wait_ms=20); repeatable",
    )
    parser.add_argument(
        "--relay-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a RelaySettings field for the relay (e.g. linger_ms=0); repeatable",
    )
    parser.add_argument(
        "--hops", action="store_true", help="time each hop of the paced phase (costs CPU)"
    )
    args = parser.parse_args()
    # Log lines (the relay's) go to stderr: stdout carries the JSON alone.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    admin_url = os.environ["IGNY8_POSTGRES_ADMIN_URL"]
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    cpu = CpuMeter.for_local_infra(INFRA)
    load_before = os.getloadavg()
    raw = await raw_path(bootstrap, args.messages, args.size, 0, 0, cpu)
    bus = await messaging_path(
        bootstrap,
        admin_url,
        args.messages,
        args.size,
        per_tx=args.per_tx,
        fraction=args.fraction,
        seconds=args.seconds,
        cpu=cpu,
        profile=args.profile,
        consumer_settings=settings_of(ConsumerSettings, args.consumer_setting),
        relay_settings=settings_of(RelaySettings, args.relay_setting),
        hops=Hops() if args.hops else None,
    )
    pace = bus["paced"]["rate_per_s"]
    raw_at_pace = await raw_path(bootstrap, 0, args.size, pace, args.seconds, cpu)
    ratio = bus["messages_per_s"] / raw["burst_messages_per_s"]
    p99_ratio = bus["paced"]["p99_ms"] / raw_at_pace["paced"]["p99_ms"]
    print(
        json.dumps(
            {
                "benchmark": "bus",
                "messages": args.messages,
                "message_bytes": args.size,
                "raw_aiokafka": {**raw, "paced": raw_at_pace["paced"]},
                "igny8_messaging": bus,
                "messaging_vs_raw_throughput": {"ratio": round(ratio, 3), "goal": ">= 0.30"},
                "paced_p99_vs_raw_p99": {"ratio": round(p99_ratio, 2), "goal": "<= 2.0"},
                "cpu_s_per_1000_messages": cpu.report(),
                "runqueue_wait_s_per_1000_messages": cpu.waits(),
                "load_average": {"before": load_before, "after": os.getloadavg()},
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
