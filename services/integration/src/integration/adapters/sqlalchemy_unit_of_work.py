"""The integration unit of work: one transaction, its repositories and its outbox."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.contracts import TOPICS
from igny8.db import SqlAlchemyUnitOfWork
from igny8.messaging import OutboxWriter
from integration.adapters.sqlalchemy_repositories import (
    SqlAlchemyIntegrationRepository,
    SqlAlchemyInventoryRepository,
    SqlAlchemySiteRepository,
    SqlAlchemySyncEventRepository,
)


class IntegrationUnitOfWork(SqlAlchemyUnitOfWork):
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], correlation_id: str | None = None
    ) -> None:
        super().__init__(sessions=sessions)
        self._outbox = OutboxWriter(TOPICS)
        self._correlation_id = correlation_id

    async def __aenter__(self) -> IntegrationUnitOfWork:
        await super().__aenter__()
        self.sites = SqlAlchemySiteRepository(self.session)
        self.integrations = SqlAlchemyIntegrationRepository(self.session)
        self.inventory = SqlAlchemyInventoryRepository(self.session)
        self.syncs = SqlAlchemySyncEventRepository(self.session)
        return self

    async def emit(
        self, topic: str, payload: BaseModel, account_id: uuid.UUID, site_id: uuid.UUID
    ) -> None:
        envelope = TOPICS.envelope(
            topic,
            payload,
            source="integration",
            account_id=account_id,
            site_id=site_id,
            correlation_id=self._correlation_id,
        )
        await self._outbox.add(self.session, envelope)
