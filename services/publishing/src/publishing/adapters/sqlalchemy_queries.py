"""Read-side queries of the HTTP API (lists, a publication's history, the link graph)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from publishing.adapters.sqlalchemy_tables import (
    articles,
    inventory_items,
    link_suggestions,
    links,
    publication_transitions,
    publications,
)

PUBLIC_COLUMNS = [c for c in publications.c if c.name not in ("lease_until", "create_started_at")]
# What each read answers (the HTTP API's documented models are built from the same lists).
_t = publication_transitions.c
TRANSITION_COLUMNS = [_t.from_status, _t.to_status, _t.actor, _t.reason, _t.at]
_a = articles.c
REPORT_COLUMNS = [_a.content_id, _a.version, _a.title, _a.keywords, _a.score, _a.report]
HTML_COLUMNS = [_a.content_id, _a.version, _a.html, _a.linked_html]


def _json(row: Any) -> dict[str, Any]:
    out = {}
    for key, value in dict(row._mapping).items():
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = value
    return out


class SqlAlchemyPublishingQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def publications(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        status: str | None,
        content_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        query = sa.select(*PUBLIC_COLUMNS).where(
            publications.c.account_id == account_id, publications.c.site_id == site_id
        )
        if status:
            query = query.where(publications.c.status == status)
        if content_id:
            query = query.where(publications.c.content_id == content_id)
        rows = await self.session.execute(
            query.order_by(publications.c.created_at, publications.c.publication_id)
            .limit(limit)
            .offset(offset)
        )
        return [_json(r) for r in rows]

    async def publication(
        self, account_id: uuid.UUID, site_id: uuid.UUID, publication_id: uuid.UUID
    ) -> dict[str, Any] | None:
        row = (
            await self.session.execute(
                sa.select(*PUBLIC_COLUMNS).where(
                    publications.c.account_id == account_id,
                    publications.c.site_id == site_id,
                    publications.c.publication_id == publication_id,
                )
            )
        ).first()
        if row is None:
            return None
        found = _json(row)
        t = publication_transitions
        history = await self.session.execute(
            sa.select(*TRANSITION_COLUMNS)
            .where(t.c.publication_id == publication_id)
            .order_by(t.c.transition_id)
        )
        found["transitions"] = [_json(h) for h in history]
        return found

    async def report(
        self, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID
    ) -> dict[str, Any] | None:
        row = (
            await self.session.execute(
                sa.select(*REPORT_COLUMNS).where(
                    articles.c.account_id == account_id,
                    articles.c.site_id == site_id,
                    articles.c.content_id == content_id,
                )
            )
        ).first()
        return _json(row) if row else None

    async def article_html(
        self, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID
    ) -> dict[str, Any] | None:
        row = (
            await self.session.execute(
                sa.select(*HTML_COLUMNS).where(
                    articles.c.account_id == account_id,
                    articles.c.site_id == site_id,
                    articles.c.content_id == content_id,
                )
            )
        ).first()
        return _json(row) if row else None

    async def links(
        self, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID | None
    ) -> list[dict[str, Any]]:
        query = sa.select(links).where(links.c.account_id == account_id, links.c.site_id == site_id)
        if content_id:
            query = query.where(links.c.source_content_id == content_id)
        rows = await self.session.execute(query.order_by(links.c.created_at, links.c.block))
        return [_json(r) for r in rows]

    async def suggestions(
        self, account_id: uuid.UUID, site_id: uuid.UUID, status: str | None
    ) -> list[dict[str, Any]]:
        query = sa.select(link_suggestions).where(
            link_suggestions.c.account_id == account_id, link_suggestions.c.site_id == site_id
        )
        if status:
            query = query.where(link_suggestions.c.status == status)
        rows = await self.session.execute(query.order_by(link_suggestions.c.created_at))
        return [_json(r) for r in rows]

    async def link_graph(self, account_id: uuid.UUID, site_id: uuid.UUID) -> dict[str, Any]:
        """Pages: this platform's published articles and the site's synced posts/pages;
        edges: the active injected links between them."""
        pages: dict[str, dict[str, Any]] = {}
        published = await self.session.execute(
            sa.select(publications.c.remote_url, articles.c.title, articles.c.content_id)
            .join(articles, articles.c.content_id == publications.c.content_id)
            .where(
                publications.c.account_id == account_id,
                publications.c.site_id == site_id,
                publications.c.status == "published",
                publications.c.remote_url.is_not(None),
            )
        )
        for url, title, content_id in published:
            pages[url] = {
                "url": url,
                "title": title,
                "content_id": str(content_id),
                "inbound": 0,
                "outbound": 0,
            }
        synced = await self.session.execute(
            sa.select(inventory_items.c.url, inventory_items.c.title).where(
                inventory_items.c.account_id == account_id,
                inventory_items.c.site_id == site_id,
                inventory_items.c.kind.in_(("post", "page", "article")),
                ~inventory_items.c.deleted,
                inventory_items.c.url != "",
            )
        )
        for url, title in synced:
            pages.setdefault(
                url, {"url": url, "title": title, "content_id": None, "inbound": 0, "outbound": 0}
            )
        source_url = (
            sa.select(publications.c.remote_url)
            .where(
                publications.c.content_id == links.c.source_content_id,
                publications.c.remote_url.is_not(None),
            )
            .limit(1)
            .scalar_subquery()
        )
        edges = await self.session.execute(
            sa.select(source_url.label("source"), links.c.target_url).where(
                links.c.account_id == account_id,
                links.c.site_id == site_id,
                links.c.status == "active",
            )
        )
        count = 0
        for source, target in edges:
            count += 1
            if source in pages:
                pages[source]["outbound"] += 1
            if target in pages:
                pages[target]["inbound"] += 1
        listed = sorted(pages.values(), key=lambda p: p["url"])
        orphans = [p["url"] for p in listed if p["inbound"] == 0]
        coverage = round((len(listed) - len(orphans)) / len(listed), 3) if listed else 0.0
        return {"pages": listed, "links": count, "orphans": orphans, "coverage": coverage}
