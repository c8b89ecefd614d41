"""Billing throughput and latency through Kafka, beside a raw PostgreSQL ceiling measured in the
same run.

- billing: reservation lifecycles driven like automation drives them — reserve; on `credit.reserved`
  a capture; on `credit.committed` the release — sent over Kafka to a billing worker process, the
  replies read back from the reply topics. Every command counts one. Full load: all lifecycles at
  once (commands per second, first send to last reply). Then half of that rate, paced: p50/p99
  command → reply.
- ceiling, raw PostgreSQL: one single-row UPDATE plus one INSERT per transaction through asyncpg,
  on billing's pool size of connections (the "ledger-shaped" transaction).
- CPU seconds per 1,000 commands (per 1,000 transactions for the ceiling) of each process: the
  billing worker, the PostgreSQL cluster (every backend and helper, exited ones included), the
  Kafka broker and the load generator itself, with how busy each was (cores) and the machine's load, so a later change can tell
  cost from speed on a shared machine.
- `--profile`: the billing worker runs under cProfile; the top functions by own time are printed
  to stderr and the stats file is named in the JSON.
Prints JSON, including the ledger audit (zero violations expected).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import pstats
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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

REPO = Path(__file__).resolve().parents[1]
REPLIES = (
    "credit.reserved",
    "credit.rejected",
    "credit.committed",
    "credit.released",
    "credit.command_failed",
)
TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- CPU accounting ------------------------------------------------------------------------------


def _cpu_of(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) of a process; with `children`, of its exited children too."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime (waited-for children)
    return ticks / TICKS


def _children_of(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return pids


class Processes:
    """The processes whose CPU is counted: billing, the PostgreSQL cluster, the broker."""

    def __init__(self, billing: int, postmaster: int | None, broker: int | None) -> None:
        self.pids = {"billing": billing, "postgres": postmaster, "broker": broker}

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {"wall": time.perf_counter(), "machine_busy": _machine_busy()}
        for name, pid in self.pids.items():
            if pid is None:
                continue
            if name == "postgres":  # backends come and go: the postmaster keeps their totals
                out[name] = _cpu_of(pid, children=True) + sum(_cpu_of(c) for c in _children_of(pid))
            else:
                out[name] = _cpu_of(pid)
        return out

    @staticmethod
    def per_1000(
        before: dict[str, float], after: dict[str, float], units: int
    ) -> dict[str, object]:
        wall = after["wall"] - before["wall"]
        cpu = {
            name: {
                "cpu_s_per_1000": round((after[name] - before[name]) / units * 1000, 3),
                "cores_busy": round((after[name] - before[name]) / wall, 2),
            }
            for name in after
            if name not in ("wall", "machine_busy")
        }
        busy, total = (after["machine_busy"][i] - before["machine_busy"][i] for i in (0, 1))  # type: ignore[index]
        return {**cpu, "machine_cores_busy": round(busy / total * os.cpu_count(), 2)}


def _machine_busy() -> tuple[float, float]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle, sum(values))  # type: ignore[return-value]


async def _postmaster(admin_url: str) -> int | None:
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        data = await conn.fetchval("SHOW data_directory")
    finally:
        await conn.close()
    return _pid_in(Path(data, "postmaster.pid"))


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _broker() -> int | None:
    return _pid_in(REPO / ".infra" / "kafka" / "kafka.pid")


# -- the raw PostgreSQL ceiling -------------------------------------------------------------------


async def raw_postgres_ceiling(
    url: str, pool_size: int, seconds: float, postmaster: int | None
) -> dict[str, object]:
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

    processes = Processes(os.getpid(), postmaster, None)
    processes.pids["bench_client"] = processes.pids.pop("billing")
    before = processes.sample()
    await asyncio.gather(*(worker(i) for i in range(pool_size)))
    after = processes.sample()
    await pool.close()
    return {
        "transactions_per_s": round(count / (after["wall"] - before["wall"])),
        "connections": pool_size,
        "cpu": Processes.per_1000(before, after, count),
    }


# -- billing --------------------------------------------------------------------------------------


async def _analyze(url: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def open_accounts(url: str, n: int) -> list[uuid.UUID]:
    engine = create_engine(url, 5)
    accounts = [uuid.uuid4() for _ in range(n)]
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
    await engine.dispose()
    return accounts


class Client:
    """Drives lifecycles: reserve → (reserved) capture → (committed) release → (released) done."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, linger_ms=1, enable_idempotence=True
        )
        self.consumer = AIOKafkaConsumer(
            *REPLIES,
            bootstrap_servers=bootstrap,
            group_id=f"bench.{uuid.uuid4().hex}",
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        self.sent_at: dict[str, int] = {}
        self.pending: dict[str, Envelope] = {}
        self.latencies: list[float] = []
        self.replies: Counter[str] = Counter()
        self.done = 0
        self.started = 0
        self.finished = asyncio.Event()
        self.target = 0
        self.more: Callable[[], Awaitable[None]] | None = None
        """Starts one more lifecycle when one ends (full load), until `target` were started."""

    async def start(self) -> None:
        await self.consumer.start()
        await self.producer.start()
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=200)
        for tp in self.consumer.assignment():
            await self.consumer.seek_to_end(tp)
        self.reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        self.reader.cancel()
        await self.producer.stop()
        await self.consumer.stop()

    def reset(self, target: int) -> None:
        self.latencies.clear()
        self.replies.clear()
        self.done, self.started, self.target = 0, 0, target
        self.finished.clear()

    async def send(self, envelope: Envelope) -> None:
        self.sent_at[str(envelope.id)] = time.perf_counter_ns()
        self.pending[str(envelope.id)] = envelope
        await self.producer.send(
            envelope.type, envelope.to_bytes(), key=TOPICS[envelope.type].key_of(envelope)
        )

    async def reserve(self, account: uuid.UUID) -> None:
        self.started += 1
        payload = wire.ReserveCredits(
            reservation_id=uuid.uuid4(),
            items=[wire.ReserveItem(operation="content_generation", quantity=1200)],
        )
        await self.send(
            TOPICS.envelope("credit.reserve", payload, source="automation", account_id=account)
        )

    async def _read(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100)
            now = time.perf_counter_ns()
            for records in batch.values():
                for record in records:
                    value = json.loads(record.value)
                    command = self.pending.pop(value.get("causation_id"), None)
                    if command is None:
                        continue
                    self.latencies.append((now - self.sent_at[str(command.id)]) / 1e6)
                    self.replies[record.topic] += 1
                    await self._follow_up(command, record.topic, value["data"])

    async def _follow_up(self, command: Envelope, reply: str, data: dict[str, object]) -> None:
        account = command.account_id
        reservation = uuid.UUID(str(data["reservation_id"]))
        if reply == "credit.reserved":
            payload: wire.CommitCredits | wire.ReleaseCredits = wire.CommitCredits(
                reservation_id=reservation,
                commit_id=uuid.uuid4(),
                operation="content_generation",
                quantity=800,
            )
            topic = "credit.commit"
        elif reply == "credit.committed":
            payload, topic = wire.ReleaseCredits(reservation_id=reservation), "credit.release"
        else:
            self.done += 1
            if self.done >= self.target:
                self.finished.set()
            elif self.more is not None and self.started < self.target:
                await self.more()
            return
        await self.send(TOPICS.envelope(topic, payload, source="automation", account_id=account))


