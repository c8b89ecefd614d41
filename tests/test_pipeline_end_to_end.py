"""The automation pipeline end to end, as separate processes: the development AI server, the
billing service and the automation service over the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from igny8.auth import auth_headers
from igny8.contracts import TOPICS
from igny8.contracts.sites import SiteSnapshot
from igny8.messaging import ensure_topics
from igny8.testing import ChildProcess, free_port, temporary_database, topic_records

from stack import wait_http

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
TOPICS_WORDS = [
    "compost",
    "raised bed",
    "tomato",
    "herb garden",
    "mulch",
    "drip irrigation",
    "seed starting",
    "pruning",
    "pest control",
    "soil ph",
]


def keywords(n: int) -> list[dict[str, object]]:
    forms = [
        "best {t}",
        "{t} for beginners",
        "how to use {t}",
        "{t} tips",
        "{t} mistakes",
        "cheap {t}",
        "{t} guide",
        "{t} ideas",
        "organic {t}",
        "{t} in winter",
        "{t} checklist",
        "{t} tools",
        "diy {t}",
        "{t} calendar",
        "{t} problems",
        "small space {t}",
        "{t} cost",
        "{t} benefits",
        "{t} vs alternatives",
        "{t} near me",
    ]
    rows = [
        {
            "keyword": f.format(t=t),
            "volume": 100 + i,
            "difficulty": i % 90,
            "intent": "informational",
        }
        for i, (t, f) in enumerate((t, f) for f in forms for t in TOPICS_WORDS)
    ]
    return rows[:n]


@pytest.fixture
async def stack(postgres_admin_url, kafka_bootstrap, tmp_path):
    await ensure_topics(kafka_bootstrap, TOPICS)
    processes: dict[str, ChildProcess] = {}
    async with (
        temporary_database(postgres_admin_url, "billing_e2e") as billing_db,
        temporary_database(postgres_admin_url, "automation_e2e") as automation_db,
    ):
        ports = {name: free_port() for name in ("ai", "billing", "automation")}
        env: dict[str, str] = {}  # service keys: inherited (igny8.testing puts them in the env)
        ai = ChildProcess(
            [str(BIN / "igny8-dev-ai"), "--port", str(ports["ai"])], tmp_path / "ai.log", env
        )
        billing = ChildProcess(
            [str(BIN / "billing"), "serve", "--port", str(ports["billing"])],
            tmp_path / "billing.log",
            {
                **env,
                "BILLING_DATABASE_URL": billing_db,
                "BILLING_CONSUMER_SESSION_TIMEOUT_MS": "6000",
            },
        )
        automation_env = {
            **env,
            "AUTOMATION_DATABASE_URL": automation_db,
            "AUTOMATION_OPENAI_BASE_URL": f"http://127.0.0.1:{ports['ai']}/v1",
            "AUTOMATION_OPENAI_MAX_RETRIES": "3",
            "AUTOMATION_BILLING_URL": f"http://127.0.0.1:{ports['billing']}",
            "AUTOMATION_PUBLIC_URL": f"http://127.0.0.1:{ports['automation']}",
            "AUTOMATION_IMAGE_ROOT": str(tmp_path / "images"),
            "AUTOMATION_CONSUMER_SESSION_TIMEOUT_MS": "6000",
            "AUTOMATION_LEASE_TTL_S": "4",
        }
        automation = ChildProcess(
            [str(BIN / "automation"), "serve", "--port", str(ports["automation"])],
            tmp_path / "automation.log",
            automation_env,
        )
        try:
            await wait_http(f"http://127.0.0.1:{ports['ai']}/v1/models", ai)
            await wait_http(f"http://127.0.0.1:{ports['billing']}/readyz", billing)
            await wait_http(f"http://127.0.0.1:{ports['automation']}/readyz", automation)
            processes = {"ai": ai, "billing": billing, "automation": automation}
            yield {
                "ports": ports,
                "processes": processes,
                "automation_env": automation_env,
                "tmp": tmp_path,
                "bootstrap": kafka_bootstrap,
            }
        finally:
            # a test may have replaced a process (crash tests): stop whatever runs now, too
            for process in {*processes.values(), automation, billing, ai}:
                process.stop()


class Tenant:
    def __init__(self, stack: dict, account: uuid.UUID, site: uuid.UUID) -> None:
        self.stack, self.account, self.site = stack, account, site
        self.billing = f"http://127.0.0.1:{stack['ports']['billing']}"
        self.automation = f"http://127.0.0.1:{stack['ports']['automation']}"

    def headers(self, target: str, *roles: str) -> dict[str, str]:
        return auth_headers(None, "gateway", target, self.account, roles)

    async def start(self, client: httpx.AsyncClient) -> str:
        """Start a run of every stage on the tenant's site; its id."""
        answer = await client.post(
            f"{self.automation}/sites/{self.site}/runs", headers=self.headers("automation")
        )
        return str(answer.json()["run_id"])

    async def run_until(
        self, client: httpx.AsyncClient, run_id: str, statuses: set[str], timeout: float = 240
    ) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            run = (
                await client.get(
                    f"{self.automation}/runs/{run_id}", headers=self.headers("automation")
                )
            ).json()
            if run["status"] in statuses:
                return run
            await asyncio.sleep(0.3)
        raise AssertionError(
            f"run stayed {run['status']}:\n{self.stack['processes']['automation'].output()[-4000:]}"
        )


