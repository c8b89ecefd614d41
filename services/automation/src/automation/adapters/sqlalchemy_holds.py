"""A run's credit holds (`run_holds`) as the credit saga's HoldBook: the owner is the run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from automation.adapters.sqlalchemy_tables import run_holds
from igny8.db.hold_book import SqlAlchemyHoldBook


class SqlAlchemyRunHolds(SqlAlchemyHoldBook):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, run_holds, "run_id")
