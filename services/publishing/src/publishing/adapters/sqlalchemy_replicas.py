"""SQLAlchemy replicas of integration's snapshots (sites, integrations, inventory items).
Helpers never commit."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from publishing.adapters.sqlalchemy_tables import inventory_items, known_integrations, known_sites
from publishing.domain.linker import Candidate
from publishing.domain.model import Integration, Site

LINKABLE_KINDS = ("post", "page", "article")


class SqlAlchemyReplicas:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def site(self, site_id: uuid.UUID) -> Site | None:
        row = (
            await self.session.execute(
                sa.select(known_sites).where(known_sites.c.site_id == site_id)
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return Site(m["site_id"], m["account_id"], m["deleted"], m["name"], m["url"], m["timezone"])

    @staticmethod
    def _integration(m: Any) -> Integration:
        return Integration(
            m["integration_id"],
            m["site_id"],
            m["account_id"],
            m["deleted"],
            m["platform"],
            m["base_url"],
            dict(m["settings"] or {}),
            m["is_active"],
        )

    async def integration(self, integration_id: uuid.UUID) -> Integration | None:
        row = (
            await self.session.execute(
                sa.select(known_integrations).where(
                    known_integrations.c.integration_id == integration_id
                )
            )
        ).first()
        return self._integration(row._mapping) if row else None

    async def integrations_of(self, site_id: uuid.UUID) -> list[Integration]:
        rows = await self.session.execute(
            sa.select(known_integrations)
            .where(known_integrations.c.site_id == site_id)
            .order_by(known_integrations.c.integration_id)
        )
        return [self._integration(r._mapping) for r in rows]

    async def inventory_candidates(self, site_id: uuid.UUID, limit: int) -> list[Candidate]:
        rows = await self.session.execute(
            sa.select(inventory_items)
            .where(
                inventory_items.c.site_id == site_id,
                inventory_items.c.kind.in_(LINKABLE_KINDS),
                ~inventory_items.c.deleted,
                inventory_items.c.url != "",
            )
            .order_by(inventory_items.c.modified_at.desc().nulls_last())
            .limit(limit)
        )
        return [Candidate(f"inventory:{r.item_id}", r.url, r.title, "", r.excerpt) for r in rows]
