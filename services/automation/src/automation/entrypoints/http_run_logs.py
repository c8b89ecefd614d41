"""A run's trace and logs over HTTP, from the database: whichever api process answers, whichever
worker drove the run. Another account's run answers 404."""

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.domain.errors import NotFound
from automation.domain.runs import STAGES
from automation.entrypoints.errors import DomainErrorRoute
from automation.ports import RunLogReader
from igny8.auth import Caller
from igny8.webapi import errors


def _text(description: str, media_type: str) -> dict[int | str, dict[str, object]]:
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}
    }


def create_run_log_router(
    sessions: async_sessionmaker[AsyncSession],
    reader: RunLogReader,
    admits: Callable[..., Callable[..., Caller]],
) -> APIRouter:
    router = APIRouter(route_class=DomainErrorRoute)
    Gateway = Annotated[Caller, Depends(admits("gateway"))]

    async def check_owned(caller: Caller, run_id: uuid.UUID) -> None:
        async with AutomationUnitOfWork(sessions) as u:
            if await u.runs.run(run_id, caller.require_account()) is None:
                raise NotFound("run not found")

    @router.get(
        "/runs/{run_id}/trace",
        tags=["runs"],
        summary="The run's trace, one JSON event per line",
        response_class=StreamingResponse,
        responses={
            **_text("NDJSON events (empty until the run logs something).", "application/x-ndjson"),
            **errors(404),
        },
    )
    async def trace(run_id: uuid.UUID, caller: Gateway) -> StreamingResponse:
        await check_owned(caller, run_id)
        return StreamingResponse(
            reader.trace(run_id),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="{run_id}.jsonl"'},
        )

    @router.get(
        "/runs/{run_id}/log",
        tags=["runs"],
        summary="The run's log as text: every line, or one stage's",
        response_class=StreamingResponse,
        responses={
            **_text("One line per event: time, event, message, fields as JSON.", "text/plain"),
            **errors(404),
        },
    )
    async def run_log(
        run_id: uuid.UUID,
        caller: Gateway,
        stage: Annotated[int | None, Query(ge=min(STAGES), le=max(STAGES))] = None,
    ) -> StreamingResponse:
        await check_owned(caller, run_id)
        return StreamingResponse(
            reader.lines(run_id, stage), media_type="text/plain; charset=utf-8"
        )

    return router
