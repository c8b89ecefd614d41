"""SQLAlchemy repositories of links, inbound link suggestions and per-site settings."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from publishing.adapters.sqlalchemy_tables import link_suggestions, links, site_settings
from publishing.domain.linker import Injected
from publishing.domain.model import Article, Suggestion
from publishing.domain.settings import SiteSettings


class SqlAlchemySuggestionsMixin:
    session: AsyncSession

    async def propose_many(self, suggestions: list[Suggestion]) -> list[uuid.UUID]:
        """One statement for many; returns the ids stored (a known pair is left as it is)."""
        if not suggestions:
            return []
        stored = await self.session.execute(
            insert(link_suggestions)
            .values([asdict(s) for s in suggestions])
            .on_conflict_do_nothing(index_elements=["source_content_id", "target_content_id"])
            .returning(link_suggestions.c.suggestion_id)
        )
        ids = set(stored.scalars())
        return [s.suggestion_id for s in suggestions if s.suggestion_id in ids]

    async def suggestion(self, suggestion_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            await self.session.execute(
                sa.select(link_suggestions)
                .where(link_suggestions.c.suggestion_id == suggestion_id)
                .with_for_update()
            )
        ).first()
        return dict(row._mapping) if row else None

    async def decide(
        self,
        suggestion_id: uuid.UUID,
        status: str,
        by: str,
        now: datetime,
        link_id: uuid.UUID | None = None,
    ) -> None:
        await self.session.execute(
            sa.update(link_suggestions)
            .where(link_suggestions.c.suggestion_id == suggestion_id)
            .values(status=status, decided_by=by, decided_at=now, link_id=link_id)
        )


class SqlAlchemyLinks(SqlAlchemySuggestionsMixin):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, article: Article, injected: list[Injected], now: datetime) -> None:
        if not injected:
            return
        await self.session.execute(
            sa.insert(links),
            [
                {
                    "link_id": link.link_id,
                    "account_id": article.account_id,
                    "site_id": article.site_id,
                    "source_content_id": article.content_id,
                    "content_version": article.version,
                    "target_ref": link.target_ref,
                    "target_url": link.url,
                    "anchor": link.anchor,
                    "block": link.block,
                    "char_offset": link.offset,
                    "similarity": link.similarity,
                    "created_at": now,
                }
                for link in injected
            ],
        )

    async def get(self, link_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            await self.session.execute(sa.select(links).where(links.c.link_id == link_id))
        ).first()
        return dict(row._mapping) if row else None

    async def mark(self, link_ids: list[uuid.UUID], status: str, now: datetime) -> None:
        if link_ids:
            await self.session.execute(
                sa.update(links)
                .where(links.c.link_id.in_(link_ids))
                .values(status=status, undone_at=now)
            )

    async def active_of(self, content_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            sa.select(links).where(
                links.c.source_content_id == content_id, links.c.status == "active"
            )
        )
        return [dict(r._mapping) for r in rows]


class SqlAlchemySettings:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, site_id: uuid.UUID) -> SiteSettings:
        found = await self.session.scalar(
            sa.select(site_settings.c.settings).where(site_settings.c.site_id == site_id)
        )
        return SiteSettings.model_validate(found) if found else SiteSettings()

    async def put(self, account_id: uuid.UUID, site_id: uuid.UUID, settings: SiteSettings) -> None:
        values = {"account_id": account_id, "settings": settings.model_dump(mode="json")}
        statement = insert(site_settings).values(site_id=site_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["site_id"], set_={**values, "updated_at": sa.func.now()}
            )
        )