async def tenant(
    stack: dict, client: httpx.AsyncClient, credits: int, n_keywords: int, config: dict
) -> Tenant:
    account, site = uuid.uuid4(), uuid.uuid4()
    t = Tenant(stack, account, site)
    assert (
        await client.post(
            f"{t.billing}/accounts", json={"account_id": str(account)}, headers=t.headers("billing")
        )
    ).status_code == 201
    if credits:
        granted = await client.post(
            f"{t.billing}/accounts/{account}/grants",
            json={"credits": credits, "kind": "paid"},
            headers={**t.headers("billing", "platform_admin"), "Idempotency-Key": "start"},
        )
        assert granted.status_code == 201
    producer = AIOKafkaProducer(bootstrap_servers=stack["bootstrap"])
    await producer.start()
    try:
        snapshot = SiteSnapshot(
            site_id=site,
            account_id=account,
            version=1,
            name="Green Thumb",
            url="https://greenthumb.example",
            sector="home",
            niche="gardening",
        )
        envelope = TOPICS.envelope(
            "site.created", snapshot, source="integration", account_id=account, site_id=site
        )
        await producer.send_and_wait("site.created", envelope.to_bytes(), key=str(site).encode())
    finally:
        await producer.stop()
    for _ in range(200):  # automation learns the site from integration's event
        if (
            await client.get(f"{t.automation}/sites/{site}/config", headers=t.headers("automation"))
        ).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (
        await client.put(
            f"{t.automation}/sites/{site}/config", json=config, headers=t.headers("automation")
        )
    ).status_code == 200
    imported = await client.post(
        f"{t.automation}/sites/{site}/keywords",
        content=json.dumps(keywords(n_keywords)),
        headers={**t.headers("automation"), "Content-Type": "application/json"},
    )
    assert imported.json()["imported"] == n_keywords
    return t


SMALL = {
    "batch_sizes": {"1": 25},
    "ideas_per_cluster": 1,
    "target_word_count": 300,
    "inline_images": 1,
    "image_size": "32x32",
    "max_items_per_stage": {"2": 6},
}


