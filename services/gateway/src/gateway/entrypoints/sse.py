"""Server-sent events: `GET /v1/runs/{run_id}/events` and `GET /v1/sites/{site_id}/events`.

A stream first checks the object with its owning service as the caller (another account's run is
a 404 there), then sends stored events of the caller's account after `Last-Event-ID` (the
`stream_events` sequence, the same on every replica), polls for new ones, sends a comment as a
heartbeat, and ends after a run's terminal event."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse

from gateway.adapters.sqlalchemy_tables import stream_events
from gateway.domain.model import Principal, Role
from gateway.entrypoints.context import Gateway
from gateway.entrypoints.events import TERMINAL
from gateway.entrypoints.proxy import forward
from gateway.entrypoints.routes import Route
from igny8.webapi import errors

BATCH = 200
SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: `id` (resume with `Last-Event-ID`), `event` (the "
        "event type, e.g. `stage.progress`), `data` (its JSON).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _frame(row: Any) -> str:
    data = json.dumps({"type": row.type, "time": row.time.isoformat(), **row.data})
    return f"id: {row.seq}\nevent: {row.type}\ndata: {data}\n\n"


async def stream(
    gw: Gateway,
    request: Request,
    where: Any,
    after: int,
    closes: bool,
) -> AsyncIterator[str]:
    settings = gw.settings
    last_beat = time.monotonic()
    closing_at: float | None = None
    if closes:  # resuming after the run's end: send what is left, then close
        async with gw.engine.connect() as conn:
            ended = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(stream_events)
                .where(where, stream_events.c.seq <= after, stream_events.c.type.in_(TERMINAL))
            )
        if ended:
            closing_at = time.monotonic() + settings.sse_close_grace_s
    yield "retry: 2000\n: connected\n\n"
    while closing_at is None or time.monotonic() < closing_at:
        async with gw.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(stream_events)
                    .where(where, stream_events.c.seq > after)
                    .order_by(stream_events.c.seq)
                    .limit(BATCH)
                )
            ).all()
        for row in rows:
            after = row.seq
            yield _frame(row)
            if closes and row.type in TERMINAL and closing_at is None:
                # Events of other topics (a last stage.completed) may be consumed after the
                # run's end: the stream stays open for a short grace period to deliver them.
                closing_at = time.monotonic() + settings.sse_close_grace_s
        if len(rows) == BATCH:
            continue
        if await request.is_disconnected():
            return
        if time.monotonic() - last_beat >= settings.sse_heartbeat_s:
            last_beat = time.monotonic()
            yield ": heartbeat\n\n"
        await asyncio.sleep(settings.sse_poll_s)


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
        where = (stream_events.c.account_id == principal.account_id) & (
            stream_events.c.run_id == run_id
        )
        return _sse(stream(gw, request, where, _resume_point(last_event_id), closes=True))

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
        where = (stream_events.c.account_id == principal.account_id) & (
            stream_events.c.site_id == site_id
        )
        return _sse(stream(gw, request, where, _resume_point(last_event_id), closes=False))

    return router


def _sse(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
