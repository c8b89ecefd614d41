"""The publishing unit of work: one database transaction, its repositories and its outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.db import MessageContext, SqlAlchemyUnitOfWork
from publishing.adapters.sqlalchemy_links import SqlAlchemyLinks, SqlAlchemySettings
from publishing.adapters.sqlalchemy_optimizations import (
    SqlAlchemyOptimizationHolds,
    SqlAlchemyOptimizations,
)
from publishing.adapters.sqlalchemy_repositories import (
    SqlAlchemyArticles,
    SqlAlchemyPublications,
    SqlAlchemyReplicas,
)


class PublishingUnitOfWork(SqlAlchemyUnitOfWork):
    source = "publishing"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        session: AsyncSession | None = None,
        context: MessageContext | None = None,
    ) -> None:
        super().__init__(sessions=sessions, session=session, context=context)
        if session is not None:
            self._bind(session)

    def _bind(self, session: AsyncSession) -> None:
        self.replicas = SqlAlchemyReplicas(session)
        self.articles = SqlAlchemyArticles(session)
        self.publications = SqlAlchemyPublications(session)
        self.links = SqlAlchemyLinks(session)
        self.settings = SqlAlchemySettings(session)
        self.optimizations = SqlAlchemyOptimizations(session)
        self.holds = SqlAlchemyOptimizationHolds(session)

    async def __aenter__(self) -> PublishingUnitOfWork:
        await super().__aenter__()
        self._bind(self.session)
        return self
