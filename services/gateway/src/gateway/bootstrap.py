"""Composition root of the gateway service; every dependency can be overridden by tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware

from gateway.adapters.billing_http import HttpBillingAccounts
from gateway.adapters.jwt_tokens import JwtVerifier
from gateway.adapters.pg_engines import single_statement_engine
from gateway.adapters.pg_notify import PgNotifyWakeups
from gateway.adapters.pg_rate_limiter import PgRateLimiter
from gateway.adapters.smtp_mailer import SmtpMailer
from gateway.adapters.sqlalchemy_idempotency import SqlAlchemyIdempotencyKeys
from gateway.adapters.sqlalchemy_identity import SqlIdentityStore
from gateway.adapters.sqlalchemy_streams import SqlAlchemyStreamEvents
from gateway.app.access_cache import AccessCache
from gateway.app.stream_hub import StreamHub
from gateway.config import GatewaySettings
from gateway.domain.errors import GatewayError
from gateway.entrypoints import (
    console,
    events,
    housekeeping,
    identity_http,
    notify,
    proxy,
    sse,
)
from gateway.entrypoints.body_guard import BodyGuard, limits_of
from gateway.entrypoints.context import (
    Gateway,
    RateLimited,
    gateway_error_handler,
    make_auth,
    rate_limited_handler,
)
from gateway.entrypoints.routes import ROUTES
from gateway.ports import TokenVerifier
from igny8.db import create_engine, session_factory
from igny8.runtime import Service, messaging_for

SERVICE_ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = """The public, versioned HTTP API of IGNY8 for frontends and integrations.

Authenticate with `Authorization: Bearer <user JWT>` (from the identity provider; in development
`gateway dev-token --user <id>`) and name the account with `X-Account-Id`, or with an API key
(`Authorization: Bearer igk_…`). Errors are `{"error": {type, code, message, param, request_id}}`;
upstream failures add `retryable: true`. Follow a run with `GET /v1/runs/{run_id}/events`."""


def bootstrap(
    settings: GatewaySettings | None = None,
    *,
    engine: AsyncEngine | None = None,
    verifier: TokenVerifier | None = None,
    client: httpx.AsyncClient | None = None,
    mailer: notify.Mailer | None = None,
) -> Service:
    settings = settings or GatewaySettings()
    # Single statements on every request and every event (rate limit, stream reads): one round
    # trip each on an engine of their own, unless the caller shares its engine (tests).
    # What the gateway opens itself it closes at shutdown (what a caller hands in is the caller's).
    opened: list[Callable[[], Awaitable[object]]] = []
    quick = engine or single_statement_engine(settings.database_url, settings.database_pool_size)
    if engine is None:
        opened.append(quick.dispose)
    engine = engine or create_engine(settings.database_url, settings.database_pool_size)
    sessions = session_factory(engine)
    if client is None:
        client = httpx.AsyncClient(
            timeout=settings.upstream_timeout_s,
            # Idle connections are dropped before the services' own keep-alive timeout (uvicorn:
            # 5 s) so the gateway rarely reuses one the service is closing.
            limits=httpx.Limits(max_connections=200, keepalive_expiry=2.0),
        )
        opened.append(client.aclose)
    key = settings.signing_key() if settings.service_private_key.get_secret_value() else None
    verifier = verifier or JwtVerifier(
        settings.jwt_issuer,
        settings.jwt_audience,
        algorithms=[a.strip() for a in settings.jwt_algorithms.split(",") if a.strip()],
        jwks_file=settings.jwt_jwks_file,
        jwks_url=settings.jwt_jwks_url,
        dev_secret=settings.jwt_dev_secret.get_secret_value(),
    )
    gw = Gateway(
        settings=settings,
        engine=engine,
        store=SqlIdentityStore(engine),
        verifier=verifier,
        limiter=PgRateLimiter(quick),
        billing=HttpBillingAccounts(settings.billing_url, key, client),  # type: ignore[arg-type]
        client=client,
        key=key,
        idempotency=SqlAlchemyIdempotencyKeys(engine),
        hub=StreamHub(
            SqlAlchemyStreamEvents(quick),
            PgNotifyWakeups(settings.database_url),
            sse.frame,
            poll_s=settings.sse_poll_s,
            queue_max=settings.sse_queue_max,
        ),
        access=AccessCache(settings.access_cache_s),
    )
    caller, member = make_auth(gw)
    mailer = mailer or (
        SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
        )
        if settings.smtp_host
        else None
    )
    built = console.console_dir(settings)
    return Service(
        name="gateway",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("gateway", settings, engine, sessions),
        routers=[
            identity_http.create_router(gw, caller, member),
            sse.create_router(gw, member),
            notify.create_router(gw, member),
            proxy.create_router(gw, member),
            console.create_router(settings),
            # last: the console's files answer only what no API route does
            *([console.create_static_router(built)] if built else []),
        ],
        subscriptions=[*events.subscriptions(settings.stream_retention_h), *notify.subscriptions()],
        timers=[*notify.timers(engine, settings, mailer), housekeeping.timer(engine, settings)],
        exception_handlers={RateLimited: rate_limited_handler, GatewayError: gateway_error_handler},
        description=DESCRIPTION,
        openapi_extend=document_security,
        # the stream hub first (its poller reads through `quick`, its listener holds a connection)
        on_stop=[gw.hub.close, *opened],
        middleware=[
            Middleware(
                BodyGuard,
                limit_for=limits_of(ROUTES),
                idle_timeout_s=settings.body_idle_timeout_s,
                total_timeout_s=settings.body_total_timeout_s,
            )
        ],
    )


def document_security(doc: dict[str, Any]) -> None:
    """The gateway's callers are users and API keys, not services."""
    # the forwarded operations' models, named `<service>.<Model>` (see `proxy.UPSTREAM_SCHEMAS`)
    doc["components"].setdefault("schemas", {}).update(proxy.UPSTREAM_SCHEMAS.get("schemas", {}))
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A user JWT from the identity provider, or an API key (`igk_…`).",
        },
        "account": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Account-Id",
            "description": "The account the request acts in (one the user belongs to).",
        },
    }
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/v1"):
            continue
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            if path == "/v1/webhooks/stripe" or path.startswith("/v1/console/"):
                operation["security"] = []
            elif path in ("/v1/me", "/v1/accounts"):
                operation["security"] = [{"bearer": []}]
            else:
                operation["security"] = [{"bearer": [], "account": []}]
