"""Internal HTTP API of automation (service token, X-Account-Id). Another account's site or run
answers 404."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.billing_quotes import BillingQuotes
from automation.adapters.run_log_files import FileRunLog
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app import library as library_cases
from automation.app import runs as run_cases
from automation.app import site_work
from automation.domain import keywords as keyword_import
from automation.domain.config import AutomationConfig
from automation.domain.errors import (
    ImportTooLarge,
    InvalidInput,
    NotFound,
)
from automation.entrypoints.errors import DomainErrorRoute
from automation.ports import Clock, ImageStorage
from igny8.auth import Caller

LISTS = ("keywords", "clusters", "ideas", "tasks", "content", "images")


class StartRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stages: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6])


class ClusterPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    primary_keyword: str | None = Field(default=None, max_length=200)
    status: str | None = Field(default=None, pattern="^(new|planned|archived)$")


class IdeaPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    brief: str | None = Field(default=None, max_length=5000)
    outline: list[str] | None = None
    target_keywords: list[str] | None = None
    status: str | None = Field(default=None, pattern="^(new|queued|archived)$")


class ContentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    html: str | None = Field(default=None, min_length=1)
    meta_title: str | None = Field(default=None, max_length=200)
    meta_description: str | None = Field(default=None, max_length=400)
    slug: str | None = Field(default=None, pattern="^[a-z0-9-]{1,200}$")
    status: str | None = Field(default=None, pattern="^(draft|ready|approved)$")


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(default=None, pattern="^(pending|failed)$")
    """Back to pending (write it again next run) or given up."""


class ImagePatch(BaseModel):
    """Images are replaced by deleting them: the next run draws the prompt again."""

    model_config = ConfigDict(extra="forbid")


EDITS: dict[str, type[BaseModel]] = {
    "clusters": ClusterPatch,
    "ideas": IdeaPatch,
    "content": ContentPatch,
    "tasks": TaskPatch,
    "images": ImagePatch,
}


class KeywordPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(default=None, pattern="^(new|clustered|used|archived)$")
    volume: int | None = Field(default=None, ge=0)
    difficulty: int | None = Field(default=None, ge=0, le=100)
    intent: str | None = None


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


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, (uuid.UUID,)):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return str(value)
    return value


def create_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    quotes: BillingQuotes,
    ensure_ai: Callable[[], None],
    run_log: FileRunLog,
    storage: ImageStorage,
    start_wait_s: float,
    admits: Callable[..., Callable[..., Caller]],
) -> APIRouter:
    router = APIRouter(route_class=DomainErrorRoute)
    Gateway = Annotated[Caller, Depends(admits("gateway"))]
    Publishing = Annotated[Caller, Depends(admits("publishing", "gateway"))]

    def uow() -> AutomationUnitOfWork:
        return AutomationUnitOfWork(sessions)

    async def known_site(u: AutomationUnitOfWork, caller: Caller, site_id: uuid.UUID) -> uuid.UUID:
        account = caller.require_account()
        if await u.sites.site(account, site_id) is None:
            raise NotFound("site not found")
        return account

    @router.get("/sites/{site_id}/config", tags=["config"])
    async def get_config(site_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            return (await run_cases.site_config(u, caller.require_account(), site_id)).model_dump(
                mode="json"
            )

    @router.put("/sites/{site_id}/config", tags=["config"])
    async def put_config(
        site_id: uuid.UUID, body: AutomationConfig, caller: Gateway
    ) -> dict[str, Any]:
        async with uow() as u:
            saved = await site_work.save_config(u, caller.require_account(), site_id, body)
            await u.commit()
        return saved.model_dump(mode="json")

    @router.post("/sites/{site_id}/keywords", status_code=201, tags=["keywords"])
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

    for kind in LISTS:

        def make(kind: str = kind) -> None:
            @router.get(f"/sites/{{site_id}}/{kind}", tags=[kind], name=f"list_{kind}")
            async def listing(
                site_id: uuid.UUID,
                caller: Gateway,
                status: str | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0,
            ) -> dict[str, Any]:
                async with uow() as u:
                    account = await known_site(u, caller, site_id)
                    rows = await u.library.listing(kind, account, site_id, limit, offset, status)
                return {"items": _json(rows), "limit": limit, "offset": offset}

            @router.get(f"/sites/{{site_id}}/{kind}/{{item_id}}", tags=[kind], name=f"get_{kind}")
            async def read(
                site_id: uuid.UUID, item_id: uuid.UUID, caller: Gateway
            ) -> dict[str, Any]:
                async with uow() as u:
                    account = await known_site(u, caller, site_id)
                    found = await u.library.get_item(kind, account, site_id, item_id)
                if found is None:
                    raise NotFound(f"{kind} item not found")
                return _json(found)  # type: ignore[no-any-return]

        make()

    @router.patch("/sites/{site_id}/keywords/{keyword_id}", tags=["keywords"])
    async def edit_keyword(
        site_id: uuid.UUID, keyword_id: uuid.UUID, body: KeywordPatch, caller: Gateway
    ) -> dict[str, Any]:
        async with uow() as u:
            account = await known_site(u, caller, site_id)
            if not await u.library.update_item(
                "keywords", account, site_id, keyword_id, body.model_dump(exclude_none=True)
            ):
                raise NotFound("keyword not found")
            await u.commit()
        return {"keyword_id": str(keyword_id), **body.model_dump(exclude_none=True)}

    @router.delete("/sites/{site_id}/keywords/{keyword_id}", status_code=204, tags=["keywords"])
    async def delete_keyword(
        site_id: uuid.UUID, keyword_id: uuid.UUID, caller: Gateway
    ) -> Response:
        async with uow() as u:
            account = await known_site(u, caller, site_id)
            if not await u.library.delete_keyword(account, site_id, keyword_id):
                raise NotFound("keyword not found")
            await u.commit()
        return Response(status_code=204)

    for kind, patch_model in EDITS.items():

        def editable(kind: str = kind, patch_model: type[BaseModel] = patch_model) -> None:
            @router.patch(
                f"/sites/{{site_id}}/{kind}/{{item_id}}", tags=[kind], name=f"edit_{kind}"
            )
            async def edit(
                site_id: uuid.UUID, item_id: uuid.UUID, request: Request, caller: Gateway
            ) -> dict[str, Any]:
                try:
                    edit = patch_model.model_validate(await request.json())
                except (ValidationError, ValueError) as exc:
                    raise InvalidInput(f"invalid {kind} change: {str(exc)[:300]}") from None
                changes = edit.model_dump(exclude_none=True)
                async with uow() as u:
                    account = await known_site(u, caller, site_id)
                    if not changes or not await u.library.update_item(
                        kind, account, site_id, item_id, changes
                    ):
                        raise (
                            NotFound(f"{kind} item not found")
                            if changes
                            else InvalidInput("nothing to change")
                        )
                    found = await u.library.get_item(kind, account, site_id, item_id)
                    await u.commit()
                return _json(found)  # type: ignore[no-any-return]

            @router.delete(
                f"/sites/{{site_id}}/{kind}/{{item_id}}",
                status_code=204,
                tags=[kind],
                name=f"delete_{kind}",
            )
            async def delete(site_id: uuid.UUID, item_id: uuid.UUID, caller: Gateway) -> Response:
                async with uow() as u:
                    account = await known_site(u, caller, site_id)
                    await library_cases.delete_item(u, kind, account, site_id, item_id)
                    await u.commit()
                return Response(status_code=204)

        editable()

    @router.post(
        "/sites/{site_id}/content/{content_id}/regenerate", status_code=202, tags=["content"]
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
        return {"run_id": str(run_id), "content_id": str(content_id), "status": "reserving"}

    @router.post("/sites/{site_id}/content/{content_id}/approve", tags=["content"])
    async def approve(site_id: uuid.UUID, content_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            await site_work.approve_content(u, caller.require_account(), site_id, content_id)
            await u.commit()
        return {"content_id": str(content_id), "status": "approved"}

    @router.post("/sites/{site_id}/runs/estimate", tags=["runs"])
    async def estimate_run(
        site_id: uuid.UUID, caller: Gateway, body: StartRun | None = None
    ) -> dict[str, Any]:
        stages = (body or StartRun()).stages
        async with uow() as u:
            return await site_work.estimate_run(
                u, quotes, caller.require_account(), site_id, stages
            )

    @router.post("/sites/{site_id}/runs", tags=["runs"])
    async def start(
        site_id: uuid.UUID, caller: Gateway, body: StartRun | None = None
    ) -> JSONResponse:
        stages = (body or StartRun()).stages
        run = await site_work.start_and_wait(
            uow, ensure_ai, caller.require_account(), site_id, stages, start_wait_s
        )
        if run["status"] == "rejected":
            rejection = run.get("rejection") or {}
            return JSONResponse(
                {
                    "run_id": str(run["run_id"]),
                    "status": "rejected",
                    **{k: rejection.get(k) for k in ("reason", "required", "available", "detail")},
                },
                status_code=402,
            )
        return JSONResponse(_json(run), status_code=202 if run["status"] == "reserving" else 201)

    @router.get("/sites/{site_id}/runs", tags=["runs"])
    async def site_runs(
        site_id: uuid.UUID, caller: Gateway, limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> dict[str, Any]:
        async with uow() as u:
            account = await known_site(u, caller, site_id)
            return {"items": _json(await u.runs.runs_for_site(account, site_id, limit))}

    async def owned_run(
        u: AutomationUnitOfWork, caller: Caller, run_id: uuid.UUID
    ) -> dict[str, Any]:
        run = await u.runs.run(run_id, caller.require_account())
        if run is None:
            raise NotFound("run not found")
        return dict(run)

    @router.get("/runs/{run_id}", tags=["runs"])
    async def get_run(run_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            run = await owned_run(u, caller, run_id)
            run["stage_results"] = await u.runs.stage_results(run_id)
            run["progress"] = await u.items.item_tally(run_id)  # live: items done/failed, credits
            run["holds"] = await u.library.holds_of_run(run_id)
        run.pop("config", None)
        return _json(run)  # type: ignore[no-any-return]

    @router.post("/runs/{run_id}/{action}", tags=["runs"])
    async def act(run_id: uuid.UUID, action: str, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            run = await owned_run(u, caller, run_id)
            if action == "pause":
                result = await run_cases.pause_run(u, caller.require_account(), run_id, clock)
            elif action == "resume":
                result = await run_cases.resume_run(u, caller.require_account(), run_id, clock)
            elif action == "cancel":
                result = await run_cases.cancel_run(u, run, clock, "cancelled on request")
            else:
                raise InvalidInput("action must be pause, resume or cancel")
            await u.commit()
        return {
            "run_id": str(run_id),
            "status": result["status"],
            "requested": result.get("requested"),
        }

    @router.get("/runs/{run_id}/trace", tags=["runs"])
    async def trace(run_id: uuid.UUID, caller: Gateway) -> Response:
        async with uow() as u:
            await owned_run(u, caller, run_id)
        path = run_log.trace(run_id)
        if not path.exists():
            return Response(b"", media_type="application/x-ndjson")
        return FileResponse(path, media_type="application/x-ndjson", filename=f"{run_id}.jsonl")

    @router.get("/images/{image_id}", tags=["images"])
    async def image_file(image_id: uuid.UUID, caller: Publishing) -> Response:
        async with uow() as u:
            found = await u.library.image(caller.require_account(), image_id)
        if found is None:
            raise NotFound("image not found")
        return Response(await storage.read(found["storage_key"]), media_type="image/png")

    return router
