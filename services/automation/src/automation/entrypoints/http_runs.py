"""Runs (estimate, start, list, view, pause/resume/cancel) and image files; a run's trace and log
are served from the database by `http_run_logs`."""

import dataclasses
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from automation.adapters.sqlalchemy_queries import RUN_INTERNALS
from automation.app import runs as run_cases
from automation.app import site_work
from automation.domain.errors import NotFound
from automation.domain.runs import Run as RunRow
from automation.domain.runs import RunStatus
from automation.entrypoints.errors import DomainErrorRoute
from automation.entrypoints.http_common import NO_AI, HttpDeps, keyset_page, page_by
from automation.entrypoints.http_models import (
    Estimate,
    Run,
    RunAction,
    RunDetail,
    RunPage,
    StartRun,
)
from igny8.auth import Caller
from igny8.webapi import ApiError, errors

RunActionName = Literal["pause", "resume", "cancel"]
RUN_ACTIONS: tuple[RunActionName, ...] = ("pause", "resume", "cancel")


def _public_run(run: RunRow) -> dict[str, Any]:
    return {
        f.name: getattr(run, f.name) for f in dataclasses.fields(run) if f.name not in RUN_INTERNALS
    }


def routes(deps: HttpDeps) -> APIRouter:
    router = APIRouter(route_class=DomainErrorRoute)
    Gateway = Annotated[Caller, Depends(deps.admits("gateway"))]
    Publishing = Annotated[Caller, Depends(deps.admits("publishing", "gateway"))]
    Offset = Annotated[int, Query(ge=0, le=10_000_000)]
    uow, queries, known_site = deps.uow, deps.queries, deps.known_site

    @router.post(
        "/sites/{site_id}/runs/estimate",
        tags=["runs"],
        summary="What a run would do now, and billing's quote for it",
        response_model=Estimate,
        responses=errors(404, 502, 503, 504, s503="Billing cannot be reached."),
    )
    async def estimate_run(
        site_id: uuid.UUID, caller: Gateway, body: StartRun | None = None
    ) -> dict[str, Any]:
        stages = (body or StartRun()).stages
        async with uow() as u:
            found = await site_work.estimate_run(
                u, deps.quotes, caller.require_account(), site_id, stages
            )
        return dataclasses.asdict(found)

    @router.post(
        "/sites/{site_id}/runs",
        status_code=201,
        tags=["runs"],
        summary="Start a run",
        description="201: credits were reserved and the run is running. 202: still waiting for "
        "billing's answer (poll the run). 402: refused for credits — the run is recorded as "
        "rejected, `error.required`/`error.available` say by how much. 409: the site already has "
        "a live run, named in `error.run_id`.",
        response_model=Run,
        responses={
            202: {"model": Run, "description": "Waiting for billing's answer."},
            **errors(
                402,
                404,
                409,
                503,
                s402="Not enough credits; `required`, `available` and `run_id` in the error.",
                s409="The site has a live run (named in `run_id`).",
                s503=NO_AI,
            ),
        },
    )
    async def start(site_id: uuid.UUID, caller: Gateway, body: StartRun | None = None) -> Any:
        stages = (body or StartRun()).stages
        run = await site_work.start_and_wait(
            uow, deps.ensure_ai, caller.require_account(), site_id, stages, deps.start_wait_s
        )
        if run.status is RunStatus.REJECTED:
            rejection = run.rejection or {}
            raise ApiError(
                402,
                str(rejection.get("reason") or "insufficient_credits"),
                str(rejection.get("detail") or "not enough credits for this run"),
                extra={
                    "run_id": str(run.run_id),
                    "required": rejection.get("required"),
                    "available": rejection.get("available"),
                },
            )
        status = 202 if run.status in (RunStatus.QUEUED, RunStatus.RESERVING) else 201
        payload = Run.model_validate(_public_run(run)).model_dump(mode="json")
        return JSONResponse(payload, status_code=status)

    @router.get(
        "/sites/{site_id}/runs",
        tags=["runs"],
        summary="The site's runs, newest first",
        response_model=RunPage,
        responses=errors(404),
    )
    async def site_runs(
        site_id: uuid.UUID,
        caller: Gateway,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Offset = 0,
        cursor: Annotated[
            str | None,
            Query(
                max_length=200,
                description="`next_cursor` of the previous page (instead of `offset`).",
            ),
        ] = None,
    ) -> dict[str, Any]:
        before = page_by(cursor, offset)
        async with queries() as q:
            account = await known_site(q, caller, site_id)
            rows = await q.runs_of_site(account, site_id, limit + 1, offset, before)
        return keyset_page(rows, limit, offset, "run_id", by_cursor=before is not None)

    @router.get(
        "/runs/{run_id}",
        tags=["runs"],
        summary="A run with its stage results, live progress and credit holds",
        response_model=RunDetail,
        responses=errors(404),
    )
    async def get_run(run_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with queries() as q:
            found = await q.run_view(caller.require_account(), run_id)
        if found is None:
            raise NotFound("run not found")
        return found

    # One documented operation per action (not `/runs/{run_id}/{action}`): the gateway's route
    # table names each path, and a test holds it to this document.
    for action in RUN_ACTIONS:

        def acting(action: RunActionName = action) -> None:
            @router.post(
                f"/runs/{{run_id}}/{action}",
                tags=["runs"],
                name=f"{action}_run",
                summary=f"{action.title()} a run (between items)",
                response_model=RunAction,
                responses=errors(404, 409, s409="The run's state does not allow this action."),
            )
            async def act(run_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
                async with uow() as u:
                    result = await run_cases.act_on_run(
                        u, caller.require_account(), run_id, action, deps.clock
                    )
                    await u.commit()
                return {"run_id": run_id, "status": result.status, "requested": result.requested}

        acting()

    @router.get(
        "/images/{image_id}",
        tags=["images"],
        summary="An image's PNG bytes (publishing and the gateway fetch them)",
        response_class=Response,
        responses={
            200: {
                "description": "The PNG.",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            },
            **errors(404),
        },
    )
    async def image_file(image_id: uuid.UUID, caller: Publishing) -> Response:
        async with queries() as q:
            key = await q.image_key(caller.require_account(), image_id)
        if key is None:
            raise NotFound("image not found")
        return Response(await deps.storage.read(key), media_type="image/png")

    return router
