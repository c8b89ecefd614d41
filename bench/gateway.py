"""Gateway overhead: requests/s and p99 of one read route (`GET /v1/prices` → billing's
`GET /costs`) through the gateway, the same route called directly on billing with a service token,
and a bare FastAPI app answering a constant — each its own process, one load client, one run.

Needs `make infra-up` and migrated databases (`make migrate`); prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

# This file is named as the issue asks, which shadows the `gateway` package when run as a
# script: its own folder leaves the import path first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from gateway.adapters.jwt_tokens import dev_token  # noqa: E402
from gateway.adapters.sqlalchemy_identity import SqlIdentityStore  # noqa: E402
from igny8.auth import auth_headers  # noqa: E402
from igny8.db import create_engine  # noqa: E402
from igny8.testing import ensure_service_keys, free_port, start_service_process  # noqa: E402

BARE = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/costs")
async def costs():
    return {"items": [{"operation": "clustering", "credits_per_unit": 1}]}
"""
SECRET = "bench-dev-secret-" + "x" * 24


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def load(url: str, headers: dict[str, str], total: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as c:
        for _ in range(20):  # warm-up
            (await c.get(url, headers=headers)).raise_for_status()
        queue = iter(range(total))

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                answer = await c.get(url, headers=headers)
                answer.raise_for_status()
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "requests_per_s": round(total / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


def start_bare(logs: Path) -> tuple[int, subprocess.Popen[bytes]]:
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


async def main(total: int, concurrency: int) -> dict[str, object]:
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
    gateway, gateway_url = start_service_process(
        "gateway",
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
        logs / "gateway.log",
    )
    port, bare = start_bare(logs)
    try:
        engine = create_engine(os.environ["GATEWAY_DATABASE_URL"], 1)
        user, account = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4()
        await SqlIdentityStore(engine).create_account(account, "Bench", user)
        await engine.dispose()
        token = dev_token(SECRET, "https://id.igny8.local/", "igny8-api", user)
        # service tokens live 5 minutes: one per run is enough for the direct calls
        direct_headers = auth_headers(None, "gateway", "billing", account, ["owner"])
        results = {
            "through_gateway": await load(
                f"{gateway_url}/v1/prices",
                {"Authorization": f"Bearer {token}", "X-Account-Id": str(account)},
                total,
                concurrency,
            ),
            "direct_to_billing": await load(
                f"{billing_url}/costs", direct_headers, total, concurrency
            ),
            "bare_fastapi": await load(f"http://127.0.0.1:{port}/costs", {}, total, concurrency),
        }
    finally:
        bare.terminate()
        gateway.stop()
        billing.stop()
    ratio = (
        results["through_gateway"]["requests_per_s"]
        / results["direct_to_billing"]["requests_per_s"]
    )
    return {
        "route": "GET /v1/prices -> billing GET /costs",
        "requests": total,
        "concurrency": concurrency,
        **results,
        "gateway_vs_direct": round(ratio, 2),
        "goal": ">= 0.5 of direct",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.requests, args.concurrency)), indent=2))
