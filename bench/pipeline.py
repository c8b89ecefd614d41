"""Pipeline benchmark: 1,000 keywords through every stage with the development AI server at a fixed
200 ms per call and no configured delays. Prints JSON: wall time, AI calls, the overhead ratio
against the critical-path bound for the configured concurrency (goal: at most 1.10), and the peak
memory of the automation process. Load-independent figures beside them: the automation process's
CPU seconds and the database transactions committed in its database during the measured run,
each per AI call, and the transactions rolled back (read-only units and connection pings) (all
include what grows with wall time rather than with items: the bench's own look at the run every
`POLL_S` — `bench_polls` of them, a read-only unit each — the outbox relay's polls, lease
renewals). The worker's tick is the default (new and resumed runs wake workers by NOTIFY). `--profile out.prof` runs automation under cProfile and writes its profile (SIGUSR1 after
the measured run). Needs `make infra-up`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import os
import signal
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from igny8.auth import auth_headers
from igny8.contracts import TOPICS
from igny8.contracts.sites import SiteSnapshot
from igny8.messaging import ensure_topics
from igny8.testing import ChildProcess, ensure_service_keys, free_port, temporary_database

BIN = Path(sys.executable).parent
LATENCY_S = 0.2
POLL_S = 0.5
"""How often the bench looks at the run. The wall time is the run's own `ended_at` (same clock),
not when a look saw it: looking every 50 ms (as the bench once did) made automation serve 20
requests a second beside the run it measured — CPU and transactions of the bench's own."""
IMAGE_CONCURRENCY = 4
CONFIG = {
    "batch_sizes": {"1": 50},
    "ideas_per_cluster": 2,
    "target_word_count": 400,
    "inline_images": 1,
    "image_size": "64x64",
    "max_items_per_stage": {"2": 20},
}


def keywords(n: int) -> bytes:
    heads = [
        "compost",
        "mulch",
        "tomato",
        "basil",
        "espresso",
        "grinder",
        "treadmill",
        "sneaker",
        "budget",
        "savings",
        "desk",
        "monitor",
        "lamp",
        "kettle",
        "blender",
        "tent",
        "kayak",
        "drone",
        "camera",
        "tripod",
    ]
    forms = [
        "best {h}",
        "{h} guide",
        "cheap {h}",
        "{h} review",
        "{h} tips",
        "how to clean a {h}",
        "{h} for kids",
        "{h} vs {o}",
        "used {h}",
        "{h} accessories",
        "small {h}",
        "{h} repair",
        "{h} brands",
        "{h} deals",
        "{h} sizes",
        "{h} colors",
        "portable {h}",
        "{h} in 2026",
        "{h} checklist",
        "{h} problems",
        "{h} benefits",
        "diy {h}",
        "{h} price",
        "{h} storage",
        "{h} setup",
        "{h} for beginners",
        "premium {h}",
        "{h} alternatives",
        "{h} warranty",
        "electric {h}",
        "{h} materials",
        "smart {h}",
        "{h} maintenance",
        "{h} comparison",
        "{h} for seniors",
        "{h} gift ideas",
        "{h} safety",
        "{h} kit",
        "{h} near me",
        "{h} history",
        "{h} faq",
        "{h} myths",
        "{h} trends",
        "{h} hacks",
        "{h} essentials",
        "{h} upgrades",
        "{h} features",
        "{h} on sale",
        "{h} subscription",
        "vintage {h}",
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["keyword", "volume"])
    rows = [
        (f.format(h=h, o=heads[(i + 1) % len(heads)]), 100 + i)
        for i, (f, h) in enumerate((f, h) for f in forms for h in heads)
    ]
    writer.writerows(rows[:n])
    return out.getvalue().encode()


PROFILED = """
import cProfile, os, signal, sys, time
from automation.cli import main
profile = cProfile.Profile(time.process_time)  # CPU, not wall: a process waiting for a core is not slow code
def dump(*_):
    profile.disable()
    profile.dump_stats(os.environ["BENCH_PROFILE"])
    os._exit(0)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["automation", *sys.argv[1:]]
profile.enable()
sys.exit(main())
"""


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def commits(admin_url: str, database_url: str) -> tuple[int, int]:
    """Transactions committed and rolled back in the database so far (PostgreSQL's statistics).
    Rolled back: read-only units of work and connection pings (a ping is BEGIN; `;`; ROLLBACK)."""
    name = database_url.rsplit("/", 1)[1].split("?")[0]
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1", name
        )
        return int(row["xact_commit"]), int(row["xact_rollback"])
    finally:
        await conn.close()


