"""The automation unit of work: one transaction, a repository per aggregate, the outbox."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from automation.adapters.sqlalchemy_checkpoints import SqlAlchemyItemCheckpoints
from automation.adapters.sqlalchemy_holds import SqlAlchemyRunHolds
from automation.adapters.sqlalchemy_library import SqlAlchemyLibrary
from automation.adapters.sqlalchemy_planner import SqlAlchemyPlannerRepository
from automation.adapters.sqlalchemy_publications import SqlAlchemyPublishedContent
from automation.adapters.sqlalchemy_queues import SqlAlchemyWorkQueues
from automation.adapters.sqlalchemy_runs import SqlAlchemyRunRepository
from automation.adapters.sqlalchemy_scheduling import SqlAlchemyRunQueue
from automation.adapters.sqlalchemy_sites import SqlAlchemySiteRepository
from igny8.db import SqlAlchemyUnitOfWork


class AutomationUnitOfWork(SqlAlchemyUnitOfWork):
    source = "automation"

    def _bind(self, session: AsyncSession) -> None:
        self.runs = SqlAlchemyRunRepository(session)
        self.holds = SqlAlchemyRunHolds(session)
        self.items = SqlAlchemyItemCheckpoints(session)
        self.planner = SqlAlchemyPlannerRepository(session)
        self.queues = SqlAlchemyWorkQueues(session)
        self.sites = SqlAlchemySiteRepository(session)
        self.library = SqlAlchemyLibrary(session)
        self.published = SqlAlchemyPublishedContent(session)
        self.run_queue = SqlAlchemyRunQueue(session)


def new_worker_id() -> str:
    return f"worker-{uuid.uuid4().hex[:12]}"
