"""Internal HTTP API of automation (service token, X-Account-Id). Another account's site or run
answers 404. Every route declares its models and the statuses it can answer (http_models.py);
errors are the platform's one format (entrypoints/errors.py)."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.billing_quotes import BillingQuotes
from automation.adapters.run_log_files import FileRunLog
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app import content_edits, site_work
from automation.app import library as library_cases
from automation.app import runs as run_cases
from automation.domain import keywords as keyword_import
from automation.domain.config import AutomationConfig
from automation.domain.errors import ImportTooLarge, InvalidInput, NotFound
from automation.entrypoints.errors import DomainErrorRoute
from automation.entrypoints.http_models import (
    EDITS,
    ITEMS,
    KEYWORD_UPLOAD,
    RUN_INTERNALS,
    ConfigPatch,
    Estimate,
    ImportResult,
    KeywordEdited,
    KeywordPatch,
    Regenerating,
    Run,
    RunAction,
    RunDetail,
    RunPage,
    StartRun,
    page_model,
)
from automation.ports import Clock, ImageStorage
from igny8.auth import Caller
from igny8.webapi import ApiError, errors

LISTS = tuple(ITEMS)
NO_AI = "No AI provider is configured."


async def _limited_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed `limit`: from Content-Length
    before anything is read, or while streaming a body sent without it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ImportTooLarge(f"an import may be at most {limit} bytes")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise ImportTooLarge(f"an import may be at most {limit} bytes")
    return bytes(received)


def _page(rows: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    """Rows were read with `limit + 1`: the extra one only says there is more."""
    more = len(rows) > limit
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "has_more": more,
        "next_offset": offset + limit if more else None,
    }


def _public_run(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in RUN_INTERNALS}


def create_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    quotes: BillingQuotes,
    ensure_ai: Callable[[], None],
    run_log: FileRunLog,
    storage: ImageStorage,
    start_wait_s: float,
    admits: Callable[..., Callable[..., Caller]],
    image_url: Callable[[uuid.UUID], str] = lambda image_id: f"/images/{image_id}",
) -> APIRouter:
    router = APIRouter(route_class=DomainErrorRoute)
    Gateway = Annotated[Caller, Depends(admits("gateway"))]
    Publishing = Annotated[Caller, Depends(admits("publishing", "gateway"))]
    Limit = Annotated[int, Query(ge=1, le=500)]
    Offset = Annotated[int, Query(ge=0, le=10_000_000)]

    def uow() -> AutomationUnitOfWork:
        return AutomationUnitOfWork(sessions)

    async def known_site(u: AutomationUnitOfWork, caller: Caller, site_id: uuid.UUID) -> uuid.UUID:
        account = caller.require_account()
        if await u.sites.site(account, site_id) is None:
            raise NotFound("site not found")
        return account

    # ---- config -----------------------------------------------------------------------------

    @router.get(
        "/sites/{site_id}/config",
        tags=["config"],
        summary="The site's automation settings (defaults until saved)",
        response_model=AutomationConfig,
        responses=errors(404),
    )
    async def get_config(site_id: uuid.UUID, caller: Gateway) -> AutomationConfig:
        async with uow() as u:
            return await run_cases.site_config(u, caller.require_account(), site_id)

    @router.put(
        "/sites/{site_id}/config",
        tags=["config"],
        summary="Replace the whole config (a field left out returns to its default)",
        description="PUT replaces: every field not sent is reset to its default. Use PATCH to "
        "change only some fields.",
        response_model=AutomationConfig,
        responses=errors(404),
    )
    async def put_config(
        site_id: uuid.UUID, body: AutomationConfig, caller: Gateway
    ) -> AutomationConfig:
        async with uow() as u:
            saved = await site_work.save_config(u, caller.require_account(), site_id, body)
            await u.commit()
        return saved

    @router.patch(
        "/sites/{site_id}/config",
        tags=["config"],
        summary="Change some settings (merge: fields left out keep their value)",
        description="PATCH merges into the saved config; `schedule` merges field by field. "
        "The merged result is validated as a whole.",
        response_model=AutomationConfig,
        responses=errors(404),
    )
    async def patch_config(
        site_id: uuid.UUID, body: ConfigPatch, caller: Gateway
    ) -> AutomationConfig:
        account = caller.require_account()
        async with uow() as u:
            current = (await run_cases.site_config(u, account, site_id)).model_dump(mode="json")
            changes = body.model_dump(mode="json", exclude_unset=True)
            if isinstance(changes.get("schedule"), dict):
                changes["schedule"] = {**current["schedule"], **changes["schedule"]}
            merged = AutomationConfig.model_validate({**current, **changes})
            saved = await site_work.save_config(u, account, site_id, merged)
            await u.commit()
        return saved

    # ---- keywords ---------------------------------------------------------------------------

    @router.post(
        "/sites/{site_id}/keywords",
        status_code=201,
        tags=["keywords"],
        summary="Import keywords from CSV or JSON (bad rows reported by line)",
        response_model=ImportResult,
        responses=errors(
            400,
            404,
            413,
            s400="Unreadable file: not UTF-8, not JSON/CSV, no `keyword` column, over 50,000 rows.",
            s413="Over 10 MiB.",
        ),
        openapi_extra=KEYWORD_UPLOAD,
    )
    async def import_keywords(
        site_id: uuid.UUID, request: Request, caller: Gateway
    ) -> dict[str, Any]:
        account = caller.require_account()
        async with uow() as u:  # an unknown site is a 404 before the body is read
            await site_work.known_site(u, account, site_id)
        body = await _limited_body(request, keyword_import.MAX_BYTES)
        async with uow() as u:
            result = await site_work.import_keywords(
                u, account, site_id, body, request.headers.get("content-type", "")
            )
            await u.commit()
        return result

    @router.patch(
        "/sites/{site_id}/keywords/{keyword_id}",
        tags=["keywords"],
        summary="Change a keyword's status or metrics",
        response_model=KeywordEdited,
        responses=errors(404),
    )
    async def edit_keyword(
        site_id: uuid.UUID, keyword_id: uuid.UUID, body: KeywordPatch, caller: Gateway
    ) -> dict[str, Any]:
        changes = body.model_dump(exclude_none=True)
        async with uow() as u:
            account = await known_site(u, caller, site_id)  # another account's: 404 first
            if not changes:
                raise InvalidInput("nothing to change")
            if not await u.library.update_item("keywords", account, site_id, keyword_id, changes):
                raise NotFound("keyword not found")
            await u.commit()
        return {"keyword_id": keyword_id, **changes}

    @router.delete(
        "/sites/{site_id}/keywords/{keyword_id}",
        status_code=204,
        tags=["keywords"],
        summary="Delete a keyword",
        response_class=Response,
        responses=errors(404),
    )
    async def delete_keyword(
        site_id: uuid.UUID, keyword_id: uuid.UUID, caller: Gateway
    ) -> Response:
        async with uow() as u:
            account = await known_site(u, caller, site_id)
            if not await u.library.delete_keyword(account, site_id, keyword_id):
                raise NotFound("keyword not found")
            await u.commit()
        return Response(status_code=204)

    # ---- the library: lists, items, edits ---------------------------------------------------

    for kind, item_model in ITEMS.items():

        def browsable(kind: str = kind, item_model: type[BaseModel] = item_model) -> None:
            @router.get(
                f"/sites/{{site_id}}/{kind}",
                tags=[kind],
                name=f"list_{kind}",
                summary=f"List the site's {kind}, oldest first",
                response_model=page_model(kind, item_model),
                responses=errors(404),
            )
            async def listing(
                site_id: uuid.UUID,
                caller: Gateway,
                status: Annotated[str | None, Query(max_length=40)] = None,
                limit: Limit = 100,
                offset: Offset = 0,
            ) -> dict[str, Any]:
                async with uow() as u:
                    account = await known_site(u, caller, site_id)
                    rows = await u.library.listing(
                        kind, account, site_id, limit + 1, offset, status
                    )
                return _page(rows, limit, offset)

            @router.get(
                f"/sites/{{site_id}}/{kind}/{{item_id}}",
                tags=[kind],
                name=f"get_{kind}",
                summary=f"One of the site's {kind}",
                response_model=item_model,
                responses=errors(404),
            )
            async def read(
                site_id: uuid.UUID, item_id: uuid.UUID, caller: Gateway
            ) -> dict[str, Any]:
                async with uow() as u:
                    account = await known_site(u, caller, site_id)
                    found = await u.library.get_item(kind, account, site_id, item_id)
                if found is None:
                    raise NotFound(f"{kind} item not found")
                return found

        browsable()

    for kind, patch_model in EDITS.items():

        def editable(kind: str = kind, patch_model: type[BaseModel] = patch_model) -> None:
            statuses = (404, 413) if kind == "content" else (404,)

            @router.patch(
                f"/sites/{{site_id}}/{kind}/{{item_id}}",
                tags=[kind],
                name=f"edit_{kind}",
                summary=f"Edit one of the site's {kind}",
                response_model=ITEMS[kind],
                responses=errors(
                    *statuses,
                    s413="The edited article's `content.ready` would exceed the 1 MiB message "
                    "limit.",
                ),
            )
            async def edit(
                site_id: uuid.UUID,
                item_id: uuid.UUID,
                body: patch_model,  # type: ignore[valid-type]
                caller: Gateway,
            ) -> dict[str, Any]:
                changes = BaseModel.model_dump(body, exclude_none=True)
                found: dict[str, Any] | None
                async with uow() as u:
                    account = await known_site(u, caller, site_id)  # another account's: 404 first
                    if not changes:
                        raise InvalidInput("nothing to change")
                    if kind == "content":
                        config = await run_cases.site_config(u, account, site_id)
                        found = await content_edits.edit_content(
                            u, account, site_id, item_id, changes, image_url, config.auto_publish
                        )
                    elif await u.library.update_item(kind, account, site_id, item_id, changes):
                        found = await u.library.get_item(kind, account, site_id, item_id)
                    else:
                        raise NotFound(f"{kind} item not found")
                    await u.commit()
                return found or {}

            @router.delete(
                f"/sites/{{site_id}}/{kind}/{{item_id}}",
                status_code=204,
                tags=[kind],
                name=f"delete_{kind}",
                summary=f"Delete one of the site's {kind} (and what depends on it)",
                response_class=Response,
                responses=errors(404),
            )
            async def delete(site_id: uuid.UUID, item_id: uuid.UUID, caller: Gateway) -> Response:
                async with uow() as u:
                    account = await known_site(u, caller, site_id)
                    await library_cases.delete_item(u, kind, account, site_id, item_id)
                    await u.commit()
                return Response(status_code=204)

        editable()

    @router.post(
        "/sites/{site_id}/content/{content_id}/regenerate",
        status_code=202,
        tags=["content"],
        summary="Write one article again, as a small run of its own",
        response_model=Regenerating,
        responses=errors(
            404, 409, 503, s409="The site has a live run (named in `run_id`).", s503=NO_AI
        ),
    )
    async def regenerate(
        site_id: uuid.UUID, content_id: uuid.UUID, caller: Gateway
    ) -> dict[str, Any]:
        site_work.require_ai(ensure_ai)
        async with uow() as u:
            run_id = await run_cases.regenerate_content(
                u, caller.require_account(), site_id, content_id
            )
            await u.commit()
        return {"run_id": run_id, "content_id": content_id, "status": "queued"}

    @router.post(
        "/sites/{site_id}/content/{content_id}/approve",
        status_code=410,
        tags=["content"],
        summary="Gone: approval lives in publishing",
        description="Approval is decided in one place, publishing: approve a publication with "
        "publishing's `POST /sites/{site_id}/publications/{publication_id}/approve`, or let the "
        "site's `auto_publish` flag (or publishing's approval mode) approve on its own.",
        deprecated=True,
        response_class=Response,
        responses=errors(410, s410="Approval moved to publishing."),
    )
    async def approve(site_id: uuid.UUID, content_id: uuid.UUID, caller: Gateway) -> Response:
        raise ApiError(
            410,
            "approval_moved",
            "approval lives in publishing: POST /sites/{site_id}/publications/"
            "{publication_id}/approve there (or set auto_publish)",
        )

    # ---- runs -------------------------------------------------------------------------------

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
            return await site_work.estimate_run(
                u, quotes, caller.require_account(), site_id, stages
            )

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
            uow, ensure_ai, caller.require_account(), site_id, stages, start_wait_s
        )
        if run["status"] == "rejected":
            rejection = run.get("rejection") or {}
            raise ApiError(
                402,
                str(rejection.get("reason") or "insufficient_credits"),
                str(rejection.get("detail") or "not enough credits for this run"),
                extra={
                    "run_id": str(run["run_id"]),
                    "required": rejection.get("required"),
                    "available": rejection.get("available"),
                },
            )
        status = 202 if run["status"] in ("queued", "reserving") else 201
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
    ) -> dict[str, Any]:
        async with uow() as u:
            account = await known_site(u, caller, site_id)
            rows = await u.runs.runs_for_site(account, site_id, limit + 1, offset)
        return _page([_public_run(r) for r in rows], limit, offset)

    async def owned_run(
        u: AutomationUnitOfWork, caller: Caller, run_id: uuid.UUID
    ) -> dict[str, Any]:
        run = await u.runs.run(run_id, caller.require_account())
        if run is None:
            raise NotFound("run not found")
        return dict(run)

    @router.get(
        "/runs/{run_id}",
        tags=["runs"],
        summary="A run with its stage results, live progress and credit holds",
        response_model=RunDetail,
        responses=errors(404),
    )
    async def get_run(run_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            run = await owned_run(u, caller, run_id)
            run["stage_results"] = await u.runs.stage_results(run_id)
            run["progress"] = await u.items.item_tally(run_id)  # live: items done/failed, credits
            run["holds"] = await u.library.holds_of_run(run_id)
        return _public_run(run)

    @router.post(
        "/runs/{run_id}/{action}",
        tags=["runs"],
        summary="Pause, resume or cancel a run (between items)",
        response_model=RunAction,
        responses=errors(404, 409, s409="The run's state does not allow this action."),
    )
    async def act(
        run_id: uuid.UUID, action: Literal["pause", "resume", "cancel"], caller: Gateway
    ) -> dict[str, Any]:
        async with uow() as u:
            run = await owned_run(u, caller, run_id)
            if action == "pause":
                result = await run_cases.pause_run(u, caller.require_account(), run_id, clock)
            elif action == "resume":
                result = await run_cases.resume_run(u, caller.require_account(), run_id, clock)
            else:
                result = await run_cases.cancel_run(u, run, clock, "cancelled on request")
            await u.commit()
        return {"run_id": run_id, "status": result["status"], "requested": result.get("requested")}

    @router.get(
        "/runs/{run_id}/trace",
        tags=["runs"],
        summary="The run's trace, one JSON event per line",
        response_class=Response,
        responses={
            200: {
                "description": "NDJSON events (empty until the run logs something).",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            },
            **errors(404),
        },
    )
    async def trace(run_id: uuid.UUID, caller: Gateway) -> Response:
        async with uow() as u:
            await owned_run(u, caller, run_id)
        path = run_log.trace(run_id)
        if not path.exists():
            return Response(b"", media_type="application/x-ndjson")
        return FileResponse(path, media_type="application/x-ndjson", filename=f"{run_id}.jsonl")

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
        async with uow() as u:
            found = await u.library.image(caller.require_account(), image_id)
        if found is None:
            raise NotFound("image not found")
        return Response(await storage.read(found["storage_key"]), media_type="image/png")

    return router