async def read_the_run_log_through_another_process(
    stack: dict, client: httpx.AsyncClient, t: Tenant, run_id: str
) -> None:
    """As in Kubernetes: a worker drove the run, an api process with nothing on its disk serves
    its trace and logs (from the database)."""
    port = free_port()
    api = ChildProcess(
        [str(BIN / "automation"), "serve", "--role", "api", "--port", str(port)],
        stack["tmp"] / "automation-api.log",
        {**stack["automation_env"], "AUTOMATION_HTTP_PORT": str(port)},
    )
    try:
        other = f"http://127.0.0.1:{port}"
        await wait_http(f"{other}/readyz", api)
        events: list[dict] = []
        for _ in range(100):  # the driver stores its last lines a moment after the run ends
            answer = await client.get(
                f"{other}/runs/{run_id}/trace", headers=t.headers("automation")
            )
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("application/x-ndjson")
            events = [json.loads(line) for line in answer.text.splitlines()]
            if events and events[-1]["event"] == "run.completed":
                break
            await asyncio.sleep(0.1)
        kinds = [e["event"] for e in events]
        assert kinds[-1] == "run.completed", kinds[-5:]
        assert kinds.count("stage.completed") == 6 and "credits.reserve" in kinds
        assert all(e["run_id"] == run_id for e in events)
        log = await client.get(f"{other}/runs/{run_id}/log", headers=t.headers("automation"))
        assert log.headers["content-type"].startswith("text/plain")
        assert len(log.text.splitlines()) == len(events)
        stage_4 = await client.get(
            f"{other}/runs/{run_id}/log",
            params={"stage": 4},
            headers=t.headers("automation"),
        )
        lines = stage_4.text.splitlines()
        assert len(lines) == sum(1 for e in events if e["stage"] == 4) > 0
        assert all(" item." in line or " stage." in line for line in lines), lines
        someone_else = auth_headers(None, "gateway", "automation", uuid.uuid4(), ())
        for path in ("trace", "log"):
            refused = await client.get(f"{other}/runs/{run_id}/{path}", headers=someone_else)
            assert refused.status_code == 404, refused.text
    finally:
        api.stop()
    assert not (stack["tmp"] / "runs").exists(), "no process wrote the run log to its disk"
    assert not (ROOT / "var" / "runs" / run_id).exists()


async def test_full_run_over_200_keywords_charges_exactly_the_recorded_usage_and_releases_the_rest(
    stack,
):
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 200, SMALL)
        estimate = (
            await client.post(
                f"{t.automation}/sites/{t.site}/runs/estimate", headers=t.headers("automation")
            )
        ).json()
        assert estimate["quantities"]["clustering"] == 10  # 200 keywords / 25 per request, +20%
        assert estimate["quote"]["credits"] > 0
        started = await client.post(
            f"{t.automation}/sites/{t.site}/runs", headers=t.headers("automation")
        )
        assert started.status_code in (201, 202), started.text  # 202: still reserving
        run_id = started.json()["run_id"]
        run = await t.run_until(client, run_id, {"completed", "failed", "paused", "cancelled"})
        assert run["status"] == "completed", run
        assert all(run["stage_results"][str(s)]["status"] == "completed" for s in range(1, 7))
        contents = (
            await client.get(
                f"{t.automation}/sites/{t.site}/content", headers=t.headers("automation")
            )
        ).json()["items"]
        assert len(contents) == 6 and len({c["task_id"] for c in contents}) == 6
        images = (
            await client.get(
                f"{t.automation}/sites/{t.site}/images", headers=t.headers("automation")
            )
        ).json()["items"]
        assert len(images) == 12
        png = await client.get(
            f"{t.automation}/images/{images[0]['image_id']}",
            headers=auth_headers(None, "publishing", "automation", t.account),
        )
        assert png.content.startswith(b"\x89PNG")
        for _ in range(100):  # the release reaches billing after the run ends
            balance = (
                await client.get(
                    f"{t.billing}/accounts/{t.account}/balance", headers=t.headers("billing")
                )
            ).json()
            if balance["held"] == 0:
                break
            await asyncio.sleep(0.2)
        usage = (
            await client.get(
                f"{t.billing}/accounts/{t.account}/usage",
                params={"group_by": "run"},
                headers=t.headers("billing"),
            )
        ).json()["rows"]
        charged = sum(r["credits"] for r in usage if r["key"] == run_id)
        assert balance["held"] == 0, "the remaining hold is released"
        assert charged == run["credits_charged"] > 0
        assert balance["available"] == 100_000 - charged
        await read_the_run_log_through_another_process(stack, client, t, run_id)
    ready = [json.loads(r.value) for r in await topic_records(stack["bootstrap"], "content.ready")]
    mine = [r for r in ready if r["site_id"] == str(t.site)]
    assert len(mine) == 6 and all(len(r["data"]["images"]) == 2 for r in mine)


