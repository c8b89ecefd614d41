"""Server-sent events: `GET /v1/runs/{run_id}/events` and `GET /v1/sites/{site_id}/events`.

A stream first checks the object with its owning service as the caller (another account's run is
a 404 there), then sends the caller's account's events after `Last-Event-ID` (the
`stream_events` sequence, the same on every replica) through the process's one fan-out
(`app/stream_hub.py`), sends a comment as a heartbeat, and ends after a run's terminal event."""

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse

from gateway.domain.model import Principal, Role
from gateway.entrypoints.context import Gateway
from gateway.entrypoints.events import TERMINAL
from gateway.entrypoints.proxy import forward
from gateway.entrypoints.routes import Route
from gateway.ports import StreamEvent, StreamTopic
from igny8.webapi import errors

SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: `id` (resume with `Last-Event-ID`), `event` (the "
        "event type, e.g. `stage.progress`), `data` (its JSON).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def frame(event: StreamEvent) -> str:
    data = json.dumps({"type": event.type, "time": event.time.isoformat(), **event.data})
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


async def stream(
    gw: Gateway, request: Request, topic: StreamTopic, after: int, closes: bool
) -> AsyncIterator[str]:
    """The topic's events from the process's fan-out (`app/stream_hub.py`), heartbeats, and for a
    run the end shortly after its terminal event."""
    settings = gw.settings
    last_beat = time.monotonic()
    closing_at: float | None = None
    if closes and after and await gw.hub.ended(topic, after, TERMINAL):
        closing_at = time.monotonic() + settings.sse_close_grace_s  # resumed after the end
    idle = min(settings.sse_heartbeat_s, settings.sse_close_grace_s if closes else 1e9)
    yield "retry: 2000\n: connected\n\n"
    async with contextlib.aclosing(gw.hub.follow(topic, after, idle)) as events:
        async for batch in events:
            if batch:
                yield "".join(text for _, text in batch)
                if closes and closing_at is None and any(e.type in TERMINAL for e, _ in batch):
                    # Events of other topics (a last stage.completed) may be consumed after the
                    # run's end: the stream stays open for a short grace period to deliver them.
                    closing_at = time.monotonic() + settings.sse_close_grace_s
            if closing_at is not None and time.monotonic() >= closing_at:
                return
            if time.monotonic() - last_beat >= settings.sse_heartbeat_s:
                if await request.is_disconnected():
                    return
                last_beat = time.monotonic()
                yield ": heartbeat\n\n"


def _resume_point(last_event_id: str | None) -> int:
    try:
        return max(0, int(last_event_id or 0))
    except ValueError:
        return 0


def create_router(gw: Gateway, member: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["events"])
    InAccount = Annotated[Principal, Depends(member)]
    read_run = Route("GET", "/runs/{run_id}", "automation", "", Role.VIEWER, "", "runs")
    read_site = Route("GET", "/sites/{site_id}", "integration", "", Role.VIEWER, "", "sites")

    @router.get(
        "/runs/{run_id}/events",
        summary="A run's progress as server-sent events; ends with the run",
        response_class=StreamingResponse,
        responses={**SSE_DOC, **errors(400, 401, 403, 404, 422, 429, 502, 503, 504)},
    )
    async def run_events(
        run_id: uuid.UUID,
        request: Request,
        principal: InAccount,
        last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    ) -> Response:
        checked = await forward(gw, request, read_run, principal, f"/runs/{run_id}")
        if checked.status_code != 200:
            return checked
        topic = StreamTopic(principal.account_id, "run", run_id)
        return _sse(stream(gw, request, topic, _resume_point(last_event_id), closes=True))

    @router.get(
        "/sites/{site_id}/events",
        summary="Every run, stage, article and publication event of a site (server-sent events)",
        response_class=StreamingResponse,
        responses={**SSE_DOC, **errors(400, 401, 403, 404, 422, 429, 502, 503, 504)},
    )
    async def site_events(
        site_id: uuid.UUID,
        request: Request,
        principal: InAccount,
        last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    ) -> Response:
        checked = await forward(gw, request, read_site, principal, f"/sites/{site_id}")
        if checked.status_code != 200:
            return checked
        topic = StreamTopic(principal.account_id, "site", site_id)
        return _sse(stream(gw, request, topic, _resume_point(last_event_id), closes=False))

    return router


def _sse(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
