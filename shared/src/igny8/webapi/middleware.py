"""Request ids, HTTP metrics and the last-resort 500, as one plain ASGI middleware.

A plain ASGI middleware (not Starlette's `BaseHTTPMiddleware`) so streamed and file responses pass
through untouched and the request id lives in the request's own context for structlog.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from igny8.observability import get_logger
from igny8.webapi.errors import internal_error_body

log = get_logger(__name__)

HTTP_REQUESTS = Counter(
    "igny8_http_requests_total",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "igny8_http_request_duration_seconds",
    "HTTP request latency, by route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

#: A caller's id is kept only when it is short and plain; anything else gets a fresh one.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def _caller_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _ACCEPTABLE_ID.match(text) else None
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's template (`/accounts/{account_id}/balance`), never the raw path, so a
    scanner cannot blow up the label cardinality; unmatched paths share one label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _caller_request_id(scope) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        started = time.perf_counter()
        status = 500
        response_started = False
        header = (b"x-request-id", rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = [h for h in message.get("headers", []) if h[0].lower() != header[0]]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception(
                    "unhandled error answering a request",
                    method=scope.get("method"),
                    route=_route_template(scope),
                )
                status = 500
                if not response_started:
                    await _send_json(send, 500, internal_error_body(rid), header)
            finally:
                route = _route_template(scope)
                method = str(scope.get("method", ""))
                elapsed = time.perf_counter() - started
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_SECONDS.labels(method, route, str(status)).observe(elapsed)
                if route not in _QUIET_ROUTES:  # probes every few seconds would drown the rest
                    log.info(
                        "http request",
                        method=method,
                        route=route,
                        status=status,
                        ms=round(elapsed * 1000, 1),
                    )


async def _send_json(send: Send, status: int, body: dict[str, Any], *extra: Any) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
