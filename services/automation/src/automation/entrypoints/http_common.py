"""What automation's HTTP route modules share: their dependencies, the body limit and paging."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.billing_quotes import BillingQuotes
from automation.adapters.sqlalchemy_queries import SqlAlchemyAutomationQueries
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.domain.errors import ImportTooLarge, NotFound
from automation.ports import Clock, ImageStorage
from igny8.auth import Caller

NO_AI = "No AI provider is configured."


@dataclass(frozen=True)
class HttpDeps:
    """What the route modules share: the database, the clock and the outside parts."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    quotes: BillingQuotes
    ensure_ai: Callable[[], None]
    storage: ImageStorage
    start_wait_s: float
    admits: Callable[..., Callable[..., Caller]]
    image_url: Callable[[uuid.UUID], str]

    def uow(self) -> AutomationUnitOfWork:
        return AutomationUnitOfWork(self.sessions)

    @asynccontextmanager
    async def queries(self) -> AsyncIterator[SqlAlchemyAutomationQueries]:
        async with self.sessions() as session:
            yield SqlAlchemyAutomationQueries(session)

    @staticmethod
    async def known_site(
        q: SqlAlchemyAutomationQueries, caller: Caller, site_id: uuid.UUID
    ) -> uuid.UUID:
        """The caller's account, once the site is known to be theirs (otherwise 404)."""
        account = caller.require_account()
        if not await q.site_known(account, site_id):
            raise NotFound("site not found")
        return account


async def limited_body(request: Request, limit: int) -> bytes:
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


def page(rows: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    """Rows were read with `limit + 1`: the extra one only says there is more."""
    more = len(rows) > limit
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "has_more": more,
        "next_offset": offset + limit if more else None,
    }
