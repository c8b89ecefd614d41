"""The integration unit of work: one transaction, its repositories and its outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.db import MessageContext, SqlAlchemyUnitOfWork
from integration.adapters.sqlalchemy_repositories import (
    SqlAlchemyIntegrationRepository,
    SqlAlchemyInventoryRepository,
    SqlAlchemySiteRepository,
    SqlAlchemySyncEventRepository,
)


class IntegrationUnitOfWork(SqlAlchemyUnitOfWork):
    source = "integration"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        correlation_id: str | None = None,
        session: AsyncSession | None = None,
        context: MessageContext | None = None,
    ) -> None:
        # `session`: a consumer's transaction (the inbox's), which the handler does not end
        super().__init__(sessions=sessions, session=session, context=context)
        if context is None:
            self.correlation_id = correlation_id  # `emit` (igny8.db) puts it in envelopes

    def _bind(self, session: AsyncSession) -> None:
        self.sites = SqlAlchemySiteRepository(session)
        self.integrations = SqlAlchemyIntegrationRepository(session)
        self.inventory = SqlAlchemyInventoryRepository(session)
        self.syncs = SqlAlchemySyncEventRepository(session)
