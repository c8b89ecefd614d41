"""The whole stack with a finished pipeline, once per test session (issue 10 §6).

Every service as its own process (`scripts/run_stack.py`'s wiring, each on a free port and its
own database on the test PostgreSQL), the development AI server, the test Kafka. A customer made
only through the gateway's `/v1` — a development token, an account, a site, a static-export
destination with automatic approval, keywords, caps — and one pipeline run to completion; then
every article published once. Tests that share it read, and add tenants of their own; they never
change what it made (another test may read it after them)."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx

from gateway.adapters.jwt_tokens import dev_token
from igny8.auth import auth_headers
from igny8.contracts import TOPICS
from igny8.messaging import ensure_topics
from igny8.testing import ChildProcess, free_port, temporary_database

from stack import SERVICES, wait_http, wait_ready

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEV_SECRET = "finished-stack-development-secret-for-tests-only"
ISSUER, AUDIENCE = "https://id.igny8.local/", "igny8-api"
#: Small on purpose: every stage runs (images included) in well under a minute.
CAPS = {
    "batch_sizes": {"1": 25},
    "ideas_per_cluster": 1,
    "target_word_count": 300,
    "inline_images": 1,
    "image_size": "32x32",
    "max_items_per_stage": {"2": 3},
}
KEYWORDS = 20
GRANT = 100_000


@dataclass(frozen=True)
class FinishedStack:
    """What a test needs to drive the finished stack: addresses, a token, the customer's ids."""

    urls: dict[str, str]
    """Base URL per process: the five services and `ai` (the development AI server)."""
    processes: dict[str, ChildProcess]
    token: str
    """A development user token the gateway accepts (`Authorization: Bearer …`)."""
    user: str
    account_id: str
    site_id: str
    integration_id: str
    run_id: str
    run: dict
    """`GET /v1/runs/{run_id}` once the run completed."""
    content_ids: list[str]
    """The articles the run made (automation's content ids), each published once."""
    publications: list[dict]
    """Publishing's publications of them (`published`, remote id and URL set)."""
    export_folder: Path
    """Where the static destination wrote the articles."""
    kafka: str
    env: dict[str, str] = field(repr=False)
    """The environment the services share (their databases, static root, keys' variables)."""

    @property
    def v1(self) -> str:
        return f"{self.urls['gateway']}/v1"

    def headers(self, account_id: str | None = None) -> dict[str, str]:
        """The customer's headers for `/v1` (another account's id for isolation tests)."""
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Account-Id": account_id or self.account_id,
        }

    def service_headers(self, target: str, *roles: str) -> dict[str, str]:
        """A gateway service token for calling `target` directly, as the customer's account."""
        return auth_headers(None, "gateway", target, uuid.UUID(self.account_id), roles)

    def user_token(self, user: str) -> str:
        """A development token of another user (a stranger, a second member)."""
        return dev_token(DEV_SECRET, ISSUER, AUDIENCE, user)


def _load_run_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_stack", ROOT / "scripts" / "run_stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _ok(answer: httpx.Response, *statuses: int) -> dict:
    assert answer.status_code in (statuses or (200,)), (
        f"{answer.request.method} {answer.request.url} answered {answer.status_code}: "
        f"{answer.text[:800]}"
    )
    return answer.json() if answer.content else {}


async def _poll(probe, what: str, timeout: float = 120.0, logs: str = ""):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout}s\n{logs[-4000:]}")


