"""The uniform service process: HTTP (health, readiness, metrics, API) + consumers + relay + timers.

`<service> serve --role all|api|worker`: `api` serves the HTTP API only; `worker` runs consumers,
the outbox relay and timers (and still answers /healthz, /readyz and /metrics for probes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from igny8.config import ServiceSettings
from igny8.db import migrations
from igny8.messaging import ConsumerSettings, Messaging, RelaySettings, Subscription
from igny8.observability import configure, get_logger
from igny8.webapi import RequestContextMiddleware, finish_openapi, install_error_handlers

log = get_logger(__name__)
http_tracer = trace.get_tracer("igny8.http")

Timer = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class Service:
    """What a service's bootstrap hands to the runtime."""

    name: str
    settings: ServiceSettings
    root: Path
    """The service folder (holds alembic.ini and migrations/)."""
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    messaging: Messaging
    routers: Sequence[APIRouter] = ()
    subscriptions: Sequence[Subscription] = ()
    timers: Sequence[Timer] = ()
    exception_handlers: dict[Any, Callable[..., Any]] = field(default_factory=dict)
    description: str = ""
    openapi_extend: Callable[[dict[str, Any]], None] | None = None
    """Changes the finished OpenAPI document (the gateway documents user auth, not services')."""
    on_stop: Sequence[Callable[[], Awaitable[object]]] = ()
    """Run at shutdown, in order, after messaging stopped and before `engine` is disposed: what
    else the service opened (another engine, an HTTP client, a listener's connection)."""
    middleware: Sequence[Middleware] = ()
    """Plain ASGI middleware inside the request context (so its own answers carry the request
    id), outermost first: the gateway's request-body guard."""


def messaging_for(
    name: str,
    settings: ServiceSettings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> Messaging:
    return Messaging(
        name,
        settings.kafka_bootstrap_servers,
        engine,
        sessions,
        consumer_settings=ConsumerSettings(
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_s=settings.consumer_retry_backoff_s,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
            hold_batch_s=settings.consumer_hold_batch_s,
            transient_backoff_max_s=settings.consumer_transient_backoff_max_s,
            max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
            max_batch=settings.consumer_max_batch,
            batch_timeout_ms=settings.consumer_batch_timeout_ms,
            fetch_min_bytes=settings.consumer_fetch_min_bytes,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            batch_lanes=settings.consumer_batch_lanes,
        ),
        relay_settings=RelaySettings(
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
            in_flight_batches=settings.outbox_in_flight_batches,
            linger_ms=settings.outbox_linger_ms,
            max_batch_bytes=settings.outbox_max_batch_bytes,
            compression_type=settings.outbox_compression_type,
        ),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
    )


class TraceRequests:
    """A server span per HTTP request, named by route template once routing has matched (like the
    HTTP metrics). Plain ASGI, not `@app.middleware("http")`: that wraps every response body in a
    task-to-task stream, which a server-sent events stream pays for on every event."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        with http_tracer.start_as_current_span(
            f"{method} {scope['path']}", kind=trace.SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, send)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")


def create_app(service: Service) -> FastAPI:
    settings = service.settings
    role = settings.role
    runs_worker = role in ("all", "worker")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure(service.name, settings.log_level)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if runs_worker and settings.create_topics:
            await service.messaging.ensure_topics()
            service.messaging.subscribe(service.subscriptions)
        await service.messaging.start(consume=runs_worker, relay=runs_worker)
        if runs_worker:
            tasks = [asyncio.create_task(timer(stop)) for timer in service.timers]
        log.info("service started", role=role, host=settings.http_host, port=settings.http_port)
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            await service.messaging.stop()
            for close in service.on_stop:
                try:
                    await close()
                except Exception:  # one failing closer must not keep the others open
                    log.exception("shutdown step failed", step=getattr(close, "__qualname__", ""))
            await service.engine.dispose()

    # Swagger UI and ReDoc from files bundled in the package: the docs work with no CDN.
    app = FastAPIOffline(
        title=f"igny8 {service.name}",
        description=service.description,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for middleware in reversed(service.middleware):  # added last is outermost
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    app.add_middleware(RequestContextMiddleware)

    app.add_middleware(TraceRequests)

    @app.get("/healthz", tags=["ops"], summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service.name}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Ready: database and Kafka reachable",
        responses={200: {"model": Readiness}, 503: {"model": Readiness}},
        response_model=None,
    )
    async def readyz() -> JSONResponse:
        waiting = service.messaging.waiting()
        checks = {
            "database": await _database_ok(service.engine),
            "kafka": await service.messaging.kafka_reachable(),
            "consumers": not waiting,  # none retrying records on a failing infrastructure
        }
        ok = all(checks.values())
        body: dict[str, Any] = {"ready": ok, "checks": checks}
        if waiting:
            body["waiting"] = waiting
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if role in ("all", "api"):
        for router in service.routers:
            app.include_router(router)
    for exc_type, handler in service.exception_handlers.items():
        app.add_exception_handler(exc_type, handler)
    finished = finish_openapi(app)
    if service.openapi_extend is None:
        app.openapi = finished  # type: ignore[method-assign]
    else:
        extend = service.openapi_extend

        def extended() -> dict[str, Any]:
            first = app.openapi_schema is None
            doc = finished()
            if first:
                extend(doc)
            return doc

        app.openapi = extended  # type: ignore[method-assign]
    return app


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]


async def _database_ok(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(2), engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False


@dataclass(frozen=True)
class Command:
    """An extra subcommand of a service's console script."""

    help: str
    run: Callable[[Service, argparse.Namespace], Coroutine[Any, Any, int]]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def settle_the_heap() -> None:
    """Move everything built before serving out of the collector's scans (`gc.freeze`). It lives
    as long as the process, yet every full collection walked it: in the gateway with 1,000 SSE
    streams a full collection paused the event loop for up to 330 ms, which was the SSE
    benchmark's p99 (52 ms with the heap settled)."""
    gc.collect()
    gc.freeze()


def main(
    name: str,
    build: Callable[[ServiceSettings], Service],
    settings_type: type[ServiceSettings],
    argv: list[str] | None = None,
    commands: dict[str, Command] | None = None,
) -> int:
    """The `<service>` console script: `serve`, `migrate`, `downgrade` and the service's own."""
    parser = argparse.ArgumentParser(prog=name)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--role", choices=["all", "api", "worker"], default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--host", default=None)
    sub.add_parser("migrate", help="upgrade this service's database to the newest revision")
    down = sub.add_parser("downgrade", help="downgrade this service's database")
    down.add_argument("revision")
    for command_name, command in (commands or {}).items():
        command.add_arguments(sub.add_parser(command_name, help=command.help))
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in {
            "role": getattr(args, "role", None),
            "http_port": getattr(args, "port", None),
            "http_host": getattr(args, "host", None),
        }.items()
        if value is not None
    }
    settings = settings_type(**overrides)
    configure(name, settings.log_level)
    service = build(settings)
    if args.command == "migrate":
        migrations.upgrade(service.root, settings.database_url)
        return 0
    if args.command == "downgrade":
        migrations.downgrade(service.root, settings.database_url, args.revision)
        return 0
    if args.command == "serve":
        if settings.migrate_on_start and settings.role != "worker":
            migrations.upgrade(service.root, settings.database_url)
        app = create_app(service)
        if settings.gc_freeze_on_start:
            settle_the_heap()
        uvicorn.run(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
        return 0
    return asyncio.run((commands or {})[args.command].run(service, args))
