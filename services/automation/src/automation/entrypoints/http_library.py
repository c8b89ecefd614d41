"""The library people browse and edit: keywords, clusters, ideas, tasks, content and images —
lists, items, edits, deletes — and an article's regeneration."""

import uuid
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from automation.adapters.sqlalchemy_library import LISTABLE
from automation.app import library as library_cases
from automation.app import runs as run_cases
from automation.app import site_work
from automation.domain.errors import NotFound
from automation.domain.library import (
    ClusterStatus,
    ContentStatus,
    IdeaStatus,
    ItemEdit,
    KeywordStatus,
    LibraryKind,
    TaskStatus,
)
from automation.entrypoints.errors import DomainErrorRoute
from automation.entrypoints.http_common import NO_AI, HttpDeps, keyset_page, page_by
from automation.entrypoints.http_models import EDITS, ITEMS, Regenerating, page_model
from igny8.auth import Caller
from igny8.webapi import ApiError, errors

STATUS_FILTERS: dict[str, Any] = {
    "keywords": KeywordStatus | None,
    "clusters": ClusterStatus | None,
    "ideas": IdeaStatus | None,
    "tasks": TaskStatus | None,
    "content": ContentStatus | None,
}
"""A list's `status` filter takes only its kind's statuses (a typo is a 422, not an empty list);
images have no status, so any `status` given for them is refused too."""


def routes(deps: HttpDeps) -> APIRouter:
    router = APIRouter(route_class=DomainErrorRoute)
    Gateway = Annotated[Caller, Depends(deps.admits("gateway"))]
    Limit = Annotated[int, Query(ge=1, le=500)]
    Offset = Annotated[int, Query(ge=0, le=10_000_000)]
    uow, queries, known_site = deps.uow, deps.queries, deps.known_site

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
                status: Annotated[
                    STATUS_FILTERS.get(kind),  # type: ignore[valid-type]
                    Query(include_in_schema=kind in STATUS_FILTERS),
                ] = None,
                limit: Limit = 100,
                offset: Offset = 0,
                cursor: Annotated[
                    str | None,
                    Query(
                        max_length=200,
                        description="`next_cursor` of the previous page (instead of `offset`).",
                    ),
                ] = None,
            ) -> dict[str, Any]:
                after = page_by(cursor, offset)
                async with queries() as q:
                    account = await known_site(q, caller, site_id)
                    rows = await q.listing(kind, account, site_id, limit + 1, offset, status, after)
                key = next(iter(LISTABLE[kind].primary_key.columns)).name
                return keyset_page(rows, limit, offset, key, by_cursor=after is not None)

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
                async with queries() as q:
                    account = await known_site(q, caller, site_id)
                    found = await q.item(kind, account, site_id, item_id)
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
                # the patch model admits only the kind's editable fields
                changes = cast(ItemEdit, BaseModel.model_dump(body, exclude_none=True))
                account = caller.require_account()
                async with uow() as u:
                    await library_cases.edit_item(
                        u, LibraryKind(kind), account, site_id, item_id, changes, deps.image_url
                    )
                    await u.commit()
                async with queries() as q:  # the row as it reads now
                    found = await q.item(kind, account, site_id, item_id)
                if found is None:  # deleted in between
                    raise NotFound(f"{kind} item not found")
                return found

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
                    await library_cases.delete_item(
                        u, LibraryKind(kind), caller.require_account(), site_id, item_id
                    )
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
        site_work.require_ai(deps.ensure_ai)
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

    return router