async def test_a_second_start_is_409_and_insufficient_credits_is_402_with_the_site_left_free(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        poor = await tenant(stack, client, 20, 30, SMALL)
        refused = await client.post(
            f"{poor.automation}/sites/{poor.site}/runs", headers=poor.headers("automation")
        )
        assert refused.status_code == 402, refused.text
        error = refused.json()["error"]  # the platform's one error format (ADR 0004)
        assert (error["type"], error["code"], error["available"]) == (
            "payment_required_error",
            "insufficient_credits",
            20,
        )
        assert error["required"] > 20 and error["run_id"] and error["request_id"]
        runs = (
            await client.get(
                f"{poor.automation}/sites/{poor.site}/runs", headers=poor.headers("automation")
            )
        ).json()
        assert runs["items"][0]["status"] == "rejected"
        balance = (
            await client.get(
                f"{poor.billing}/accounts/{poor.account}/balance", headers=poor.headers("billing")
            )
        ).json()
        assert balance["held"] == 0

        rich = await tenant(stack, client, 100_000, 30, {**SMALL, "delay_within_stage_s": 0.3})
        first = await client.post(
            f"{rich.automation}/sites/{rich.site}/runs", headers=rich.headers("automation")
        )
        assert first.status_code in (201, 202)
        second = await client.post(
            f"{rich.automation}/sites/{rich.site}/runs", headers=rich.headers("automation")
        )
        assert second.status_code == 409
        run_id = first.json()["run_id"]
        await client.post(
            f"{rich.automation}/runs/{run_id}/pause", headers=rich.headers("automation")
        )
        paused = await rich.run_until(client, run_id, {"paused", "completed"})
        assert paused["status"] == "paused" and paused["pause_reason"] == "requested"
        assert (
            await client.post(
                f"{rich.automation}/sites/{rich.site}/runs", headers=rich.headers("automation")
            )
        ).status_code == 409
        resumed = await client.post(
            f"{rich.automation}/runs/{run_id}/resume", headers=rich.headers("automation")
        )
        assert resumed.status_code == 200
        await client.post(
            f"{rich.automation}/runs/{run_id}/cancel", headers=rich.headers("automation")
        )
        cancelled = await rich.run_until(client, run_id, {"cancelled", "completed"})
        assert cancelled["status"] == "cancelled"
        for _ in range(100):
            balance = (
                await client.get(
                    f"{rich.billing}/accounts/{rich.account}/balance",
                    headers=rich.headers("billing"),
                )
            ).json()
            if balance["held"] == 0:
                break
            await asyncio.sleep(0.2)
        assert balance["held"] == 0, "cancel releases the hold"
        again = await client.post(
            f"{rich.automation}/sites/{rich.site}/runs", headers=rich.headers("automation")
        )
        assert again.status_code in (201, 202), "the site is free for a new run"


async def charged_in_billing(t: Tenant, client: httpx.AsyncClient, run_id: str) -> int:
    usage = (
        await client.get(
            f"{t.billing}/accounts/{t.account}/usage",
            params={"group_by": "run"},
            headers=t.headers("billing"),
        )
    ).json()["rows"]
    return sum(r["credits"] for r in usage if r["key"] == run_id)


async def settled(t: Tenant, client: httpx.AsyncClient, run_id: str, expected: int) -> dict:
    for _ in range(150):  # captures and the release travel through Kafka after the run ends
        balance = (
            await client.get(
                f"{t.billing}/accounts/{t.account}/balance", headers=t.headers("billing")
            )
        ).json()
        if balance["held"] == 0 and await charged_in_billing(t, client, run_id) == expected:
            return balance
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"billing did not settle: {balance}, charged {await charged_in_billing(t, client, run_id)}"
    )


