"""Chaos test of the whole stack (issue 9 §4): runs survive crashes and outages, money stays exact.

On a Kafka broker and a PostgreSQL cluster of the test's own (so stopping them disturbs no other
test): billing, automation, integration and publishing as separate processes, the development AI
server with injected failures, three sites running pipelines at once, each publishing to a static
export folder with automatic approval. While the runs go on, billing and automation are each
SIGKILLed and restarted, Kafka is stopped for ~20 s and PostgreSQL for ~20 s; while the finished
articles are being published, publishing is SIGKILLed and every record is sent again.
Afterwards — resuming a paused run once through the API, nothing else by hand — every run is
completed, billing's ledger audits clean, every run was charged exactly the usage automation
recorded, no hold remains, nothing was made twice, every article was published exactly once (one
publication, one file, one `publication.completed`) and none is left stranded, no message was
dead-lettered and every consumer group has read everything.

The AI server answers slowly while the faults are injected (so every fault lands during the runs)
and quickly afterwards (so the suite stays short). Every wait polls for its condition; only the
outage windows themselves are fixed lengths.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import create_async_engine
from test_pipeline_end_to_end import keywords

from igny8.auth import auth_headers
from igny8.contracts import TOPICS
from igny8.messaging import ensure_topics
from igny8.testing import ChildProcess, free_port, temporary_database, topic_records

from stack import wait_http

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
OUTAGE_S = 20.0
SLOW_AI_MS = 5000  # while faults are injected: a run of ~15 AI calls outlasts them
SITES = 3
KEYWORDS_PER_SITE = 12
CONFIG = {
    "batch_sizes": {"1": 25},
    "ideas_per_cluster": 1,
    "target_word_count": 200,
    "inline_images": 1,
    "image_size": "32x32",
    "max_items_per_stage": {"2": 3},
    "delay_within_stage_s": 0.2,
}
GRANT = 100_000
TERMINAL = {"completed", "failed", "cancelled", "rejected"}


class Broker:
    """A KRaft broker of the test's own (infra/local.py under the test's tmp folder)."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "IGNY8_INFRA_DIR": str(tmp / "kafka-infra"),
            "IGNY8_KAFKA_PORT": str(self.port),
            "IGNY8_KAFKA_CONTROLLER_PORT": str(free_port()),
        }

    def ctl(self, command: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "infra" / "local.py"), command],
            env=self._env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.ctl("kafka-up")

    def stop(self) -> None:
        self.ctl("kafka-down")


