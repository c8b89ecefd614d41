"""Internal HTTP API of publishing (service token, X-Account-Id, X-Roles; callers: gateway).
Thin: parse, authorize (another account's objects are 404), call one use case or query."""

import uuid
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.auth import Caller
from igny8.webapi import committed, error_response, errors
from publishing.adapters.sqlalchemy_queries import SqlAlchemyPublishingQueries
from publishing.adapters.sqlalchemy_unit_of_work import PublishingUnitOfWork
from publishing.app import manage
from publishing.app.inbound import accept_suggestion, reject_suggestion
from publishing.app.links import undo_link
from publishing.domain.errors import PublishingError
from publishing.domain.model import Publication
from publishing.domain.settings import SiteSettings
from publishing.entrypoints.errors import http_status
from publishing.entrypoints.http_models import (
    ArticleHtml,
    ArticleReport,
    LinkGraph,
    LinkList,
    LinkUndone,
    PublicationDetail,
    PublicationPage,
    PublicationState,
    Status,
    SuggestionDecided,
    SuggestionList,
    documented,
)
from publishing.ports import Clock, CredentialSource, Destinations


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonBody(_Body):
    reason: str = Field(default="", max_length=500)


class RescheduleBody(_Body):
    at: AwareDatetime


def publishing_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A domain error in the platform's one error format; `code` is the domain reason."""
    assert isinstance(error, PublishingError)
    return error_response(
        request, http_status(error), error.detail or error.reason, code=error.reason
    )


def _publication(p: Publication) -> dict[str, Any]:
    return {
        "publication_id": str(p.publication_id),
        "content_id": str(p.content_id),
        "integration_id": str(p.integration_id),
        "platform": p.platform,
        "status": p.status.value,
        "content_version": p.content_version,
        "scheduled_for": p.scheduled_for.isoformat() if p.scheduled_for else None,
        "hold_reason": p.hold_reason,
        "remote_id": p.remote_id,
        "remote_url": p.remote_url,
        "score": p.score,
    }