async def test_a_hold_that_runs_short_is_topped_up(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        # The estimate guesses 5 keywords per cluster; the model makes smaller clusters than that.
        config = {**SMALL, "estimate_buffer": 0, "max_items_per_stage": {}, "inline_images": 0}
        t = await tenant(stack, client, 100_000, 40, config)
        started = await client.post(
            f"{t.automation}/sites/{t.site}/runs", headers=t.headers("automation")
        )
        run = await t.run_until(client, started.json()["run_id"], {"completed", "failed", "paused"})
        assert run["status"] == "completed", run
        assert len(run["holds"]) >= 2, (
            "the estimate fell short and a further reservation topped it up"
        )
        await settled(t, client, run["run_id"], run["credits_charged"])


async def test_injected_ai_failures_are_retried_and_failed_calls_are_not_charged(stack):
    ai = f"http://127.0.0.1:{stack['ports']['ai']}"
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 40, SMALL)
        await client.post(
            f"{ai}/dev/faults", json={"fail_rate": 0.2, "modes": ["429", "500", "refusal"]}
        )
        try:
            started = await client.post(
                f"{t.automation}/sites/{t.site}/runs", headers=t.headers("automation")
            )
            run = await t.run_until(
                client, started.json()["run_id"], {"completed", "paused", "failed"}
            )
        finally:
            await client.post(f"{ai}/dev/faults", json={"fail_rate": 0})
        assert run["status"] in ("completed", "paused"), run
        if run["status"] == "paused":
            assert run["pause_reason"].startswith("provider_failures")
            await client.post(
                f"{t.automation}/runs/{run['run_id']}/cancel", headers=t.headers("automation")
            )
            run = await t.run_until(client, run["run_id"], {"cancelled"})
        await settled(t, client, run["run_id"], run["credits_charged"])
        contents = (
            await client.get(
                f"{t.automation}/sites/{t.site}/content", headers=t.headers("automation")
            )
        ).json()["items"]
        assert all(c["html"] and c["word_count"] > 0 for c in contents), "nothing half-written"


async def test_the_run_survives_a_killed_automation_process_without_duplicates_or_double_charges(
    stack,
):
    ai = f"http://127.0.0.1:{stack['ports']['ai']}"
    automation = stack["processes"]["automation"]
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 50, SMALL)
        await client.post(f"{ai}/dev/faults", json={"latency_ms": 150})
        started = await client.post(
            f"{t.automation}/sites/{t.site}/runs", headers=t.headers("automation")
        )
        run_id = started.json()["run_id"]
        await wait_for_checkpoints(t, client, run_id, 4, done=2)
        automation.kill()  # SIGKILL in the middle of stage 4
        restarted = ChildProcess(
            [str(BIN / "automation"), "serve", "--port", str(stack["ports"]["automation"])],
            stack["tmp"] / "automation-restarted.log",
            stack["automation_env"],
        )
        stack["processes"]["automation"] = restarted
        try:
            await wait_http(f"{t.automation}/readyz", restarted)
            run = await t.run_until(client, run_id, {"completed", "failed", "paused"})
        finally:
            await client.post(f"{ai}/dev/faults", json={"latency_ms": 0})
        assert run["status"] == "completed", run
        contents = (
            await client.get(
                f"{t.automation}/sites/{t.site}/content", headers=t.headers("automation")
            )
        ).json()["items"]
        tasks = (
            await client.get(
                f"{t.automation}/sites/{t.site}/tasks", headers=t.headers("automation")
            )
        ).json()["items"]
        assert len(contents) == len(tasks) == len({c["task_id"] for c in contents}), (
            "no duplicate content"
        )
        await settled(t, client, run_id, run["credits_charged"])  # charged exactly once per item
        assert run["fencing_token"] >= 2, "the restarted worker took the lease over"
        calls = await ai_calls(stack, client)
        # only the article being written when the process died may be asked for twice
        assert len(tasks) <= calls["by_function"]["article"] <= len(tasks) + 1, calls["by_function"]
        assert calls["repeated"] <= 1, [c for c in calls["calls"] if c["count"] > 1]
        assert all(c["count"] == 1 for c in calls["calls"] if c["function"] != "article"), [
            c for c in calls["calls"] if c["count"] > 1
        ]


async def ai_calls(stack: dict, client: httpx.AsyncClient) -> dict:
    """What the development AI server answered: per function and per prompt."""
    return (await client.get(f"http://127.0.0.1:{stack['ports']['ai']}/_stats/calls")).json()