@asynccontextmanager
async def finished_stack_session(
    postgres_admin_url: str, kafka_bootstrap: str, tmp: Path
) -> AsyncIterator[FinishedStack]:
    await ensure_topics(kafka_bootstrap, TOPICS)
    ports = {name: free_port() for name in SERVICES}
    ports["ai"] = free_port()
    exports = tmp / "exports"
    exports.mkdir(parents=True)
    async with AsyncExitStack() as stack:
        databases = {
            name: await stack.enter_async_context(
                temporary_database(postgres_admin_url, f"{name}_finished")
            )
            for name in SERVICES
        }
        env = _load_run_stack().service_environment(
            {
                "INTEGRATION_STATIC_ROOT": str(exports),
                "GATEWAY_JWT_DEV_SECRET": DEV_SECRET,
                "INTEGRATION_CREDENTIAL_KEYS": "k1:"
                + base64.b64encode(secrets.token_bytes(32)).decode(),
                "AUTOMATION_OPENAI_BASE_URL": f"http://127.0.0.1:{ports['ai']}/v1",
                "PUBLISHING_OPENAI_BASE_URL": f"http://127.0.0.1:{ports['ai']}/v1",
                "PUBLISHING_OPTIMIZER_TICK_S": "0.3",
                "AUTOMATION_IMAGE_ROOT": str(tmp / "images"),
                "AUTOMATION_RUN_LOG_ROOT": str(tmp / "runs"),
                "PUBLISHING_SCHEDULER_TICK_S": "0.5",
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                **{f"{n.upper()}_DATABASE_URL": url for n, url in databases.items()},
                **{f"{n.upper()}_CONSUMER_SESSION_TIMEOUT_MS": "6000" for n in SERVICES},
            },
            ports,
        )
        processes: dict[str, ChildProcess] = {
            "ai": ChildProcess(
                [str(BIN / "igny8-dev-ai"), "--port", str(ports["ai"])], tmp / "ai.log", env
            )
        }
        for name in SERVICES:
            processes[name] = ChildProcess(
                [str(BIN / name), "serve", "--port", str(ports[name])], tmp / f"{name}.log", env
            )
        stack.callback(lambda: [p.stop() for p in processes.values()])
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        await wait_http(f"{urls['ai']}/v1/models", processes["ai"])
        for name in SERVICES:
            await wait_ready(urls[name], processes[name], timeout=120)
        user = f"owner-{uuid.uuid4().hex[:8]}"
        token = dev_token(DEV_SECRET, ISSUER, AUDIENCE, user)
        account = str(uuid.uuid4())
        me = {"Authorization": f"Bearer {token}", "X-Account-Id": account}
        v1 = f"{urls['gateway']}/v1"
        async with httpx.AsyncClient(timeout=30) as client:
            await _ok(
                await client.post(
                    f"{v1}/accounts",
                    json={"name": "Green Thumb Media", "account_id": account},
                    headers={"Authorization": f"Bearer {token}"},
                ),
                201,
            )
            # credits as a platform admin grants them (a card purchase is billing's own test)
            await _ok(
                await client.post(
                    f"{urls['billing']}/accounts/{account}/grants",
                    json={"credits": GRANT, "kind": "paid"},
                    headers={
                        **auth_headers(
                            None, "gateway", "billing", uuid.UUID(account), ("platform_admin",)
                        ),
                        "Idempotency-Key": "finished-stack",
                    },
                ),
                201,
            )
            site = await _ok(
                await client.post(
                    f"{v1}/sites",
                    json={
                        "name": "Green Thumb Journal",
                        "url": "https://greenthumb.example",
                        "sector": "home & garden",
                        "niche": "gardening",
                        "language": "en",
                    },
                    headers=me,
                ),
                201,
            )
            site_id = str(site["site_id"])
            folder = "journal"
            (exports / account / folder).mkdir(parents=True)
            integration = await _ok(
                await client.post(
                    f"{v1}/sites/{site_id}/integrations",
                    json={
                        "platform": "static",
                        "base_url": "https://greenthumb.example",
                        "settings": {"folder": folder},
                    },
                    headers=me,
                ),
                201,
            )

            async def automation_knows_site() -> bool:
                answer = await client.get(f"{v1}/sites/{site_id}/config", headers=me)
                return answer.status_code == 200

            await _poll(automation_knows_site, "automation learning the site")

            async def publishing_settings() -> bool:
                answer = await client.put(
                    f"{v1}/sites/{site_id}/publishing-settings",
                    json={"approval": "auto", "score_floor": 0},
                    headers=me,
                )
                return answer.status_code == 200

            await _poll(publishing_settings, "publishing learning the site")
            await _ok(await client.put(f"{v1}/sites/{site_id}/config", json=CAPS, headers=me))
            from test_pipeline_end_to_end import keywords

            imported = await _ok(
                await client.post(
                    f"{v1}/sites/{site_id}/keywords",
                    content=json.dumps(keywords(KEYWORDS)),
                    headers={**me, "Content-Type": "application/json"},
                ),
                200,
                201,
            )
            assert imported["imported"] == KEYWORDS, imported
            started = await _ok(
                await client.post(
                    f"{v1}/sites/{site_id}/runs",
                    headers={**me, "Idempotency-Key": f"finished-{site_id}"},
                ),
                201,
                202,
            )
            run_id = str(started["run_id"])

            async def run_ended() -> dict | None:
                run = await _ok(await client.get(f"{v1}/runs/{run_id}", headers=me))
                ended = run["status"] in ("completed", "failed", "paused", "cancelled")
                return run if ended else None

            run = await _poll(run_ended, "the run ending", 240, processes["automation"].output())
            assert run["status"] == "completed", run
            contents = await _ok(
                await client.get(f"{v1}/sites/{site_id}/content", params={"limit": 200}, headers=me)
            )
            content_ids = sorted(str(c["content_id"]) for c in contents["items"])
            assert content_ids, "the run made articles"

            async def all_published() -> list[dict] | None:
                page = await _ok(
                    await client.get(
                        f"{v1}/sites/{site_id}/publications",
                        params={"limit": 200},
                        headers=me,
                    )
                )
                items = page["items"]
                done = [p for p in items if p["status"] == "published"]
                return items if len(done) == len(content_ids) == len(items) else None

            published = await _poll(
                all_published, "every article published", 180, processes["publishing"].output()
            )
        yield FinishedStack(
            urls=urls,
            processes=processes,
            token=token,
            user=user,
            account_id=account,
            site_id=site_id,
            integration_id=str(integration["integration_id"]),
            run_id=run_id,
            run=run,
            content_ids=content_ids,
            publications=published,
            export_folder=exports / account / folder,
            kafka=kafka_bootstrap,
            env={k: v for k, v in env.items() if k not in os.environ or os.environ[k] != v},
        )
