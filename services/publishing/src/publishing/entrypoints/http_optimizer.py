"""Internal HTTP routes of the AI optimizer (service token, X-Account-Id; callers: gateway)."""

import uuid
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.auth import Caller
from igny8.webapi import committed, errors
from publishing.adapters.sqlalchemy_unit_of_work import PublishingUnitOfWork
from publishing.app.optimize import optimizations_of, request_optimization, view
from publishing.domain.errors import NotFound
from publishing.entrypoints.http_models import Optimization, Optimizations, documented
from publishing.ports import Clock


def create_optimizer_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    admits: Callable[..., Callable[..., Caller]],
    hold_ttl_s: int,
) -> APIRouter:
    router = APIRouter(tags=["optimization"], responses=errors(404, 409))
    Gateway = Annotated[Caller, Depends(admits("gateway"))]
    UserId = Annotated[str | None, Header(alias="X-User-Id", max_length=200)]

    @router.post(
        "/sites/{site_id}/articles/{content_id}/optimize",
        status_code=202,
        response_model=Optimization,
    )
    async def optimize(
        site_id: uuid.UUID, content_id: uuid.UUID, caller: Gateway, user: UserId = None
    ) -> JSONResponse:
        """Reserve `optimization` credits and rewrite what the failing checks name. Always 202
        (the work is asynchronous): a new optimization, or the one this article version has
        already (a repeated request starts nothing and charges nothing)."""
        row, _ = await committed(
            partial(PublishingUnitOfWork, sessions),
            lambda uow: request_optimization(
                uow,
                caller.require_account(),
                site_id,
                content_id,
                f"user:{user}" if user else f"service:{caller.service}",
                clock,
                hold_ttl_s,
            ),
        )
        return JSONResponse(jsonable_encoder(view(row)), status_code=202)

    @router.get(
        "/sites/{site_id}/articles/{content_id}/optimizations",
        **documented(Optimizations),
    )
    async def list_optimizations(
        site_id: uuid.UUID, content_id: uuid.UUID, caller: Gateway
    ) -> dict[str, Any]:
        async with PublishingUnitOfWork(sessions) as uow:
            items = await optimizations_of(uow, caller.require_account(), site_id, content_id)
        return {"items": items}

    @router.get(
        "/sites/{site_id}/optimizations/{optimization_id}",
        **documented(Optimization),
    )
    async def get_optimization(
        site_id: uuid.UUID, optimization_id: uuid.UUID, caller: Gateway
    ) -> dict[str, Any]:
        async with PublishingUnitOfWork(sessions) as uow:
            row = await uow.optimizations.get(optimization_id)
        if row is None or (row["account_id"], row["site_id"]) != (
            caller.require_account(),
            site_id,
        ):
            raise NotFound("optimization not found")
        return view(row)

    return router
