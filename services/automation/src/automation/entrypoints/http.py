"""Internal HTTP API of automation (service token, X-Account-Id). Another account's site or run
answers 404. Every route declares its models and the statuses it can answer (http_models.py);
errors are the platform's one format (entrypoints/errors.py). The routes live per area —
`http_sites` (config, keywords), `http_library` (lists, items, edits), `http_runs` (runs,
images) — and are registered here in that order (the OpenAPI document follows it).
Handlers parse, authorize, call one use case (writes) or one query (reads, `adapters/
sqlalchemy_queries.py`) and map the outcome."""

import uuid
from collections.abc import Callable

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.billing_quotes import BillingQuotes
from automation.entrypoints import http_library, http_runs, http_sites
from automation.entrypoints.errors import DomainErrorRoute
from automation.entrypoints.http_common import HttpDeps
from automation.ports import Clock, ImageStorage
from igny8.auth import Caller


def create_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    quotes: BillingQuotes,
    ensure_ai: Callable[[], None],
    storage: ImageStorage,
    start_wait_s: float,
    admits: Callable[..., Callable[..., Caller]],
    image_url: Callable[[uuid.UUID], str] = lambda image_id: f"/images/{image_id}",
) -> APIRouter:
    deps = HttpDeps(sessions, clock, quotes, ensure_ai, storage, start_wait_s, admits, image_url)
    router = APIRouter(route_class=DomainErrorRoute)
    for area in (http_sites, http_library, http_runs):
        router.include_router(area.routes(deps))
    return router
