"""A site's automation config and its keywords (import, edit, delete)."""

import uuid
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request, Response

from automation.app import library as library_cases
from automation.app import runs as run_cases
from automation.app import site_work
from automation.domain import keywords as keyword_import
from automation.domain.config import AutomationConfig
from automation.domain.library import ItemEdit
from automation.entrypoints.errors import DomainErrorRoute
from automation.entrypoints.http_common import HttpDeps, limited_body
from automation.entrypoints.http_models import (
    KEYWORD_UPLOAD,
    ConfigPatch,
    ImportResult,
    KeywordEdited,
    KeywordPatch,
)
from igny8.auth import Caller
from igny8.webapi import ApiError, errors


def importable(content_type: str | None) -> bool:
    """The media types `keywords.parse` reads (JSON, CSV, CSV as plain text): any other, or none,
    is the caller's mistake about the request (415), not an unreadable file (400)."""
    media = (content_type or "").split(";")[0].strip().lower()
    return "json" in media or "csv" in media or media == "text/plain"


def routes(deps: HttpDeps) -> APIRouter:
    router = APIRouter(route_class=DomainErrorRoute)
    Gateway = Annotated[Caller, Depends(deps.admits("gateway"))]
    uow = deps.uow

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
        changes = body.model_dump(mode="json", exclude_unset=True)
        async with uow() as u:
            saved = await site_work.patch_config(u, caller.require_account(), site_id, changes)
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
            415,
            s400="Unreadable file: not UTF-8, not valid JSON/CSV, no `keyword` column, over 50,000 "
            "rows.",
            s413="Over 10 MiB.",
            s415="Not sent as `application/json` or `text/csv` (nor `text/plain` CSV).",
        ),
        openapi_extra=KEYWORD_UPLOAD,
    )
    async def import_keywords(
        site_id: uuid.UUID, request: Request, caller: Gateway
    ) -> dict[str, Any]:
        account = caller.require_account()
        if not importable(request.headers.get("content-type")):
            raise ApiError(
                415,
                "unsupported_media_type",
                "send the keywords as application/json or text/csv",
                param="Content-Type",
            )
        async with uow() as u:  # an unknown site is a 404 before the body is read
            await site_work.known_site(u, account, site_id)
        body = await limited_body(request, keyword_import.MAX_BYTES)
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
            await library_cases.edit_keyword(
                u, caller.require_account(), site_id, keyword_id, cast(ItemEdit, changes)
            )
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
            await library_cases.delete_keyword(u, caller.require_account(), site_id, keyword_id)
            await u.commit()
        return Response(status_code=204)

    return router