async def billing_path(
    bootstrap: str,
    url: str,
    cycles: int,
    window: int,
    n_accounts: int,
    profile: Path | None,
    admin: str,
) -> dict[str, object]:
    accounts = await open_accounts(url, n_accounts)
    port = free_port()
    log = Path(tempfile.mkdtemp()) / "billing.log"
    script = str(Path(sys.executable).parent / "billing")
    args = [script, "serve", "--role", "worker"]
    if profile is not None:
        profiled = Path(__file__).with_name("profiled.py")
        args = [sys.executable, str(profiled), str(profile), "billing.cli:main", *args[1:]]
    process = ChildProcess(
        args,
        log,
        {
            "BILLING_DATABASE_URL": url,
            "BILLING_HTTP_PORT": str(port),
            "BILLING_LOG_LEVEL": "WARNING",
        },
    )
    processes = Processes(process.proc.pid, await _postmaster(admin), _broker())
    processes.pids["bench_client"] = os.getpid()  # the load generator shares the machine
    client = Client(bootstrap)
    await client.start()

    async def lifecycles(n: int, rate: float | None, window: int = 0) -> float:
        """n lifecycles: at most `window` in flight (a new one starts as one ends), or started
        at `rate` commands/s; seconds until all ended."""
        client.reset(n)
        started = time.perf_counter()
        if rate is None:
            client.more = lambda: client.reserve(accounts[client.started % len(accounts)])
            for _ in range(min(window, n)):
                await client.reserve(accounts[client.started % len(accounts)])
        else:
            client.more = None
            for i in range(n):
                await client.reserve(accounts[i % len(accounts)])
                delay = started + (i + 1) * 3 / rate - time.perf_counter()  # 3 commands each
                if delay > 0:
                    await asyncio.sleep(delay)
        await asyncio.wait_for(client.finished.wait(), 900)
        return time.perf_counter() - started

    # Warm-up (it also waits for billing's consumer to join), then statistics, as a database in
    # service has them. Without: a fresh database is never analyzed within the run (autovacuum
    # looks every minute), and the foreign-key check of each ledger entry keeps the sequential-scan
    # plan cached while ledger_transactions was tiny — 34,000 scans reading 290 million rows in
    # one run, PostgreSQL's CPU per command tripled (ADR 0001, round 4). ANALYZE invalidates those
    # plans; at a few thousand rows they are index lookups.
    await lifecycles(max(n_accounts, window), None, window)
    await _analyze(url)

    before = processes.sample()
    elapsed = await lifecycles(cycles, None, window)
    after = processes.sample()
    commands = sum(client.replies.values())
    peak = commands / elapsed
    burst = {
        "commands": commands,
        "commands_per_s": round(peak),
        "lifecycles_in_flight": window,
        "p99_ms": round(percentile(client.latencies, 0.99), 1),
        "replies": dict(client.replies),
        "cpu": Processes.per_1000(before, after, commands),
    }

    rate = peak / 2
    paced_cycles = max(100, int(rate * 10 / 3))  # about ten seconds
    await lifecycles(paced_cycles, rate)
    half = {
        "rate_per_s": round(rate),
        "commands": sum(client.replies.values()),
        "p50_ms": round(percentile(client.latencies, 0.50), 1),
        "p99_ms": round(percentile(client.latencies, 0.99), 1),
    }

    await client.stop()
    if profile is not None:
        process.proc.send_signal(signal.SIGUSR1)
        for _ in range(100):
            await asyncio.sleep(0.2)
            if await asyncio.to_thread(profile.exists):
                break
    process.stop(timeout=60)
    engine = create_engine(url, 2)
    async with engine.connect() as conn:
        violations = await audit(conn)
        # Rows read by sequential scans, per table: a plan gone bad (a scan where an index
        # lookup belongs) shows here long before it is found in a profile.
        scanned = {
            row.relname: row.seq_tup_read
            for row in await conn.execute(
                sa.text(
                    "SELECT relname, seq_tup_read FROM pg_stat_user_tables"
                    " WHERE seq_tup_read > 10000 ORDER BY seq_tup_read DESC"
                )
            )
        }
    await engine.dispose()
    return {
        "full_load": burst,
        "half_load": half,
        "invariant_violations": sum(len(v) for v in violations.values()),
        "rows_read_by_sequential_scans": scanned,
    }


