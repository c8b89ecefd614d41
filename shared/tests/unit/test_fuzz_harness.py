"""The schemathesis harness catches what it promises: a 5xx, an answer that breaks its declared
schema, and a route that answers without a token — and passes a clean service."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import uvicorn
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import create_async_engine

from igny8.auth import Caller, auth_headers, service_auth
from igny8.config import ServiceSettings
from igny8.fuzz import FuzzTarget
from igny8.runtime import Service, create_app
from igny8.service_keys import PUBLIC_KEYS_ENV, parse_public_keys
from igny8.testing import free_port, fuzz_service

admits = service_auth("svc", lambda: parse_public_keys(os.environ[PUBLIC_KEYS_ENV]))
Gateway = Annotated[Caller, Depends(admits("gateway"))]


class Count(BaseModel):
    count: int


class NoKafka:
    """Readiness asks the broker; there is none here, so /readyz answers its documented 503."""

    async def kafka_reachable(self) -> bool:
        return False


def router(defects: bool) -> APIRouter:
    r = APIRouter()

    @r.get("/divide", response_model=Count)
    async def divide(caller: Gateway, by: Annotated[int, Query(ge=0, le=10)] = 1) -> Any:
        if defects and by == 0:
            raise ZeroDivisionError
        return {"count": 10 // max(by, 1)}

    @r.get("/shape", response_model=None, responses={200: {"model": Count}})
    async def shape(caller: Gateway) -> Any:
        return {"count": "not a number"} if defects else {"count": 1}

    if defects:

        @r.get("/open", response_model=Count)
        async def open_route() -> Any:
            return {"count": 1}

    return r


def serve(defects: bool) -> Iterator[str]:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    service = Service(
        name="svc",
        settings=ServiceSettings(),
        root=Path("."),
        engine=engine,
        sessions=None,  # type: ignore[arg-type]
        messaging=NoKafka(),  # type: ignore[arg-type]
        routers=[router(defects)],
    )
    app = create_app(service)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def defective() -> Iterator[str]:
    yield from serve(defects=True)


@pytest.fixture
def clean() -> Iterator[str]:
    yield from serve(defects=False)


def target(url: str) -> FuzzTarget:
    account = uuid.uuid4()
    return FuzzTarget(url, lambda label: auth_headers(None, "gateway", "svc", account))


def test_the_harness_reports_a_500_a_schema_mismatch_and_an_open_route(defective):
    report = fuzz_service(target(defective))
    failures = "\n".join(report.failures)
    assert "GET /divide" in failures and "500" in failures
    assert "GET /shape" in failures
    assert "GET /open: answered 200 without a service token" in failures


def test_the_harness_passes_a_clean_service(clean):
    report = fuzz_service(target(clean))
    assert not report.failures, report.summary()
    assert report.requests > 10
