"""The base unit-of-work port every service's `ports.UnitOfWork` extends (with its repositories).

Free of infrastructure on purpose: `app/` and `ports.py` may import it under the layer contracts
(`igny8.db`, which holds the SQLAlchemy implementation, they may not)."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Protocol, Self

from pydantic import BaseModel


class Transaction(Protocol):
    """Entered, committed when told, rolled back otherwise (what `igny8.webapi.committed`
    needs of any unit of work)."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWork(Transaction, Protocol):
    """One transaction: commits only when told, rolls back otherwise; messages queued with
    `emit` leave through the outbox only if it commits."""

    async def rollback(self) -> None: ...

    async def emit(
        self,
        topic: str,
        payload: BaseModel,
        account_id: uuid.UUID | None = None,
        site_id: uuid.UUID | None = None,
    ) -> None: ...
