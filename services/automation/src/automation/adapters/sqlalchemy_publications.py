"""What publishing reported about our articles (publication.* events), and the article versions
that `content.ready` carries to it."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from automation.adapters.sqlalchemy_rows import SessionRepository
from automation.adapters.sqlalchemy_tables import content_publications, contents
from automation.domain.library import ContentStatus, Publication


class SqlAlchemyPublishedContent(SessionRepository):
    async def next_version(self, content_id: uuid.UUID) -> int:
        """The article changed: its version grows (the new value)."""
        found = await self.session.execute(
            sa.update(contents)
            .where(contents.c.content_id == content_id)
            .values(version=contents.c.version + 1)
            .returning(contents.c.version)
        )
        return int(found.scalar_one())

    async def record(self, publication: Publication) -> bool:
        """Keep one publication's latest state; False when the row already has a newer article
        version (an older event arriving late changes nothing)."""
        statement = insert(content_publications).values(
            **dataclasses.asdict(publication), updated_at=sa.func.now()
        )
        stored = await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[content_publications.c.publication_id],
                set_={
                    k: statement.excluded[k]
                    for k in ("status", "content_version", "remote_id", "url", "updated_at")
                },
                where=content_publications.c.content_version <= statement.excluded.content_version,
            ).returning(content_publications.c.publication_id)
        )
        return stored.first() is not None

    async def refresh_status(self, content_id: uuid.UUID) -> ContentStatus | None:
        """`published` (with the newest published URL) while any destination has the article;
        back to `ready` when none has it any more. The article's status, None if it is gone."""
        newest = await self.session.execute(
            sa.select(content_publications.c.url)
            .where(
                content_publications.c.content_id == content_id,
                content_publications.c.status == "published",  # publishing's publication status
            )
            .order_by(content_publications.c.updated_at.desc())
            .limit(1)
        )
        published = newest.first()
        condition: sa.ColumnElement[bool]
        if published is not None:
            values: dict[str, Any] = {
                "status": ContentStatus.PUBLISHED,
                "published_url": published.url,
            }
            condition = sa.true()
        else:  # only an article we had marked published goes back to ready
            values = {"status": ContentStatus.READY, "published_url": None}
            condition = contents.c.status == ContentStatus.PUBLISHED
        updated = await self.session.execute(
            sa.update(contents)
            .where(contents.c.content_id == content_id, condition)
            .values(**values)
            .returning(contents.c.status)
        )
        row = updated.first()
        if row is not None:
            return ContentStatus(row.status)
        current = await self.session.execute(
            sa.select(contents.c.status).where(contents.c.content_id == content_id)
        )
        status = current.scalar_one_or_none()
        return ContentStatus(status) if status is not None else None
