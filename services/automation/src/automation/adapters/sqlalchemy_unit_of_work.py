"""The automation unit of work: one transaction, the store, the outbox."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from automation.adapters.sqlalchemy_store import SqlAlchemyAutomationStore
from igny8.contracts import TOPICS
from igny8.db import SqlAlchemyUnitOfWork
from igny8.messaging import OutboxWriter

_OUTBOX = OutboxWriter(TOPICS)


class AutomationUnitOfWork(SqlAlchemyUnitOfWork):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        super().__init__(sessions=sessions, session=session)
        if session is not None:
            self.store = SqlAlchemyAutomationStore(session)

    async def __aenter__(self) -> AutomationUnitOfWork:
        await super().__aenter__()
        self.store = SqlAlchemyAutomationStore(self.session)
        return self

    async def emit(self, topic: str, payload: BaseModel, account_id: Any, site_id: Any) -> None:
        run_id = getattr(payload, "run_id", None)
        envelope = TOPICS.envelope(
            topic,
            payload,
            source="automation",
            account_id=account_id,
            site_id=site_id,
            correlation_id=str(run_id) if run_id else None,
        )
        await _OUTBOX.add(self.session, envelope)


def new_worker_id() -> str:
    return f"worker-{uuid.uuid4().hex[:12]}"
