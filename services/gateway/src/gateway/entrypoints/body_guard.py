"""Bounded request bodies: a body over its route's limit is refused (413 `payload_too_large`) from
`Content-Length` before a byte is read, or as soon as the limit is crossed while streaming; a body
that stops arriving is refused (408 `request_timeout`) after a bounded wait instead of holding the
request (and a server slot) forever. Both answers are in the one error shape with the request id.

A plain ASGI middleware in front of every route, the gateway's own and the forwarded ones alike:
uvicorn hands the app the body as it arrives and has no read timeout of its own, so without this a
lying `Content-Length` made `await request.body()` wait until the client gave up."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.entrypoints.route_table import Route
from igny8.webapi import error_response

MiB = 1024 * 1024
BODY_LIMITS: dict[str, int] = {"keywords": 10 * MiB, "json": 4 * MiB, "raw": 1 * MiB}
"""By a forwarded route's body kind: a keyword import is a file (automation takes 10 MiB); a JSON
body (an article's HTML inside) stays well under 4 MiB; the Stripe webhook's under 1 MiB."""
DEFAULT_LIMIT = 1 * MiB
"""The gateway's own routes (accounts, members, API keys, webhooks) take small JSON bodies."""
CLOSE = {"Connection": "close"}
"""The unread rest of a refused body must not be taken for the next request on the connection."""


def limits_of(routes: tuple[Route, ...]) -> Callable[[str, str], int]:
    """`(method, path) -> limit` from the route table, so a new import route gets its limit."""
    table = [
        (
            route.method,
            re.compile("^/v1" + re.sub(r"{\w+}", "[^/]+", route.path) + "$"),
            BODY_LIMITS[route.body],
        )
        for route in routes
        if route.body
    ]

    def limit(method: str, path: str) -> int:
        for wanted, pattern, bytes_ in table:
            if wanted == method and pattern.match(path):
                return bytes_
        return DEFAULT_LIMIT

    return limit


def too_large(limit: int) -> dict[str, Any]:
    return {
        "code": "payload_too_large",
        "message": f"the request body may be at most {limit} bytes",
    }


class BodyGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit_for: Callable[[str, str], int],
        idle_timeout_s: float,
        total_timeout_s: float,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.idle_timeout_s = idle_timeout_s
        self.total_timeout_s = total_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            answer = error_response(
                Request(scope),
                413,
                too_large(limit)["message"],
                code="payload_too_large",
                headers=CLOSE,
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, self._bounded(receive, limit), send)

    def _bounded(self, receive: Receive, limit: int) -> Receive:
        """`receive` that counts the body and waits a bounded time for each part of it; its
        refusals are `HTTPException`s, which FastAPI re-raises from body parsing unchanged and
        the error handlers answer in the one shape."""
        received = 0
        deadline: float | None = None
        done = False

        async def bounded() -> Message:
            nonlocal received, deadline, done
            if done:  # after the body: only the disconnect, which may come much later
                return await receive()
            now = time.monotonic()
            deadline = deadline or now + self.total_timeout_s
            wait = min(self.idle_timeout_s, deadline - now)
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.0))
            except TimeoutError:
                raise HTTPException(
                    408,
                    detail={
                        "code": "request_timeout",
                        "message": "the request body did not arrive in time",
                    },
                    headers=CLOSE,
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, detail=too_large(limit), headers=CLOSE)
                done = not message.get("more_body", False)
            return message

        return bounded


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
