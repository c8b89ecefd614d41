"""Gateway benchmarks, printed as JSON with each figure beside its goal.

`http`: requests/s and p99 of one read route (`GET /v1/prices` → billing's `GET /costs`) through
the gateway, the same route called directly on billing with a service token, and a bare FastAPI
app answering a constant — each its own process, one load client, one run (goal ≥ 0.5 of direct).

`sse`: 1,000 concurrent subscribers of one site's stream on one gateway process; events published
to Kafka one at a time; the latency from `send` to each subscriber reading the event (goal: p99
under 250 ms). The site lookup a stream makes is answered by a stand-in (integration's
`GET /sites/{id}`); everything after it — Kafka, the stream consumer, `stream_events`, the
notification, the per-process fan-out and 1,000 sockets — is the real path.

Needs `make infra-up` and migrated databases (`make migrate`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

# This file is named as the issue asks, which shadows the `gateway` package when run as a
# script: its own folder leaves the import path first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from gateway.adapters.jwt_tokens import dev_token  # noqa: E402
from gateway.adapters.sqlalchemy_identity import SqlIdentityStore  # noqa: E402
from igny8.auth import auth_headers  # noqa: E402
from igny8.db import create_engine  # noqa: E402
from igny8.testing import (  # noqa: E402
    ChildProcess,
    ensure_service_keys,
    free_port,
    start_service_process,
)

BARE = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/costs")
async def costs():
    return {"items": [{"operation": "clustering", "credits_per_unit": 1}]}
@app.get("/sites/{site_id}")
async def site(site_id: str):
    return {"id": site_id}
"""
SECRET = "bench-dev-secret-" + "x" * 24


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def load(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], total: int, concurrency: int
) -> tuple[list[float], float]:
    """(latencies, elapsed seconds) of `total` GETs from `concurrency` workers."""
    latencies: list[float] = []
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            answer = await client.get(url, headers=headers)
            answer.raise_for_status()
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