@pytest.fixture
def own_broker(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class Stack:
    """The three services and the AI server as child processes; a service can be killed and
    started again on the same port with the same settings."""

    def __init__(self, tmp: Path, bootstrap: str, dbs: dict[str, str]) -> None:
        self.tmp = tmp
        self.ports = {
            name: free_port()
            for name in ("ai", "billing", "automation", "integration", "publishing")
        }
        self.url = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        common = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        self.env: dict[str, dict[str, str]] = {
            "billing": {**common, "BILLING_DATABASE_URL": dbs["billing"]},
            "integration": {
                **common,
                "INTEGRATION_DATABASE_URL": dbs["integration"],
                "INTEGRATION_STATIC_ROOT": str(tmp / "exports"),
            },
            "publishing": {
                **common,
                "PUBLISHING_DATABASE_URL": dbs["publishing"],
                "PUBLISHING_STATIC_ROOT": str(tmp / "exports"),
                "PUBLISHING_AUTOMATION_URL": self.url["automation"],
                "PUBLISHING_INTEGRATION_URL": self.url["integration"],
                "PUBLISHING_SCHEDULER_TICK_S": "0.5",
                # a publish cut short by the SIGKILL is taken over soon, not after 5 minutes
                "PUBLISHING_PUBLISH_LEASE_S": "5",
            },
            "automation": {
                **common,
                "AUTOMATION_DATABASE_URL": dbs["automation"],
                "AUTOMATION_OPENAI_BASE_URL": f"{self.url['ai']}/v1",
                "AUTOMATION_OPENAI_MAX_RETRIES": "4",
                "AUTOMATION_BILLING_URL": self.url["billing"],
                "AUTOMATION_PUBLIC_URL": self.url["automation"],
                "AUTOMATION_IMAGE_ROOT": str(tmp / "images"),
                "AUTOMATION_RUN_LOG_ROOT": str(tmp / "runs"),
                "AUTOMATION_LEASE_TTL_S": "4",
            },
        }
        for service in ("billing", "integration", "automation", "publishing"):
            self.env[service][f"{service.upper()}_CONSUMER_SESSION_TIMEOUT_MS"] = "6000"
        self.processes: dict[str, ChildProcess] = {}
        self.everything: list[ChildProcess] = []
        self.starts: dict[str, int] = {}

    def start(self, name: str) -> ChildProcess:
        self.starts[name] = self.starts.get(name, 0) + 1
        log = self.tmp / f"{name}-{self.starts[name]}.log"
        if name == "ai":
            args = [str(BIN / "igny8-dev-ai"), "--port", str(self.ports["ai"])]
        else:
            args = [str(BIN / name), "serve", "--port", str(self.ports[name])]
        process = ChildProcess(args, log, self.env.get(name, {}))
        self.processes[name] = process
        self.everything.append(process)
        return process

    async def ready(self, name: str) -> None:
        path = "/v1/models" if name == "ai" else "/readyz"
        await wait_http(f"{self.url[name]}{path}", self.processes[name], timeout=120)

    async def restart_after_sigkill(self, name: str) -> None:
        self.processes[name].kill()
        self.start(name)
        await self.ready(name)

    def logs(self, name: str) -> str:
        return "".join(
            p.output() for p in self.everything if Path(p.log_path).name.startswith(name)
        )

    def stop(self) -> None:
        for process in self.everything:
            process.stop()


class Site:
    def __init__(self, stack: Stack, account: uuid.UUID) -> None:
        self.stack, self.account = stack, account
        self.site: uuid.UUID | None = None
        self.folder = Path()
        self.run_id = ""
        self.resumed = False

    def headers(self, target: str, *roles: str) -> dict[str, str]:
        return auth_headers(None, "gateway", target, self.account, roles)

    async def create(self, client: httpx.AsyncClient, name: str) -> None:
        billing, automation = self.stack.url["billing"], self.stack.url["automation"]
        answer = await client.post(
            f"{billing}/accounts",
            json={"account_id": str(self.account)},
            headers=self.headers("billing"),
        )
        assert answer.status_code == 201, answer.text
        granted = await client.post(
            f"{billing}/accounts/{self.account}/grants",
            json={"credits": GRANT, "kind": "paid"},
            headers={**self.headers("billing", "platform_admin"), "Idempotency-Key": "start"},
        )
        assert granted.status_code == 201, granted.text
        created = await client.post(  # integration announces the site as site.created
            f"{self.stack.url['integration']}/sites",
            json={"name": name, "url": f"https://{name}.example", "niche": "gardening"},
            headers=self.headers("integration"),
        )
        assert created.status_code == 201, created.text
        self.site = uuid.UUID(created.json()["site_id"])
        # publishing: a static export folder as the site's destination, approval automatic
        (self.stack.tmp / "exports" / str(self.account) / name).mkdir(parents=True)
        connected = await client.post(
            f"{self.stack.url['integration']}/sites/{self.site}/integrations",
            json={
                "platform": "static",
                "base_url": f"https://{name}.example",
                "settings": {"folder": name},
            },
            headers=self.headers("integration"),
        )
        assert connected.status_code == 201, connected.text
        self.folder = self.stack.tmp / "exports" / str(self.account) / name

        async def approval_set() -> bool:
            answer = await client.put(
                f"{self.stack.url['publishing']}/sites/{self.site}/settings",
                json={"approval": "auto", "score_floor": 0},
                headers=self.headers("publishing"),
            )
            return answer.status_code == 200

        await poll(approval_set, 90, "publishing never learned the site from integration's event")
        config = f"{automation}/sites/{self.site}/config"

        async def known() -> bool:
            return (await client.get(config, headers=self.headers("automation"))).status_code == 200

        await poll(known, 90, "automation never learned the site from integration's event")
        put = await client.put(config, json=CONFIG, headers=self.headers("automation"))
        assert put.status_code == 200, put.text
        imported = await client.post(
            f"{automation}/sites/{self.site}/keywords",
            content=json.dumps(keywords(KEYWORDS_PER_SITE)),
            headers={**self.headers("automation"), "Content-Type": "application/json"},
        )
        assert imported.json()["imported"] == KEYWORDS_PER_SITE

    async def start_run(self, client: httpx.AsyncClient) -> None:
        started = await client.post(
            f"{self.stack.url['automation']}/sites/{self.site}/runs",
            headers=self.headers("automation"),
        )
        assert started.status_code in (201, 202), started.text
        self.run_id = started.json()["run_id"]

    async def run(self, client: httpx.AsyncClient) -> dict[str, Any]:
        answer = await client.get(
            f"{self.stack.url['automation']}/runs/{self.run_id}",
            headers=self.headers("automation"),
        )
        answer.raise_for_status()
        return dict(answer.json())

    async def listing(self, client: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
        answer = await client.get(
            f"{self.stack.url['automation']}/sites/{self.site}/{kind}",
            params={"limit": 200},
            headers=self.headers("automation"),
        )
        answer.raise_for_status()
        return list(answer.json()["items"])

    async def publications(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        answer = await client.get(
            f"{self.stack.url['publishing']}/sites/{self.site}/publications",
            params={"limit": 200},
            headers=self.headers("publishing"),
        )
        answer.raise_for_status()
        return list(answer.json()["items"])

    async def balance(self, client: httpx.AsyncClient) -> dict[str, int]:
        answer = await client.get(
            f"{self.stack.url['billing']}/accounts/{self.account}/balance",
            headers=self.headers("billing"),
        )
        answer.raise_for_status()
        return dict(answer.json())

    async def charged(self, client: httpx.AsyncClient) -> int:
        answer = await client.get(
            f"{self.stack.url['billing']}/accounts/{self.account}/usage",
            params={"group_by": "run"},
            headers=self.headers("billing"),
        )
        answer.raise_for_status()
        return sum(r["credits"] for r in answer.json()["rows"] if r["key"] == self.run_id)


async def poll(
    predicate: Callable[[], Awaitable[object]], timeout: float, message: str, every: float = 0.5
) -> None:
    """Wait for a condition; errors while a service or the infrastructure restarts count as
    'not yet'."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return
        except (httpx.HTTPError, OSError, KeyError, ValueError) as error:
            last = error
        await asyncio.sleep(every)
    raise AssertionError(f"{message} (after {timeout:.0f}s; last error {last!r})")


async def dead_letters(bootstrap: str) -> dict[str, int]:
    """Records ever written to each `.dlq` topic (end offsets: nothing is ever deleted here)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.endswith(".dlq")]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    parts = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    counts = dict.fromkeys(names, 0)
    for tp, end in ends.items():
        counts[tp.topic] += end
    return counts


async def consumer_lag(bootstrap: str) -> dict[str, int]:
    """Per consumer group: records after its committed offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups()]
        committed = {g: await admin.list_consumer_group_offsets(g) for g in groups}
    finally:
        await admin.close()
    parts = {tp for offsets in committed.values() for tp in offsets}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(parts)) if parts else {}
    finally:
        await consumer.stop()
    return {
        group: sum(ends[tp] - meta.offset for tp, meta in offsets.items() if meta.offset >= 0)
        for group, offsets in committed.items()
    }


async def redeliver_everything(bootstrap: str, only: tuple[str, ...] = ()) -> int:
    """Publish every record of every registry topic (or of `only`) again, headers and all: what a
    relay that died between publishing and marking its rows sent does. Consumers must absorb each
    copy."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    copies = 0
    try:
        for spec in TOPICS:
            if only and spec.name not in only:
                continue
            for record in await topic_records(bootstrap, spec.name):
                await producer.send(
                    spec.name, record.value, key=record.key, headers=list(record.headers)
                )
                copies += 1
        await producer.flush()
    finally:
        await producer.stop()
    return copies


async def inbox_rows(db_url: str) -> int:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text("SELECT count(*) FROM inbox"))).scalar_one())
    finally:
        await engine.dispose()


