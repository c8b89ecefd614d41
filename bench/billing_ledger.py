"""Billing throughput and latency through Kafka, beside two ceilings measured in the same run.

- billing: reserve/commit/release commands (each counts one) sent by a client over Kafka to a
  billing process, replies read back from the reply topics: commands per second at full load,
  then p50/p99 command→reply latency at half of that rate;
- ceiling 1, the igny8.messaging path (outbox → relay → Kafka → inbox consumer, bench/bus.py);
- ceiling 2, raw PostgreSQL: one single-row UPDATE plus one INSERT per transaction through asyncpg,
  with billing's pool size of concurrent connections.
Prints JSON, including the ledger audit (zero violations expected).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from bus import messaging_path, percentile
from sqlalchemy.engine import make_url

from billing.adapters.sqlalchemy_audit import audit
from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app.commands import GrantCredits
from billing.app.grant_credits import grant_credits
from billing.bootstrap import SERVICE_ROOT
from billing.config import BillingSettings
from billing.domain.model import GrantKind
from billing.ports import Policy
from igny8.clock import SystemClock
from igny8.contracts import TOPICS, Envelope
from igny8.contracts import credits as wire
from igny8.db import create_engine, session_factory
from igny8.db.migrations import upgrade
from igny8.testing import ChildProcess, create_database, drop_database, free_port

REPLIES = (
    "credit.reserved",
    "credit.rejected",
    "credit.committed",
    "credit.released",
    "credit.command_failed",
)


def cycle(account: uuid.UUID) -> list[Envelope]:
    """One reservation's life: reserve, capture, release — three commands."""
    reservation = uuid.uuid4()
    common = {"source": "automation", "account_id": account}
    return [
        TOPICS.envelope(
            "credit.reserve",
            wire.ReserveCredits(
                reservation_id=reservation,
                items=[wire.ReserveItem(operation="content_generation", quantity=1200)],
            ),
            **common,
        ),
        TOPICS.envelope(
            "credit.commit",
            wire.CommitCredits(
                reservation_id=reservation,
                commit_id=uuid.uuid4(),
                operation="content_generation",
                quantity=800,
            ),
            **common,
        ),
        TOPICS.envelope(
            "credit.release", wire.ReleaseCredits(reservation_id=reservation), **common
        ),
    ]


async def raw_postgres_ceiling(url: str, pool_size: int, seconds: float) -> dict[str, float]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id int PRIMARY KEY, n bigint)")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_log (id bigserial PRIMARY KEY, row_id int, n bigint)"
        )
        await conn.execute(
            "INSERT INTO bench_rows SELECT g, 0 FROM generate_series(1, 100) g ON CONFLICT DO NOTHING"
        )
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal count
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                async with conn.transaction():
                    row = (count + i) % 100 + 1
                    await conn.execute("UPDATE bench_rows SET n = n + 1 WHERE id = $1", row)
                    await conn.execute("INSERT INTO bench_log (row_id, n) VALUES ($1, 1)", row)
                count += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(pool_size)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return {"transactions_per_s": round(count / elapsed), "connections": pool_size}


