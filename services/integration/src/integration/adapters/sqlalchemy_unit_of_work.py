"""The integration unit of work: one transaction, its repositories and its outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.db import SqlAlchemyUnitOfWork
from integration.adapters.sqlalchemy_repositories import (
    SqlAlchemyIntegrationRepository,
    SqlAlchemyInventoryRepository,
    SqlAlchemySiteRepository,
    SqlAlchemySyncEventRepository,
)


class IntegrationUnitOfWork(SqlAlchemyUnitOfWork):
    source = "integration"

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], correlation_id: str | None = None
    ) -> None:
        super().__init__(sessions=sessions)
        self.correlation_id = correlation_id  # `emit` (igny8.db) puts it in envelopes

    async def __aenter__(self) -> IntegrationUnitOfWork:
        await super().__aenter__()
        self.sites = SqlAlchemySiteRepository(self.session)
        self.integrations = SqlAlchemyIntegrationRepository(self.session)
        self.inventory = SqlAlchemyInventoryRepository(self.session)
        self.syncs = SqlAlchemySyncEventRepository(self.session)
        return self
