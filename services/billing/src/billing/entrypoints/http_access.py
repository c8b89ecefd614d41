"""What the invoicing and subscription routes share: tenant scoping, the platform-admin check,
the invoice view (one use case in one committed unit of work is `igny8.webapi.committed`)."""

import uuid
from typing import Any

from fastapi import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_invoicing_queries import SqlAlchemyInvoicingQueries
from igny8.auth import Caller


def tenant(caller: Caller, account_id: uuid.UUID, *, admin: bool = False) -> uuid.UUID:
    """Another account's data is answered as missing, never as forbidden; `admin`: the route is
    the operator's (403 for anyone else, after the 404)."""
    if caller.account_id != account_id and not caller.is_platform_admin:
        raise HTTPException(404, "account not found")
    if admin:
        platform_admin(caller)
    return account_id


def platform_admin(caller: Caller) -> None:
    if not caller.is_platform_admin:
        raise HTTPException(403, "platform_admin role required")


async def invoice_view(
    sessions: async_sessionmaker[AsyncSession], account_id: uuid.UUID, invoice_id: uuid.UUID
) -> dict[str, Any]:
    async with sessions() as session:
        found = await SqlAlchemyInvoicingQueries(session).invoice(account_id, invoice_id)
    if found is None:
        raise HTTPException(404, "invoice not found")
    return found