async def stage_log(t: Tenant, client: httpx.AsyncClient, run_id: str, stage: int) -> str:
    """One stage's run log, through automation's API (the log lives in its database)."""
    answer = await client.get(
        f"{t.automation}/runs/{run_id}/log",
        params={"stage": stage},
        headers=t.headers("automation"),
    )
    return answer.text if answer.status_code == 200 else ""


async def wait_for_checkpoints(
    t: Tenant, client: httpx.AsyncClient, run_id: str, stage: int, done: int
) -> None:
    """Until `done` items of the stage are checkpointed: the run's progress comes from its
    checkpoints at once, while run-log lines are stored up to a second late (by then a fast
    run may be in the next stage)."""
    for _ in range(1_500):
        run = (
            await client.get(f"{t.automation}/runs/{run_id}", headers=t.headers("automation"))
        ).json()
        if run["progress"].get(str(stage), {}).get("done", 0) >= done:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"stage {stage} never checkpointed {done} items")


async def wait_for_stage(t: Tenant, client: httpx.AsyncClient, run_id: str, stage: int) -> None:
    """Until the stage has started (its first run-log line is stored)."""
    for _ in range(600):
        if await stage_log(t, client, run_id, stage):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"stage {stage} never started")


async def test_cancel_during_stage_2_releases_the_hold_and_frees_the_site(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 40, {**SMALL, "delay_within_stage_s": 0.4})
        run_id = await t.start(client)
        await wait_for_stage(t, client, run_id, 2)
        await client.post(f"{t.automation}/runs/{run_id}/cancel", headers=t.headers("automation"))
        run = await t.run_until(client, run_id, {"cancelled", "completed"})
        assert run["status"] == "cancelled"
        assert "4" not in run["stage_results"], "nothing after stage 2 ran"
        await settled(t, client, run_id, run["credits_charged"])
        again = await client.post(
            f"{t.automation}/sites/{t.site}/runs", headers=t.headers("automation")
        )
        assert again.status_code in (201, 202)


async def test_deleting_the_site_cancels_its_run(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 30, {**SMALL, "delay_within_stage_s": 0.4})
        run_id = await t.start(client)
        await wait_for_stage(t, client, run_id, 1)
        producer = AIOKafkaProducer(bootstrap_servers=stack["bootstrap"])
        await producer.start()
        try:
            gone = SiteSnapshot(
                site_id=t.site,
                account_id=t.account,
                version=2,
                deleted=True,
                name="Green Thumb",
                url="https://greenthumb.example",
            )
            envelope = TOPICS.envelope(
                "site.deleted", gone, source="integration", account_id=t.account, site_id=t.site
            )
            await producer.send_and_wait(
                "site.deleted", envelope.to_bytes(), key=str(t.site).encode()
            )
        finally:
            await producer.stop()
        run = await t.run_until(client, run_id, {"cancelled", "completed"})
        assert run["status"] == "cancelled"
        await settled(t, client, run_id, run["credits_charged"])
        assert (
            await client.get(
                f"{t.automation}/sites/{t.site}/config", headers=t.headers("automation")
            )
        ).status_code == 404