async def compare(
    targets: dict[str, tuple[str, Any]],
    total: int,
    concurrency: int,
    rounds: int,
    pids: dict[str, int] | None = None,
) -> dict[str, dict[str, float]]:
    """Each target takes `total` requests in `rounds` interleaved slices, so a change in the
    shared machine's load falls on every target alike rather than on whichever ran then.
    With `pids`, each target's slices also count the CPU time of those processes per request
    (a figure other engineers' load does not inflate the way it inflates requests/s)."""
    samples: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in targets}
    cpu: dict[str, dict[str, float]] = {name: dict.fromkeys(pids or {}, 0.0) for name in targets}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as c:
        for url, headers in targets.values():
            for _ in range(20):  # warm-up
                (await c.get(url, headers=headers())).raise_for_status()
        for _ in range(rounds):
            for name, (url, headers) in targets.items():
                before = {proc: cpu_seconds(pid) for proc, pid in (pids or {}).items()}
                latencies, elapsed = await load(c, url, headers(), total // rounds, concurrency)
                samples[name] = (samples[name][0] + latencies, samples[name][1] + elapsed)
                for proc, pid in (pids or {}).items():
                    cpu[name][proc] += cpu_seconds(pid) - before[proc]
    return {
        name: {
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            **{
                f"{proc}_cpu_ms_per_request": round(spent * 1000 / len(latencies), 3)
                for proc, spent in cpu[name].items()
            },
        }
        for name, (latencies, elapsed) in samples.items()
    }


def start_bare(logs: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """The bare FastAPI app (also the SSE benchmark's stand-in for integration's site lookup)."""
    (logs / "bare_app.py").write_text(BARE)
    port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=logs,
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/costs", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return port, bare


def start_gateway(
    env: dict[str, str], logs: Path, profile: Path | None
) -> tuple[ChildProcess, str]:
    """`gateway serve` on a free port; under `bench/profiled.py` when `profile` names a stats
    file (written on SIGUSR1, before the process is stopped)."""
    if profile is None:
        return start_service_process("gateway", env, logs / "gateway.log")
    port = free_port()
    args = [
        sys.executable,
        "-P",  # bench/ on the import path would shadow the `gateway` package with this file
        str(Path(__file__).with_name("profiled.py")),
        str(profile),
        "gateway.cli:main",
        "serve",
        "--port",
        str(port),
    ]
    child = ChildProcess(args, logs / "gateway.log", env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return child, url
        except httpx.HTTPError:
            time.sleep(0.2)
    child.stop()
    raise RuntimeError(f"the profiled gateway did not start:\n{child.output()[-3000:]}")


def stop_gateway(gateway: ChildProcess, profile: Path | None) -> None:
    if profile is not None:
        os.kill(gateway.proc.pid, signal.SIGUSR1)
        time.sleep(1)
    gateway.stop()


async def http_bench(
    total: int, concurrency: int, rounds: int, profile: Path | None = None
) -> dict[str, object]:
    ensure_service_keys()
    logs = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    kafka = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    billing, billing_url = start_service_process(
        "billing",
        {
            "BILLING_DATABASE_URL": os.environ["BILLING_DATABASE_URL"],
            "BILLING_ROLE": "api",
            "BILLING_MIGRATE_ON_START": "false",
            "BILLING_LOG_LEVEL": "WARNING",
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
        },
        logs / "billing.log",
    )
    gateway, gateway_url = start_gateway(
        {
            "GATEWAY_DATABASE_URL": os.environ["GATEWAY_DATABASE_URL"],
            "GATEWAY_ROLE": "api",
            "GATEWAY_MIGRATE_ON_START": "false",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_JWT_DEV_SECRET": SECRET,
            "GATEWAY_BILLING_URL": billing_url,
            "GATEWAY_RATE_LIMIT_BURST": "100000000",
            "GATEWAY_RATE_LIMIT_PER_S": "100000000",
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
        },
        logs,
        profile,
    )
    port, bare = start_bare(logs)
    try:
        engine = create_engine(os.environ["GATEWAY_DATABASE_URL"], 1)
        user, account = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4()
        await SqlIdentityStore(engine).create_account(account, "Bench", user)
        await engine.dispose()
        token = dev_token(SECRET, "https://id.igny8.local/", "igny8-api", user)
        user_headers = {"Authorization": f"Bearer {token}", "X-Account-Id": str(account)}
        results = await compare(
            {
                "through_gateway": (f"{gateway_url}/v1/prices", lambda: user_headers),
                # a service token lives 2 minutes: minted for each slice
                "direct_to_billing": (
                    f"{billing_url}/costs",
                    lambda: auth_headers(None, "gateway", "billing", account, ["owner"]),
                ),
                "bare_fastapi": (f"http://127.0.0.1:{port}/costs", dict),
            },
            total,
            concurrency,
            rounds,
            {"gateway": gateway.proc.pid, "billing": billing.proc.pid},
        )
    finally:
        bare.terminate()
        stop_gateway(gateway, profile)
        billing.stop()
    ratio = (
        results["through_gateway"]["requests_per_s"]
        / results["direct_to_billing"]["requests_per_s"]
    )
    # On a CPU-bound machine throughput is the inverse of the CPU a request costs: direct, the
    # service's; through the gateway, the gateway's plus the service's.
    via = results["through_gateway"]
    cpu_ratio = results["direct_to_billing"]["billing_cpu_ms_per_request"] / (
        via["gateway_cpu_ms_per_request"] + via["billing_cpu_ms_per_request"]
    )
    return {
        "route": "GET /v1/prices -> billing GET /costs",
        "requests": total,
        "concurrency": concurrency,
        "rounds": rounds,
        **results,
        "gateway_vs_direct": round(ratio, 2),
        "gateway_vs_direct_by_cpu": round(cpu_ratio, 2),
        "goal": ">= 0.5 of direct",
        "met": ratio >= 0.5,
    }


class Subscriber:
    """One SSE client on a raw socket (an HTTP client library per stream would make the load
    client, not the gateway, the bottleneck): records when each event's `done` number arrives."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.connected = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, port: int, path: str, headers: dict[str, str]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer = writer
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            await self._read(reader)
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r} {await reader.read(500)!r}")
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b": connected"):
                self.connected.set()
            elif line.startswith(b"data: "):
                done = json.loads(line[6:])["done"]
                self.arrived.setdefault(done, time.perf_counter())


async def sse_bench(
    subscribers: int, events: int, interval: float, profile: Path | None = None
) -> dict[str, object]:
    from aiokafka import AIOKafkaProducer

    from igny8.contracts import TOPICS
    from igny8.contracts.runs import StageChanged

    ensure_service_keys()
    logs = Path(tempfile.mkdtemp(prefix="bench-gateway-sse-"))
    kafka = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    port, stand_in = start_bare(logs)
    gateway, gateway_url = start_gateway(
        {
            "GATEWAY_DATABASE_URL": os.environ["GATEWAY_DATABASE_URL"],
            "GATEWAY_ROLE": "all",
            "GATEWAY_MIGRATE_ON_START": "false",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_JWT_DEV_SECRET": SECRET,
            "GATEWAY_INTEGRATION_URL": f"http://127.0.0.1:{port}",
            "GATEWAY_RATE_LIMIT_BURST": "100000000",
            "GATEWAY_RATE_LIMIT_PER_S": "100000000",
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
        },
        logs,
        profile,
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    clients: list[Subscriber] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        engine = create_engine(os.environ["GATEWAY_DATABASE_URL"], 1)
        user, account = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4()
        await SqlIdentityStore(engine).create_account(account, "Bench", user)
        await engine.dispose()
        token = dev_token(SECRET, "https://id.igny8.local/", "igny8-api", user)
        headers = {"Authorization": f"Bearer {token}", "X-Account-Id": str(account)}
        site, run = uuid.uuid4(), uuid.uuid4()

        async def send(done: int) -> float:
            payload = StageChanged(run_id=run, site_id=site, stage=1, name="bench", done=done)
            envelope = TOPICS.envelope(
                "stage.progress", payload, source="automation", account_id=account, site_id=site
            )
            sent = time.perf_counter()
            await producer.send_and_wait(
                "stage.progress", envelope.to_bytes(), key=str(run).encode()
            )
            return sent

        # the gateway's consumer is assigned once a warm-up event reaches a first subscriber
        probe = Subscriber()
        tasks.append(
            asyncio.create_task(probe.run(_port(gateway_url), f"/v1/sites/{site}/events", headers))
        )
        await asyncio.wait_for(probe.connected.wait(), 30)
        deadline = time.monotonic() + 90
        warm = -1
        while not probe.arrived and time.monotonic() < deadline:
            await send(warm)
            warm -= 1
            await asyncio.sleep(1)
        if not probe.arrived:
            raise RuntimeError("the gateway never delivered a warm-up event")
        opened = time.perf_counter()
        gate = asyncio.Semaphore(50)  # connections opened 50 at a time

        async def open_one() -> Subscriber:
            async with gate:
                client = Subscriber()
                tasks.append(
                    asyncio.create_task(
                        client.run(_port(gateway_url), f"/v1/sites/{site}/events", headers)
                    )
                )
                await asyncio.wait_for(client.connected.wait(), 60)
                return client

        clients = list(await asyncio.gather(*(open_one() for _ in range(subscribers))))
        open_s = time.perf_counter() - opened
        # Opening 1,000 streams leaves work behind on both sides (the load client too shares
        # the machine): warm-up events until one reached every subscriber, so the measured
        # events find the pipeline in its steady state rather than draining that backlog.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await send(warm)
            await asyncio.sleep(1)
            if all(warm in client.arrived for client in clients):
                break
            warm -= 1
        await asyncio.sleep(1)
        cpu_before = cpu_seconds(gateway.proc.pid)
        sent: dict[int, float] = {}
        for done in range(events):
            sent[done] = await send(done)
            await asyncio.sleep(interval)
        await asyncio.sleep(3)
        cpu_ms_per_event = (cpu_seconds(gateway.proc.pid) - cpu_before) * 1000 / events
        latencies = [
            (client.arrived[done] - at)
            for client in clients
            for done, at in sent.items()
            if done in client.arrived
        ]
        expected = subscribers * events
        per_event = [
            round(max(c.arrived.get(done, float("inf")) for c in clients) - at, 3) * 1000
            for done, at in sent.items()
        ]
        # the first subscriber's latency is the pipeline's (Kafka, the stream consumer, the
        # table, the notification); the last one's adds the fan-out to every socket
        first_per_event = [
            round(min(c.arrived.get(done, float("inf")) for c in clients) - at, 3) * 1000
            for done, at in sent.items()
        ]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        stop_gateway(gateway, profile)
        stand_in.terminate()
    p99 = percentile(latencies, 0.99) * 1000 if latencies else float("nan")
    return {
        "subscribers": subscribers,
        "events": events,
        "interval_s": interval,
        "connections_opened_in_s": round(open_s, 2),
        "delivered": len(latencies),
        "expected": expected,
        "publish_to_delivered_ms": {
            "p50": round(percentile(latencies, 0.5) * 1000, 1),
            "p99": round(p99, 1),
            "max": round(max(latencies) * 1000, 1),
        },
        "first_subscriber_ms_per_event": first_per_event,
        "last_subscriber_ms_per_event": per_event,
        # CPU the gateway spent per event (all subscribers), a figure the machine's load does
        # not inflate the way it inflates latencies
        "gateway_cpu_ms_per_event": round(cpu_ms_per_event, 1),
        "goal": "p99 < 250 ms, every event delivered to every subscriber",
        "met": p99 < 250 and len(latencies) == expected,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux `/proc/<pid>/stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("part", nargs="?", choices=["all", "http", "sse"], default="all")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument(
        "--profile", type=Path, help="cProfile stats of the gateway process (CPU time)"
    )
    args = parser.parse_args()
    out: dict[str, object] = {"load_average_before": load_average(), "cpus": os.cpu_count()}
    if args.part in ("all", "http"):
        out["http"] = asyncio.run(
            http_bench(args.requests, args.concurrency, args.rounds, args.profile)
        )
    if args.part in ("all", "sse"):
        # the load client reads 1,000 sockets: on uvloop it is less of a bottleneck than the
        # gateway it measures (it shares the machine's cores)
        import uvloop

        out["sse"] = uvloop.run(
            sse_bench(args.subscribers, args.events, args.interval, args.profile)
        )
    out["load_average_after"] = load_average()
    print(json.dumps(out, indent=2))
