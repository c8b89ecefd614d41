"""What the gateway's process tests share: stand-ins for the services a stream checks with, a
customer's webhook receiver, a gateway process's environment and an SSE reader."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from gateway_support import SECRET

from igny8.auth import Caller, service_auth
from igny8.service_keys import parse_public_keys
from igny8.testing import free_port


class StandIn:
    """Answers automation's `GET /runs/{id}` and integration's `GET /sites/{id}` for the objects
    registered per account, behind the real service-token check."""

    def __init__(self) -> None:
        self.objects: set[tuple[str, str]] = set()
        import os

        def keys() -> Any:
            return parse_public_keys(os.environ["IGNY8_SERVICE_PUBLIC_KEYS"])

        as_automation = service_auth("automation", keys)("gateway")
        as_integration = service_auth("integration", keys)("gateway")
        self.app = FastAPI()

        def check(caller: Caller, object_id: str) -> dict[str, Any]:
            if (str(caller.account_id), object_id) not in self.objects:
                raise HTTPException(404, "not found")
            return {"id": object_id}

        @self.app.get("/runs/{object_id}")
        async def run(object_id: str, caller: Caller = Depends(as_automation)) -> dict[str, Any]:
            return check(caller, object_id)

        @self.app.get("/sites/{object_id}")
        async def site(object_id: str, caller: Caller = Depends(as_integration)) -> dict[str, Any]:
            return check(caller, object_id)

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


class Receiver:
    """A customer's webhook receiver: answers the queued statuses in turn, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls: list[tuple[dict[str, str], bytes]] = []
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.calls.append((dict(request.headers), await request.body()))
            return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server = uvicorn.Server(uvicorn.Config(app, port=self.port, log_config=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def gateway_env(db: str, kafka: str, upstream: str, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": db,
        "GATEWAY_MIGRATE_ON_START": "false",
        "GATEWAY_ROLE": "all",
        "GATEWAY_JWT_DEV_SECRET": SECRET,
        "GATEWAY_AUTOMATION_URL": upstream,
        "GATEWAY_INTEGRATION_URL": upstream,
        "GATEWAY_SSE_HEARTBEAT_S": "1",
        "GATEWAY_SSE_POLL_S": "0.1",
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        **extra,
    }


async def read_events(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], count: int | None, timeout: float
) -> tuple[list[tuple[int, str]], bool]:
    """(id, event type) pairs until `count` events (then disconnects) or the stream ends
    (returns ended=True); heartbeats are skipped."""
    events: list[tuple[int, str]] = []
    current: dict[str, str] = {}
    async with asyncio.timeout(timeout), client.stream("GET", url, headers=headers) as answer:
        assert answer.status_code == 200, await answer.aread()
        assert answer.headers["content-type"].startswith("text/event-stream")
        async for line in answer.aiter_lines():
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                current[name] = value.strip()
            elif line == "" and "id" in current:
                json.loads(current["data"])
                events.append((int(current["id"]), current["event"]))
                current = {}
                if count is not None and len(events) == count:
                    return events, False
    return events, True