async def test_people_edit_archive_and_delete_what_the_pipeline_made(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 30, {**SMALL, "max_items_per_stage": {"2": 2}})
        run_id = await t.start(client)
        assert (await t.run_until(client, run_id, {"completed", "failed", "paused"}))[
            "status"
        ] == "completed"
        base, h = f"{t.automation}/sites/{t.site}", t.headers("automation")
        content = (await client.get(f"{base}/content", headers=h)).json()["items"][0]
        edited = await client.patch(
            f"{base}/content/{content['content_id']}",
            json={"title": "Edited"},
            headers=h,
        )
        assert (edited.json()["title"], edited.json()["version"]) == ("Edited", 2)
        versions: list[int] = []
        for _ in range(50):  # the edit reaches publishing as a newer version (relayed after commit)
            versions = [
                json.loads(r.value)["data"]["version"]
                for r in await topic_records(stack["bootstrap"], "content.ready")
                if json.loads(r.value)["data"]["content_id"] == content["content_id"]
            ]
            if 2 in versions:
                break
            await asyncio.sleep(0.2)
        assert versions == [1, 2], versions
        approving = await client.post(f"{base}/content/{content['content_id']}/approve", headers=h)
        assert approving.status_code == 410  # approval lives in publishing
        bad = await client.patch(
            f"{base}/content/{content['content_id']}", json={"slug": "Not A Slug"}, headers=h
        )
        assert bad.status_code == 422
        planned = [
            c
            for c in (await client.get(f"{base}/clusters", headers=h)).json()["items"]
            if c["status"] == "planned"
        ]
        cluster = planned[0]
        idea = next(
            i
            for i in (await client.get(f"{base}/ideas", headers=h)).json()["items"]
            if i["cluster_id"] == cluster["cluster_id"]
        )
        archived = await client.patch(
            f"{base}/ideas/{idea['idea_id']}", json={"status": "archived"}, headers=h
        )
        assert archived.json()["status"] == "archived"
        before = len((await client.get(f"{base}/content", headers=h)).json()["items"])
        assert (
            await client.delete(f"{base}/clusters/{cluster['cluster_id']}", headers=h)
        ).status_code == 204
        after = (await client.get(f"{base}/content", headers=h)).json()["items"]
        assert len(after) < before
        keywords = (await client.get(f"{base}/keywords", params={"limit": 500}, headers=h)).json()[
            "items"
        ]
        assert not any(k["cluster_id"] == cluster["cluster_id"] for k in keywords)
        assert any(k["status"] == "new" for k in keywords), "the cluster's keywords are free again"
        assert (
            await client.get(f"{base}/clusters/{cluster['cluster_id']}", headers=h)
        ).status_code == 404
        task = (await client.get(f"{base}/tasks", headers=h)).json()["items"][0]
        reset = await client.patch(
            f"{base}/tasks/{task['task_id']}", json={"status": "pending"}, headers=h
        )
        assert reset.status_code == 200
        image = (await client.get(f"{base}/images", headers=h)).json()["items"][0]
        assert (
            await client.delete(f"{base}/images/{image['image_id']}", headers=h)
        ).status_code == 204
        assert (
            await client.delete(f"{base}/tasks/{task['task_id']}", headers=h)
        ).status_code == 204
        idea = (await client.get(f"{base}/ideas/{task['idea_id']}", headers=h)).json()
        assert idea["status"] == "new", "the idea can be planned again"


async def test_one_article_can_be_regenerated_and_is_charged_like_any_ai_call(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 30, {**SMALL, "max_items_per_stage": {"2": 1}})
        first = await t.start(client)
        assert (await t.run_until(client, first, {"completed", "failed", "paused"}))[
            "status"
        ] == "completed"
        base, h = f"{t.automation}/sites/{t.site}", t.headers("automation")
        content = (await client.get(f"{base}/content", headers=h)).json()["items"][0]
        answer = await client.post(f"{base}/content/{content['content_id']}/regenerate", headers=h)
        assert answer.status_code == 202
        run = await t.run_until(client, answer.json()["run_id"], {"completed", "failed", "paused"})
        assert run["status"] == "completed" and run["stages"] == [4]
        assert run["credits_charged"] > 0
        await settled(t, client, run["run_id"], run["credits_charged"])
        again = (await client.get(f"{base}/content/{content['content_id']}", headers=h)).json()
        assert again["run_id"] == run["run_id"] and again["html"]
        assert len((await client.get(f"{base}/content", headers=h)).json()["items"]) == 1, (
            "replaced, not added"
        )
        missing = await client.post(f"{base}/content/{uuid.uuid4()}/regenerate", headers=h)
        assert missing.status_code == 404
        calls = await ai_calls(stack, client)
        assert calls["by_function"]["article"] == 2, "the first article and its one rewrite"
        assert calls["by_function"]["image"] == 1 + SMALL["inline_images"]
        repeated = [(c["function"], c["count"]) for c in calls["calls"] if c["count"] > 1]
        assert repeated == [("article", 2)], "only the rewrite asks the same brief again"