def stage_time(log_text: str) -> float | None:
    """A stage's started -> completed seconds from its run log (`<iso time> <event> …` lines)."""
    at = {}
    for line in log_text.splitlines():
        when, _, rest = line.partition(" ")
        event = rest.partition(" ")[0]
        if event in ("stage.started", "stage.completed"):
            at[event] = datetime.fromisoformat(when)
    if len(at) < 2:
        return None
    return round((at["stage.completed"] - at["stage.started"]).total_seconds(), 2)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def main() -> None:
    profile_out = sys.argv[2] if sys.argv[1:2] == ["--profile"] else None
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    admin = os.environ["IGNY8_POSTGRES_ADMIN_URL"]
    ensure_service_keys()  # .env.infra's development keys, or a fresh set
    await ensure_topics(bootstrap, TOPICS)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    async with (
        temporary_database(admin, "bench_billing") as billing_db,
        temporary_database(admin, "bench_automation") as automation_db,
    ):
        ports = {name: free_port() for name in ("ai", "billing", "automation")}
        env = {"LOG_LEVEL": "WARNING"}
        ai = ChildProcess(
            [
                str(BIN / "igny8-dev-ai"),
                "--port",
                str(ports["ai"]),
                "--latency-ms",
                str(int(LATENCY_S * 1000)),
            ],
            tmp / "ai.log",
            env,
        )
        billing = ChildProcess(
            [str(BIN / "billing"), "serve", "--port", str(ports["billing"])],
            tmp / "billing.log",
            {**env, "BILLING_DATABASE_URL": billing_db, "BILLING_LOG_LEVEL": "WARNING"},
        )
        command = [sys.executable, "-c", PROFILED] if profile_out else [str(BIN / "automation")]
        automation = ChildProcess(
            [*command, "serve", "--port", str(ports["automation"])],
            tmp / "automation.log",
            {
                **env,
                "AUTOMATION_DATABASE_URL": automation_db,
                "AUTOMATION_LOG_LEVEL": "WARNING",
                "AUTOMATION_OPENAI_BASE_URL": f"http://127.0.0.1:{ports['ai']}/v1",
                "AUTOMATION_BILLING_URL": f"http://127.0.0.1:{ports['billing']}",
                "AUTOMATION_IMAGE_ROOT": str(tmp / "images"),
                "AUTOMATION_RUN_LOG_ROOT": str(tmp / "runs"),
                "AUTOMATION_IMAGE_CONCURRENCY": str(IMAGE_CONCURRENCY),
                **({"BENCH_PROFILE": profile_out} if profile_out else {}),
            },
        )
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                for name, path in (
                    ("ai", "/v1/models"),
                    ("billing", "/readyz"),
                    ("automation", "/readyz"),
                ):
                    for _ in range(300):
                        try:
                            if (
                                await client.get(f"http://127.0.0.1:{ports[name]}{path}")
                            ).status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.1)
                account, site = uuid.uuid4(), uuid.uuid4()
                billing_url, automation_url = (
                    f"http://127.0.0.1:{ports[n]}" for n in ("billing", "automation")
                )

                def h(target: str, *roles: str) -> dict[str, str]:
                    return auth_headers(None, "gateway", target, account, roles)

                await client.post(
                    f"{billing_url}/accounts",
                    json={"account_id": str(account)},
                    headers=h("billing"),
                )
                await client.post(
                    f"{billing_url}/accounts/{account}/grants",
                    json={"credits": 1_000_000, "kind": "paid"},
                    headers={**h("billing", "platform_admin"), "Idempotency-Key": "bench"},
                )
                warm_site = uuid.uuid4()  # a second site for an untimed warm-up run
                producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
                await producer.start()
                for site_id, name in ((site, "Bench"), (warm_site, "Warm-up")):
                    snapshot = SiteSnapshot(
                        site_id=site_id,
                        account_id=account,
                        version=1,
                        name=name,
                        url="https://bench.example",
                    )
                    envelope = TOPICS.envelope(
                        "site.created",
                        snapshot,
                        source="integration",
                        account_id=account,
                        site_id=site_id,
                    )
                    await producer.send_and_wait(
                        "site.created", envelope.to_bytes(), key=str(site_id).encode()
                    )
                await producer.stop()
                for site_id in (site, warm_site):
                    for _ in range(300):
                        answer = await client.get(
                            f"{automation_url}/sites/{site_id}/config", headers=h("automation")
                        )
                        if answer.status_code == 200:
                            break
                        await asyncio.sleep(0.1)
                    await client.put(
                        f"{automation_url}/sites/{site_id}/config",
                        json=CONFIG,
                        headers=h("automation"),
                    )
                # Warm-up, not timed: a tiny run through the whole saga, so consumer groups have joined
                # and connections are open before the measured run starts.
                await client.post(
                    f"{automation_url}/sites/{warm_site}/keywords",
                    content=keywords(3),
                    headers={**h("automation"), "Content-Type": "text/csv"},
                )
                warm = (
                    await client.post(
                        f"{automation_url}/sites/{warm_site}/runs", headers=h("automation")
                    )
                ).json()
                while (
                    await client.get(
                        f"{automation_url}/runs/{warm['run_id']}", headers=h("automation")
                    )
                ).json()["status"] not in (
                    "completed",
                    "failed",
                    "paused",
                    "cancelled",
                    "rejected",
                ):
                    await asyncio.sleep(0.05)
                imported = (
                    await client.post(
                        f"{automation_url}/sites/{site}/keywords",
                        content=keywords(1000),
                        headers={**h("automation"), "Content-Type": "text/csv"},
                    )
                ).json()
                cpu_before = cpu_s(automation.proc.pid)
                commits_before = await commits(admin, automation_db)
                started_at, started_wall = time.perf_counter(), time.time()
                polls = 0
                run_id = (
                    await client.post(
                        f"{automation_url}/sites/{site}/runs", headers=h("automation")
                    )
                ).json()["run_id"]
                while True:
                    polls += 1
                    run = (
                        await client.get(f"{automation_url}/runs/{run_id}", headers=h("automation"))
                    ).json()
                    if run["status"] in ("completed", "failed", "paused", "cancelled", "rejected"):
                        break
                    await asyncio.sleep(POLL_S)
                observed = time.perf_counter() - started_at
                await asyncio.sleep(1.5)  # the run log's last lines are stored up to 1 s late
                logs = {
                    stage: (
                        await client.get(
                            f"{automation_url}/runs/{run_id}/log",
                            params={"stage": stage},
                            headers=h("automation"),
                        )
                    ).text
                    for stage in range(1, 7)
                }
                ended = run.get("ended_at")
                wall = (
                    datetime.fromisoformat(ended).timestamp() - started_wall if ended else observed
                )
                cpu = cpu_s(automation.proc.pid) - cpu_before
                committed, rolled_back = await commits(admin, automation_db)
                transactions = committed - commits_before[0]
                rollbacks = rolled_back - commits_before[1]
                memory = peak_rss_mb(automation.proc.pid)
                load = os.getloadavg()
                if profile_out:
                    automation.proc.send_signal(signal.SIGUSR1)
                    automation.proc.wait(timeout=60)
        finally:
            for process in (automation, billing, ai):
                process.stop()
    progress = {int(k): v for k, v in run["progress"].items()}
    calls = {
        stage: progress.get(stage, {}).get("done", 0) + progress.get(stage, {}).get("failed", 0)
        for stage in (1, 2, 4, 5, 6)
    }
    stage_seconds = {stage: stage_time(text) for stage, text in logs.items()}
    sequential = calls[1] + calls[2] + calls[4] + calls[5] + math.ceil(calls[6] / IMAGE_CONCURRENCY)
    bound = sequential * LATENCY_S
    print(
        json.dumps(
            {
                "benchmark": "pipeline",
                "keywords": imported["imported"],
                "status": run["status"],
                "ai_latency_s": LATENCY_S,
                "image_concurrency": IMAGE_CONCURRENCY,
                "ai_calls": sum(calls.values()),
                "ai_calls_per_stage": calls,
                "wall_time_s": round(wall, 2),
                "wall_time_observed_s": round(observed, 2),
                "critical_path_bound_s": round(bound, 2),
                "stage_seconds": stage_seconds,
                "stage_bound_s": {
                    stage: round(
                        (n if stage != 6 else math.ceil(n / IMAGE_CONCURRENCY)) * LATENCY_S, 2
                    )
                    for stage, n in calls.items()
                },
                "overhead_ratio": round(wall / bound, 3) if bound else None,
                "goal_overhead_ratio": 1.10,
                "credits_charged": run["credits_charged"],
                "automation_peak_rss_mb": memory,
                "automation_cpu_s": round(cpu, 2),
                "automation_cpu_ms_per_ai_call": round(cpu * 1000 / sum(calls.values()), 1),
                "db_transactions": transactions,
                "db_transactions_per_ai_call": round(transactions / sum(calls.values()), 2),
                "db_rollbacks": rollbacks,
                "db_rollbacks_per_ai_call": round(rollbacks / sum(calls.values()), 2),
                "bench_polls": polls,
                "load_average_at_end": [round(x, 2) for x in load],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
