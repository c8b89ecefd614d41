"""What automation's HTTP route modules share: their dependencies, the body limit and paging."""

import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.billing_quotes import BillingQuotes
from automation.adapters.sqlalchemy_queries import SqlAlchemyAutomationQueries
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.domain.errors import ImportTooLarge, NotFound
from automation.ports import Clock, ImageStorage
from igny8.auth import Caller
from igny8.webapi import ApiError

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


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """The keyset position after a row (opaque to callers)."""
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a `next_cursor` names. Anything else — not base64, not ours, a naive time, a
    time that leaves the calendar once in UTC (year 1 at +01:00) — is a 422 `cursor_invalid`
    naming `cursor`, not a generic parameter error or the database's `value_out_of_range`."""
    try:
        at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        created_at = datetime.fromisoformat(at)
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return created_at.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeError):
        raise ApiError(
            422,
            "cursor_invalid",
            "cursor is not a `next_cursor` this API handed out: start again without it",
            param="cursor",
        ) from None


def page_by(cursor: str | None, offset: int) -> tuple[datetime, uuid.UUID] | None:
    """The keyset position to page from, if the caller pages by cursor (not by offset too)."""
    if cursor is not None and offset:
        raise ApiError(
            422, "parameter_invalid", "page by `cursor` or by `offset`, not both", param="cursor"
        )
    return decode_cursor(cursor) if cursor is not None else None


def keyset_page(
    rows: list[dict[str, Any]], limit: int, offset: int, key: str, by_cursor: bool
) -> dict[str, Any]:
    """`page`, with `next_cursor` (the position after the last row shown). A page read by
    cursor has no offset to continue from (`next_offset` is null): follow `next_cursor`."""
    found = page(rows, limit, offset)
    last = found["items"][-1] if found["items"] else None
    found["next_cursor"] = (
        encode_cursor(last["created_at"], last[key]) if found["has_more"] and last else None
    )
    if by_cursor:
        found["next_offset"] = None
    return found