def create_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    admits: Callable[..., Callable[..., Caller]],
    destinations: Destinations,
    credentials: CredentialSource,
) -> APIRouter:
    # every route is under a site: another account's (or an unknown) site or object is a 404,
    # a state that forbids the action a 409, a destination that fails a 502
    router = APIRouter(tags=["publishing"], responses=errors(404, 409, 502))
    unit_of_work = partial(PublishingUnitOfWork, sessions)
    Gateway = Annotated[Caller, Depends(admits("gateway"))]
    UserId = Annotated[str | None, Header(alias="X-User-Id", max_length=200)]

    def who(caller: Caller, user: str | None) -> str:
        return f"user:{user}" if user else f"service:{caller.service}"

    async def site_of(caller: Caller, site_id: uuid.UUID) -> uuid.UUID:
        account_id = caller.require_account()
        async with PublishingUnitOfWork(sessions) as uow:
            await manage.owned_site(uow, account_id, site_id)
        return account_id

    @router.get("/sites/{site_id}/settings", **documented(SiteSettings))
    async def get_settings(site_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        await site_of(caller, site_id)
        async with PublishingUnitOfWork(sessions) as uow:
            return (await uow.settings.get(site_id)).model_dump(mode="json")

    @router.put("/sites/{site_id}/settings", **documented(SiteSettings))
    async def put_settings(
        site_id: uuid.UUID, body: SiteSettings, caller: Gateway
    ) -> dict[str, Any]:
        account_id = await site_of(caller, site_id)

        async def put(uow: PublishingUnitOfWork) -> None:
            if body.default_destination is not None:
                found = await uow.replicas.integration(body.default_destination)
                if found is None or found.site_id != site_id or found.deleted:
                    raise HTTPException(
                        422, "default_destination is not an integration of this site"
                    )
            await uow.settings.put(account_id, site_id, body)

        await committed(unit_of_work, put)
        return body.model_dump(mode="json")

    @router.get("/sites/{site_id}/publications", **documented(PublicationPage))
    async def list_publications(
        site_id: uuid.UUID,
        caller: Gateway,
        status: Status | None = None,
        content_id: uuid.UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        account_id = await site_of(caller, site_id)
        async with sessions() as session:
            items = await SqlAlchemyPublishingQueries(session).publications(
                account_id, site_id, status, content_id, limit, offset
            )
        return {"items": items, "limit": limit, "offset": offset}

    @router.get("/sites/{site_id}/publications/{publication_id}", **documented(PublicationDetail))
    async def get_publication(
        site_id: uuid.UUID, publication_id: uuid.UUID, caller: Gateway
    ) -> dict[str, Any]:
        account_id = caller.require_account()
        async with sessions() as session:
            found = await SqlAlchemyPublishingQueries(session).publication(
                account_id, site_id, publication_id
            )
        if found is None:
            raise HTTPException(404, "publication not found")
        return found

    async def _approve(
        caller: Caller,
        user: str | None,
        site_id: uuid.UUID,
        publication_id: uuid.UUID,
        reason: str,
        at: Any = None,
    ) -> dict[str, Any]:
        publication = await committed(
            unit_of_work,
            lambda uow: manage.approve(
                uow,
                caller.require_account(),
                site_id,
                publication_id,
                who(caller, user),
                clock,
                at=at,
                reason=reason,
            ),
        )
        return _publication(publication)

    @router.post(
        "/sites/{site_id}/publications/{publication_id}/approve",
        **documented(PublicationState),
    )
    async def approve(
        site_id: uuid.UUID, publication_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        return await _approve(caller, user, site_id, publication_id, "approved")

    @router.post(
        "/sites/{site_id}/publications/{publication_id}/republish",
        **documented(PublicationState),
    )
    async def republish(
        site_id: uuid.UUID, publication_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        return await _approve(caller, user, site_id, publication_id, "re-publish requested")

    @router.post(
        "/sites/{site_id}/publications/{publication_id}/publish-now",
        **documented(PublicationState),
    )
    async def publish_now(
        site_id: uuid.UUID, publication_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        return await _approve(caller, user, site_id, publication_id, "publish now", at=clock.now())

    @router.post(
        "/sites/{site_id}/publications/{publication_id}/reschedule",
        **documented(PublicationState),
    )
    async def reschedule(
        site_id: uuid.UUID,
        publication_id: uuid.UUID,
        body: RescheduleBody,
        caller: Gateway,
        user: UserId = None,
    ) -> dict[str, Any]:
        return await _approve(
            caller,
            user,
            site_id,
            publication_id,
            f"rescheduled to {body.at.isoformat()}",
            at=body.at,
        )

    async def _cancel(
        caller: Caller, user: str | None, site_id: uuid.UUID, publication_id: uuid.UUID, reason: str
    ) -> dict[str, Any]:
        publication = await committed(
            unit_of_work,
            lambda uow: manage.reject(
                uow,
                caller.require_account(),
                site_id,
                publication_id,
                who(caller, user),
                clock,
                reason,
            ),
        )
        return _publication(publication)

    @router.post(
        "/sites/{site_id}/publications/{publication_id}/reject",
        **documented(PublicationState),
    )
    async def reject(
        site_id: uuid.UUID,
        publication_id: uuid.UUID,
        caller: Gateway,
        body: ReasonBody | None = None,
        user: UserId = None,
    ) -> dict[str, Any]:
        why = (body.reason if body else "") or "rejected"
        return await _cancel(caller, user, site_id, publication_id, f"rejected: {why}")

    @router.post(
        "/sites/{site_id}/publications/{publication_id}/cancel",
        **documented(PublicationState),
    )
    async def cancel(
        site_id: uuid.UUID, publication_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        return await _cancel(caller, user, site_id, publication_id, "cancelled")

    @router.post(
        "/sites/{site_id}/publications/{publication_id}/unpublish",
        **documented(PublicationState),
    )
    async def unpublish(
        site_id: uuid.UUID, publication_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        publication = await committed(
            unit_of_work,
            lambda uow: manage.unpublish(
                uow,
                caller.require_account(),
                site_id,
                publication_id,
                who(caller, user),
                clock,
                destinations,
                credentials,
            ),
        )
        return _publication(publication)

    @router.get("/sites/{site_id}/articles/{content_id}/report", **documented(ArticleReport))
    async def report(site_id: uuid.UUID, content_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with sessions() as session:
            found = await SqlAlchemyPublishingQueries(session).report(
                caller.require_account(), site_id, content_id
            )
        if found is None:
            raise HTTPException(404, "article not found")
        return found

    @router.get("/sites/{site_id}/articles/{content_id}/html", **documented(ArticleHtml))
    async def article_html(
        site_id: uuid.UUID, content_id: uuid.UUID, caller: Gateway
    ) -> dict[str, Any]:
        async with sessions() as session:
            found = await SqlAlchemyPublishingQueries(session).article_html(
                caller.require_account(), site_id, content_id
            )
        if found is None:
            raise HTTPException(404, "article not found")
        return found

    @router.get("/sites/{site_id}/links", **documented(LinkList))
    async def list_links(
        site_id: uuid.UUID, caller: Gateway, content_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        account_id = await site_of(caller, site_id)
        async with sessions() as session:
            items = await SqlAlchemyPublishingQueries(session).links(
                account_id, site_id, content_id
            )
        return {"items": items}

    @router.post("/sites/{site_id}/links/{link_id}/undo", **documented(LinkUndone))
    async def undo(
        site_id: uuid.UUID, link_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        html = await committed(
            unit_of_work,
            lambda uow: undo_link(
                uow, caller.require_account(), site_id, link_id, who(caller, user), clock
            ),
        )
        return {"link_id": str(link_id), "status": "undone", "linked_html": html}

    @router.get("/sites/{site_id}/link-suggestions", **documented(SuggestionList))
    async def list_suggestions(
        site_id: uuid.UUID,
        caller: Gateway,
        status: Literal["proposed", "accepted", "rejected", "stale"] | None = None,
    ) -> dict[str, Any]:
        account_id = await site_of(caller, site_id)
        async with sessions() as session:
            items = await SqlAlchemyPublishingQueries(session).suggestions(
                account_id, site_id, status
            )
        return {"items": items}

    @router.post(
        "/sites/{site_id}/link-suggestions/{suggestion_id}/accept", **documented(SuggestionDecided)
    )
    async def accept(
        site_id: uuid.UUID, suggestion_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        link_id = await committed(
            unit_of_work,
            lambda uow: accept_suggestion(
                uow, caller.require_account(), site_id, suggestion_id, who(caller, user), clock
            ),
        )
        return {"suggestion_id": str(suggestion_id), "status": "accepted", "link_id": str(link_id)}

    @router.post(
        "/sites/{site_id}/link-suggestions/{suggestion_id}/reject", **documented(SuggestionDecided)
    )
    async def reject_suggested(
        site_id: uuid.UUID, suggestion_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> dict[str, Any]:
        await committed(
            unit_of_work,
            lambda uow: reject_suggestion(
                uow, caller.require_account(), site_id, suggestion_id, who(caller, user), clock
            ),
        )
        return {"suggestion_id": str(suggestion_id), "status": "rejected"}

    @router.get("/sites/{site_id}/link-graph", **documented(LinkGraph))
    async def link_graph(site_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        account_id = await site_of(caller, site_id)
        async with sessions() as session:
            return await SqlAlchemyPublishingQueries(session).link_graph(account_id, site_id)

    return router