async def test_the_per_run_credit_cap_pauses_the_run_before_it_is_exceeded(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 30, {**SMALL, "max_credits": 40})
        run_id = await t.start(client)
        run = await t.run_until(client, run_id, {"paused", "completed", "failed"})
        assert run["status"] == "paused" and run["pause_reason"].startswith("credit_cap_reached")
        assert 0 < run["credits_charged"] <= 40
        await client.post(f"{t.automation}/runs/{run_id}/cancel", headers=t.headers("automation"))
        run = await t.run_until(client, run_id, {"cancelled"})
        await settled(t, client, run_id, run["credits_charged"])


async def test_a_paused_and_resumed_run_asks_the_ai_for_each_item_once(stack):
    """...and keeps the stage's item cap across the pause: the stage taken up again counts the
    articles written before it (it used to start the cap afresh and write past it)."""
    capped = {**SMALL["max_items_per_stage"], "4": 4}
    config = {**SMALL, "delay_within_stage_s": 0.5, "max_items_per_stage": capped}
    async with httpx.AsyncClient(timeout=30) as client:
        t = await tenant(stack, client, 100_000, 30, config)
        run_id = await t.start(client)
        await wait_for_checkpoints(t, client, run_id, 4, done=1)
        h = t.headers("automation")
        assert (
            await client.post(f"{t.automation}/runs/{run_id}/pause", headers=h)
        ).status_code == 200
        paused = await t.run_until(client, run_id, {"paused", "completed"})
        assert paused["status"] == "paused"
        assert (
            await client.post(f"{t.automation}/runs/{run_id}/resume", headers=h)
        ).status_code == 200
        run = await t.run_until(client, run_id, {"completed", "failed", "paused"})
        assert run["status"] == "completed", run
        contents = (await client.get(f"{t.automation}/sites/{t.site}/content", headers=h)).json()
        assert len(contents["items"]) == 4, "the cap of stage 4 holds across the pause"
        calls = await ai_calls(stack, client)
        assert calls["by_function"]["article"] == 4
        assert calls["repeated"] == 0, [c for c in calls["calls"] if c["count"] > 1]
        await settled(t, client, run_id, run["credits_charged"])


async def test_two_worker_processes_share_the_runs_and_drive_each_exactly_once(stack):
    """Issue 17: a second automation process (worker role) shares the queue through PostgreSQL
    alone; each run has one driver, every run finishes once and is charged exactly its usage."""
    config = {**SMALL, "inline_images": 0, "max_items_per_stage": {"2": 2}}
    async with httpx.AsyncClient(timeout=30) as client:
        # the sites first: a consumer group rebalancing for the newcomer would delay them
        tenants = [await tenant(stack, client, 100_000, 6, config) for _ in range(6)]
        port = free_port()
        second = ChildProcess(
            [str(BIN / "automation"), "serve", "--port", str(port), "--role", "worker"],
            stack["tmp"] / "automation-2.log",
            {**stack["automation_env"], "AUTOMATION_RUN_LOG_ROOT": str(stack["tmp"] / "runs-2")},
        )
        stack["processes"]["automation-2"] = second
        await wait_http(f"http://127.0.0.1:{port}/readyz", second)
        # six at once: more than one process's four slots, so both processes must drive
        run_ids = list(await asyncio.gather(*(t.start(client) for t in tenants)))
        runs = [
            await t.run_until(client, r, {"completed", "failed", "paused", "cancelled"})
            for t, r in zip(tenants, run_ids, strict=True)
        ]
        assert [r["status"] for r in runs] == ["completed"] * len(runs)
        for t, run in zip(tenants, runs, strict=True):
            await settled(t, client, str(run["run_id"]), run["credits_charged"])
        # the shared log (database): every stage started once, so each run had one driver
        for t, run_id in zip(tenants, run_ids, strict=True):
            trace = (
                await client.get(
                    f"{t.automation}/runs/{run_id}/trace", headers=t.headers("automation")
                )
            ).text
            assert trace.count('"stage.started"') == trace.count('"stage.completed"') > 0, trace
    # the second process also keeps a local copy of what it drove (AUTOMATION_RUN_LOG_ROOT)
    by_second = {
        r for r in run_ids if "stage.started" in _read(stack["tmp"] / "runs-2" / r / "trace.jsonl")
    }
    assert by_second and by_second != set(run_ids), "both processes drove"
    assert all(r["fencing_token"] == 1 for r in runs), "no run was taken over"


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