def print_profile(path: Path, top: int = 30) -> None:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(out.getvalue(), file=sys.stderr)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=3000, help="lifecycles (3 commands each)")
    parser.add_argument("--window", type=int, default=1000, help="lifecycles in flight")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="run billing under cProfile")
    args = parser.parse_args()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    admin = os.environ["IGNY8_POSTGRES_ADMIN_URL"]
    pool_size = BillingSettings().database_pool_size
    profile = Path(tempfile.mkdtemp()) / "billing.prof" if args.profile else None
    load_before = os.getloadavg()
    url = await create_database(admin, "bench_billing")
    try:
        await asyncio.to_thread(upgrade, SERVICE_ROOT, url)
        result = await billing_path(
            bootstrap, url, args.cycles, args.window, args.accounts, profile, admin
        )
        pg = await raw_postgres_ceiling(url, pool_size, 5.0, await _postmaster(admin))
    finally:
        await drop_database(admin, url)
    if profile is not None:
        print_profile(profile)
    full = result["full_load"]
    half = result["half_load"]
    print(
        json.dumps(
            {
                "benchmark": "billing",
                "billing": result,
                "ceiling_raw_postgres": pg,
                "vs_raw_postgres": round(full["commands_per_s"] / pg["transactions_per_s"], 3),  # type: ignore[index]
                "half_load_p99_ms": half["p99_ms"],  # type: ignore[index]
                "goals": {
                    "vs_raw_postgres": ">= 1.0",
                    "half_load_p99_ms": "< 100",
                    "invariant_violations": 0,
                },
                "load_average": {
                    "before": [round(v, 2) for v in load_before],
                    "after": [round(v, 2) for v in os.getloadavg()],
                },
                "cpus": os.cpu_count(),
                "profile": str(profile) if profile else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
