"""Every service answers errors in one format, with a request id, and counts requests by route."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy.exc as sa_exc
import structlog
from fastapi import APIRouter, Depends, HTTPException, Query
from prometheus_client import generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import create_async_engine

from igny8.auth import Caller, auth_headers, service_auth
from igny8.config import ServiceSettings
from igny8.runtime import Service, create_app
from igny8.service_keys import PUBLIC_KEYS_ENV
from igny8.webapi import INT32_MAX, ApiError, errors


class Body(BaseModel):
    name: str = Field(max_length=10)
    volume: int = Field(ge=0, le=INT32_MAX)


class _AsyncpgDataError(Exception):
    """Stands for the driver error SQLAlchemy wraps (SQLSTATE 22003, numeric out of range)."""

    sqlstate = "22003"


admits = service_auth("svc", lambda: os.environ[PUBLIC_KEYS_ENV])
Gateway = Annotated[Caller, Depends(admits("gateway"))]


def router() -> APIRouter:
    r = APIRouter()

    @r.post("/things", responses=errors(409))
    async def create(body: Body, caller: Gateway) -> dict[str, Any]:
        return body.model_dump()

    @r.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "thing not found")

    @r.get("/typed")
    async def typed() -> None:
        raise ApiError(409, "run_active", "a run is live", param="run_id", extra={"run_id": "r1"})

    @r.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret /srv/path detail")

    @r.get("/overflow")
    async def overflow(n: Annotated[int, Query()] = 0) -> None:
        raise sa_exc.DBAPIError("SELECT secret", {"n": n}, _AsyncpgDataError("out of range"))

    @r.get("/duplicate")
    async def duplicate() -> None:
        raise sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    @r.get("/upstream-down")
    async def upstream_down() -> None:
        async with httpx.AsyncClient(timeout=1) as client:
            await client.get("http://127.0.0.1:1/quotes")

    @r.get("/upstream-slow")
    async def upstream_slow() -> None:
        raise httpx.ReadTimeout("slow", request=httpx.Request("GET", "http://billing:8101/x"))

    return r


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    service = Service(
        name="svc",
        settings=ServiceSettings(),
        root=__import__("pathlib").Path("."),
        engine=engine,
        sessions=None,  # type: ignore[arg-type]
        messaging=None,  # type: ignore[arg-type]
        routers=[router()],
    )
    app = create_app(service)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://svc"
    ) as c:
        yield c
    await engine.dispose()


def _error(answer: httpx.Response) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"error"}, body
    assert answer.headers["x-request-id"] == body["error"]["request_id"]
    return body["error"]  # type: ignore[no-any-return]


async def test_validation_errors_list_fields_without_echoing_the_input(client):
    huge = "x" * 100_000
    answer = await client.post(
        "/things",
        json={"name": huge, "volume": 99999999999999999999},
        headers=auth_headers(None, "gateway", "svc", uuid.uuid4()),
    )
    assert answer.status_code == 422
    error = _error(answer)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "parameter_invalid"
    assert {e["param"] for e in error["errors"]} == {"name", "volume"}
    assert error["param"] in {"name", "volume"}
    assert len(answer.content) < 2_000
    assert "errors.pydantic.dev" not in answer.text


async def test_a_malformed_json_body_names_the_body_not_a_byte_offset(client):
    answer = await client.post(
        "/things",
        content=b'{"name": "a", "vol',
        headers={
            **auth_headers(None, "gateway", "svc", uuid.uuid4()),
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 422
    error = _error(answer)
    assert error["param"] == "body"
    assert [e["param"] for e in error["errors"]] == ["body"]
    assert error["message"].startswith("body: ")


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/json"]
)
async def test_a_json_body_of_another_media_type_is_415_in_the_one_shape(client, content_type):
    """`curl -d` sends a form's media type, a hand-written request often none: the body is the
    wrong kind of thing (415), not a wrong field (it was 422)."""
    headers = auth_headers(None, "gateway", "svc", uuid.uuid4())
    if content_type:
        headers["Content-Type"] = content_type
    answer = await client.post("/things", content=b'{"name": "a", "volume": 1}', headers=headers)
    assert answer.status_code == 415, answer.text
    error = _error(answer)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "unsupported_media_type",
        "Content-Type",
    )
    assert "application/json" in error["message"]


async def test_json_media_types_with_parameters_or_suffixes_are_json(client):
    headers = auth_headers(None, "gateway", "svc", uuid.uuid4())
    for media in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = await client.post(
            "/things",
            content=b'{"name": "a", "volume": 1}',
            headers={**headers, "Content-Type": media},
        )
        assert answer.status_code == 200, (media, answer.text)
    empty = await client.post("/things", headers=headers)  # no body at all: a missing field
    assert empty.status_code == 422


async def test_every_operation_with_a_json_body_documents_415(client):
    doc = (await client.get("/openapi.json")).json()
    assert "415" in doc["paths"]["/things"]["post"]["responses"]
    assert "415" not in doc["paths"]["/missing"]["get"]["responses"]


async def test_http_exceptions_and_unknown_routes_use_the_same_shape(client):
    missing = _error(await client.get("/missing"))
    assert (missing["type"], missing["code"], missing["message"]) == (
        "invalid_request_error",
        "resource_missing",
        "thing not found",
    )
    assert _error(await client.get("/no/such/route"))["code"] == "resource_missing"
    unauthenticated = await client.post("/things", json={"name": "a", "volume": 1})
    assert unauthenticated.status_code == 401
    assert _error(unauthenticated)["type"] == "authentication_error"
    assert unauthenticated.headers["www-authenticate"] == "Bearer"


async def test_typed_api_errors_carry_code_param_and_extra_fields(client):
    error = _error(await client.get("/typed"))
    assert (error["code"], error["param"], error["run_id"]) == ("run_active", "run_id", "r1")


async def test_unexpected_errors_are_json_500s_logged_with_the_request_id(client):
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        answer = await client.get("/boom", headers={"X-Request-Id": "req-123"})
    assert answer.status_code == 500
    error = _error(answer)
    assert error["request_id"] == "req-123"
    assert "/srv/path" not in answer.text
    logged = [e for e in logs if e["event"] == "unhandled error answering a request"]
    assert logged and logged[0]["exc_info"] is True
    assert logged[0]["route"] == "/boom"
    assert logged[0]["request_id"] == "req-123"


async def test_database_errors_map_to_422_and_409_without_sql(client):
    overflow = await client.get("/overflow", params={"n": 5})
    assert overflow.status_code == 422
    assert _error(overflow)["code"] == "value_out_of_range"
    assert "SELECT" not in overflow.text
    duplicate = await client.get("/duplicate")
    assert duplicate.status_code == 409
    assert "INSERT" not in duplicate.text


async def test_an_unreachable_upstream_is_503_and_a_slow_one_504_with_retry_after(client):
    down = await client.get("/upstream-down")
    assert down.status_code == 503
    assert _error(down)["code"] == "upstream_unavailable"
    assert down.headers["retry-after"]
    slow = await client.get("/upstream-slow")
    assert slow.status_code == 504
    assert slow.headers["retry-after"]


async def test_every_request_is_logged_with_its_request_id(client):
    # The same processor the services' JSON logs run first (igny8.observability.configure).
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        await client.get("/missing", headers={"X-Request-Id": "trace-me"})
    logged = [e for e in logs if e["event"] == "http request"]
    assert logged[0]["request_id"] == "trace-me"
    assert (logged[0]["route"], logged[0]["status"]) == ("/missing", 404)


async def test_a_caller_request_id_is_kept_and_a_bad_one_replaced(client):
    kept = await client.get("/healthz", headers={"X-Request-Id": "abc-1"})
    assert kept.headers["x-request-id"] == "abc-1"
    replaced = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] not in ("", "bad id\twith spaces")


async def test_metrics_count_requests_by_route_template_and_status(client):
    await client.get("/missing")
    await client.get("/missing")
    text = generate_latest().decode()
    assert 'igny8_http_requests_total{method="GET",route="/missing",status="404"}' in text
    assert "igny8_http_request_duration_seconds_bucket" in text
    await client.get(f"/no/such/{uuid.uuid4()}")
    assert 'route="unmatched"' in generate_latest().decode()


async def test_openapi_declares_security_and_the_error_model(client):
    doc = (await client.get("/openapi.json")).json()
    op = doc["paths"]["/things"]["post"]
    assert op["security"] == [{"serviceToken": [], "accountId": []}]
    assert not any(p["name"].lower() == "authorization" for p in op.get("parameters", []))
    for status in ("401", "403", "409", "422", "500"):
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, status
    assert "HTTPValidationError" not in json.dumps(doc)
    assert doc["components"]["securitySchemes"]["serviceToken"]["scheme"] == "bearer"


async def test_swagger_ui_is_served_without_a_cdn(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text
    assert (await client.get("/static-offline-docs/swagger-ui-bundle.js")).status_code == 200


async def test_committed_commits_the_use_cases_unit_of_work_and_only_on_success():
    """One helper for every service's changing routes (billing and publishing had a copy each)."""
    from igny8.webapi import committed

    class Unit:
        def __init__(self, log: list[str]) -> None:
            self.log = log

        async def __aenter__(self) -> Unit:
            self.log.append("begin")
            return self

        async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            self.log.append("rollback" if exc_type else "end")

        async def commit(self) -> None:
            self.log.append("commit")

    log: list[str] = []

    async def works(unit: Unit) -> int:
        log.append("use case")
        return 7

    assert await committed(lambda: Unit(log), works) == 7
    assert log == ["begin", "use case", "commit", "end"]
    log.clear()

    async def fails(unit: Unit) -> int:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await committed(lambda: Unit(log), fails)
    assert log == ["begin", "rollback"]