async def billing_path(bootstrap: str, url: str, cycles: int) -> dict[str, object]:
    engine = create_engine(url, 5)
    accounts = [uuid.uuid4() for _ in range(30)]
    async with BillingUnitOfWork(session_factory(engine)) as uow:
        for account in accounts:
            await uow.ledger.open_account(account, 0)
        await uow.commit()
    for account in accounts:
        async with BillingUnitOfWork(session_factory(engine)) as uow:
            await grant_credits(
                GrantCredits(account, 10_000_000, GrantKind.PAID, "bench"),
                uow,
                SystemClock(),
                Policy(low_balance_threshold=0),
            )
            await uow.commit()

    port = free_port()
    log = Path(tempfile.mkdtemp()) / "billing.log"
    process = ChildProcess(
        [str(Path(sys.executable).parent / "billing"), "serve", "--role", "worker"],
        log,
        {
            "BILLING_DATABASE_URL": url,
            "BILLING_HTTP_PORT": str(port),
            "BILLING_LOG_LEVEL": "WARNING",
        },
    )
    consumer = AIOKafkaConsumer(
        *REPLIES,
        bootstrap_servers=bootstrap,
        group_id=f"bench.{uuid.uuid4().hex}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, enable_idempotence=True)
    await consumer.start()
    await producer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=200)
    for tp in consumer.assignment():
        await consumer.seek_to_end(tp)
    sent_at: dict[str, int] = {}
    latencies: list[float] = []
    received: set[str] = set()

    async def read_replies(expected: int) -> None:
        while len(received) < expected:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter_ns()
            for records in batch.values():
                for record in records:
                    causation = json.loads(record.value).get("causation_id")
                    if causation in sent_at and causation not in received:
                        received.add(causation)
                        latencies.append((now - sent_at[causation]) / 1e6)

    async def send(envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            sent_at[str(envelope.id)] = time.perf_counter_ns()
            await producer.send(
                envelope.type, envelope.to_bytes(), key=TOPICS[envelope.type].key_of(envelope)
            )

    # warm-up (also waits for the billing consumer to join)
    warm = [e for i in range(30) for e in cycle(accounts[i % 30])]
    await send(warm)
    await asyncio.wait_for(read_replies(len(warm)), 120)

    # full load: all commands at once, in per-account order
    burst = [e for i in range(cycles) for e in cycle(accounts[i % 30])]
    received.clear()
    latencies.clear()
    started = time.perf_counter()
    reader = asyncio.create_task(read_replies(len(burst)))
    await send(burst)
    await asyncio.wait_for(reader, 600)
    peak = len(burst) / (time.perf_counter() - started)
    burst_latency = list(latencies)

    # half of peak: paced, to read latency without a queue in front of billing
    paced = [e for i in range(max(100, cycles // 4)) for e in cycle(accounts[i % 30])]
    received.clear()
    latencies.clear()
    rate = peak / 2
    reader = asyncio.create_task(read_replies(len(paced)))
    t0 = time.perf_counter()
    for n, envelope in enumerate(paced):
        await send([envelope])
        delay = t0 + (n + 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.wait_for(reader, 600)

    await producer.stop()
    await consumer.stop()
    process.stop()
    async with engine.connect() as conn:
        violations = await audit(conn)
    await engine.dispose()
    return {
        "commands": len(burst),
        "commands_per_s": round(peak),
        "burst_p99_ms": round(percentile(burst_latency, 0.99), 1),
        "half_load_rate_per_s": round(rate),
        "half_load_p50_ms": round(percentile(latencies, 0.50), 1),
        "half_load_p99_ms": round(percentile(latencies, 0.99), 1),
        "invariant_violations": sum(len(v) for v in violations.values()),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--cycles", type=int, default=1000, help="reservation lifecycles (3 commands each)"
    )
    args = parser.parse_args()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    admin = os.environ["IGNY8_POSTGRES_ADMIN_URL"]
    pool_size = BillingSettings().database_pool_size
    url = await create_database(admin, "bench_billing")
    try:
        await asyncio.to_thread(upgrade, SERVICE_ROOT, url)
        result = await billing_path(bootstrap, url, args.cycles)
        pg = await raw_postgres_ceiling(url, pool_size, 5.0)
    finally:
        await drop_database(admin, url)
    bus = await messaging_path(bootstrap, admin, 3000, 512, 200.0)
    print(
        json.dumps(
            {
                "benchmark": "billing",
                "billing": result,
                "ceiling_messaging_path": bus,
                "ceiling_raw_postgres": pg,
                "vs_raw_postgres": round(result["commands_per_s"] / pg["transactions_per_s"], 3),
                "vs_messaging_path": round(result["commands_per_s"] / bus["messages_per_s"], 3),
                "goals": {
                    "vs_raw_postgres": ">= 1.0",
                    "vs_messaging_path": ">= 0.5",
                    "half_load_p99_ms": "< 100",
                    "invariant_violations": 0,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
