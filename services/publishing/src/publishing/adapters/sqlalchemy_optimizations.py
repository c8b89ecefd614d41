"""Optimizations and their credit holds (the credit saga's HoldBook; the owner is the
optimization), in PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.db.hold_book import SqlAlchemyHoldBook
from publishing.adapters.sqlalchemy_tables import optimization_holds, optimizations


class SqlAlchemyOptimizationHolds(SqlAlchemyHoldBook):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, optimization_holds, "optimization_id")


class SqlAlchemyOptimizations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Insert it, unless a live or successful one exists for the same article version:
        then that one (a repeated request, or two at once, make one optimization)."""
        inserted = await self.session.execute(
            insert(optimizations)
            .values(**row)
            .on_conflict_do_nothing(
                index_elements=["content_id", "article_version"],
                index_where=sa.text("status NOT IN ('failed', 'rejected')"),
            )
            .returning(optimizations)
        )
        created = inserted.mappings().first()
        if created is not None:
            return {**created, "created": True}
        existing = await self.live_for(row["content_id"], row["article_version"])
        assert existing is not None
        return {**existing, "created": False}

    async def live_for(self, content_id: uuid.UUID, version: int) -> dict[str, Any] | None:
        found = await self.session.execute(
            sa.select(optimizations).where(
                optimizations.c.content_id == content_id,
                optimizations.c.article_version == version,
                optimizations.c.status.notin_(("failed", "rejected")),
            )
        )
        row = found.mappings().first()
        return dict(row) if row is not None else None

    async def get(self, optimization_id: uuid.UUID, lock: bool = False) -> dict[str, Any] | None:
        query = sa.select(optimizations).where(optimizations.c.optimization_id == optimization_id)
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return dict(row) if row is not None else None

    async def of_article(self, content_id: uuid.UUID) -> list[dict[str, Any]]:
        found = await self.session.execute(
            sa.select(optimizations)
            .where(optimizations.c.content_id == content_id)
            .order_by(optimizations.c.created_at.desc())
        )
        return [dict(r) for r in found.mappings()]

    async def update(self, optimization_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            sa.update(optimizations)
            .where(optimizations.c.optimization_id == optimization_id)
            .values(**values)
        )

    async def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Ready ones, and running ones whose worker's lease ran out (a crashed worker)."""
        found = await self.session.execute(
            sa.select(optimizations.c.optimization_id)
            .where(
                sa.or_(
                    optimizations.c.status == "ready",
                    sa.and_(optimizations.c.status == "running", optimizations.c.lease_until < now),
                )
            )
            .order_by(optimizations.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(found.scalars())

    async def unanswered(self, before: datetime, limit: int) -> list[uuid.UUID]:
        """Still reserving since before `before`: the reserve is re-sent."""
        found = await self.session.execute(
            sa.select(optimizations.c.optimization_id)
            .where(optimizations.c.status == "reserving", optimizations.c.updated_at < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(found.scalars())
