"""The schemathesis harness catches what it promises: a 5xx, an answer that breaks its declared
schema, a route that answers without a token, and a route authenticated by its own signature
header (`signed_by`, like Stripe's webhook) that answers an unsigned request — and passes a clean
service, whose signed route refuses unsigned requests with its declared 400."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import create_async_engine

from igny8.auth import Caller, auth_headers, service_auth
from igny8.config import ServiceSettings
from igny8.fuzz import FuzzTarget
from igny8.runtime import Service, create_app
from igny8.service_keys import PUBLIC_KEYS_ENV
from igny8.testing import free_port, fuzz_service
from igny8.webapi import errors, signed_by

admits = service_auth("svc", lambda: os.environ[PUBLIC_KEYS_ENV])
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

    @r.post(
        "/hooks/provider",
        response_model=Count,
        responses=errors(400),
        openapi_extra=signed_by("providerSignature", "X-Signature", "The provider's HMAC."),
    )
    async def hook(x_signature: Annotated[str | None, Header()] = None) -> Any:
        # The real check is an HMAC; here one value stands for a valid signature. The defective
        # service forgets to check at all.
        if not defects and x_signature != "valid":
            raise HTTPException(400, "the signature does not verify")
        return {"count": 1}

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
    assert (
        "POST /hooks/provider: answered 200 without its providerSignature credentials" in failures
    )


def test_the_harness_passes_a_clean_service(clean):
    report = fuzz_service(target(clean))
    assert not report.failures, report.summary()
    assert report.requests > 10
    # The signed route was not failed for its 400 without a service token: it was recognised.
    assert report.statuses["POST /hooks/provider"][400] > 0


def test_the_signed_route_is_documented_with_its_own_scheme(clean):
    doc = httpx.get(f"{clean}/openapi.json").json()
    operation = doc["paths"]["/hooks/provider"]["post"]
    assert operation["security"] == [{"providerSignature": []}]
    assert "400" in operation["responses"] and "x-igny8-security-scheme" not in operation
    assert doc["components"]["securitySchemes"]["providerSignature"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": "The provider's HMAC.",
    }
    assert "serviceToken" in doc["components"]["securitySchemes"]


def test_a_spent_budget_shortens_the_run_without_failing_it(clean):
    spent = target(clean)
    spent.budget_s = 0
    report = fuzz_service(spent)
    assert not report.failures, report.summary()
    assert set(report.unfuzzed) == {"GET /divide", "GET /shape", "POST /hooks/provider"}
    assert "budget spent" in report.summary()