async def test_runs_survive_crashes_and_outages_with_exact_money_and_nothing_twice(
    private_postgres, own_broker, tmp_path
):
    began = time.monotonic()
    faults: list[str] = []
    still_running: dict[str, int] = {}
    await ensure_topics(own_broker.bootstrap, TOPICS)
    admin_url = private_postgres.admin_url
    async with (
        temporary_database(admin_url, "billing_chaos") as billing_db,
        temporary_database(admin_url, "automation_chaos") as automation_db,
        temporary_database(admin_url, "integration_chaos") as integration_db,
        temporary_database(admin_url, "publishing_chaos") as publishing_db,
    ):
        dbs = {
            "billing": billing_db,
            "automation": automation_db,
            "integration": integration_db,
            "publishing": publishing_db,
        }
        stack = Stack(tmp_path, own_broker.bootstrap, dbs)
        try:
            for name in ("ai", "billing", "integration", "automation", "publishing"):
                stack.start(name)
            for name in ("ai", "billing", "integration", "automation", "publishing"):
                await stack.ready(name)
            async with httpx.AsyncClient(timeout=30) as client:
                ai = stack.url["ai"]
                sites = [Site(stack, uuid.uuid4()) for _ in range(SITES)]
                await asyncio.gather(*(s.create(client, f"chaos{i}") for i, s in enumerate(sites)))
                await client.post(
                    f"{ai}/dev/faults",
                    json={
                        "latency_ms": SLOW_AI_MS,
                        "next_failures": ["429", "500", "429"],  # certainly some, then 10 %
                        "fail_rate": 0.1,
                        "modes": ["429", "500"],
                    },
                )
                for site in sites:
                    await site.start_run(client)
                runs_started_at = round(time.monotonic() - began)

                async def active() -> int:
                    runs = [await s.run(client) for s in sites]
                    return sum(r["status"] not in TERMINAL for r in runs)

                async def all_running() -> bool:
                    runs = [await s.run(client) for s in sites]
                    return all(r["status"] in ("running", *TERMINAL) for r in runs)

                await poll(all_running, 120, "the runs never got their reservations")

                async def inject(name: str, fault: Callable[[], Awaitable[None]]) -> None:
                    still_running[name] = await active()
                    at = round(time.monotonic() - began)
                    await fault()
                    if not name.startswith("redelivery"):
                        faults.append(f"{name} (at {at} s)")

                await inject("SIGKILL billing", lambda: stack.restart_after_sigkill("billing"))
                await inject(
                    "SIGKILL automation", lambda: stack.restart_after_sigkill("automation")
                )

                async def redeliver() -> None:
                    copies = await redeliver_everything(own_broker.bootstrap)
                    faults.append(f"every record so far published again ({copies} copies)")

                await inject("redelivery 1", redeliver)

                async def outage(stop: Callable[[], None], start: Callable[[], None]) -> None:
                    await asyncio.to_thread(stop)
                    await asyncio.sleep(OUTAGE_S)  # the outage itself: a fixed window
                    await asyncio.to_thread(start)

                await inject("Kafka down 20 s", lambda: outage(own_broker.stop, own_broker.start))
                await inject(
                    "PostgreSQL down 20 s",
                    lambda: outage(private_postgres.stop, private_postgres.start),
                )
                await inject("redelivery 2", redeliver)  # now image requests are among them
                # The faults are over: let the AI answer quickly (its injected failures go on).
                await client.post(f"{ai}/dev/faults", json={"latency_ms": 0})

                async def finished() -> bool:
                    done = True
                    for site in sites:
                        run = await site.run(client)
                        if run["status"] == "paused" and not site.resumed:
                            site.resumed = True  # once, through the API, as a person would
                            answer = await client.post(
                                f"{stack.url['automation']}/runs/{site.run_id}/resume",
                                headers=site.headers("automation"),
                            )
                            assert answer.status_code == 200, answer.text
                        done = done and run["status"] in TERMINAL
                    return done

                await poll(finished, 240, "a run did not finish")
                runs = [await s.run(client) for s in sites]
                assert [r["status"] for r in runs] == ["completed"] * SITES, runs

                # publishing: the runs' articles are being published now; SIGKILL it as soon as
                # the first one is out (others are on their way) and send every content.ready again
                async def first_published() -> bool:
                    found = [await s.publications(client) for s in sites]
                    return any(p["status"] == "published" for pubs in found for p in pubs)

                await poll(first_published, 120, "nothing was published", every=0.1)
                published_at_kill = sum(
                    [
                        sum(p["status"] == "published" for p in await s.publications(client))
                        for s in sites
                    ]
                )
                # restarted without waiting for it: its start-up overlaps the checks below
                stack.processes["publishing"].kill()
                stack.start("publishing")
                faults.append(f"SIGKILL publishing with {published_at_kill} articles published")
                copies = await redeliver_everything(own_broker.bootstrap, ("content.ready",))
                faults.append(f"every content.ready published again ({copies} copies)")

                for site, run in zip(sites, runs, strict=True):

                    async def settled(site: Site = site, run: dict = run) -> bool:
                        balance = await site.balance(client)
                        return (
                            balance["held"] == 0
                            and await site.charged(client) == run["credits_charged"]
                        )

                    await poll(settled, 120, f"billing did not settle run {site.run_id}")
                    balance = await site.balance(client)
                    assert run["credits_charged"] > 0
                    assert balance["available"] == GRANT - run["credits_charged"] >= 0, balance
                    tasks = await site.listing(client, "tasks")
                    contents = await site.listing(client, "content")
                    assert len(contents) == len(tasks) == len({c["task_id"] for c in contents}), (
                        "no article twice"
                    )
                    images = await site.listing(client, "images")
                    per_content: dict[str, int] = {}
                    for image in images:
                        per_content[image["content_id"]] = (
                            per_content.get(image["content_id"], 0) + 1
                        )
                    assert set(per_content.values()) <= {1 + CONFIG["inline_images"]}, per_content
                    assert len(images) == len(contents) * (1 + CONFIG["inline_images"])
                    if images and "prompt_id" in images[0]:
                        assert len({i["prompt_id"] for i in images}) == len(images), (
                            "no image twice"
                        )

                # publishing: every article published exactly once, none stranded
                for site in sites:
                    contents = await site.listing(client, "content")

                    async def all_published(site: Site = site, n: int = len(contents)) -> bool:
                        pubs = await site.publications(client)
                        return len(pubs) == n and all(p["status"] == "published" for p in pubs)

                    await poll(all_published, 120, f"site {site.site}'s articles not all published")
                    pubs = await site.publications(client)
                    assert sorted(p["content_id"] for p in pubs) == sorted(
                        c["content_id"] for c in contents
                    ), "one publication per article"
                    assert sorted(p.name for p in site.folder.glob("*.md")) == sorted(
                        p["remote_id"] for p in pubs
                    ), "one exported file per article, nothing else"
                completed: dict[str, set[str]] = {}
                for record in await topic_records(own_broker.bootstrap, "publication.completed"):
                    event = json.loads(record.value)
                    completed.setdefault(event["data"]["publication_id"], set()).add(event["id"])
                published = sum([len(await s.publications(client)) for s in sites])
                assert len(completed) == published, "every publication announced"
                assert all(len(ids) == 1 for ids in completed.values()), (
                    "no publication published twice (copies of one event are the same event)"
                )
                calls = (await client.get(f"{ai}/_stats/calls")).json()
                images_made = sum([len(await s.listing(client, "images")) for s in sites])

            audit = await asyncio.to_thread(
                subprocess.run,
                [str(BIN / "billing"), "audit"],
                env={**os.environ, **stack.env["billing"]},
                capture_output=True,
                text=True,
            )
            assert audit.returncode == 0, audit.stdout + audit.stderr
            assert json.loads(audit.stdout)["clean"] is True

            letters = await dead_letters(own_broker.bootstrap)
            assert sum(letters.values()) == 0, {t: n for t, n in letters.items() if n}

            lag: dict[str, int] = {}

            async def no_lag() -> bool:
                nonlocal lag
                lag = await consumer_lag(own_broker.bootstrap)
                return not any(lag.values())

            await poll(no_lag, 90, f"consumer groups still lag: {lag}")

            processed = {name: await inbox_rows(db) for name, db in dbs.items()}
            # Copies the inbox recognised, and image requests that found their image made already
            # (that consumer works outside an inbox transaction: the run's item state absorbs them).
            inbox_duplicates = sum(
                stack.logs(name).count("duplicate delivery ignored")
                for name in ("billing", "automation", "integration", "publishing")
            )
            image_requests = stack.logs("automation").count('"image.generate handled"')
            duplicates = inbox_duplicates + image_requests - images_made
            ai_faults = sum(n for modes in calls["faults"].values() for n in modes.values())
            print(
                "\nchaos figures:",
                json.dumps(
                    {
                        "faults_injected": faults,
                        "runs_started_at_s": runs_started_at,
                        "runs_active_at_each_fault": still_running,
                        "ai_failures_injected": calls["faults"],
                        "ai_failures_total": ai_faults,
                        "ai_calls_answered": calls["total"],
                        "runs_resumed_by_hand": sum(s.resumed for s in sites),
                        "commands_processed_per_service": processed,
                        "commands_processed": sum(processed.values()),
                        "consumer_groups_at_lag_0": sorted(lag),
                        "duplicates_absorbed": duplicates,
                        "duplicates_absorbed_by_inboxes": inbox_duplicates,
                        "image_requests_handled": image_requests,
                        "images_made": images_made,
                        "credits_charged": [r["credits_charged"] for r in runs],
                        "articles_published": published,
                        "wall_time_s": round(time.monotonic() - began, 1),
                    },
                    indent=2,
                ),
            )
            assert len(faults) == 8
            assert ai_faults >= 3, calls["faults"]
            assert duplicates > 0, "the copies were seen and ignored"
        finally:
            stack.stop()
