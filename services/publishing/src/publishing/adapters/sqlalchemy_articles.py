"""SQLAlchemy repository of articles (the newest version of each). Helpers never commit."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from publishing.adapters.sqlalchemy_tables import articles, publications
from publishing.domain.linker import Candidate
from publishing.domain.model import Article, Image, Status


class SqlAlchemyArticles:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, content_id: uuid.UUID, lock: bool = False) -> Article | None:
        query = sa.select(articles).where(articles.c.content_id == content_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return _article(row._mapping) if row else None

    async def get_many(self, content_ids: list[uuid.UUID]) -> dict[uuid.UUID, Article]:
        rows = await self.session.execute(
            sa.select(articles).where(articles.c.content_id.in_(content_ids))
        )
        return {a.content_id: a for a in (_article(r._mapping) for r in rows)}

    async def save(self, article: Article) -> None:
        values = {
            "account_id": article.account_id,
            "site_id": article.site_id,
            "version": article.version,
            "run_id": article.run_id,
            "title": article.title,
            "html": article.html,
            "linked_html": article.linked_html,
            "meta_title": article.meta_title,
            "meta_description": article.meta_description,
            "slug": article.slug,
            "keywords": article.keywords,
            "images": [{"url": i.url, "alt": i.alt, "kind": i.kind} for i in article.images],
            "auto_publish": article.auto_publish,
            "score": article.score,
            "report": article.report,
        }
        statement = insert(articles).values(content_id=article.content_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["content_id"], set_=values)
        )

    async def published(
        self, site_id: uuid.UUID, exclude: uuid.UUID | None, limit: int
    ) -> list[Article]:
        conditions = [
            publications.c.site_id == site_id,
            publications.c.status == Status.PUBLISHED.value,
        ]
        if exclude is not None:
            conditions.append(publications.c.content_id != exclude)
        live = sa.select(publications.c.content_id).where(*conditions).distinct()
        rows = await self.session.execute(
            sa.select(articles)
            .where(articles.c.content_id.in_(live))
            .order_by(articles.c.received_at.desc())
            .limit(limit)
        )
        return [_article(r._mapping) for r in rows]

    async def published_candidates(
        self, site_id: uuid.UUID, exclude: uuid.UUID, limit: int
    ) -> list[Candidate]:
        url = (
            sa.select(publications.c.remote_url)
            .where(
                publications.c.content_id == articles.c.content_id,
                publications.c.remote_url.is_not(None),
                publications.c.status == Status.PUBLISHED.value,
            )
            .order_by(publications.c.published_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            sa.select(
                articles.c.content_id,
                articles.c.title,
                articles.c.keywords,
                articles.c.meta_description,
                url.label("url"),
            )
            .where(articles.c.site_id == site_id, articles.c.content_id != exclude)
            .order_by(articles.c.received_at.desc())
            .limit(limit)
        )
        return [
            Candidate(
                f"publication:{r.content_id}",
                r.url,
                r.title,
                r.keywords[0] if r.keywords else "",
                r.meta_description,
            )
            for r in rows
            if r.url
        ]


def _article(m: Any) -> Article:
    return Article(
        content_id=m["content_id"],
        account_id=m["account_id"],
        site_id=m["site_id"],
        version=m["version"],
        title=m["title"],
        html=m["html"],
        linked_html=m["linked_html"],
        meta_title=m["meta_title"],
        meta_description=m["meta_description"],
        slug=m["slug"],
        keywords=list(m["keywords"]),
        images=[Image(i["url"], i["alt"], i["kind"]) for i in m["images"]],
        auto_publish=m["auto_publish"],
        run_id=m["run_id"],
        score=m["score"],
        report=dict(m["report"]),
    )
