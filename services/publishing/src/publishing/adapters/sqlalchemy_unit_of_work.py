"""The publishing unit of work: one database transaction, its repositories and its outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from igny8.db import SqlAlchemyUnitOfWork
from publishing.adapters.sqlalchemy_articles import SqlAlchemyArticles
from publishing.adapters.sqlalchemy_links import SqlAlchemyLinks, SqlAlchemySettings
from publishing.adapters.sqlalchemy_optimizations import (
    SqlAlchemyOptimizationHolds,
    SqlAlchemyOptimizations,
)
from publishing.adapters.sqlalchemy_publications import SqlAlchemyPublications
from publishing.adapters.sqlalchemy_replicas import SqlAlchemyReplicas


class PublishingUnitOfWork(SqlAlchemyUnitOfWork):
    source = "publishing"

    def _bind(self, session: AsyncSession) -> None:
        self.replicas = SqlAlchemyReplicas(session)
        self.articles = SqlAlchemyArticles(session)
        self.publications = SqlAlchemyPublications(session)
        self.links = SqlAlchemyLinks(session)
        self.settings = SqlAlchemySettings(session)
        self.optimizations = SqlAlchemyOptimizations(session)
        self.holds = SqlAlchemyOptimizationHolds(session)
